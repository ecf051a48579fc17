"""The simulator: determinism, durable vs volatile state across crashes, the persist-before-send
contract, network faults, clock skew and the operations a lockstep driver uses.

Most tests use a toy protocol (`Counter`) so that what is checked is the simulator, not Raft; the
determinism tests use Raft under every fault, the most demanding run there is.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from meshcheck.impl.base.errors import ContractViolation
from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.raft import raft_cluster
from meshcheck.impl.sim import Deliver
from meshcheck.impl.sim import Effect
from meshcheck.impl.sim import Faults
from meshcheck.impl.sim import Persist
from meshcheck.impl.sim import Put
from meshcheck.impl.sim import Restart
from meshcheck.impl.sim import Segment
from meshcheck.impl.sim import Send
from meshcheck.impl.sim import SetTimer
from meshcheck.impl.sim import SimConfig
from meshcheck.impl.sim import Simulator
from meshcheck.impl.sim import Splice
from meshcheck.impl.sim import Tick
from meshcheck.impl.sim import Workload
from meshcheck.impl.sim.storage import Durable
from meshcheck.traces import itf
from tests.hash_seeds import printed_under_hash_seeds

ROOT = Path(__file__).resolve().parent.parent


class Counter:
    """A toy protocol. Tick("bump") adds one to `value` and tells every peer; the new value is
    persisted only on even values (`persist_every=2`), so odd values live in memory only."""

    def __init__(
        self, node_id: str, peers: Sequence[str], *, persist_every: int, send_first: bool
    ) -> None:
        self.id = node_id
        self.peers = [p for p in peers if p != node_id]
        self.value = 0
        self.heard: dict[str, int] = {}
        self.persist_every = persist_every
        self.send_first = send_first

    def step(self, event: Any) -> list[Effect]:
        if isinstance(event, Restart):
            self.value = event.persisted.get("value", 0)
            return [SetTimer("bump", 10)]
        if isinstance(event, Tick):
            self.value += 1
            sends: list[Effect] = [Send(p, ("bump", self.id, self.value)) for p in self.peers]
            persist: list[Effect] = (
                [Persist((Put("value", self.value),))]
                if self.value % self.persist_every == 0
                else []
            )
            ordered = sends + persist if self.send_first else persist + sends
            return [*ordered, SetTimer("bump", 10)]
        if isinstance(event, Deliver):
            self.heard[event.source] = event.message[2]
        return []


class CounterPlugin:
    name = "counter"
    variables: tuple[str, ...] = ("value", "messages", "faults")

    def __init__(
        self, nodes: Sequence[str], *, persist_every: int = 2, send_first: bool = False
    ) -> None:
        self.nodes = tuple(nodes)
        self.persist_every = persist_every
        self.send_first = send_first

    def new_node(self, node_id: str, rng: random.Random) -> Counter:
        return Counter(
            node_id, self.nodes, persist_every=self.persist_every, send_first=self.send_first
        )

    def split(self, node_id: str, event: Any, effects: Sequence[Effect]) -> list[Segment]:
        name = (
            "Bump" if isinstance(event, Tick) else "Receive" if isinstance(event, Deliver) else None
        )
        return [Segment(name, {"i": node_id}, tuple(effects))]

    def message_record(self, message: Any) -> Value:
        return FrozenDict({"kind": message[0], "from": message[1], "value": message[2]})

    def after_step(self, node_id: str, event: Any, nodes: Mapping[str, Counter]) -> None:
        pass

    def abstract_state(
        self, nodes: Mapping[str, Counter], messages: FrozenDict, faults: Mapping[str, int]
    ) -> FrozenDict:
        return FrozenDict(
            {
                "value": FrozenDict({i: n.value for i, n in nodes.items()}),
                "messages": messages,
                "faults": FrozenDict(faults),
            }
        )

    def fault_step(self, kind: str, subject: Value) -> tuple[str, FrozenDict]:
        return kind.capitalize(), FrozenDict({"subject": subject})


def counters(n: int = 3, *, seed: int = 1, **config: Any) -> Simulator[Counter]:
    plugin_options = {k: config.pop(k) for k in ("persist_every", "send_first") if k in config}
    ids = [f"n{k}" for k in range(1, n + 1)]
    return Simulator(CounterPlugin(ids, **plugin_options), ids, SimConfig(seed=seed, **config))


# -- durable and volatile state ----------------------------------------------------------------------


def test_a_crash_loses_what_was_not_persisted() -> None:
    sim = counters()
    sim.run(until=10)  # every node bumped once: value 1, in memory only
    assert sim.nodes["n1"].value == 1 and sim.durable["n1"].get("value") is None
    sim.run(until=20)  # value 2: persisted
    sim.run(until=30)  # value 3: in memory only again
    sim.crash("n1")
    assert sim.nodes["n1"].value == 2  # the restarted node knows only what was persisted
    assert not sim.up["n1"]
    assert [s.action for s in sim.trace().steps][-1] == "Restart"
    sim.recover("n1")
    sim.run(until=45)
    assert sim.nodes["n1"].value == 3 and sim.nodes["n2"].value == 4


def test_a_crash_mid_step_keeps_exactly_the_effects_before_it() -> None:
    # Before the Persist: nothing of the step survives, and nothing was sent. (Latency below 5
    # ticks: every message has arrived by t=15, so n1's next event is its bump at t=20.)
    sim = counters(latency=(1, 4))
    sim.run(until=15)
    sim.crash("n1", after_effects=0)
    sent = sim.sent
    sim.run(until=20)  # n1's second bump (value 2) dies before its Persist
    assert sim.durable["n1"].get("value") is None
    assert sim.nodes["n1"].value == 0 and sim.sent == sent + 4  # only n2 and n3 sent (two each)
    # After the Persist, before the sends: the value is durable, the messages were never sent.
    sim = counters(latency=(1, 4))
    sim.run(until=15)
    sim.crash("n1", after_effects=1)
    sim.run(until=20)
    assert sim.durable["n1"].get("value") == 2 and sim.nodes["n1"].value == 2
    steps = sim.trace().steps
    assert sim.trace_length() == len(steps) > 1  # what lockstep reads instead of the trace
    crash_steps = [
        s
        for s in steps
        if s.meta.get("time") == 20
        and (s.meta["node"] == "n1" or s.meta.get("fault") == "crash before send")
    ]
    # The spec sees the whole step, then the two sends the crash prevented lost, then the restart.
    assert [s.action for s in crash_steps] == ["Bump", "Drop", "Drop", "Restart"]
    assert [s.meta.get("fault") for s in crash_steps[1:]] == [
        "crash before send",
        "crash before send",
        "crash mid-step",
    ]
    assert all(e.source != "n1" for e in sim.in_flight())


def test_a_send_before_a_persist_breaks_the_contract() -> None:
    sim = counters(send_first=True)
    sim.run(until=10)  # value 1: no Persist, fine
    with pytest.raises(ContractViolation, match="persist before send"):
        sim.run(until=20)


def test_durable_store_splices_and_hands_out_copies() -> None:
    d = Durable()
    d.apply([Splice("log", 0, ("a", "b", "c"))])
    d.apply([Splice("log", 1, ("x",)), Put("hard", (3, "s1"))])
    view = d.view()
    assert view == {"log": ("a", "x"), "hard": (3, "s1")}
    d.apply([Splice("log", 2, ("y",))])
    assert view["log"] == ("a", "x") and d.get("log") == ("a", "x", "y")  # the view did not change


# -- the network -------------------------------------------------------------------------------------


def test_symmetric_and_one_way_partitions() -> None:
    sim = counters()
    sim.partition([["n1"], ["n2", "n3"]])
    sim.run(until=19)
    assert sim.nodes["n2"].heard == {"n3": 1} and sim.nodes["n1"].heard == {}
    sim.heal()
    sim.cut("n1", "n2")  # n1 -> n2 is lost, n2 -> n1 arrives
    sim.run(until=29)
    assert "n1" not in sim.nodes["n2"].heard and sim.nodes["n1"].heard == {"n2": 2, "n3": 2}
    drops = [s for s in sim.trace().steps if s.action == "Drop"]
    assert drops and {s.meta["fault"] for s in drops} == {"partition"}


def test_drop_duplicate_and_delay_faults() -> None:
    sim = counters(faults=Faults(drop=0.3, duplicate=0.3, delay=0.3, delay_ticks=(100, 200)))
    sim.run(until=500)
    actions = [s.action for s in sim.trace().steps]
    assert actions.count("Drop") > 10 and actions.count("Duplicate") > 10
    assert sim.fault_counts["drop"] == actions.count("Drop")
    assert any(e.delayed for e in sim.in_flight())


def test_chaos_crashes_mid_step_and_every_crashed_node_comes_back() -> None:
    sim = counters(faults=Faults(crash=1.0, down_ticks=(5, 30), chaos_every=40))
    sim.run(until=2000)
    crashes = [line for line in sim.fault_log if " crash" in line]
    recoveries = [line for line in sim.fault_log if " recover " in line]
    assert len(crashes) > 20 and len(recoveries) >= len(crashes) - 1
    assert any("crash before persist" in c for c in crashes) and any(
        "mid-step" in c for c in crashes
    )


def test_independent_delays_reorder_messages_between_two_nodes() -> None:
    sim = counters(latency=(1, 30))
    order: list[int] = []

    def watch(s: Simulator[Counter]) -> bool:
        order.append(s.nodes["n2"].heard.get("n1", 0))
        return False

    sim.run(until=200, stop=watch)
    seen = [v for k, v in enumerate(order) if k == 0 or v != order[k - 1]]
    assert any(b < a for a, b in itertools.pairwise(seen))  # a later bump arrived first


def test_clock_skew_scales_each_nodes_timers() -> None:
    sim = counters(n=4, skew=(50, 200))
    assert len(set(sim.rate.values())) > 1
    sim.run(until=1000)
    for node_id, rate in sim.rate.items():
        period = -(-10 * rate // 100)
        assert sim.nodes[node_id].value == 1000 // period


# -- driving it by hand (what a lockstep driver does) --------------------------------------------------


def test_lockstep_operations_record_the_spec_actions() -> None:
    sim = counters()
    sim.fire("n1", "bump")
    first, second = sim.in_flight()
    copy = sim.duplicate(first.id)
    sim.drop(second.id)
    sim.deliver(copy)
    sim.restart("n3")
    assert [s.action for s in sim.trace().steps] == [
        "Init",
        "Bump",
        "Duplicate",
        "Drop",
        "Receive",
        "Restart",
    ]
    assert sim.nodes["n2"].heard == {"n1": 1}
    assert sim.find(FrozenDict({"kind": "bump", "from": "n1", "value": 1})) == [first]
    with pytest.raises(ImplError, match="no message 999 in flight"):
        sim.deliver(999)
    with pytest.raises(ImplError, match="no node 'n9'"):
        sim.fire("n9", "bump")
    sim.crash("n2")
    with pytest.raises(ImplError, match=r"cannot deliver message \d+: n2 is down"):
        sim.deliver(first.id)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Faults(drop=1.5), r"drop must be a probability in \[0, 1\], not 1.5"),
        (lambda: Faults(delay_ticks=(5, 1)), "delay_ticks must be a range"),
        (lambda: Faults(chaos_every=0), "chaos_every must be at least 1"),
        (lambda: SimConfig(seed=1, latency=(-1, 3)), "latency must be a range"),
        (lambda: SimConfig(seed=1, skew=(0, 100)), "skew is a clock rate"),
        (lambda: Workload(every=0), "every >= 1"),
        (lambda: counters(n=0), "a cluster needs distinct node ids"),
    ],
)
def test_bad_settings_are_one_line_errors(build: Any, message: str) -> None:
    with pytest.raises(ImplError, match=message):
        build()


# -- determinism --------------------------------------------------------------------------------------

CHAOS = Faults(drop=0.05, duplicate=0.05, delay=0.05, crash=0.3, partition=0.3)


def chaos_run(seed: int) -> str:
    sim = raft_cluster(
        3,
        seed=seed,
        faults=CHAOS,
        workload=Workload(every=25, reads=0.3, until=1500),
        snapshot_interval=4,
    )
    sim.run(until=2000)
    return itf.dumps(sim.trace())


def test_same_seed_same_trace_byte_for_byte() -> None:
    a, b = chaos_run(3), chaos_run(3)
    assert a == b
    assert '"Restart"' in a and '"DropMessage"' in a  # the run did meet faults
    assert chaos_run(4) != a


def test_same_seed_same_bytes_across_processes_and_hash_seeds() -> None:
    """Python randomises str hashes per process: nothing in a run may depend on set order."""
    code = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]); from tests.test_sim import chaos_run; "
        "print(hashlib.sha256(chaos_run(3).encode()).hexdigest())"
    )
    digests = {out.strip() for out in printed_under_hash_seeds(code)}
    assert digests == {hashlib.sha256(chaos_run(3).encode()).hexdigest()}


# A digest of one short seeded run, recorded before the simulator was split into its parts
# (scheduler, faults, cluster, recorder, checker, workload) and unchanged by the split: a refactor
# that changes it changes what a seed means, and every stored seed and benchmark with it. It is taken
# over what the simulator decides (the steps' actions and meta, the fault log, the counts, what each
# node applied, what is in flight), not over the ITF text, so a change to the trace writer or the
# refinement mapping alone does not move it.
PINNED_RUN = "a0f0e74dc7cfb4480daa6357276ccd6ec1f2550c49799a34e35e1e3dc4224a59"


def run_fingerprint(sim: Simulator[Any]) -> str:
    steps = [[s.action, sorted((k, repr(v)) for k, v in s.meta.items())] for s in sim.trace().steps]
    run = {
        "steps": steps,
        "faults": sim.fault_log,
        "counts": [sim.now, sim.events, sim.sent, sorted(sim.fault_counts.items())],
        "applied": {
            n: sorted((i, repr(v)) for i, v in a.items()) for n, a in sim.applied_by_index.items()
        },
        "in_flight": [[e.id, e.source, e.dest, e.deliver_at, e.delayed] for e in sim.in_flight()],
    }
    return hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()


def pinned_run() -> Simulator[Any]:
    """Raft under every fault, a workload with reads, snapshots and clock skew."""
    faults = Faults(drop=0.05, duplicate=0.05, delay=0.05, crash=0.3, partition=0.3, until=900)
    sim = raft_cluster(
        3,
        seed=5,
        faults=faults,
        workload=Workload(every=25, reads=0.3, until=1200),
        snapshot_interval=4,
        skew=(80, 120),
    )
    sim.run(until=1500)
    return sim


def test_a_seeded_run_is_the_run_it_always_was() -> None:
    sim = pinned_run()
    actions = {s.action for s in sim.trace().steps}
    assert {"Restart", "DropMessage", "DuplicateMessage"} <= actions  # it met every fault
    assert run_fingerprint(sim) == PINNED_RUN
    # the fingerprint sees one decision more: a note, or one more event
    sim.fault_log.append("t=1500 one more note")
    assert run_fingerprint(sim) != PINNED_RUN
    other = pinned_run()
    other.run(max_events=1)
    assert run_fingerprint(other) != PINNED_RUN
