"""The shape every descriptor of meshcheck's own protocols shares (property_tests/*/descriptor.py).

A protocol of this tree keeps its pieces where the layout puts them: its checks, harness and
coverage in property_tests/NAME/, its mutants in impl/NAME/, its spec mutants in specs/mutants/,
its corpus in corpus/NAME. `in_tree` spells those references once, so that each descriptor says
only what is its own (title, models, action table, and what it lacks or keeps elsewhere), and
`models` spells the usual model names of a spec (`X_quick`, `X`, `X_deep`, `X_liveness`).
"""

from __future__ import annotations

from meshcheck.protocol import Action
from meshcheck.protocol import Models
from meshcheck.protocol import Protocol
from meshcheck.protocol import Ref


def models(
    spec: str, *, deep: bool = True, liveness: bool = True, every: tuple[str, ...] = ()
) -> Models:
    """The models of `spec` by the usual names: `spec_quick`, `spec`, `spec_deep`, `spec_liveness`."""
    return Models(
        spec=spec,
        quick=f"{spec}_quick",
        default=spec,
        deep=f"{spec}_deep" if deep else None,
        liveness=f"{spec}_liveness" if liveness else None,
        every=every,
    )


def in_tree(
    name: str,
    title: str,
    models: Models,
    actions: tuple[Action, ...],
    *,
    extra_models: tuple[Models, ...] = (),
    bugs: Ref | None = None,
    spec_mutants: bool = True,
    proofs: Ref | None = None,
    hints: Ref | None = None,
    coverage: bool = True,
    directed: bool = False,
    log_checks: tuple[Ref, ...] = (),
) -> Protocol:
    """The descriptor of protocol `name` of this tree, its pieces found where the layout puts them.

    `bugs` defaults to impl/NAME's mutant catalogue; `spec_mutants`, `coverage` and `directed` say
    whether specs/mutants/NAME.py, property_tests/NAME/coverage.py and property_tests/NAME/directed.py
    are there."""
    here = f"meshcheck.property_tests.{name}"
    return Protocol(
        name=name,
        title=title,
        models=models,
        extra_models=extra_models,
        actions=actions,
        bugs=bugs if bugs is not None else f"meshcheck.impl.{name}.mutants:BUGS",
        checks=f"{here}.checks:CHECKS",
        spec_mutants=f"meshcheck.specs.mutants.{name}" if spec_mutants else None,
        proofs=proofs,
        harness=f"{here}.harness:HARNESS",
        hints=hints,
        corpus=name,
        property_tests=(f"property_tests/{name}",),
        coverage=f"{here}.coverage:COVERAGE" if coverage else None,
        directed=f"{here}.directed:TARGET" if directed else None,
        log_checks=log_checks,
    )
