"""`meshcheck cluster levels --system NAME`: the control runs of a database's isolation levels
(levels.py): for each level of its levels file, each workload and each run, one `cluster test` of
the system at that level (the file's setting `--set`, the level's model promised, no faults), its
history searched for every anomaly, then each level judged against the table the file cites and
one table printed, written to DIR/levels.txt.

Exit 0 when no level showed an anomaly it prevents and every allowed one the workloads can show
was seen; 1 when a forbidden one was found (suspect the checker or the plug-in before the
database: this is a control), a level had no run judged, or an allowed anomaly was never seen
(the runs did not show what the level lets through: not a pass); 2 on bad input (one line).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems import levels as lv

# one `cluster test` run from its command line (after `cluster test`): its exit status
RunTest = Callable[[list[str]], int]


def committed(history: Path) -> int:
    """The transactions the history records committed (0 when it is missing)."""
    if not history.exists():
        return 0
    n = 0
    with history.open(encoding="utf-8") as f:
        for line in f:
            if '"ok"' in line and json.loads(line).get("type") == "ok":
                n += 1
    return n


def one(
    run_test: RunTest, file: lv.Levels, level: lv.Level, workload: str, argv: Sequence[str],
    folder: Path,
) -> lv.Run:  # fmt: skip
    """One run at `level`: `cluster test`'s table kept in folder/test.txt, its history searched."""
    folder.mkdir(parents=True, exist_ok=True)
    test_argv = [
        "--system", file.system, "--workload", workload, "--nemesis", "none", *argv,
        "--set", f"{file.setting}={level.name}", "--set", f"promises.{workload}={level.model}",
        "--out", str(folder), "--quiet",
    ]  # fmt: skip
    with (folder / "test.txt").open("w", encoding="utf-8") as out, contextlib.redirect_stdout(out):
        code = run_test(test_argv)
    if code not in (EXIT_HOLDS, EXIT_VIOLATED):
        return lv.Run(level.name, workload, folder, {}, False, f"cluster test exited {code}")
    history = folder / "history.jsonl"
    if not committed(history):
        return lv.Run(level.name, workload, folder, {}, False, "no transaction committed")
    return lv.Run(level.name, workload, folder, lv.anomalies(workload, history), code=code)


def run(
    run_test: RunTest,
    system: str,
    levels_file: str,
    names: Sequence[str],
    workloads: Sequence[str],
    runs: int,
    argv: Sequence[str],
    out: Path,
    progress: Callable[[str], None],
) -> int:
    """The control: every run, each level judged, the report printed and kept; the exit status."""
    from meshcheck.table import format_table

    file = lv.load(Path(levels_file) if levels_file else lv.find(system))
    if file.system != system:
        raise MeshcheckError(f"{file.path}: for {file.system}, not --system {system}")
    for w in workloads:
        if w not in lv.WORKLOADS:
            raise MeshcheckError(f"--workload {w}: choose from {', '.join(lv.WORKLOADS)}")
    chosen = file.named(names) if names else file.levels
    judged = []
    for level in chosen:
        done = []
        for w in workloads:
            for i in range(1, runs + 1):
                folder = out / level.name / f"{w}-{i}"
                progress(f"{level.name}: {w} run {i} of {runs} ({folder})")
                done.append(one(run_test, file, level, w, [*argv, "--seed", str(i)], folder))
        judged.append(lv.Judged(level, tuple(done)))
    header, rows = lv.table(judged)
    lines = [
        f"levels: {system}, {', '.join(workloads)}, {runs} run(s) of each at each level; "
        f"the reference: {file.source}",
        format_table(header, rows),
        lv.LEGEND,
    ]
    for j in judged:
        lines.extend(j.lines())
    for column, why in lv.UNSEEN.items():
        lines.append(f"not observable here: {column}: {why}")
    bad = [j.level.name for j in judged if not j.holds]
    unshown = [j.level.name for j in judged if j.holds and not j.shown]
    if bad:
        lines.append(
            f"levels: {', '.join(bad)} NOT as {file.source.split(' (')[0]} says: a forbidden "
            "anomaly, or no run judged (a control: suspect the checker or the plug-in first)"
        )
    elif unshown:
        lines.append(
            f"levels: no forbidden anomaly; NOT SHOWN at {', '.join(unshown)}: an allowed anomaly "
            "never appeared, so these runs do not show the checker would see it"
        )
    else:
        lines.append(f"levels: every level as {file.source.split(' (')[0]} tabulates it")
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "levels.txt").write_text(text, encoding="utf-8")
    print(text, end="")
    if bad or unshown:
        return EXIT_VIOLATED
    return EXIT_HOLDS
