"""What meshcheck knows about one protocol, in one place: the `Protocol` descriptor.

Every command reads protocols from one registry (meshcheck/registry.py): `check` and `verify` find a
protocol's spec and models through it, `prove` its Z3 proof set, `mutants` its mutant catalogues and
checks, `trace replay` the implementation a trace's `#meta.protocol` names, the failure recorder how
to re-run a failed check, and the views how to lay a trace out. A protocol is named once, in its
descriptor, and the same name is used by every command, in `#meta.protocol`, and for its corpus folder.

The descriptor holds references, not imports: each `Ref` is an entry-point style string
("package.module:attribute") resolved on first use, so listing the protocols imports none of them,
and a protocol whose implementation needs a heavy dependency costs nothing until it is used.

The action vocabulary is one table (`actions`), as h11 keeps its state transitions as data: the spec's
action names, which the cores report as `Action` effects, the lockstep driver takes, the Hypothesis
rules are named after and the views print. A name appears once here and nowhere else is invented.

A package installed beside meshcheck adds a protocol (or an implementation of an existing spec) by
declaring an entry point in the group `meshcheck.protocols` whose object is a `Protocol`; meshcheck's own
protocols are declared the same way, in pyproject.toml. docs/plugins.md shows one, and the fields
it sets.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import Literal

import attrs

ActionKind = Literal["protocol", "client", "fault", "byzantine", "environment"]


@attrs.frozen
class Action:
    """One row of a protocol's vocabulary: a spec action (`Timeout(i)`) and what kind of step it is.

    `kind` lets tools treat steps alike across protocols: `fault` steps are the network's or the
    environment's (drop, duplicate, crash), `client` steps are requests from outside, `byzantine`
    steps are a faulty node's, `protocol` steps are the nodes' own rules.
    """

    name: str
    params: tuple[str, ...] = ()
    kind: ActionKind = "protocol"
    what: str = ""  # one line: what the step does, for listings and docs


Ref = str  # "package.module:attribute" (or "package.module" for a module), resolved on first use


def resolve(ref: Ref) -> Any:
    """The object a `Ref` names: `pkg.mod:attr.sub` imports `pkg.mod` and follows the attributes."""
    module, _, attribute = ref.partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        target = getattr(target, part)
    return target


@attrs.frozen
class Models:
    """A spec and its TLC models, by profile: `quick` (seconds, the test suite), `default`
    (`make verify`), `deep` (`--profile deep`), `liveness` (every profile). Each is the stem of a
    `.cfg` beside the spec; `package` is the Python package whose folder holds them (read through
    importlib.resources, so they are found in an installed copy too)."""

    spec: str  # the module name: "Raft" for Raft.tla
    package: str = "meshcheck.specs"
    quick: str | None = None
    default: str | None = None
    deep: str | None = None
    liveness: str | None = None
    # models every profile runs besides these: e.g. a model that checks the temporal properties of
    # a spec whose main models run under SYMMETRY or VIEW (specs/tlc/cfg.py refuses the two together)
    every: tuple[str, ...] = ()

    def by_profile(self) -> Mapping[str, str]:
        """profile -> model stem, for the profiles this spec has a model in."""
        found = {
            "quick": self.quick,
            "default": self.default,
            "deep": self.deep,
            "liveness": self.liveness,
        }
        return {profile: stem for profile, stem in found.items() if stem is not None}


@attrs.frozen
class Protocol:
    """One protocol (or one implementation of a spec): everything the commands need to find.

    Only `name`, `title` and `models` are required: a spec with no implementation yet has models to
    check and nothing else. Every other field is optional, and a command that needs a missing one
    says so in one line (exit 2) rather than guessing.
    """

    name: str  # one name everywhere: the CLI's argument, #meta.protocol, the corpus folder
    title: str  # one line, for listings
    models: Models
    # further specs the protocol is checked against, each with its models (the hybrid layer's
    # ThreatLevel.tla beside Hybrid.tla)
    extra_models: tuple[Models, ...] = ()
    # the spec's actions; () takes the table of a registered protocol with the same spec
    # (meshcheck/registry.py `actions_of`)
    actions: tuple[Action, ...] = ()
    # the implementation's mutant catalogue: Mapping[str, str], mutant -> what the bug is
    bugs: Ref | None = None
    # the ordered property checks `meshcheck mutants` runs: Sequence[property_tests.checks.Check]
    checks: Ref | None = None
    # the spec mutants: a module with MUTANTS, mutate(folder, mutant) and EQUIVALENT (specs/mutants/)
    spec_mutants: Ref | None = None
    # the Z3 proof set: Callable[[], list[ProofResult]] (models/)
    proofs: Ref | None = None
    # its harness: a property_tests.harness.Harness (property_tests/harness.py), through which
    # lockstep, stored-trace replay (`trace replay`, the corpus), trace validation, free runs and
    # the re-run of a recorded free run (property_tests/record.py) reach this implementation
    harness: Ref | None = None
    # how the views lay out its traces: traces.hints.DisplayHints
    hints: Ref | None = None
    # the folder (under meshcheck.traces) with its mutants' shortest counterexamples, and with the
    # bugs found and fixed under counterexamples/<corpus>/
    corpus: str | None = None
    # its property tests (verify's "tests" rows), each a path relative to the project when it has
    # a "/" or ends in ".py" (meshcheck's own: "property_tests/raft"), else a module or package
    # name ("fakeraft_meshcheck.tests"), found wherever it is installed (`test_paths`)
    property_tests: tuple[str, ...] = ()
    # its coverage: a meshcheck.coverage.CoverageSpec, the named rare conditions the coverage report
    # counts (how a step shows each, how rare a state is); None: actions and states only
    coverage: Ref | None = None
    # a Raft-shaped implementation's target for the directed scenarios (`meshcheck scenarios`,
    # property_tests/directed/): a property_tests.directed.target.RaftTarget; None: not Raft-shaped
    directed: Ref | None = None
    # its implementation's logs validated against its spec, in `meshcheck verify` (a "traces" row
    # each, kept by `--protocol`): each Ref names a meshcheck.verify_rows.TraceCheck, whose `fast`
    # says whether the fast profile runs it too (meshcheck/verify_logs.py holds meshcheck's own)
    log_checks: tuple[Ref, ...] = ()

    def all_models(self) -> tuple[Models, ...]:
        """Its spec's models, then the further specs'."""
        return (self.models, *self.extra_models)

    def test_paths(self, root: Path) -> tuple[list[Path], list[str]]:
        """The files or folders of its property tests, and a line for each entry not found.

        A plug-in installed from outside the project cannot name its tests by a path relative to
        it: it names the module (or package) that holds them, as its entry point names its
        descriptor, and importlib finds the folder of a package, or the file of a module, in
        site-packages, an editable install or a `--target` folder alike."""
        found: list[Path] = []
        missing: list[str] = []
        for entry in self.property_tests:
            if "/" in entry or entry.endswith(".py"):
                path = root / entry
            else:
                try:
                    spec = importlib.util.find_spec(entry)
                except (ImportError, ValueError):
                    spec = None
                if spec is None:
                    missing.append(f"no module {entry!r}")
                    continue
                where = spec.submodule_search_locations
                path = Path(next(iter(where))) if where else Path(str(spec.origin))
            if path.exists():
                found.append(path)
            else:
                missing.append(f"no {path}")
        return found, missing

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def load(self, field: str) -> Any:
        """The object behind a `Ref` field; None when the protocol has none."""
        ref = getattr(self, field)
        return None if ref is None else resolve(ref)
