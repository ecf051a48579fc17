"""`meshcheck history check FILE --model NAME [--consistency C] [--reads MODE] [--budget S]
[--out F.svg] [--losses F.json]`.

Reads a client history (JSON lines or Jepsen's history.edn: traces/history/jepsen.py), checks it
against the model named (any of traces/history/models.py's MODELS), and when it is not
linearizable shrinks the failing prefix to the smallest non-linearizable window
(traces/history/window.py `examine`, which a cluster run's anomaly report calls too), prints it,
and draws it with `--out` (traces/history/svg.py). `--reads serializable` checks a register
history as a run with etcd's serializable reads is checked (traces/history/reads.py): the writes
and cas alone linearizable, every read of a written value. `--consistency NAME` on a register
model checks NAME and the single-object models it implies, strongest first (linearizable,
sequential, pram, the four session guarantees: traces/history/lattice.py), and names the
strongest that hold. A register history's losses (traces/history/losses.py) name the first ten
of each kind; `--losses F.json` writes every one (the file a cluster run writes as losses.json),
and the text says where they are.
The checkers of traces/history/checkers.py (list-append, rw-register, stream, watch, lease,
fenced-lock) read their own formats (docs/history-checkers.md) and print their own reports.
Exit 0 linearizable (holds; with --consistency, the model named), 1 not, 2 unknown (the budget ran out, or rw-register could not order
the versions it needed) or bad input (a history with nothing to check among it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.history import checkers

if TYPE_CHECKING:
    from meshcheck.traces.history import checker
    from meshcheck.traces.history import models
    from meshcheck.traces.history import reads
    from meshcheck.traces.history import window
    from meshcheck.traces.history.history import Op

# operations of the failing part drawn around the window, at most
CONTEXT = 60
# a linearizable (or unknown) history is drawn whole up to this many operations
WHOLE = 400
# the models whose reads may be serializable: a register's
REGISTERS = frozenset({"register", "cas-register", "kv"})
# the checkers that take --consistency
TRANSACTIONAL = frozenset({"list-append", "rw-register"})


def run_history_check(args: argparse.Namespace) -> int:
    if args.model in checkers.CHECKERS:
        return _run_checker(args, checkers.CHECKERS[args.model])
    return _run_model(args)


def _run_model(args: argparse.Namespace) -> int:
    """A linearizability check against a model of traces/history/models.py; its modules imported
    here, not for the checkers of checkers.py (list-append's whole command, 100,000 transactions:
    bench/bench_list_append.py, spends a tenth of a second less on its start)."""
    from meshcheck.traces.history import jepsen
    from meshcheck.traces.history import losses
    from meshcheck.traces.history import models
    from meshcheck.traces.history import reads
    from meshcheck.traces.history import window

    _only_for(args, args.model)
    model = models.MODELS[args.model]
    if getattr(args, "consistency", None) is not None:
        return _run_lattice(args, model)
    mode = getattr(args, "reads", "linearizable")
    if mode == "serializable" and model.name not in REGISTERS:
        raise MeshcheckError(
            f"--reads serializable: only a register's reads may be stale "
            f"({', '.join(sorted(REGISTERS))}), not the {model.name} model's"
        )
    if args.out is not None and not str(args.out).endswith(".svg"):
        raise MeshcheckError(f"--out {args.out}: expected a file name ending in .svg")
    full = getattr(args, "losses", None)
    if full is not None and model.name not in REGISTERS:
        raise MeshcheckError(
            f"--losses: only for a register model ({', '.join(sorted(REGISTERS))}), "
            f"not {model.name}"
        )
    if full is not None and not str(full).endswith(".json"):
        raise MeshcheckError(f"--losses {full}: expected a file name ending in .json")
    history = jepsen.read(args.file, model)
    checked = reads.writes_only(history) if mode == "serializable" else history
    try:
        examined = window.examine(checked, model, args.budget)
    except window.NothingToCheck as exc:
        raise MeshcheckError(f"{args.file}: {exc}") from None
    result = examined.result
    print(jepsen.render(result, model, args.file, examined.window), end="")
    if model.name in REGISTERS:
        account = losses.account(losses.count(history))
        where = f"every one in {full}" if full else "every one with --losses FILE.json"
        print(account.render(full=where), end="")
        if full is not None:
            _write(Path(full), json.dumps(account.records("lines"), indent=1) + "\n")
    holds = result.verdict == "linearizable"
    if mode == "serializable":
        print("(serializable reads: the writes and cas alone are checked for linearizability)")
        print(_reads_line(reads.reads_written(history)))
        holds = holds and reads.reads_written(history).unwritten is None
    if args.out is not None:
        _draw(Path(args.out), args.file, checked, result, examined.window, model)
        print(f"drawn to {args.out}")
    if result.verdict == "unknown":
        return EXIT_USAGE
    return EXIT_HOLDS if holds else EXIT_VIOLATED


def _run_checker(args: argparse.Namespace, found: checkers.Checker) -> int:
    """A checker of its own format (traces/history/checkers.py): its report, exit 0 or 1 (2 when
    it could not decide)."""
    for flag, value, default in (
        ("--reads", getattr(args, "reads", "linearizable"), "linearizable"),
        ("--out", args.out, None),
    ):
        if value != default:
            raise MeshcheckError(f"{flag}: not for the {found.name} model")
    _only_for(args, found.name)
    if getattr(args, "losses", None) is not None:
        raise MeshcheckError(f"--losses: only for a register model, not {found.name}")
    bound = getattr(args, "clock_bound", 0.0)
    if not bound >= 0:
        raise MeshcheckError(f"--clock-bound {bound}: expected a number of seconds, 0 or more")
    model = getattr(args, "consistency", None) or "strict-serializable"
    if found.name in TRANSACTIONAL:
        model = _transactional(model)
    keys = tuple(
        k for k in ("linearizable-keys", "sequential-keys", "wfr-keys") if getattr(args, k, False)
    )
    if keys and found.name != "rw-register":
        raise MeshcheckError(f"--{keys[0]}: only for the rw-register model, not {found.name}")
    options = checkers.Options(model, bound, keys)
    text, holds = found.run(args.file, options)
    print(text, end="")
    if holds is None:
        return EXIT_USAGE
    return EXIT_HOLDS if holds else EXIT_VIOLATED


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise MeshcheckError(f"--losses {path}: cannot write it: {e.strerror or e}") from None


def _transactional(name: str) -> str:
    """The model of the transactional lattice named (traces/history/consistency.py), by Elle's
    name or an alias; none is an error naming those it knows. A model the searches cannot decide
    is checked all the same: its verdict then says what is not searched, exit 2."""
    from meshcheck.traces.history import consistency

    model = consistency.canonical(name)
    if model is None:
        known = ", ".join(consistency.names())
        raise MeshcheckError(f"--consistency {name}: no such model; expected one of {known}")
    return model


def _run_lattice(args: argparse.Namespace, model: models.Model) -> int:
    """`--consistency NAME` on a register model: NAME and the models it implies
    (traces/history/lattice.py), the strongest that hold; exit 0, 1 or 2 as NAME holds, breaks or
    is unknown."""
    from meshcheck.traces.history import jepsen
    from meshcheck.traces.history import lattice
    from meshcheck.traces.history import window

    for flag, value, default in (
        ("--reads", getattr(args, "reads", "linearizable"), "linearizable"),
        ("--out", args.out, None),
    ):
        if value != default:
            raise MeshcheckError(f"{flag}: not with --consistency")
    history = jepsen.read(args.file, model)
    try:
        outcome = lattice.run(history, model, args.consistency, args.budget)
    except window.NothingToCheck as exc:
        raise MeshcheckError(f"{args.file}: {exc}") from None
    print(lattice.render(outcome, args.file), end="")
    return {"holds": EXIT_HOLDS, "broken": EXIT_VIOLATED, "unknown": EXIT_USAGE}[outcome.verdict]


def _only_for(args: argparse.Namespace, model: str) -> None:
    """--consistency is list-append's and rw-register's (Elle's names, checked by `_transactional`)
    and the registers' (traces/history/lattice.py's names); --clock-bound the lease checker's:
    elsewhere an error."""
    name = getattr(args, "consistency", None)
    if name is not None and model not in TRANSACTIONAL | REGISTERS | {"stream"}:
        takes = ", ".join(sorted(TRANSACTIONAL | REGISTERS | {"stream"}))
        raise MeshcheckError(f"--consistency: only for the models {takes}, not {model}")
    if name is not None and model == "stream":
        from meshcheck.traces.history import stream_models

        if name not in stream_models.MODELS:
            raise MeshcheckError(
                f"--consistency {name}: not a model for stream; expected one of "
                f"{', '.join(stream_models.NAMES)}"
            )
    if name is not None and model in REGISTERS:
        from meshcheck.traces.history import lattice

        if name not in lattice.NAMES:
            raise MeshcheckError(
                f"--consistency {name}: not a model for {model}; expected one of "
                f"{', '.join(lattice.NAMES)}"
            )
    if getattr(args, "clock_bound", 0.0) != 0.0 and model != "lease":
        raise MeshcheckError(f"--clock-bound: only for the lease model, not {model}")


def _reads_line(found: reads.ReadsWritten) -> str:
    from meshcheck.traces.history import window

    if found.unwritten is not None:
        r = found.unwritten
        return (
            f"reads return written values: no: a read of {r.key} ({window.span(r)}) returned "
            f"{window.show_value(r.output)}, which no write invoked before it wrote"
        )
    return (
        f"reads return written values: yes ({window.plural(found.reads, 'read')}, "
        f"{found.stale} of them older than the write last done before)"
    )


def _draw(
    out: Path,
    source: str,
    history: list[Op],
    result: checker.Result,
    found: window.Window | None,
    model: models.Model,
) -> None:
    from meshcheck.traces.history import svg
    from meshcheck.traces.history import window

    name = Path(source).name
    if found is None:
        ops = [o for o in history if o.status != "fail"][:WHOLE]
        note = (
            "" if len(ops) == len(history) else f"the first {window.plural(len(ops), 'operation')}"
        )
        text = svg.render(ops, [], title=f"{name}: {result.verdict} ({model.name})", note=note)
    else:
        ops = window.context(window.part_of(result, history, model), found.ops, CONTEXT)
        part = "" if result.partition is None else f", key {result.partition}"
        others = window.plural(len(ops) - len(found.ops), "other operation")
        text = svg.render(
            ops,
            found.ops,
            title=f"{name}: not linearizable ({model.name}{part})",
            note=f"{others} of the same part in the window's time span",
        )
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MeshcheckError(f"--out {out}: cannot write: {exc}") from None
