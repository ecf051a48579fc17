"""`meshcheck verify`'s rows for the systems described by files (docs/systems.md), code nobody
here wrote: for each known system (meshcheck/systems/registry.py `files`) whose file has a
`[verify]` table, the checks of its own the table names (each a Ref to a
meshcheck.verify_rows.TraceCheck: etcd's names its Raft library's, meshcheck/verify_etcd.py), then
one cluster of real processes under the nemesis, its clients' history checked, as the table
describes it (etcd's: docs/etcd.md). The command names no system: each arrives as its file, and
its rows go with it in verify's summary by the name the file gives (`areas`).

Each row needs what a make target installs (`make etcd`, `make etcd-raft`, both run by `make
verify`); without it the row is "skip" with the line that says how to get it. A known system file
that does not load, or a Ref that names nothing a verify run can run, is an "error" row. Exploring
(`verify --explore`), the rows draw their seeds from the exploration's."""

from __future__ import annotations

import random
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from meshcheck import verify_rows
from meshcheck import words
from meshcheck.exercise import VACUOUS
from meshcheck.exercise import vacuous
from meshcheck.impl.base.errors import ConfigError
from meshcheck.verify_rows import Row
from meshcheck.verify_rows import TraceCheck
from meshcheck.verify_rows import Unit
from meshcheck.verify_rows import error_unit
from meshcheck.verify_rows import one
from meshcheck.verify_summary import Areas

if TYPE_CHECKING:
    from meshcheck.systems.system_file import SystemFile
    from meshcheck.systems.system_file import Verify


def units(root: Path, profile: str, seed: int | None) -> list[Unit]:
    """The rows of every known system whose file has a `[verify]` table, by the systems' names:
    its checks in the order the table names them, then its cluster test."""
    return [unit for _, unit, _ in _listed(root, profile, seed)]


def areas() -> Areas:
    """Where verify's summary puts the systems' rows (meshcheck/verify_summary.py `Areas`): each
    row `units` makes, by its name, and the TLC models of each spec a system's checks validate
    against (TraceCheck.specs), with the system, by the name its file gives. A second system
    file with a `[verify]` table gets its own line in the summary so."""
    rows: dict[str, str] = {}
    specs: dict[str, str] = {}
    for system, unit, validated in _listed(Path(), "", None):  # listed, not run
        if system:
            rows.setdefault(unit.name, system)
            for spec in validated:
                specs.setdefault(spec, system)
    return Areas(systems=specs, rows=rows)


def _listed(root: Path, profile: str, seed: int | None) -> list[tuple[str, Unit, tuple[str, ...]]]:
    """`units`, each with the system it belongs to ("" for none: no system file could be listed)
    and the specs its check validates against."""
    from meshcheck.systems import registry
    from meshcheck.systems.system_file import load

    try:
        paths = registry.files()
    except ConfigError as exc:  # a plug-in that does not load: no system is listed
        return [("", error_unit("traces", "known systems", str(exc)), ())]
    found: list[tuple[str, Unit, tuple[str, ...]]] = []
    for name, path in paths.items():
        try:
            file = load(path)
        except ConfigError as exc:
            found.append((name, error_unit("traces", f"{name}'s system file", str(exc)), ()))
            continue
        if file.verify is None:
            continue
        for ref in file.verify.checks:
            try:
                check = trace_check(file, ref)
            except ConfigError as exc:
                found.append((file.name, error_unit("traces", ref, str(exc)), ()))
                continue
            test = partial(check.run, root, profile, seed)
            found.append((file.name, one("traces", check.name, test), check.specs))
        found.append(
            (file.name, one("traces", cluster_name(file), partial(cluster_row, file, seed)), ())
        )
    return found


def trace_check(file: SystemFile, ref: str) -> TraceCheck:
    """The TraceCheck the Ref `ref` of `file`'s `[verify] checks` names (one ConfigError line
    naming the file, the key and the Ref for anything else)."""
    return verify_rows.trace_check(ref, f"{file.path}: verify.checks: {ref}")


def _verify(file: SystemFile) -> Verify:
    if file.verify is None:
        raise ConfigError(f"{file.path}: no [verify] table")
    return file.verify


def cluster_name(file: SystemFile) -> str:
    """The cluster test's row, named from the file: etcd's "etcd cluster: 3 members, cas, the
    nemesis, the history checked"."""
    v = _verify(file)
    return (
        f"{file.name} cluster: {words.count(v.nodes, 'member')}, {v.workload}, the nemesis, "
        "the history checked"
    )


def cluster_row(file: SystemFile, seed: int | None) -> Row:
    """`meshcheck cluster test --system NAME` with the `[verify]` table's nodes, workload, seconds
    and nemesis and `--seed S`, judged as the project's own clusters are (meshcheck/
    verify_cluster.py `judge`: every check that does not depend on real time holds); seed 1, or
    one drawn from the exploration's. The faults that need a network (partition, ...) strike
    where network namespaces can be built (meshcheck/cluster/netns.py `missing`), as `cluster
    test` does by default; on loopback the others alone."""
    from meshcheck.cluster.netns import missing
    from meshcheck.systems.registry import checked
    from meshcheck.systems.run import RunOptions
    from meshcheck.systems.run import run
    from meshcheck.systems.system_file import LOOPBACK_KINDS
    from meshcheck.systems.system_file import check_installed
    from meshcheck.verify_cluster import judge

    v = _verify(file)
    name = cluster_name(file)
    try:
        system = checked(file)
        check_installed(file)
    except ConfigError as exc:
        return Row("traces", name, "skip", None, "", 0.0, str(exc))
    why = missing()
    network = "netns" if why is None else "loopback"
    kinds = v.nemesis if why is None else tuple(k for k in v.nemesis if k in LOOPBACK_KINDS)
    if not kinds:
        said = f"{file.path}: verify.nemesis: none of its faults strikes on loopback ({why})"
        return Row("traces", name, "skip", None, "", 0.0, said)
    s = 1 if seed is None else random.Random(seed).randrange(2**32)
    reads = file.client.reads[0]
    options = RunOptions(
        nodes=v.nodes,
        time=v.time,
        nemesis=kinds,
        workload=v.workload,
        reads=reads,
        read_check=file.client.check(reads),
        seed=s,
        network=network,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"meshcheck-{file.name}-") as tmp:
        outcome = run(system, options, Path(tmp), lambda _: None)
    h = outcome.history
    ok, said = judge(outcome.verdicts)
    faults = words.count(len(outcome.struck) // 2, "fault")
    detail = (
        f"seed {s}: ok {h.count('ok')}, info {h.count('info')}, {faults}; {said} "
        f"(meshcheck cluster test --system {file.name} --nodes {v.nodes} --workload {v.workload} "
        f"--time {v.time:g} --nemesis {','.join(kinds)} --seed {s})"
    )
    empty = vacuous(outcome.exercise)  # held, having done almost nothing: meshcheck/exercise.py
    result = "FAIL" if not ok else (VACUOUS if empty else "pass")
    if ok and empty:
        detail = f"{VACUOUS}: {empty}; {detail}"
    return Row("traces", name, result, len(h.ops), "ops", time.monotonic() - started, detail)
