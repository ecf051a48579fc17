"""NewView(i) in lockstep: which view-change messages make the new primary send the spec's NEW-VIEW.

The spec's NewView step names no view-change messages: its NEW-VIEW record says which min-s and O
the new primary computed, from 2f+1 view-change messages for its view (its own among them) that
the spec's Justifications allow: honest ones that were sent, and, when fewer than 2f+1 honest ones
are used, Byzantine members' that present a checkpoint they can prove and prepared certificates
that exist (ByzPresents, at most one per sequence number). This module searches the same space,
smallest Byzantine presentations first, computes O with the spec's Select (`select`) and returns
the messages whose O is the spec's; a Byzantine member's view-change message is made here, signed
with its key, with the signed checkpoint proof and the prepared certificates (pre-prepare and 2f
prepares) it presents.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from meshcheck.impl.base.text import format_value
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.pbft.messages import GENESIS
from meshcheck.impl.pbft.messages import NOOP
from meshcheck.impl.pbft.messages import PreparedProof
from meshcheck.impl.pbft.messages import Signed
from meshcheck.impl.pbft.messages import ViewChange
from meshcheck.property_tests.pbft.model import DriverError
from meshcheck.property_tests.pbft.model import Puppet
from meshcheck.property_tests.pbft.model import record

if TYPE_CHECKING:
    from meshcheck.property_tests.pbft.driver import Driver


def select(ckpt: int, claims: Sequence[Mapping[str, Value]]) -> tuple[int, frozenset[Value]]:
    """The spec's Select: min-s and O from the highest checkpoint and the claims of a view-change
    quorum (the claim of the highest view per sequence number above min-s, else the null
    request, up to the highest claimed)."""
    top = max([ckpt, *(int(c["seq"]) for c in claims)])
    pre = []
    for n in range(ckpt + 1, top + 1):
        at = [c for c in claims if c["seq"] == n]
        best = max(at, key=lambda c: int(c["view"]), default=None)
        pre.append(FrozenDict({"seq": n, "req": best["req"] if best is not None else NOOP}))
    return ckpt, frozenset(pre)


def view_change_quorum(
    driver: Driver, i: str, before: Mapping[str, Value], added: list[FrozenDict], label: str
) -> list[Signed[Any]]:
    """The view-change messages to deliver to i, the primary of view[i], so that it computes the
    NEW-VIEW the spec's step sent (its min-s and O): 2f others beside its own, honest ones that
    were sent, and as many made up by Byzantine replicas as the spec's Justifications allow."""
    model = driver.model
    msgs: frozenset[Value] = before["msgs"]
    v = int(before["view"][i])
    (target,) = [m for m in added if m["type"] == "NewView"]
    goal = (int(target["ckpt"]), target["pre"])
    vcs = {
        str(m["src"]): m
        for m in msgs
        if isinstance(m, FrozenDict) and m["type"] == "ViewChange" and m["view"] == v
    }
    others = sorted(s for s in vcs if s != i)
    byzantine = sorted(model.byzantine)
    q = model.quorum
    for size in range(q - 1, max(q - 1 - len(byzantine), 0) - 1, -1):
        for group in itertools.combinations(others, size):
            members = [vcs[i], *(vcs[s] for s in group)]
            ckpt = max(int(m["ckpt"]) for m in members)
            claims = [c for m in members for c in m["prepared"]]
            honest = [driver.message(vcs[s]) for s in group]
            if len(members) == q:
                if select(ckpt, claims) == goal:
                    return honest
                continue
            for cb, extra in byzantine_presents(driver, v, msgs):
                if select(max(ckpt, cb), [*claims, *extra]) == goal:
                    made = byzantine_view_changes(driver, v, cb, extra, q - len(members))
                    return [*honest, *made]
    raise DriverError(f"{label}: no view-change quorum justifies {format_value(target)}")


