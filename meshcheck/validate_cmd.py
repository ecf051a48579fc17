"""`meshcheck validate --spec Raft [--model CFG] LOG.ndjson [LOG ...]`: are these logs a behaviour of
the spec? (traces/logs/: the format, the merge, the walk with partial state; docs/logs.md.)

Exit 0 valid (the steps and the time printed), 1 not (the first record no action explains, the
closest action instance and what was false of it), 2 bad input (one line naming the file, the line
and the field) or unknown (the frontier was cut and then no candidate was left).
"""

from __future__ import annotations

import argparse

from meshcheck.impl.base.errors import EXIT_HOLDS, EXIT_USAGE, EXIT_VIOLATED, MeshcheckError
from meshcheck.traces.logs import format as logformat
from meshcheck.traces.logs.validate import SPECS, Validator, stepper_for


def run_validate(args: argparse.Namespace) -> int:
    spec = args.spec
    if spec not in SPECS and not str(spec).endswith(".tla"):
        raise MeshcheckError(
            f"--spec {spec}: not a spec meshcheck validates logs of ({', '.join(SPECS)}) "
            "nor a .tla file"
        )
    logs = [logformat.read(path) for path in args.logs]
    merged = logformat.merge(logs)
    if not merged:
        raise MeshcheckError(f"{', '.join(args.logs)}: no records")
    stepper = stepper_for(spec, args.model)
    verdict = Validator(stepper, max_frontier=args.max_frontier).run(merged)
    print(verdict.render())
    if verdict.verdict == "valid":
        return EXIT_HOLDS
    return EXIT_VIOLATED if verdict.verdict == "invalid" else EXIT_USAGE
