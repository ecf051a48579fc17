"""Determinism across processes: the same log gives the same state in processes of any hash seed.

State machine replication rests on determinism (impl/rsm/machine.py): replicas that apply the same
log must hold the same state. Every replica of a simulated run lives in one process, and `make
test` and `make verify` run with one PYTHONHASHSEED, so a state machine whose state follows a set's
iteration order (the order of a set of strings changes with the process's hash seed) gives the
same digest on every replica there, and different digests on the replicas of a real cluster, each
a process of its own. This check is the one that sees the difference: it applies the same logs to
a fresh `StateMachine` in one process per hash seed (`SEEDS`, each process applying every log,
the logs and the digests exchanged as pickles over its stdin and stdout) and compares the digest
after every entry. A difference names the log, the first entry after which the digests differ,
and the digest each hash seed gave (`Divergence`).

The logs (`logs`):

- the committed logs of the stored traces of the cores with a replicated state machine
  (traces/<core>/ and traces/counterexamples/<core>/, the last state of each: Raft's `committed`,
  PBFT's `executed` of each replica, the longest chain HotStuff's replicas committed). Lockstep
  paths hold opaque values ("v1", "a": counted, not interpreted), free runs the rsm's operations.
  The hybrid layer's traces name its ops ("c1/1"), not what they hold, and give nothing here;
- the committed logs of a few seeded free runs of each core (`free_run_logs`: Raft, PBFT and
  HotStuff under drops, duplicates and crashes, a hybrid cluster through `HybridConsensus`), whose
  client writes every kind of operation (`operation`), overlays of several cases among them: what
  the stored traces' logs, mostly `Custom` writes, leave out.

impl/rsm/mutants.py's `overlay_cases_in_set_order` is the bug this check kills and no check in one
process does (tests/test_determinism.py shows both). `python -m meshcheck.property_tests.determinism`
is the worker each hash seed's process runs.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import attrs

from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.rsm import ApplyPolicy
from meshcheck.impl.rsm import CreateCase
from meshcheck.impl.rsm import Custom
from meshcheck.impl.rsm import DeployOverlay
from meshcheck.impl.rsm import Op
from meshcheck.impl.rsm import UpdateCaseState
from meshcheck.impl.rsm import to_value
from meshcheck.impl.rsm.machine import StateMachine

# one process per hash seed: three orders of a set of strings (two already differ for most sets)
SEEDS = ("0", "1", "2")
# the cores whose stored traces hold a committed log, by the folder of traces/ that holds them
TRACED = ("raft", "pbft", "hotstuff")


@attrs.frozen
class Log:
    """A committed log: where it comes from (a trace's path and replica, a free run) and its
    entries, as the state machine's `apply_entry` takes them."""

    name: str
    entries: tuple[Value, ...]


@attrs.frozen
class Divergence:
    """The digests of one log differ between hash seeds from entry `index` (0-based) on."""

    log: str
    index: int
    entry: Value
    digests: tuple[tuple[str, str], ...]  # (PYTHONHASHSEED, the digest after the entry, hex)

    def __str__(self) -> str:
        seen = ", ".join(f"PYTHONHASHSEED={seed}: {digest[:16]}" for seed, digest in self.digests)
        return f"{self.log}: digests differ after entry {self.index} ({self.entry!r}): {seen}"


# -- applying, in this process and in one per hash seed ----------------------------------------------


def apply_logs(
    logs: Sequence[tuple[Value, ...]], bugs: frozenset[str] = frozenset()
) -> list[list[bytes]]:
    """Per log, the digest of a fresh state machine (with `bugs`) after each of its entries."""
    out: list[list[bytes]] = []
    for entries in logs:
        machine = StateMachine(bugs)
        digests = []
        for value in entries:
            machine.apply_entry(value)
            digests.append(machine.digest())
        out.append(digests)
    return out


Variants = Sequence[frozenset[str]]  # the state machine mutants switched on, per run of the logs


def digests_by_seed(
    logs: Sequence[Log], variants: Variants = (frozenset(),), seeds: Sequence[str] = SEEDS
) -> dict[str, list[list[list[bytes]]]]:
    """Per hash seed, per variant (the mutants switched on), `apply_logs` of every log in a
    process of that PYTHONHASHSEED: the processes run at once, each reading the logs from one
    file, and apply them once per variant."""
    command = [sys.executable, "-m", "meshcheck.property_tests.determinism"]
    with tempfile.TemporaryDirectory() as folder:
        payload = Path(folder) / "logs.pickle"
        payload.write_bytes(
            pickle.dumps(([sorted(v) for v in variants], [log.entries for log in logs]))
        )
        processes = {}
        for seed in seeds:
            with payload.open("rb") as stdin:  # a reader of its own: the processes run at once
                processes[seed] = subprocess.Popen(
                    command,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env={**os.environ, "PYTHONHASHSEED": seed},
                )
        out: dict[str, list[list[list[bytes]]]] = {}
        for seed, process in processes.items():
            answer, error = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(
                    f"the worker with PYTHONHASHSEED={seed} failed:\n{error.decode(errors='replace')}"
                )
            digests: list[list[list[bytes]]] = pickle.loads(answer)
            out[seed] = digests
    return out


def compare_variants(
    logs: Sequence[Log], variants: Variants, seeds: Sequence[str] = SEEDS
) -> list[list[Divergence]]:
    """Per variant, the logs whose digests differ between the hash seeds' processes (none: the
    state machine is deterministic on them)."""
    found = digests_by_seed(logs, variants, seeds)
    out = []
    for v in range(len(variants)):
        divergences = []
        for k, log in enumerate(logs):
            for index, entry in enumerate(log.entries):
                after = {seed: found[seed][v][k][index] for seed in seeds}
                if len(set(after.values())) > 1:
                    digests = tuple((seed, digest.hex()) for seed, digest in after.items())
                    divergences.append(Divergence(log.name, index, entry, digests))
                    break
        out.append(divergences)
    return out


def compare(
    logs: Sequence[Log], bugs: frozenset[str] = frozenset(), seeds: Sequence[str] = SEEDS
) -> list[Divergence]:
    """The logs whose digests differ between the hash seeds' processes, with `bugs` on."""
    (divergences,) = compare_variants(logs, (bugs,), seeds)
    return divergences


def main() -> None:
    """The worker: (variants, logs) pickled on stdin; per variant, `apply_logs` of the logs with
    its mutants on, pickled on stdout."""
    variants, logs = pickle.load(sys.stdin.buffer)
    out = [apply_logs(logs, frozenset(bugs)) for bugs in variants]
    pickle.dump(out, sys.stdout.buffer)


# -- the logs of the stored traces -------------------------------------------------------------------


def plain(value: Any) -> Value:
    """A decoded ITF value as the state machine's own types (FrozenDict, tuple, str, int, bool):
    the ITF reader's subclasses stay here, and an entry a PBFT trace keeps as the repr of its
    operation (`executed`) is that operation again (`from_repr`)."""
    if isinstance(value, Mapping):
        return FrozenDict({plain(k): plain(v) for k, v in value.items()})
    if isinstance(value, tuple | list):
        return tuple(plain(v) for v in value)
    if isinstance(value, frozenset | set):
        return frozenset(plain(v) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return from_repr(value)
    return value


def from_repr(text: str) -> Value:
    """The value whose repr `text` is, when it is the repr of an operation record
    (`FrozenDict({'op': ...})`); else `text` itself, an opaque value."""
    if not text.startswith("FrozenDict("):
        return text
    try:
        return _literal(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError):
        return text


def _literal(node: ast.expr) -> Value:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "FrozenDict"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Dict)
        and not node.keywords
    ):
        inner = node.args[0]
        if any(k is None for k in inner.keys):  # `**other`: not a literal
            raise ValueError("a dict with ** in it")
        pairs = zip(inner.keys, inner.values, strict=True)
        return FrozenDict({_literal(k): _literal(v) for k, v in pairs if k is not None})
    if isinstance(node, ast.Tuple):
        return tuple(_literal(v) for v in node.elts)
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner_value = _literal(node.operand)
        if isinstance(inner_value, int) and not isinstance(inner_value, bool):
            return -inner_value
    raise ValueError(f"not a value: {ast.dump(node)[:80]}")


