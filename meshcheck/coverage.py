"""Coverage of the property tests: what lockstep and free runs reached, merged across tests and
processes, and what they never reached.

Three measures per protocol:

- spec actions fired: the names of the descriptor's action table (meshcheck/protocol.py) that a
  lockstep step or a step of a free run's trace took;
- distinct abstract states: in lockstep the spec states walked (TLC's fingerprints), in free runs
  the refinement's abstract states of the recorded traces (a 64-bit digest of a canonical form,
  the same in every process);
- named rare conditions: the protocol's own list (`Protocol.coverage`, a `CoverageSpec`), each
  detected on a step of the abstract state (`CoverageSpec.detect`, the same function for a lockstep
  step and a free-run step) or reported by a core through a probe (impl/base/probes.py) where the
  abstract state cannot see it.

How it is collected: `start()` makes a process-wide recorder; the harness reports every lockstep
step (`lockstep_step`, property_tests/harness.py) and every free run once it ran
(`free_run`, property_tests/free_runs.py); `stop()` hands back what was seen. Under pytest,
property_tests/conftest.py records each test and writes it as one JSON file into
`reports/coverage/` (or `MESHCHECK_COVERAGE_DIR`), so any number of processes write side by side;
`merge_dir` adds them up (`merge`: counts add, state sets unite) for `meshcheck coverage` and the
coverage rows of `meshcheck verify`.

A condition never hit is listed as never hit: the report is where a gap in the tests shows.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import weakref
from array import array
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import Literal

import attrs

from meshcheck.impl.base import probes

VERSION = 1
DIR_ENV = "MESHCHECK_COVERAGE_DIR"
DEFAULT_DIR = Path("reports") / "coverage"


# -- what a protocol declares -----------------------------------------------------------------------


@attrs.frozen
class Rare:
    """A named rare condition: `how` it is seen (on the abstract state, or by a probe in a core)."""

    name: str
    what: str  # one line, for the report
    how: Literal["state", "probe"] = "state"


# detect(before, action, params, after): the rare conditions a step shows, from the spec-level
# abstract states (variable -> value) before and after it and its action instance
Detect = Callable[[Mapping[str, Any], str, Mapping[str, Any], Mapping[str, Any]], Iterable[str]]


@attrs.frozen
class CoverageSpec:
    """What `Protocol.coverage` names: the protocol's rare conditions, how a step shows them, and
    how rare a state is (`score`: larger is rarer; lockstep steers toward it with Hypothesis's
    `target()`, property_tests/lockstep.py)."""

    conditions: tuple[Rare, ...]
    detect: Detect | None = None
    score: Callable[[Mapping[str, Any]], float] | None = None

    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.conditions)


# -- what was seen ----------------------------------------------------------------------------------


@attrs.define
class Seen:
    """One protocol's coverage: mergeable (counts add, sets unite)."""

    actions: Counter[str] = attrs.field(factory=Counter)
    rare: Counter[str] = attrs.field(factory=Counter)
    lockstep_states: set[int] = attrs.field(factory=set)
    free_states: set[int] = attrs.field(factory=set)
    lockstep_steps: int = 0
    free_steps: int = 0
    free_runs: int = 0
    # named counts of other checks' work (`tally`): client histories checked and their operations,
    # messages a Byzantine fuzzer sent and honest nodes rejected
    tallies: Counter[str] = attrs.field(factory=Counter)

    def merge(self, other: Seen) -> None:
        self.actions.update(other.actions)
        self.rare.update(other.rare)
        self.lockstep_states |= other.lockstep_states
        self.free_states |= other.free_states
        self.lockstep_steps += other.lockstep_steps
        self.free_steps += other.free_steps
        self.free_runs += other.free_runs
        self.tallies.update(other.tallies)

    @property
    def states(self) -> int:
        return len(self.lockstep_states) + len(self.free_states)

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": dict(sorted(self.actions.items())),
            "rare": dict(sorted(self.rare.items())),
            "lockstep_states": _pack(self.lockstep_states),
            "free_states": _pack(self.free_states),
            "lockstep_steps": self.lockstep_steps,
            "free_steps": self.free_steps,
            "free_runs": self.free_runs,
            "tallies": dict(sorted(self.tallies.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Seen:
        return cls(
            Counter({str(k): int(v) for k, v in data.get("actions", {}).items()}),
            Counter({str(k): int(v) for k, v in data.get("rare", {}).items()}),
            _unpack(data.get("lockstep_states", "")),
            _unpack(data.get("free_states", "")),
            int(data.get("lockstep_steps", 0)),
            int(data.get("free_steps", 0)),
            int(data.get("free_runs", 0)),
            Counter({str(k): int(v) for k, v in data.get("tallies", {}).items()}),
        )


Coverage = dict[str, Seen]  # protocol -> what was seen


def merge(parts: Iterable[Coverage]) -> Coverage:
    total: Coverage = {}
    for part in parts:
        for protocol, seen in part.items():
            total.setdefault(protocol, Seen()).merge(seen)
    return total


def attribute(found: Coverage, protocol: str) -> Coverage:
    """`found` with what was recorded under a name no protocol is registered by (a plug-in's
    adapter, `AdapterPlugin.name`) counted for `protocol`, the protocol whose test recorded it
    (meshcheck/coverage_pytest.py)."""
    from meshcheck import registry

    known = set(registry.protocols())
    out: Coverage = {}
    for name, seen in found.items():
        out.setdefault(name if name in known else protocol, Seen()).merge(seen)
    return out


def keep(source: Path, folder: Path) -> int:
    """Copy the per-test coverage files of `source` (a run's own folder) into `folder` (where
    `meshcheck coverage` reads them), each replacing the file of the same test; how many."""
    if not source.is_dir() or source.resolve() == folder.resolve():
        return 0
    kept = 0
    for path in sorted(source.glob("*.json")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.name).write_bytes(path.read_bytes())
        kept += 1
    return kept


def _pack(states: set[int]) -> str:
    return base64.b64encode(array("Q", sorted(states)).tobytes()).decode("ascii")


def _unpack(text: str) -> set[int]:
    found = array("Q")
    found.frombytes(base64.b64decode(text))
    return set(found)


def dumps(coverage: Coverage) -> str:
    body = {name: seen.to_json() for name, seen in sorted(coverage.items())}
    return json.dumps({"version": VERSION, "protocols": body})


def loads(text: str, where: str = "coverage") -> Coverage:
    from meshcheck.impl.base.errors import MeshcheckError

    try:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, not {VERSION}")
        return {str(k): Seen.from_json(v) for k, v in data["protocols"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MeshcheckError(f"{where}: not a coverage file: {exc}") from exc


def write(coverage: Coverage, folder: Path, name: str) -> Path:
    """One test's coverage as `folder/<name>.json` (name made file-safe)."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:180] or "run"
    path = folder / f"{safe}.json"
    path.write_text(dumps(coverage))
    return path


def merge_dir(folder: Path) -> Coverage:
    """Every coverage file in `folder`, merged (MeshcheckError, exit 2, on one that is not)."""
    return merge(loads(p.read_text(), str(p)) for p in sorted(folder.glob("*.json")))


def enabled() -> bool:
    """Whether the tests record coverage (MESHCHECK_COVERAGE=0 turns it off)."""
    return os.environ.get("MESHCHECK_COVERAGE", "1") != "0"


def folder() -> Path:
    """Where the tests write their coverage: MESHCHECK_COVERAGE_DIR, else reports/coverage."""
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR)


# -- the recorder -----------------------------------------------------------------------------------

_current: Coverage | None = None
_observed: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_specs: dict[str, CoverageSpec | None] = {}


def start() -> None:
    """Record from now on (what was recorded and not stopped is dropped)."""
    global _current
    _current = {}
    probes.listen()
    probes.drain()


def recording() -> bool:
    return _current is not None


def stop() -> Coverage:
    """Stop recording; what was seen since `start()` (probes included)."""
    global _current
    found = _current or {}
    for (protocol, condition), n in probes.drain().items():
        found.setdefault(protocol, Seen()).rare[condition] += n
    _current = None
    probes.stop()
    return found


@contextlib.contextmanager
def recording_anyway() -> Iterator[None]:
    """Record for the block when nobody records, and drop what was seen at its end (the
    saturation stop of property_tests/saturation.py watches coverage in `meshcheck mutants`
    too, where nothing else records); when a recorder runs, the block is recorded by it."""
    global _current
    if _current is not None:
        yield
        return
    listened = probes.listening()
    _current = {}
    probes.listen()
    try:
        yield
    finally:
        _current = None
        if not listened:
            probes.stop()


def counts() -> Counter[tuple[str, str, str]]:
    """What the recorder has counted so far, flat: (protocol, "action" | "rare", name) -> count,
    the probes not yet drained counted as rare conditions; empty when not recording. What grew
    between two calls is what was reached in between (property_tests/saturation.py)."""
    found: Counter[tuple[str, str, str]] = Counter()
    if _current is None:
        return found
    for protocol, seen in _current.items():
        for name, n in seen.actions.items():
            found[(protocol, "action", name)] += n
        for name, n in seen.rare.items():
            found[(protocol, "rare", name)] += n
    for (protocol, name), n in probes.counts().items():
        found[(protocol, "rare", name)] += n
    return found


def probe_hits(run: Callable[[], object]) -> Counter[tuple[str, str]]:
    """The probes `run` hit, counted without taking them from the recorder (under pytest it
    listens: what was counted before and during `run` is counted again for it)."""
    listening = recording()
    probes.listen()
    before = probes.drain()
    run()
    hits = probes.drain()
    for (protocol, condition), n in (before + hits).items():
        for _ in range(n):
            probes.hit(protocol, condition)
    if not listening:
        probes.stop()
    return hits


def spec_of(protocol: str) -> CoverageSpec | None:
    """The protocol's CoverageSpec from the registry (None: it declares none, or is unknown)."""
    if protocol not in _specs:
        from meshcheck import registry

        try:
            found = registry.protocols().get(protocol)
        except Exception:  # a plug-in that does not load: no coverage spec, never a test failure
            found = None
        _specs[protocol] = found.load("coverage") if found is not None else None
    return _specs[protocol]


def _seen(protocol: str) -> Seen | None:
    if _current is None:
        return None
    return _current.setdefault(protocol, Seen())


def tally(protocol: str, name: str, n: int = 1) -> None:
    """Count `n` of something a check did (see `Seen.tallies`); nothing when not recording."""
    seen = _seen(protocol)
    if seen is not None:
        seen.tallies[name] += n


def actions(protocol: str, names: Iterable[str]) -> None:
    """Count spec actions a check saw taken outside a recorded trace (the routing manager's steps,
    impl/manager); nothing when not recording."""
    seen = _seen(protocol)
    if seen is not None:
        seen.actions.update(names)


def lockstep_step(
    protocol: str,
    before: Mapping[str, Any],
    action: str,
    params: Mapping[str, Any],
    after: Mapping[str, Any],
    fingerprint: int,
) -> None:
    """A lockstep step taken (the spec states before and after; TLC's fingerprint of after)."""
    seen = _seen(protocol)
    if seen is None:
        return
    seen.lockstep_steps += 1
    seen.actions[action] += 1
    seen.lockstep_states.add(fingerprint & 0xFFFFFFFFFFFFFFFF)
    spec = spec_of(protocol)
    if spec is not None and spec.detect is not None:
        seen.rare.update(spec.detect(before, action, params, after))


def free_run(sim: Any) -> None:
    """A free run's simulator, after (part of) its run: the steps of its recorded trace not looked
    at before (a run continued in phases is reported once per phase)."""
    if _current is None:
        return
    protocol = str(sim.plugin.name)
    seen = _seen(protocol)
    assert seen is not None
    steps = sim.trace().steps
    done = _observed.get(sim, 0)
    if done == 0:
        seen.free_runs += 1
        if steps:
            seen.free_states.add(digest(steps[0].state))
    _observed[sim] = len(steps)
    if len(steps) <= max(done, 1):
        return
    spec = spec_of(protocol)
    detect = spec.detect if spec is not None else None
    for k in range(max(done, 1), len(steps)):
        step = steps[k]
        seen.free_steps += 1
        seen.actions[step.action] += 1
        seen.free_states.add(digest(step.state))
        if detect is not None:
            seen.rare.update(detect(steps[k - 1].state, step.action, step.params, step.state))


def steps(protocol: str, trace: Sequence[Any]) -> Seen:
    """The coverage of a trace's steps alone, outside any recorder (a hand-made run in a test)."""
    spec = spec_of(protocol)
    seen = Seen()
    for k in range(1, len(trace)):
        step = trace[k]
        seen.actions[step.action] += 1
        if spec is not None and spec.detect is not None:
            seen.rare.update(spec.detect(trace[k - 1].state, step.action, step.params, step.state))
    return seen


# -- a canonical digest of an abstract state --------------------------------------------------------


def digest(value: Any) -> int:
    """A 64-bit digest of a value that is the same in every process: sets and mappings are taken
    in a sorted order (Python's own hash of a string changes from process to process), and a
    number by the int it equals (True is 1). Digests of
    parts are kept by value (`_parts`), so consecutive states, which share most of their parts,
    cost what changed."""
    return int.from_bytes(_canon(value)[:8], "little")


_parts: dict[Any, bytes] = {}
_PARTS_LIMIT = 200_000


def _canon(value: Any) -> bytes:
    try:
        return _parts[value]
    except KeyError:
        pass
    except TypeError:  # not hashable: never in a TLA+ value, but digest what there is
        return hashlib.blake2b(b"r" + repr(value).encode(), digest_size=12).digest()
    if isinstance(value, str):
        out = hashlib.blake2b(b"s" + value.encode(), digest_size=12).digest()
    elif isinstance(value, bool | int):
        # True is 1 to Python's equality, so to the cache above and to every set a state holds:
        # digested apart, whichever came first in a process would decide the other's digest (a
        # test worker digested 1 as True once, 2026-11-28)
        out = hashlib.blake2b(b"v" + str(int(value)).encode(), digest_size=12).digest()
    elif value is None:
        out = hashlib.blake2b(b"v" + repr(value).encode(), digest_size=12).digest()
    else:
        h = hashlib.blake2b(digest_size=12)
        if isinstance(value, Mapping):
            h.update(b"m")
            for part in sorted(_canon(k) + _canon(v) for k, v in value.items()):
                h.update(part)
        elif isinstance(value, frozenset):
            h.update(b"e")
            for part in sorted(_canon(v) for v in value):
                h.update(part)
        elif isinstance(value, tuple):
            h.update(b"t")
            for v in value:
                h.update(_canon(v))
        else:
            h.update(b"r" + repr(value).encode())
        out = h.digest()
    if len(_parts) >= _PARTS_LIMIT:
        _parts.clear()
    _parts[value] = out
    return out


# -- the report -------------------------------------------------------------------------------------


@attrs.frozen
class Summary:
    """One protocol's line: actions fired of its table, states, rare conditions hit of its list."""

    protocol: str
    actions_fired: int
    actions_total: int
    never_fired: tuple[str, ...]
    states: int
    lockstep_states: int
    free_states: int
    rare: tuple[tuple[str, int], ...]  # every declared condition, with its hits (0: never)

    @property
    def rare_hit(self) -> int:
        return sum(n > 0 for _, n in self.rare)

    @property
    def never_hit(self) -> tuple[str, ...]:
        return tuple(name for name, n in self.rare if n == 0)

    @property
    def reached_nothing(self) -> bool:
        """Its tests took no action of its table: the row measures nothing (a plug-in's tests
        that run none of its adapter's nodes, or coverage never recorded)."""
        return self.actions_total > 0 and self.actions_fired == 0

    @property
    def result(self) -> str:
        """`meshcheck verify`'s result for the row: "skip" when it measures nothing (never a
        pass at "actions 0/N"), else "pass" (a measure: a condition never hit fails nothing)."""
        return "skip" if self.reached_nothing else "pass"

    def line(self) -> str:
        parts = [
            f"actions {self.actions_fired}/{self.actions_total}",
            f"states {self.states:,} (lockstep {self.lockstep_states:,}, "
            f"free runs {self.free_states:,})",
            f"rare conditions {self.rare_hit}/{len(self.rare)}",
        ]
        if self.never_hit:
            parts.append("never hit: " + ", ".join(self.never_hit))
        if self.never_fired:
            parts.append("never fired: " + ", ".join(self.never_fired))
        if self.reached_nothing:
            parts.insert(
                0,
                f"no action of its spec taken: its tests ran none of {self.protocol}'s nodes "
                "(a free run, a lockstep test or a directed scenario records what it takes)",
            )
        return "; ".join(parts)


def summarize(protocol: Any, seen: Seen | None) -> Summary:
    """The summary of a registered protocol (its `Protocol`) from what was seen (None: nothing)."""
    from meshcheck import registry

    seen = seen or Seen()
    table = [a.name for a in registry.actions_of(protocol)]
    spec: CoverageSpec | None = protocol.load("coverage")
    conditions = spec.names() if spec is not None else ()
    return Summary(
        protocol.name,
        sum(seen.actions[a] > 0 for a in table),
        len(table),
        tuple(a for a in table if not seen.actions[a]),
        seen.states,
        len(seen.lockstep_states),
        len(seen.free_states),
        tuple((c, seen.rare[c]) for c in conditions),
    )


# tallies that `meshcheck verify` shows as rows of their own, beside each protocol's coverage row:
# (the tally counted, the row's name, its unit, the tally for the detail, what the detail says)
TALLY_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "histories",
        "client histories",
        "runs",
        "history operations",
        "{:,} client operations, each run checked: linearizable, applied at most once, no answer "
        "withdrawn, applied index monotone, same state at same index",
    ),
    (
        "fuzzed runs",
        "Byzantine fuzzer",
        "runs",
        "fuzzed messages",
        "{:,} mutated messages delivered to honest nodes, each checked: not taken, recorded as "
        "evidence where due, no honest signer blamed; safety and client histories held",
    ),
)


def tally_rows(seen: Seen | None) -> list[tuple[str, str, int, str]]:
    """The rows `TALLY_ROWS` names that `seen` has counts for: (name, unit, count, detail)."""
    if seen is None:
        return []
    return [
        (name, unit, seen.tallies[key], what.format(seen.tallies[detail]))
        for key, name, unit, detail, what in TALLY_ROWS
        if seen.tallies[key]
    ]


def summaries(coverage: Coverage, chosen: Sequence[str] | None = None) -> list[Summary]:
    """A summary per registered protocol (every one, or those `chosen`) that declares actions or
    a coverage spec, in the registry's order: a protocol the tests never reached shows zeros."""
    from meshcheck import registry

    found = []
    for name, protocol in registry.protocols().items():
        if chosen is not None and name not in chosen:
            continue
        if registry.actions_of(protocol) or protocol.coverage is not None:
            found.append(summarize(protocol, coverage.get(name)))
    return found
