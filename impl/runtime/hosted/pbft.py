"""PBFT in real processes: replicas as the simulator builds them, Byzantine ones an honest core
whose effects their behaviours rewrite, the clients' cores in the harness; logs validated against
PBFT.tla."""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from meshcheck.impl.base.node import Node
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.pbft.client import Client as PbftClient
from meshcheck.impl.pbft.client import ClientConfig as PbftClientConfig
from meshcheck.impl.pbft.config import PbftConfig
from meshcheck.impl.pbft.crypto import KeyRing as PbftKeys
from meshcheck.impl.pbft.replica import Replica as PbftReplica
from meshcheck.impl.runtime import pbft_log
from meshcheck.impl.runtime.protocols import BFT_CLIENTS
from meshcheck.impl.runtime.protocols import BFT_KEYS
from meshcheck.impl.runtime.protocols import BYZANTINE
from meshcheck.impl.runtime.protocols import RuntimeProtocol
from meshcheck.impl.runtime.protocols import VerifyRun
from meshcheck.impl.runtime.protocols import bft_client
from meshcheck.impl.runtime.protocols import core_options
from meshcheck.impl.runtime.protocols import imported_later


def pbft_inspect(core: Any, now: int) -> FrozenDict:
    """A PBFT replica's view, status, stable checkpoint, how many batches it executed, and whom it
    quarantined: where a stalled group stands (a Byzantine replica answers for its honest core)."""
    replica = core if isinstance(core, PbftReplica) else core.core
    assert isinstance(replica, PbftReplica)
    return FrozenDict(
        {
            "view": replica.view,
            "status": replica.status,
            "stable": replica.stable,
            "executed": len(replica.executed),
            "quarantined": tuple(sorted(replica.audit.quarantined)),
        }
    )


def pbft_keys(nodes: Sequence[str], options: Mapping[str, Any]) -> PbftKeys:
    """Everyone's Ed25519 keys, derived from the options' seed (impl/pbft/crypto.py): the
    processes of one cluster derive the same ring."""
    return PbftKeys(int(options.get(BFT_KEYS, 0)), (*nodes, *options.get(BFT_CLIENTS, ())))


# PbftConfig's defaults are the simulator's, in ticks, for a network of a few ticks a hop; on
# processes a tick is a millisecond and one request costs each replica about ten Ed25519
# signatures and checks in Python. One request a pre-prepare and a 300 ms request timer saturate a
# four-replica group at about 25 requests a second, and the timers then run out under load alone:
# views change with no fault (measured: 60 of 311 operations timed out, four view changes in 12 s,
# `meshcheck cluster test --protocol pbft --nemesis none`). Batches (section 5.1 of the paper) and
# timers above the batch's round trip, unless the options say otherwise.
PBFT_RUNTIME_DEFAULTS: Mapping[str, Any] = {
    "batch_size": 16,
    "window": 40,
    "checkpoint_every": 20,
    "view_change_timeout": 1000,
    "view_change_timeout_cap": 4000,
    "retransmit_every": 200,
}


def _pbft_log_constants(nodes: Sequence[str], options: Mapping[str, Any]) -> dict[str, str]:
    """PBFT.tla's N, CheckpointEvery and Window of a cluster (traces/logs/models/PBFT.cfg)."""
    opts = core_options(PBFT_RUNTIME_DEFAULTS, options)
    return {
        "N": str(len(nodes)),
        "CheckpointEvery": str(opts["checkpoint_every"]),
        "Window": str(opts["window"]),
    }


BYZ = "meshcheck.impl.pbft.byzantine"  # imported when a run makes a replica Byzantine

# What a Byzantine PBFT replica may do (impl/pbft/byzantine/behaviours.py, fuzz.py, replies.py), by
# the name a run gives it. It holds its real key: it signs anything in its own name, nothing in
# anyone else's (`impersonate` tries, with a key that is not theirs; `lie_signature` in its replies).
# The `lie_*`, `lying_replies` and `fuzz_replies` lie only to the clients, the harness's client
# cores, which must take a result and a view on f+1 matching replies and never on the liar's.
PBFT_BEHAVIOURS: Mapping[str, Callable[[], Any]] = {
    "silent": imported_later(BYZ, "Silent"),
    "equivocate": imported_later(BYZ, "Equivocate"),
    "tamper_digest": imported_later(BYZ, "TamperDigest"),
    "forge_signature": imported_later(BYZ, "ForgeSignature"),
    "impersonate": imported_later(BYZ, "ForgeSignature", how="impersonate"),
    "missing_signature": imported_later(BYZ, "MissingSignature"),
    "replay": imported_later(BYZ, "Replay"),
    "hide_prepared": imported_later(BYZ, "HidePrepared"),
    "fuzz": imported_later(BYZ, "Fuzz"),
    "usurp": imported_later(BYZ, "Usurp"),
    "alter_unsigned": imported_later(BYZ, "AlterUnsigned"),
    "vouch": imported_later(BYZ, "Vouch"),
    "repeat": imported_later(BYZ, "Repeat"),
    "lie_view": imported_later(BYZ, "LieToClient", field="view"),
    "lie_result": imported_later(BYZ, "LieToClient", field="result"),
    "lie_timestamp": imported_later(BYZ, "LieToClient", field="timestamp"),
    "lie_signature": imported_later(BYZ, "LieToClient", field="signature"),
    "lying_replies": imported_later(BYZ, "LyingReplies"),
    "fuzz_replies": imported_later(BYZ, "FuzzReplies"),
}


def _pbft(node: str, nodes: Sequence[str], options: Mapping[str, Any], rng: random.Random) -> Node:
    clients = tuple(options.get(BFT_CLIENTS, ()))
    opts = core_options(PBFT_RUNTIME_DEFAULTS, options)
    config = PbftConfig(node, tuple(nodes), clients, **opts)
    core = PbftReplica(config, pbft_keys(nodes, options))
    behaviours = options.get(BYZANTINE, {}).get(node, ())
    if not behaviours:
        return core
    # an honest core whose effects the behaviours rewrite, as the simulator's Byzantine replicas
    # (impl/pbft/byzantine/node.py), drawing from the node's seeded generator
    from meshcheck.impl.pbft.byzantine import ByzantineReplica

    byzantine = ByzantineReplica(core, [PBFT_BEHAVIOURS[b]() for b in behaviours])
    byzantine.rng = rng
    return byzantine


PROTOCOL = RuntimeProtocol(
    "pbft",
    _pbft,
    (
        "meshcheck.impl.pbft.messages",
        "meshcheck.impl.pbft.evidence",
        "meshcheck.impl.rsm.ops",
    ),
    pbft_log.log_state,
    "PBFT",
    pbft_log.log_params,
    pbft_log.fingerprint,
    node_prefix="r",
    restarts_logged=False,  # PBFT.tla has no crash: a replica's restart is a stutter
    log_constants=_pbft_log_constants,
    behaviours=PBFT_BEHAVIOURS,
    inspect=pbft_inspect,
    members=lambda options: frozenset(options.get(BFT_CLIENTS, ())),
    build_member=bft_client(PbftClientConfig, PbftClient, pbft_keys),
    # a view change that fails waits out a doubled timer (1, 2, 4 s at the cap): the next
    # must have the time to complete after the faults are over
    recovery=8.0,
    client_timeout=3.0,
    verify=VerifyRun(4, 10.0),  # 3f+1 with f = 1
)