def _last_state(path: Path) -> Mapping[str, Value]:
    """The last state of an ITF trace. The writer puts each state on lines of its own
    (traces/itf.py), so the last one is parsed alone; a trace written otherwise is read whole."""
    from meshcheck.traces import itf

    text = path.read_text()
    start = text.rfind("\n    {\n")
    end = text.find("\n    }", start)
    if start >= 0 and end >= 0:
        try:
            state = json.loads(text[start : end + len("\n    }")])
        except json.JSONDecodeError:
            pass
        else:
            return {k: itf.decode_value(v) for k, v in state.items() if k != "#meta"}
    return itf.read(path).steps[-1].state


def _committed(core: str, state: Mapping[str, Any]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(replica or "", its committed log) in the last state of a trace of `core`."""
    if core == "raft":  # the history variable of every entry committed, in order
        yield "", tuple(c["entry"]["value"] for c in state["committed"])
    elif core == "pbft":  # each replica's executed requests, in order
        for replica, executed in sorted(state["executed"].items()):
            yield replica, tuple(executed)
    elif core == "hotstuff":  # the chains each replica committed: the longest is its log
        chains = [chain for held in state["committed"].values() for chain in held]
        if chains:
            longest = max(chains, key=lambda chain: (len(chain), repr(chain)))
            yield "", tuple(block["cmd"] for block in longest)


# traces/, wherever meshcheck is installed
TRACES = Path(str(files("meshcheck.traces")))


def trace_paths(core: str) -> list[Path]:
    """The stored traces of `core`: its mutants' (traces/<core>/) and its fixed bugs'
    (traces/counterexamples/<core>/)."""
    return sorted((TRACES / core).glob("*.itf.json")) + sorted(
        (TRACES / "counterexamples" / core).glob("*.itf.json")
    )


def stored_logs(cores: Iterable[str] = TRACED) -> list[Log]:
    """The distinct non-empty committed logs of the stored traces of `cores`."""
    logs: list[Log] = []
    seen: set[tuple[Value, ...]] = set()
    for core in cores:
        for path in trace_paths(core):
            for replica, raw in _committed(core, _last_state(path)):
                entries = tuple(plain(v) for v in raw)
                if entries and entries not in seen:
                    seen.add(entries)
                    name = f"traces/{path.relative_to(TRACES)}"
                    logs.append(Log(f"{name} {replica}".rstrip(), entries))
    return logs


# -- the logs of free runs ---------------------------------------------------------------------------


def operation(n: int) -> Op:
    """The n-th write of the free runs here (n from 1): every kind of operation in turn, each on
    names an earlier one made, so that most take effect: a case opened, a policy set, the case
    moved on (compare-and-set), an overlay of the three cases opened last, a custom key."""
    kind = n % 5
    if kind == 1:
        return CreateCase(f"c{n}", data={"n": n, "tags": ["new", f"t{n % 4}"]})
    if kind == 2:
        return ApplyPolicy(f"p{n % 2}", rules={"max": n, "allow": ["read", "write"]})
    if kind == 3:
        return UpdateCaseState(f"c{n - 2}", f"s{n}", expected="open")
    if kind == 4:
        cases = [f"c{m}" for m in (n - 3, n - 8, n - 13) if m > 0]
        return DeployOverlay(f"o{n % 3}", f"p{(n - 2) % 2}", cases=cases)
    return Custom(f"k{n % 3}", None if n % 15 == 0 else {"n": n})


def write(n: int) -> FrozenDict:
    return to_value(operation(n))


def _prefix(applied: Mapping[int, Any]) -> tuple[Any, ...]:
    """The entries first applied at indexes 1, 2, ... up to the first index nobody applied."""
    out = []
    index = min(applied, default=1)
    while index in applied:
        out.append(applied[index])
        index += 1
    return tuple(out)


def _simulated(core: str, seed: int, ticks: int) -> tuple[Any, ...]:
    from meshcheck.impl.sim import Faults
    from meshcheck.impl.sim import Workload

    faults = Faults(drop=0.05, duplicate=0.05, crash=0.2, until=ticks // 2)
    workload = Workload(every=15, make=write, until=ticks - 300)
    if core == "raft":
        from meshcheck.impl.raft import raft_cluster

        sim: Any = raft_cluster(
            3, seed=seed, faults=faults, workload=workload, snapshot_interval=7, record=False
        )
    elif core == "pbft":
        from meshcheck.impl.pbft.simulation import pbft_cluster

        sim = pbft_cluster(
            4, seed=seed, faults=faults, workload=workload, checkpoint_every=5, record=False
        )
    else:
        from meshcheck.impl.hotstuff.simulation import hotstuff_cluster

        sim = hotstuff_cluster(4, seed=seed, faults=faults, workload=workload, record=False)
    sim.run(until=ticks)
    return _prefix(sim.first_applied)


def _hybrid(seed: int, ops: int) -> tuple[Any, ...]:
    """The committed client ops of a hybrid cluster, in the order of its history: what each
    epoch's HybridMachine hands its StateMachine (impl/hybrid/machine.py `_apply_op`)."""
    from meshcheck.impl.hybrid.consensus import HybridConsensus

    hc = HybridConsensus(4, seed=seed)
    committed = []
    for n in range(1, ops + 1):
        decision = hc.propose(operation(n))
        if decision.committed and decision.position is not None:
            committed.append((decision.position, write(n)))
    return tuple(value for _, value in sorted(committed))


# (core, how one seeded run of it is made); each a fraction of a second
RUNS: Mapping[str, Callable[[int], tuple[Any, ...]]] = {
    "raft": lambda seed: _simulated("raft", seed, 1500),
    "pbft": lambda seed: _simulated("pbft", seed, 900),
    "hotstuff": lambda seed: _simulated("hotstuff", seed, 900),
    "hybrid": lambda seed: _hybrid(seed, 15),
}


def free_run_logs(seeds: Iterable[int] = (1,), cores: Iterable[str] = tuple(RUNS)) -> list[Log]:
    """The committed log of one seeded free run of each core per seed."""
    logs = []
    for core in cores:
        for seed in seeds:
            entries = tuple(plain(v) for v in RUNS[core](seed))
            logs.append(Log(f"free run of {core}, seed {seed}", entries))
    return logs


def logs(seeds: Iterable[int] = (1,)) -> list[Log]:
    """Every log the check compares: the stored traces', then the free runs'."""
    return stored_logs() + free_run_logs(seeds)


if __name__ == "__main__":
    main()
