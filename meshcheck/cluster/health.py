"""What gossip nodes showed while the run went on: their entries and their failure detectors,
sampled over the nodes' control channels (meshcheck/cluster/inspection.py; impl/runtime/
impl/runtime/hosted/gossip.py `gossip_inspect`), and the checks on those samples.

- Entries never go backwards: between two samples of one node in one incarnation (its boot
  count), no key's rank (version, origin, value) falls and no key disappears. A merge keeps the
  higher rank (impl/gossip/entries.py); only a restart may lose what a node learned from others.
- A node that is down is suspected (completeness, Chandra and Toueg, JACM 1996), judged two ways.
  By each watcher's own model: once a live node reports that it is `LATE` past the time its phi
  for the down node reaches the threshold (its `overdue`, from the heartbeats it had counted), it
  must suspect it. With the runtime's 250 ms rounds that time is about 0.8 s after the last
  heartbeat on a quiet machine (mean 250 ms plus 5.6 standard deviations of at least 100 ms:
  impl/gossip/detector.py), and later where load made the heartbeats irregular: a fixed 2 s
  bound failed on a loaded machine with nothing wrong (the manager's test, 2.7 s down). And by a
  bound no plausible model reaches: a node down `DETECT` seconds or more is suspected by some
  live node before it is back (a detector whose model never comes due shows here).
- A node that is back is trusted again: `TRUST` seconds after a node restarts or resumes, and
  while no other fault is on, no node suspects it (its first round heartbeats its watchers within
  one interval).

Samples are taken as the harness sees the nodes, so a check that a thing happened (a suspicion)
can miss one shorter than a sample's gap; the bounds above are many gaps long.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck import words
from meshcheck.cluster.checks import Verdict
from meshcheck.cluster.checks import timed
from meshcheck.cluster.inspection import EVERY
from meshcheck.cluster.inspection import Sample
from meshcheck.cluster.nemesis import Window
from meshcheck.cluster.nemesis import windows
from meshcheck.cluster.strike import DOWN

# seconds a watcher and the node it watches must both have been up before the node goes down for
# the watcher to have heard it: four of the runtime's gossip rounds (250 ms, impl/runtime/hosted/gossip.py)
HEARD = 1.0
DETECT = 5.0  # seconds down after which some live node must suspect the node, whatever its model
LATE = 600  # milliseconds past its own deadline a watcher may take to act (its rounds are 250 ms)
TRUST = 2.0  # seconds back after which no node may suspect it


def never_backwards(samples: Sequence[Sample]) -> Verdict:
    name = "entries never go backwards"
    last: dict[str, Sample] = {}
    for s in sorted(samples, key=lambda s: s.at):
        before = last.get(s.node)
        last[s.node] = s
        if before is None or before.seen["boot"] != s.seen["boot"]:
            continue
        for key, rank in before.seen["entries"].items():
            now = s.seen["entries"].get(key)
            if now is None or tuple(now) < tuple(rank):
                return Verdict(
                    name,
                    False,
                    f"{s.node} held {key}={tuple(rank)} at t={before.at:.2f}s and "
                    f"{None if now is None else tuple(now)} at t={s.at:.2f}s, its boot count "
                    f"{s.seen['boot']} both times (a merge that lost ground, or a restart that kept the "
                    "old boot count)",
                )
    nodes = len({s.node for s in samples})
    return Verdict(
        name, True, f"{words.count(len(samples), 'sample')} of {words.count(nodes, 'node')}"
    )


def _down(struck: Sequence[tuple[float, str]]) -> list[Window]:
    """A window per node of each fault that took nodes out (kill, pause, crash, and the disk
    faults, power and corrupt, which may take several at once)."""
    return [
        Window(w.kind, (node,), w.start, w.end)
        for w in windows(struck)
        if w.kind in DOWN
        for node in w.nodes
    ]


def _watched(w: Window, down: Sequence[Window], detect: float, nodes: set[str]) -> bool:
    """Some node other than `w`'s was up from when `w` struck until `detect` seconds into it: a
    watcher that had heard the node's heartbeats and then heard their silence. Completeness is
    owed by correct processes (Chandra and Toueg); a node down itself meanwhile, or restarted in
    the window (it never heard from the node down), owes nothing; nor does one that was not up
    beside the node for `HEARD` seconds before it went down (the node came back just before, as
    after a power failure of every node, whose restarts end one after another). The nemesis keeps
    a majority up as it strikes (strike.py), so only a one-node cluster, or one the power failure
    of every node just restarted, has no watcher."""
    busy = {
        n
        for x in down
        if x is not w and x.start < w.start + detect and w.start < x.end
        for n in x.nodes
    }

    def up_since(node: str) -> float:
        return max((x.end for x in down if node in x.nodes and x.end <= w.start), default=0.0)

    (node,) = w.nodes
    return any(max(up_since(node), up_since(n)) + HEARD <= w.start for n in nodes - busy - {node})


@timed
def suspected_when_down(
    samples: Sequence[Sample], struck: Sequence[tuple[float, str]], detect: float = DETECT
) -> Verdict:
    name = "a node down is suspected"
    judged = 0
    down = _down(struck)
    nodes = {s.node for s in samples} | {n for w in down for n in w.nodes}
    for w in down:
        if w.end - w.start < detect or not _watched(w, down, detect, nodes):
            continue
        judged += 1
        (node,) = w.nodes
        if not any(
            w.start <= s.at <= w.end and node in s.seen["suspects"] and s.node != node
            for s in samples
        ):
            return Verdict(
                name,
                False,
                f"{node} was down ({w.kind}) from t={w.start:.2f}s to t={w.end:.2f}s and "
                "no node suspected it",
            )
    for w in _down(struck):
        (node,) = w.nodes
        for s in samples:  # a live watcher past its own deadline for the node, not suspecting it
            overdue = s.seen.get("overdue", {}).get(node)
            if (
                w.start <= s.at <= w.end
                and s.node != node
                and isinstance(overdue, int)
                and overdue > LATE
                and overdue / 1000 < s.at - w.start  # the deadline came after the fault struck
                and node not in s.seen["suspects"]
            ):
                return Verdict(
                    name,
                    False,
                    f"{node} was down ({w.kind}) from t={w.start:.2f}s; at t={s.at:.2f}s "
                    f"{s.node} was {overdue} ms past its own deadline for it and did not suspect it",
                )
        if w.end - w.start < detect:  # judged above already when it lasted the hard bound
            judged += any(
                w.start <= s.at <= w.end and s.node != node and node in s.seen["suspects"]
                for s in samples
            )
    if not judged:
        return Verdict(name, True, "nothing to judge: no node down long enough to be suspected")
    return Verdict(name, True, f"{judged} down: each suspected once due")


@timed
def trusted_when_back(
    samples: Sequence[Sample], struck: Sequence[tuple[float, str]], trust: float = TRUST
) -> Verdict:
    name = "a node back is trusted"
    faults = windows(struck)
    judged = 0
    for w in _down(struck):
        (node,) = w.nodes
        calm = (w.end, w.end + trust)
        # judged only where nothing else is on meanwhile (a partition keeps it suspected rightly)
        if any(o != w and o.start < calm[1] and o.end > calm[0] for o in faults):
            continue
        after = [s for s in samples if s.at >= calm[1] and s.node != node]
        if not after:
            continue
        judged += 1
        first = min(s.at for s in after)
        doubters = sorted(
            s.node for s in after if s.at < first + EVERY * 3 and node in s.seen["suspects"]
        )
        if doubters:
            return Verdict(
                name,
                False,
                f"{node} was back at t={w.end:.2f}s; at t={first:.2f}s "
                f"{', '.join(doubters)} still suspected it",
            )
    if not judged:
        return Verdict(name, True, "nothing to judge: no node came back to a calm of its own")
    return Verdict(name, True, f"{judged} back: each trusted within {trust:.0f} s")


def verdicts(samples: Sequence[Sample], struck: Sequence[tuple[float, str]]) -> list[Verdict]:
    return [
        never_backwards(samples),
        suspected_when_down(samples, struck),
        trusted_when_back(samples, struck),
    ]
