"""`meshcheck history check FILE --model NAME [--budget S] [--out F.svg]`.

Reads a client history (JSON lines or Jepsen's history.edn: traces/history/jepsen.py), checks it
against the model named (any of traces/history/models.py's MODELS), and when it is not
linearizable shrinks the failing prefix to the smallest non-linearizable window
(traces/history/window.py), prints it, and draws it with `--out` (traces/history/svg.py).
Exit 0 linearizable, 1 not, 2 unknown (the budget ran out) or bad input.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from meshcheck.impl.base.errors import EXIT_HOLDS, EXIT_USAGE, EXIT_VIOLATED, MeshcheckError
from meshcheck.traces.history import checker, jepsen, models, svg, window
from meshcheck.traces.history.history import Op

# operations of the failing part drawn around the window, at most
CONTEXT = 60
# a linearizable (or unknown) history is drawn whole up to this many operations
WHOLE = 400


def run_history_check(args: argparse.Namespace) -> int:
    model = models.MODELS[args.model]
    if args.out is not None and not str(args.out).endswith(".svg"):
        raise MeshcheckError(f"--out {args.out}: expected a file name ending in .svg")
    history = jepsen.read(args.file, model)
    start = time.monotonic()
    result = checker.check(history, model, args.budget)
    found = None
    if result.verdict == "not linearizable":
        part = window.part_of(result, history, model)
        found = window.smallest(part, model, args.budget, start=start)
    print(jepsen.render(result, model, args.file, found), end="")
    if args.out is not None:
        _draw(Path(args.out), args.file, history, result, found, model)
        print(f"drawn to {args.out}")
    if result.verdict == "linearizable":
        return EXIT_HOLDS
    return EXIT_VIOLATED if result.verdict == "not linearizable" else EXIT_USAGE


def _draw(
    out: Path,
    source: str,
    history: list[Op],
    result: checker.Result,
    found: window.Window | None,
    model: models.Model,
) -> None:
    name = Path(source).name
    if found is None:
        ops = [o for o in history if o.status != "fail"][:WHOLE]
        note = "" if len(ops) == len(history) else f"the first {len(ops)} operations"
        text = svg.render(ops, [], title=f"{name}: {result.verdict} ({model.name})", note=note)
    else:
        ops = window.context(window.part_of(result, history, model), found.ops, CONTEXT)
        part = "" if result.partition is None else f", key {result.partition}"
        text = svg.render(
            ops,
            found.ops,
            title=f"{name}: not linearizable ({model.name}{part})",
            note=f"{len(ops) - len(found.ops)} other operations of the same part in the window's "
            "time span",
        )
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MeshcheckError(f"--out {out}: cannot write: {exc}") from None