def proven(driver: Driver, msgs: frozenset[Value]) -> dict[int, Value]:
    """The checkpoints a replica can prove (2f+1 Checkpoints, the honest ones sent), with a
    digest each; 0 is the initial state."""
    found_proofs: dict[int, Value] = {0: ()}
    found = {
        (int(m["seq"]), m["digest"])
        for m in msgs
        if isinstance(m, FrozenDict) and m["type"] == "Checkpoint"
    }
    for seq, d in sorted(found, key=repr):
        honest = sum(
            1
            for j in driver.model.replicas
            if record("Checkpoint", seq=seq, digest=d, src=j) in msgs
        )
        if honest + len(driver.model.byzantine) >= driver.model.quorum:
            found_proofs.setdefault(seq, d)
    return found_proofs


def certified(driver: Driver, msgs: frozenset[Value], w: int, n: int, r: Value) -> bool:
    model = driver.model
    pp = record("PrePrepare", view=w, seq=n, req=r, src=model.primary(w))
    if pp not in msgs and model.primary(w) not in model.byzantine:
        return False
    prepares = sum(
        1
        for j in model.backups(w)
        if j in model.byzantine or record("Prepare", view=w, seq=n, req=r, src=j) in msgs
    )
    return prepares >= 2 * model.f


def byzantine_presents(
    driver: Driver, v: int, msgs: frozenset[Value]
) -> Iterator[tuple[int, list[FrozenDict]]]:
    """What Byzantine members of a view-change quorum for v may present (the spec's
    ByzPresents): a checkpoint they can prove, and at most one existing prepared certificate per
    sequence number above it, within the window; fewer claims first."""
    model = driver.model
    reqs = [*sorted(driver.requests, key=repr), NOOP]
    for cb in sorted(proven(driver, msgs)):
        top = min(cb + model.window, model.max_seq)
        per_seq = [
            [
                FrozenDict({"view": w, "seq": n, "req": r})
                for w in range(v)
                for r in reqs
                if certified(driver, msgs, w, n, r)
            ]
            for n in range(cb + 1, top + 1)
        ]
        options = [[None, *claims] for claims in per_seq if claims]
        picks = sorted(itertools.product(*options), key=lambda p: sum(c is not None for c in p))
        for pick in picks:
            yield cb, [c for c in pick if c is not None]


def byzantine_view_changes(
    driver: Driver, v: int, cb: int, claims: list[FrozenDict], count: int
) -> list[Signed[Any]]:
    """`count` view-change messages for v from Byzantine replicas: the first presents the
    checkpoint cb and `claims`, with their proofs; any others present nothing."""
    model = driver.model
    msgs = frozenset(driver.sent)
    made = []
    for k, b in enumerate(sorted(model.byzantine)[:count]):
        ckpt, digest = 0, GENESIS
        proof: tuple[Signed[Any], ...] = ()
        proofs: list[PreparedProof] = []
        if k == 0:
            if cb:
                d = proven(driver, msgs)[cb]
                ckpt, digest = cb, driver.honest_checkpoint(cb, d).digest

                def checkpoint(j: str, d: Value = d) -> FrozenDict:
                    return record("Checkpoint", seq=cb, digest=d, src=j)

                proof = tuple(
                    driver.votes(msgs, checkpoint, list(model.replicas), set(), model.quorum)
                )
            for c in sorted(claims, key=lambda c: int(c["seq"])):
                w, n, r = int(c["view"]), int(c["seq"]), c["req"]
                pp = driver.message(
                    record("PrePrepare", view=w, seq=n, req=r, src=model.primary(w))
                )

                def prepare(j: str, w: int = w, n: int = n, r: Value = r) -> FrozenDict:
                    return record("Prepare", view=w, seq=n, req=r, src=j)

                prepares = driver.votes(msgs, prepare, model.backups(w), set(), 2 * model.f)
                proofs.append(PreparedProof(pp, tuple(prepares)))
        body = ViewChange(v, ckpt, digest, proof, tuple(proofs), b)
        puppet = driver.sim.nodes[b]
        assert isinstance(puppet, Puppet)
        made.append(puppet.sign(body))
    return made
