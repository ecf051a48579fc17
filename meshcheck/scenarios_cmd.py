"""`meshcheck scenarios --protocol P [--scenario NAME ...] [--json F]`: the directed scenarios
(property_tests/directed/, docs/raft-scenarios.md) on one Raft-shaped protocol.

One progress line per scenario as it ends, then one table (scenario, reached?, verdict, seconds).
A scenario that fails, or never reaches its situation, has its ITF trace and its NDJSON log
written to `--out` (default reports/scenarios), with the commands that replay them: `meshcheck
trace replay` re-runs it from the trace's `#meta.rerun`, `meshcheck validate` walks the log on the
spec (an adapter that names no step of the spec logs none: the line says so, and prints no
command). Exit 0 when every scenario reached its situation and held, 1 otherwise, 2 for bad input (an
unknown protocol, one that is not Raft-shaped, an unknown scenario or mutant), one line.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError

DEFAULT_OUT = Path("reports") / "scenarios"


def _wrapped(line: str) -> str:
    """A detail line folded at the width every command keeps to (meshcheck/table.py's WIDE)."""
    from meshcheck.table import WIDE

    return "\n".join(textwrap.wrap(line, WIDE, subsequent_indent="    ")) or line


def add_parser(sub: Any) -> None:
    sc = sub.add_parser(
        "scenarios",
        help="run the directed Raft scenarios (Figure 8, lost and reordered answers, ...) on a "
        "Raft-shaped protocol",
    )
    sc.add_argument(
        "--protocol", required=True, metavar="P", help="a Raft-shaped protocol (raft, pysyncobj)"
    )
    sc.add_argument(
        "--scenario", action="append", metavar="NAME", help="only this scenario (repeatable)"
    )
    sc.add_argument("--seed", type=int, default=1, help="the simulator's seed (default 1)")
    sc.add_argument(
        "--mutant", action="append", metavar="NAME", help="switch on this known bug (repeatable)"
    )
    sc.add_argument("--json", metavar="FILE", help="also write the outcomes as JSON")
    sc.add_argument(
        "--out",
        metavar="DIR",
        default=str(DEFAULT_OUT),
        help=f"where a failing scenario's trace and log go (default {DEFAULT_OUT})",
    )


def run_scenarios(args: argparse.Namespace) -> int:
    from meshcheck import registry
    from meshcheck.table import format_table
    from meshcheck.table import seconds

    protocol = registry.get(args.protocol)
    if protocol.directed is None:
        shaped = [p.name for p in registry.protocols().values() if p.directed is not None]
        raise MeshcheckError(
            f"the protocol {protocol.name!r} is not Raft-shaped: its descriptor names no target "
            f"for the directed scenarios (Protocol.directed; Raft-shaped: {', '.join(shaped)})"
        )
    from meshcheck.property_tests.directed.library import BY_NAME
    from meshcheck.property_tests.directed.library import SCENARIOS
    from meshcheck.property_tests.directed.run import outcome
    from meshcheck.property_tests.directed.run import write_artefacts

    unknown = [n for n in args.scenario or () if n not in BY_NAME]
    if unknown:
        raise MeshcheckError(f"no scenario {', '.join(unknown)} (scenarios: {', '.join(BY_NAME)})")
    bugs = frozenset(args.mutant or ())
    if bugs:
        catalogue = protocol.load("bugs") or {}
        wrong = sorted(bugs - set(catalogue))
        if wrong:
            raise MeshcheckError(
                f"no {protocol.name} mutant {', '.join(wrong)} "
                f"(known: {', '.join(catalogue) or 'none'})"
            )
    target = protocol.load("directed")
    chosen = [BY_NAME[n] for n in args.scenario] if args.scenario else list(SCENARIOS)
    rerun = _reruns(protocol)
    outcomes = []
    for k, scenario in enumerate(chosen, start=1):
        found = outcome(target, scenario, args.seed, bugs)
        outcomes.append(found)
        print(
            f"[{k}/{len(chosen)}] {scenario.name}: {found.verdict} ({seconds(found.seconds)} s)",
            flush=True,
        )
        if found.reached:
            print(_wrapped(f"  reached: {found.reached}"))
        if found.verdict != "pass":
            print(_wrapped(f"  {found.problem}"))
            written = write_artefacts(target, found, Path(args.out))
            print(f"  trace: {written.trace}")
            if written.unlogged is None:
                print(f"  log:   {written.log}")
            else:
                print(_wrapped(f"  log:   {written.unlogged}"))
            if rerun:
                print(f"  replay:   {written.replay}")
            if written.unlogged is None:
                print(f"  validate: {written.validate}", flush=True)
    rows = [
        [o.scenario, "yes" if o.reached else "no", o.verdict, seconds(o.seconds)] for o in outcomes
    ]
    print()
    print(format_table(["scenario", "reached?", "verdict", "seconds"], rows, right=(3,)))
    if args.json:
        Path(args.json).write_text(
            json.dumps([o.as_json() for o in outcomes], indent=2) + "\n", encoding="utf-8"
        )
    return EXIT_HOLDS if all(o.verdict == "pass" for o in outcomes) else EXIT_VIOLATED


def _reruns(protocol: Any) -> bool:
    """Whether `meshcheck trace replay` can re-run a scenario of this protocol: its harness has
    the check "scenario" (a plug-in without a harness gets the trace and the log only)."""
    from meshcheck.property_tests.directed.run import CHECK

    harness = protocol.load("harness")
    return harness is not None and CHECK in harness.reruns
