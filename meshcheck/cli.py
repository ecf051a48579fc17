"""The `meshcheck` command line.

Exit codes, for every command: 0 everything holds, 1 a property is violated (or a proof failed, a mutant
survived), 2 bad input or a tool problem (the message says which and where; no traceback).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from collections.abc import Callable
from collections.abc import Sequence
from typing import TYPE_CHECKING

from meshcheck import __version__
from meshcheck import words
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.base.errors import Terminated

if TYPE_CHECKING:
    from meshcheck.coverage import Coverage

# meshcheck.verify.KINDS (not imported here: it pulls in Hypothesis; tests/test_cli.py checks they agree)
VERIFY_KINDS = ("tlc", "z3", "tests", "traces", "mutants")


def _at_least(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `least`."""

    def whole(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if n < least:
            raise argparse.ArgumentTypeError(f"expected at least {least}, got {n}")
        return n

    return whole


_positive = _at_least(1)
_seed = _at_least(0)


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from meshcheck.traces.history import checkers as history_checkers  # light: attrs only
    from meshcheck.traces.history import models as history_models  # light: attrs only

    p = argparse.ArgumentParser(
        prog="meshcheck",
        description="Check consensus protocols three ways: TLC on the TLA+ specs, Z3 on the models, "
        "and the implementation against both.",
    )
    p.add_argument("--version", action="version", version=f"meshcheck {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="model-check a TLA+ spec with TLC")
    c.add_argument(
        "spec", metavar="SPEC", help="the .tla file (or a model's .cfg, which names its spec)"
    )
    c.add_argument(
        "--config", metavar="CFG", help="the model (.cfg); default: SPEC's name with .cfg"
    )
    c.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="TLC worker threads (default: the model's workers=, else 1; a model with a PROPERTY "
        "runs on 1)",
    )
    dl = c.add_mutually_exclusive_group()
    dl.add_argument(
        "--deadlock",
        dest="deadlock",
        action="store_true",
        default=None,
        help="report deadlocks (TLC's default, unless the .cfg says deadlock=false)",
    )
    dl.add_argument(
        "--no-deadlock",
        dest="deadlock",
        action="store_false",
        help="do not report states without successors",
    )
    c.add_argument(
        "--out",
        metavar="FILE",
        help="where to write the counterexample (ITF); default "
        "reports/counterexamples/<model>-<property>.itf.json under the current folder",
    )
    c.add_argument("--verbose", "-v", action="store_true", help="show TLC's own output")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress lines")

    t = sub.add_parser("trace", help="inspect a trace (ITF)")
    tsub = t.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    ts = tsub.add_parser("show", help="print a trace step by step, the changed variables marked")
    ts.add_argument("file", metavar="FILE")
    ts.add_argument("--vars", metavar="A,B", help="only these variables")
    ts.add_argument("--full", action="store_true", help="print unchanged variables too")
    ts.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    ts.add_argument("--node", metavar="N", help="one node's view: its keys, messages from or to it")
    ts.add_argument(
        "--compact",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one line per node (role, term, log, commit); default: on for cluster traces",
    )

    td = tsub.add_parser(
        "diff", help="the first step at which an implementation trace leaves the model's"
    )
    td.add_argument("model", metavar="MODEL")
    td.add_argument("impl", metavar="IMPL")
    td.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    tt = tsub.add_parser(
        "timeline", help="draw a trace as a message-sequence chart (SVG or HTML, self-contained)"
    )
    tt.add_argument("file", metavar="FILE")
    tt.add_argument("--out", metavar="OUT.svg|OUT.html", required=True)

    tr = tsub.add_parser(
        "replay",
        help="replay a trace: an implementation trace against the implementation "
        "(#meta.protocol), a TLC counterexample against its spec",
    )
    tr.add_argument("file", metavar="FILE")
    tr.add_argument(
        "--bugs", metavar="A,B", help="switch these mutants on (impl/<protocol>/mutants.py)"
    )
    tr.add_argument(
        "--recorded-bugs",
        action="store_true",
        help="switch on the mutants the trace was recorded with (#meta.bugs)",
    )
    tr.add_argument(
        "--impl-out",
        metavar="FILE",
        help="write the implementation's own trace of the replay (ITF), for `trace diff`",
    )

    hi = sub.add_parser(
        "history",
        help="check a client history: linearizability, transactions, streams, watches, leases, locks",
    )
    hsub = hi.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    hc = hsub.add_parser(
        "check",
        help="does the history hold under the model? (JSON lines or history.edn)",
    )
    hc.add_argument("file", metavar="FILE")
    hc.add_argument(
        "--model",
        choices=sorted([*history_models.MODELS, *history_checkers.CHECKERS]),
        required=True,
        help="linearizability against a model: "
        + ", ".join(sorted(history_models.MODELS))
        + "; or "
        + "; ".join(f"{c.name}: {c.summary}" for c in history_checkers.CHECKERS.values()),
    )
    hc.add_argument(
        "--consistency",
        metavar="MODEL",
        help="list-append and rw-register: the model checked, by Elle's names or aliases "
        "(read-committed, repeatable-read, snapshot-isolation, serializable, "
        "strict-serializable, cursor-stability, update-atomic, PL-2, ...: "
        "traces/history/consistency.py; default strict-serializable); "
        "register, cas-register, kv: linearizable, sequential, pram, read-your-writes, "
        "monotonic-reads, monotonic-writes or writes-follow-reads, checked with the models it "
        "implies (traces/history/lattice.py; default: linearizability alone)",
    )
    for option, order in (("linearizable-keys", "real time"), ("sequential-keys", "process order")):
        hc.add_argument(
            f"--{option}",
            dest=option,
            action="store_true",
            help=f"rw-register: assume each key's versions follow {order} (Elle's option)",
        )
    hc.add_argument(
        "--wfr-keys",
        dest="wfr-keys",
        action="store_true",
        help="rw-register: assume a transaction's write of a key follows the version it read "
        "(Elle's option; implied by every model that rules out G1c)",
    )
    hc.add_argument(
        "--clock-bound",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="lease: how long past its TTL a lapsed lease's keys may linger (the clock faults' "
        "size; default 0)",
    )
    hc.add_argument(
        "--losses",
        metavar="FILE.json",
        default=None,
        help="register models: write every lost, unexpected and recovered operation to FILE.json "
        "(the text names the first ten of each)",
    )
    hc.add_argument(
        "--reads",
        choices=("linearizable", "serializable"),
        default="linearizable",
        help="serializable: the reads may be stale (etcd's serializable reads), so only the "
        "writes and cas are checked for linearizability, and every read for a written value",
    )
    hc.add_argument(
        "--budget",
        type=float,
        default=history_models.CHECK_BUDGET,
        metavar="SECONDS",
        help="give up after this long: the answer is then unknown (exit 2), with the longest "
        f"prefix proved linearizable (default {history_models.CHECK_BUDGET:g})",
    )
    hc.add_argument(
        "--out",
        metavar="F.svg",
        help="draw the history (not linearizable: the smallest failing window, marked) as SVG",
    )

    va = sub.add_parser(
        "validate", help="are these NDJSON logs of a run a behaviour of the spec? (docs/logs.md)"
    )
    va.add_argument("logs", nargs="+", metavar="LOG", help="one or more logs of one run")
    va.add_argument(
        "--spec",
        default="Raft",
        help="the spec (Raft, RaftPipelined, RaftEtcd, PBFT, Gossip, Hybrid, HotStuff, Routing, or a .tla file; "
        "default Raft)",
    )
    va.add_argument(
        "--model",
        metavar="CFG",
        help="the TLC model (default: the spec's validation model; for a .tla file, the .cfg of the "
        "same name beside it)",
    )
    va.add_argument(
        "--max-frontier",
        type=_positive,
        default=512,
        metavar="N",
        help="candidate spec states kept at most (past it: cut, and a failure is unknown)",
    )
    va.add_argument(
        "--budget",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="give up after this long: the verdict is then unknown (exit 2), with the record "
        "reached and what would help (default 300)",
    )
    va.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="give a constant of the model another value, e.g. LeaderNoOp=FALSE for an "
        "implementation whose new leader appends no no-op (repeatable)",
    )

    pr = sub.add_parser("prove", help="run the Z3 proofs")
    pr.add_argument(
        "names", nargs="*", metavar="NAME", help="protocols whose proof sets to run (default: all)"
    )
    pr.add_argument(
        "--table",
        action="store_true",
        help="a line per obligation (its invariant and transition), not per group of them",
    )

    v = sub.add_parser("verify", help="run every check the project has and print one summary table")
    v.add_argument(
        "--profile",
        choices=("fast", "quick", "default", "deep"),
        default=os.environ.get("MESHCHECK_PROFILE", "fast"),
        help="fast (the default, as make verify: the 3-minute gate); quick: make test's budgets; "
        "default: every check, about 20 minutes (make verify-full); deep: long runs; "
        "MESHCHECK_PROFILE sets another default (docs/reference/profiles.md)",
    )
    v.add_argument(
        "--only",
        action="append",
        choices=VERIFY_KINDS,
        help="run only this kind of check (repeatable)",
    )
    v.add_argument(
        "--protocol",
        action="append",
        metavar="NAME",
        help="check only this registered protocol (repeatable): its models, proofs, property "
        "tests, traces and mutants",
    )
    v.add_argument(
        "--workers",
        metavar="N",
        help="processes to spread the checks over (default: every core; 1: one after another)",
    )
    seeded = v.add_mutually_exclusive_group()
    seeded.add_argument(
        "--seed",
        metavar="S",
        type=_seed,
        help="explore: the property tests' Hypothesis runs seeded with S instead of derandomized "
        "(a failure is kept in the regression corpus)",
    )
    seeded.add_argument(
        "--explore",
        action="store_true",
        help="explore with a fresh seed, drawn and printed (as --seed with that seed)",
    )
    v.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    v.add_argument("--junit", metavar="FILE", help="also write the report as JUnit XML")
    v.add_argument("--html", metavar="FILE", help="also write the report as one HTML page")
    v.add_argument(
        "--table",
        action="store_true",
        help="end with the full table of every check (wide), not the summary per protocol",
    )
    v.add_argument("--root", metavar="DIR", help=argparse.SUPPRESS)  # tests point it elsewhere

    mu = sub.add_parser(
        "mutants", help="switch on each known bug of a protocol and show which check kills it"
    )
    mu.add_argument(
        "protocol",
        metavar="PROTOCOL",
        nargs="?",
        help="a protocol of `meshcheck protocols` (raft, pbft, hybrid); default: every one with "
        "a mutant catalogue",
    )
    mu.add_argument(
        "--profile",
        choices=("fast", "quick", "default", "deep"),
        default=os.environ.get("MESHCHECK_PROFILE", "default"),
        help="Hypothesis budget: fast = fast, quick = ci, default = dev, deep = deep; "
        "default: default (MESHCHECK_PROFILE sets another)",
    )
    mu.add_argument(
        "--mutant", action="append", metavar="NAME", help="only this mutant (repeatable)"
    )
    mu.add_argument(
        "--all", action="store_true", help="run every check on every mutant (the kill matrix)"
    )
    mu.add_argument(
        "--no-shrink",
        action="store_true",
        help="stop at the first failing example (faster; counterexamples are not minimal)",
    )
    mu.add_argument(
        "--save",
        metavar="DIR",
        help="write each lockstep counterexample to DIR/PROTOCOL/MUTANT.itf.json (e.g. traces)",
    )
    mu.add_argument("--quiet", "-q", action="store_true", help="no progress lines")

    co = sub.add_parser(
        "coverage",
        help="what the property tests reached: actions, states, rare conditions (merged)",
    )
    co.add_argument(
        "folder",
        nargs="?",
        help="the per-test coverage files (default: reports/coverage, MESHCHECK_COVERAGE_DIR)",
    )
    co.add_argument("--protocol", action="append", help="only this registered protocol")

    sub.add_parser(
        "protocols",
        help="list the registered protocols: spec, models, mutants, proofs, corpus",
    )

    sub.add_parser("doctor", help="show the Java and TLC that meshcheck uses")

    from meshcheck.campaign.command import add_parser as add_campaign  # light: argparse only
    from meshcheck.claims.command import add_parser as add_claims  # light: argparse only
    from meshcheck.scenarios_cmd import add_parser as add_scenarios  # light: argparse only

    add_scenarios(sub)
    add_campaign(sub)

    add_claims(sub)
    from meshcheck.cluster_cmd import add_parser as add_cluster  # light: argparse only

    add_cluster(sub)
    from meshcheck.driver_cmd import add_parser as add_driver  # light: argparse only

    add_driver(sub)
    from meshcheck.hosts_cmd import add_parser as add_hosts  # light: argparse only

    add_hosts(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # the exact command line, which a report folder keeps (meshcheck/systems/provenance.py)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except MeshcheckError as exc:
        print(f"meshcheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("meshcheck: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("meshcheck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as exc:
        if not _stdout_reader_gone():
            # a pipe of meshcheck's own broke (a helper daemon it writes to died: LazyFS's, a
            # node's): say so, rather than exit 141 with no word as for `| head`
            print(f"meshcheck: a helper process meshcheck writes to died: {exc}", file=sys.stderr)
            return EXIT_USAGE
        # the reader went away (`meshcheck trace show F | head`): stop quietly, as cat does; point
        # stdout at /dev/null so that Python's own flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it: its write end then polls POLLERR
    (poll(2)). Where that cannot be told (no file descriptor), the quiet exit as before."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return True


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check":
        from meshcheck.check_cmd import run_check

        return run_check(args)
    if args.command == "trace":
        return _trace(args)
    if args.command == "history":
        return _history_check(args)
    if args.command == "validate":
        from meshcheck.validate_cmd import run_validate

        return run_validate(args)
    if args.command == "prove":
        from meshcheck.prove_cmd import run_prove

        return run_prove(args.names, args.table)
    if args.command == "verify":
        from meshcheck.verify import run_verify

        if args.html is not None:  # refused before the run, not after it
            from meshcheck.html.from_verify import check_writable

            check_writable(args.html)
        return run_verify(args)
    if args.command == "mutants":
        from meshcheck.mutants_cmd import run_mutants_cmd

        return run_mutants_cmd(args)
    if args.command == "coverage":
        return _coverage(args)
    if args.command == "protocols":
        return _protocols()
    if args.command == "doctor":
        return _doctor()
    if args.command == "scenarios":
        from meshcheck.scenarios_cmd import run_scenarios

        return run_scenarios(args)
    if args.command == "campaign":
        from meshcheck.campaign.command import run_campaign

        return run_campaign(args)
    if args.command == "claims":
        from meshcheck.claims.command import run_claims

        return run_claims(args)
    if args.command == "cluster":
        from meshcheck.cluster_cmd import run_cluster_cmd

        return run_cluster_cmd(args)
    if args.command == "driver":
        from meshcheck.driver_cmd import run_driver_cmd

        return run_driver_cmd(args)
    if args.command == "hosts":
        from meshcheck.hosts_cmd import run_hosts_cmd

        return run_hosts_cmd(args)
    raise AssertionError(args.command)


def _coverage(args: argparse.Namespace) -> int:
    from pathlib import Path

    from meshcheck import coverage
    from meshcheck import registry

    folder = Path(args.folder) if args.folder else coverage.folder()
    if not folder.is_dir() or not any(folder.glob("*.json")):
        raise MeshcheckError(
            f"{folder}: no coverage files (run the property tests first: `meshcheck verify "
            "--only tests`, with --protocol P for a plug-in's, or make test in meshcheck)"
        )
    chosen = [registry.get(name).name for name in args.protocol] if args.protocol else None
    print(coverage_report(coverage.merge_dir(folder), chosen))
    return EXIT_HOLDS


def coverage_report(coverage: Coverage, chosen: Sequence[str] | None = None) -> str:
    """`meshcheck coverage`: a row per protocol, then a row per rare condition ("never" when the
    tests never hit it)."""
    from meshcheck import registry
    from meshcheck.coverage import CoverageSpec
    from meshcheck.coverage import summaries
    from meshcheck.table import format_table

    found = summaries(coverage, chosen)
    head = format_table(
        ("protocol", "actions fired", "states", "lockstep", "free runs", "rare conditions hit"),
        [
            (
                s.protocol,
                f"{s.actions_fired}/{s.actions_total}",
                f"{s.states:,}",
                f"{s.lockstep_states:,}",
                f"{s.free_states:,}",
                f"{s.rare_hit}/{len(s.rare)}",
            )
            for s in found
        ],
        right=(1, 2, 3, 4, 5),
    )
    rows = []
    for s in found:
        spec: CoverageSpec | None = registry.get(s.protocol).load("coverage")
        what = {c.name: c for c in spec.conditions} if spec is not None else {}
        for name, hits in s.rare:
            how = what[name].how if name in what else ""
            rows.append((s.protocol, name, f"{hits:,}" if hits else "never", how, what[name].what))
    conditions = format_table(
        ("protocol", "rare condition", "hits", "seen by", "what"), rows, right=(2,)
    )
    never = [f"{s.protocol}: {', '.join(s.never_fired)}" for s in found if s.never_fired]
    tail = "\nactions never fired: " + "; ".join(never) if never else ""
    return f"{head}\n\n{conditions}{tail}"


def _trace(args: argparse.Namespace) -> int:
    actions = {
        "show": _trace_show,
        "diff": _trace_diff,
        "timeline": _trace_timeline,
        "replay": _trace_replay,
    }
    return actions[args.trace_command](args)


def _history_check(args: argparse.Namespace) -> int:
    from meshcheck.history_cmd import run_history_check

    return run_history_check(args)


def _color(choice: str) -> bool:
    return choice == "always" or (choice == "auto" and sys.stdout.isatty())


def _trace_show(args: argparse.Namespace) -> int:
    from meshcheck.traces import cluster
    from meshcheck.traces import itf
    from meshcheck.traces import show

    trace = itf.read(args.file)
    names = [v.strip() for v in args.vars.split(",") if v.strip()] if args.vars else None
    compact = args.compact if args.compact is not None else bool(cluster.nodes(trace))
    text = show.render(
        trace, vars=names, color=_color(args.color), full=args.full, compact=compact, node=args.node
    )
    print(text, end="")
    return EXIT_HOLDS


def _trace_diff(args: argparse.Namespace) -> int:
    from meshcheck.traces import diff
    from meshcheck.traces import itf

    model, impl = itf.read(args.model), itf.read(args.impl)
    text, agree = diff.render(
        model, impl, model_name=args.model, impl_name=args.impl, color=_color(args.color)
    )
    print(text, end="")
    return EXIT_HOLDS if agree else EXIT_VIOLATED


def _trace_timeline(args: argparse.Namespace) -> int:
    from meshcheck.traces import itf
    from meshcheck.traces import timeline

    trace = itf.read(args.file)
    out = timeline.write(trace, args.out, source=args.file)
    print(f"timeline of {args.file} ({words.count(len(trace), 'state')}) written to {out}")
    return EXIT_HOLDS


def _trace_replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from meshcheck.property_tests import replay
    from meshcheck.traces import itf

    trace = itf.read(args.file)
    if "protocol" not in trace.meta:  # a model trace (TLC's): replay it on its spec
        if args.bugs or args.recorded_bugs or args.impl_out:
            raise MeshcheckError(
                f"{args.file}: a model trace (no #meta.protocol) replays on its spec: "
                "--bugs, --recorded-bugs and --impl-out are for implementation traces"
            )
        outcome = replay.replay_stored(Path(args.file), root=Path.cwd())
        what = f"the spec {trace.meta.get('spec')}"
    else:
        bugs = {b.strip() for b in (args.bugs or "").split(",") if b.strip()}
        if args.recorded_bugs:
            bugs |= replay.recorded_bugs(trace)
        result = replay.replay_on_implementation(trace, where=args.file, bugs=frozenset(bugs))
        outcome = result.outcome
        mutants = f" with {', '.join(sorted(bugs))}" if bugs else ""
        what = f"the {result.protocol} implementation{mutants}"
        if args.impl_out and result.impl_trace is not None:
            written = itf.write(result.impl_trace, args.impl_out)
            print(f"the implementation's trace written to {written}")
    if outcome.ok:
        steps = words.count(outcome.steps, "step")
        violated = replay.recorded_violation(trace) if "protocol" not in trace.meta else None
        if violated is not None:  # a counterexample: replayed, it shows its violation again
            how = (
                f", and its last state violates {violated.name}"
                if violated.kind == "invariant"
                else f" (the path TLC found; {violated.kind} itself is TLC's verdict)"
            )
            print(
                f"reproduces {violated} violated: all {steps} of {args.file} replay on {what}{how}"
            )
            return EXIT_VIOLATED
        print(f"holds: all {steps} of {args.file} replay on {what}")
        return EXIT_HOLDS
    at = f" at step {outcome.index}" if outcome.index is not None else ""
    replayed = f"{words.count(outcome.steps, 'step')} replayed"
    print(f"diverges{at}: {args.file} on {what} ({replayed})")
    print(f"  {outcome.problem}".replace("\n", "\n  "))
    return EXIT_VIOLATED


def _protocols() -> int:
    """The registry as a table: one row per protocol, what each command finds in its descriptor
    (read from the descriptors alone: listing imports no implementation)."""
    from meshcheck import registry
    from meshcheck import table

    header = ("name", "spec", "models", "mutants", "proofs", "corpus")
    rows, titles = [], []
    for name, p in registry.protocols().items():
        specs = ", ".join(dict.fromkeys(f"{m.spec}.tla" for m in p.all_models()))
        models = str(sum(len(m.by_profile()) for m in p.all_models()))
        mutants = ", ".join(k for k, ref in (("impl", p.bugs), ("spec", p.spec_mutants)) if ref)
        proofs = "z3" if p.proofs else "-"
        corpus = f"traces/{p.corpus}/" if p.corpus else "-"
        rows.append((name, specs, models, mutants or "-", proofs, corpus))
        titles.append((name, p.title))
    print(table.format_table(header, rows))
    # the titles below the table, so that its lines stay short
    width = max(len(name) for name, _ in titles)
    print("\n" + "\n".join(f"{name:{width}}  {title}" for name, title in titles))
    return EXIT_HOLDS


def _doctor() -> int:
    from meshcheck.specs.tlc.java import find_jar
    from meshcheck.specs.tlc.java import find_java
    from meshcheck.specs.tlc.runtime import JVM_OPTIONS
    from meshcheck.specs.tlc.runtime import jvm_options

    java = find_java()
    print(f"Java {java.version} at {java.home}")
    print(f"TLC  {find_jar()}")
    extra = jvm_options()
    if extra:
        print(f"JVM  {shlex.join(extra)} (from {JVM_OPTIONS})")
    return EXIT_HOLDS


if __name__ == "__main__":
    raise SystemExit(main())
