"""PBFT's side of the Byzantine-input property (property_tests/byzantine_input.py): r4 signs, in
its own name, any body of PBFT's messages (impl/pbft/messages.py `Body`), its certificates'
messages signed by it too, and hands them to every honest replica and the client after a calm
run of four replicas that checkpoints every two requests (so logs, certificates and stable
checkpoints exist)."""

from __future__ import annotations

from typing import Any
from typing import get_args

import attrs

from meshcheck.impl.base.node import Workload
from meshcheck.impl.pbft.messages import Body
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import signing_bytes
from meshcheck.impl.pbft.simulation import pbft_cluster
from meshcheck.impl.sim import Simulator
from meshcheck.property_tests.byzantine_input import Target
from meshcheck.property_tests.byzantine_input import Wrap
from meshcheck.property_tests.byzantine_input import outage
from meshcheck.property_tests.pbft.free_runs import TIMING
from meshcheck.property_tests.pbft.free_runs import rsm_op

SENDER = "r4"


def calm_cluster(seed: int) -> Simulator[Any]:
    """Four replicas after requests, checkpoints and a view change (the primary r1 down from
    t=100 to t=400), so that r4 holds every kind of message to replay and recombine."""
    options: dict[str, Any] = {**TIMING, "checkpoint_every": 2, "window": 4}
    sim = pbft_cluster(
        4, seed=seed, workload=Workload(every=25, until=500, make=rsm_op), record=False, **options
    )
    return outage(sim, "r1", 100, 400, 600)


def sign(sim: Simulator[Any], body: Any) -> Any:
    """`body` signed by r4 (its `src` made r4's, so that the claimed signer is the signer), or the
    body itself, unsigned, when it is nothing a signature can cover; a message already signed
    (one r4 holds, replayed) as it is."""
    if isinstance(body, Signed):
        return body
    if attrs.has(type(body)) and any(f.name == "src" for f in attrs.fields(type(body))):
        body = attrs.evolve(body, src=SENDER)
    try:
        data = signing_bytes(body)
    except TypeError:
        return body
    keys: Any = getattr(sim.plugin, "keys")  # noqa: B009  (PbftPlugin's; the Plugin type has none)
    return Signed(body, SENDER, keys.signer(SENDER).sign(data))


def signer(sim: Simulator[Any]) -> Wrap:
    return lambda body: sign(sim, body)


TARGET = Target(
    name="pbft",
    classes=get_args(Body),
    cluster=calm_cluster,
    sender=SENDER,
    wire=sign,
    generic={Signed: signer},
)
