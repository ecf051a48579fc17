"""plenum 1.12.1 under the same harness (docs/plenum.md, "1.12.1"): a one-request run is a
behaviour of PBFT.tla, and an equivocating primary's stalled batch is ordered after its freshness
batch, as in 1.13.1, now that the driver does for 1.12.1 what its Node did (drivers/plenum/driver.py
`_as_1_13`: batch times on the simulated clock, ledgers registered for freshness). Skipped, with
the command that builds it, when .build/plenum-1.12.1 is absent (`make plenum-1.12.1`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshcheck.impl.base.errors import ConfigError
from meshcheck.property_tests.plenum import checks
from meshcheck.property_tests.plenum import validation
from meshcheck.property_tests.plenum.runs import ROOT
from meshcheck.property_tests.plenum.runs import Crash
from meshcheck.property_tests.plenum.runs import Schedule
from meshcheck.property_tests.plenum.runs import built
from meshcheck.property_tests.plenum.runs import byzantine_acted
from meshcheck.property_tests.plenum.runs import run
from meshcheck.property_tests.plenum.runs import start_driver


@pytest.fixture(scope="module")
def plenum_1_12() -> Iterator[Any]:
    where = os.environ.get("MESHCHECK_PLENUM_1_12", str(ROOT / ".build" / "plenum-1.12.1"))
    if not built(Path(where) / ".installed"):
        pytest.skip(f"no plenum 1.12.1 at {where}: make plenum-1.12.1 builds it (docs/plenum.md)")
    os.environ["MESHCHECK_PLENUM_PATH"] = where
    try:
        process = start_driver()
    except ConfigError as exc:
        pytest.skip(str(exc))
    finally:
        del os.environ["MESHCHECK_PLENUM_PATH"]
    with process:
        yield process


def test_a_1_12_1_run_is_a_behaviour_of_pbft_tla(plenum_1_12: Any) -> None:
    r = run(Schedule(seed=1, batch=1, ticks=20_000), process=plenum_1_12)
    assert r.version == "1.12.1"
    assert checks.problems(r) == []
    verdict = validation.validate(r)
    assert verdict.problem is None and verdict.validated == 91


def test_1_12_1_orders_an_equivocating_primarys_stalled_batch_after_its_freshness_batch(
    plenum_1_12: Any,
) -> None:
    # campaign seed 27, cut to the freshness batch: before the driver's `_as_1_13`, request 7
    # was never ordered (OrderedWithinBound at 968 s)
    schedule = Schedule(
        seed=27, requests=7, every=1000, ticks=320_000, batch=2,
        byzantine=(("Alpha", "equivocate"),),
    )  # fmt: skip
    r = run(schedule, process=plenum_1_12)
    assert byzantine_acted(r) == {"Alpha": True} and checks.problems(r) == []
    ordered = {k for o in r.ordered if o.node == "Beta" for k in o.requests}
    assert len(ordered) == 7
    assert 300_000 < max(o.at for o in r.ordered if o.requests) < 310_000


def test_1_12_1_replaces_a_crashed_primary_within_the_bound(plenum_1_12: Any) -> None:
    # campaign seed 83 failed here before the driver built 1.12.1's PrimaryConnectionMonitorService
    r = run(Schedule(seed=4, crash=Crash("Alpha", 2_500), ticks=130_000), process=plenum_1_12)
    assert r.crashed and checks.problems(r) == [] and checks.judged(r) == 6
    assert all(r.states[n]["view"] >= 1 for n in ("Beta", "Gamma", "Delta"))
