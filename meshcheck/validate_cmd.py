"""`meshcheck validate --spec Raft [--model CFG] LOG.ndjson [LOG ...]`: are these logs a behaviour of
the spec? (traces/logs/: the format, the merge, the walk with partial state; docs/logs.md.)

Exit 0 valid (the steps and the time printed), 1 not (the first record no action explains, the
closest action instance and what was false of it), 2 bad input (one line naming the file, the line
and the field) or unknown (the frontier was cut, or the inferred drops spent the model's fault
budget, and then a record had no explanation).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import attrs

from meshcheck import words
from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import EXIT_USAGE
from meshcheck.impl.base.errors import EXIT_VIOLATED
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.traces.logs import format as logformat
from meshcheck.traces.logs.format import LogRecord
from meshcheck.traces.logs.validate import SPECS
from meshcheck.traces.logs.validate import Validator
from meshcheck.traces.logs.validate import model_text
from meshcheck.traces.logs.validate import no_fit
from meshcheck.traces.logs.validate import stepper_for
from meshcheck.traces.logs.validate import validation_model


def run_validate(args: argparse.Namespace) -> int:
    spec = args.spec
    if spec not in SPECS and not str(spec).endswith(".tla"):
        raise MeshcheckError(
            f"--spec {spec}: not a spec meshcheck validates logs of ({', '.join(SPECS)}) "
            "nor a .tla file"
        )
    given = args.model if spec in SPECS else args.model or _beside(spec)
    logs = [logformat.read(path) for path in args.logs]
    merged = logformat.merge(logs)
    if not merged:
        raise MeshcheckError(f"{', '.join(args.logs)}: no records")
    model = _model_with(spec, merged, given, args.set or [])
    stepper = stepper_for(spec, model)

    def progress(at: int, records: int, frontier: int, seconds: float) -> None:
        _progress(merged[at].source if at < len(merged) else "", at, records, frontier, seconds)

    verdict = Validator(stepper, max_frontier=args.max_frontier).run(
        merged, budget=args.budget, progress=progress
    )
    print(verdict.render())
    if verdict.verdict == "valid":
        return EXIT_HOLDS
    return EXIT_VIOLATED if verdict.verdict == "invalid" else EXIT_USAGE


_MODELS: list[tempfile.TemporaryDirectory[str]] = []
# each model written, by its file's name and text: the same model asked for again (a process that
# validates many logs fitted alike, as the tests do) is the same file, whose Stepper `stepper_for`
# has already loaded
_WRITTEN: dict[tuple[str, str], str] = {}


def _beside(spec: str) -> str:
    """The model of a .tla of one's own given without --model: the .cfg of the same name beside it
    (examples/meshkv/MeshKV.tla's MeshKV.cfg)."""
    cfg = Path(spec).with_suffix(".cfg")
    if not cfg.is_file():
        raise MeshcheckError(
            f"--spec {spec}: a spec outside meshcheck needs --model CFG ({cfg} is no file)"
        )
    return str(cfg)


def _model_with(
    spec: str, records: list[LogRecord], model: str | None, settings: list[str]
) -> str | None:
    """The model to validate against: `model` (default: the spec's validation model) with the
    constants `--set NAME=VALUE` gives and those the spec fits to the records (PBFT's requests,
    views and sequence numbers: traces/logs/validate.py `fit_pbft`), written to a file of its own
    (a spec variant, such as Raft's LeaderNoOp=FALSE, is a constant of the model, not a fork of
    the spec)."""
    overrides: dict[str, str] = {}
    for setting in settings:
        name, eq, value = setting.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise MeshcheckError(f"--set {setting}: expected NAME=VALUE (LeaderNoOp=FALSE)")
        overrides[name.strip()] = value.strip()
    fits = spec in SPECS and SPECS[spec].fit is not no_fit
    if not overrides and not fits:
        return model
    path = Path(model) if model is not None else validation_model(spec)
    text = model_text(spec, records, path, overrides)
    if (path.name, text) not in _WRITTEN:
        folder = tempfile.TemporaryDirectory(prefix="meshcheck-validate-")
        _MODELS.append(folder)  # removed when the process ends (TLC reads the file once, at load)
        written = Path(folder.name) / path.name
        written.write_text(text, encoding="utf-8")
        _WRITTEN[path.name, text] = str(written)
    return _WRITTEN[path.name, text]


def _progress(source: str, at: int, records: int, frontier: int, seconds: float) -> None:
    """A run of more than a few seconds says where it is, on stderr (stdout keeps the verdict):
    the file and line of the record it walks (a count over merged files is no line to jump to)."""
    print(
        f"validate: at {source} ({at + 1:,} of {words.count(records, 'record', commas=True)}), frontier {frontier:,}, "
        f"{seconds:.0f} s",
        file=sys.stderr,
        flush=True,
    )


# the reference implementation's logs (`meshcheck verify`): runs per profile, ticks per run
REFERENCE_RUNS = {"fast": (2, 1500), "quick": (3, 1500), "default": (6, 3000), "deep": (20, 6000)}


@attrs.frozen
class ReferenceOutcome:
    """`meshcheck verify`'s check of the NDJSON path: each run's logs (full and partial state) must
    validate, and each run's logs with one term set back must not."""

    ok: bool
    steps: int  # records validated, over every log
    seconds: float
    detail: str


def check_reference_logs(profile: str = "quick") -> ReferenceOutcome:
    """Free runs of impl/raft under every fault, their logs written as another implementation
    would write them (traces/logs/reference.py), validated with full and with partial state; and
    each partial log broken (a term going backwards) must be invalid at the broken record."""
    from meshcheck.property_tests.free_runs import Schedule
    from meshcheck.property_tests.raft.free_runs import cluster
    from meshcheck.property_tests.raft.free_runs import run
    from meshcheck.property_tests.raft.validation import validation_model
    from meshcheck.traces.logs import reference

    start = time.perf_counter()
    runs, ticks = REFERENCE_RUNS[profile]
    nodes, values, budget = validation_model()
    stepper = stepper_for("Raft")
    steps = 0
    for seed in range(1, runs + 1):
        schedule = Schedule(
            seed=seed, ticks=ticks, drop=0.05, duplicate=0.1, delay=0.1, crash=0.3, partition=0.3
        )
        sim = cluster(
            schedule,
            nodes,
            frozenset(),
            make=lambda n: values[(n - 1) % len(values)],
            budget=budget,
        )
        run(sim, schedule, ticks)
        trace = sim.trace()
        for name, variables in (("full", reference.FULL), ("partial", reference.PARTIAL)):
            per_node = reference.records(trace, f"seed-{seed}", variables=variables)
            merged = logformat.merge(list(per_node.values()))
            verdict = Validator(stepper).run(merged)
            steps += verdict.steps
            if not verdict.ok:
                return ReferenceOutcome(
                    False,
                    steps,
                    time.perf_counter() - start,
                    f"seed {seed}, {name} state: {verdict.render().splitlines()[0]}",
                )
        broken, source = _term_backwards(per_node)
        if broken is None:
            continue
        verdict = Validator(stepper).run(broken)
        if verdict.verdict != "invalid" or (
            verdict.diagnosis is not None and verdict.diagnosis.source != source
        ):
            return ReferenceOutcome(
                False,
                steps,
                time.perf_counter() - start,
                f"seed {seed}: a term set back at {source} is not caught there ({verdict.verdict})",
            )
    seconds = time.perf_counter() - start
    return ReferenceOutcome(
        True,
        steps,
        seconds,
        f"{words.count(runs, 'run')}, full and partial state valid, each broken one caught",
    )


def _term_backwards(
    per_node: dict[str, list[logformat.LogRecord]],
) -> tuple[list[logformat.LogRecord] | None, str]:
    """The logs with the first record (in merged order) past the tenth whose term is above 1 set
    back to term 1; None if there is none."""
    merged = logformat.merge(list(per_node.values()))
    for k, r in enumerate(merged):
        term = r.state.get("currentTerm")
        if k > 10 and isinstance(term, int) and term > 1:
            broken = attrs.evolve(r, state={**r.state, "currentTerm": 1})
            return [*merged[:k], broken, *merged[k + 1 :]], r.source
    return None, ""
