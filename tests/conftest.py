"""Every test runs with the exact Ed25519 memo on, as the property tests do
(property_tests/crypto_memo.py; a test marked `real_crypto` runs without it); and the files run
heaviest first (`pytest_collection_modifyitems`)."""

from collections import Counter
from pathlib import Path

import pytest

from meshcheck.impl.hybrid.entries import Keys
from meshcheck.property_tests.crypto_memo import exact_ed25519_memo as exact_ed25519_memo
from tests import moved

# pytest-xdist hands each worker whole files (`--dist loadfile`), in the order this hook leaves
# them (the Makefile passes --no-loadscope-reorder, whose default puts the files with the most tests
# first and so the few long single tests last, where one worker runs them alone while the other
# waits): the files measured heaviest first, longest first, then the rest with the most tests
# first. Longest processing time first keeps the two workers' ends close. The list is
# tests/heavy_first.txt, the files that held a worker longest in `make test-cost` (its command is
# in that file); a file missing from it only runs later, never differently.
HEAVY_FIRST = tuple(
    line.strip()
    for line in (Path(__file__).parent / "heavy_first.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)


# the files whose tests need what `make test` builds beside them (the Makefile's `test` target:
# .venv-plenum, in the background, MESHCHECK_BUILD_PID): last, so the build has long ended when
# they start (property_tests/plenum/runs.py `built` waits for it otherwise)
BUILT_BESIDE = ("tests/test_plenum_smoke.py", "property_tests/plenum/")


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects: a moved test is slow
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    moved.apply(items)
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    counts = Counter(item.nodeid.split("::", 1)[0] for item in items)

    def order(item: pytest.Item) -> tuple[int, int]:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(BUILT_BESIDE):
            return (2, 0)
        return (0, rank[path]) if path in rank else (1, -counts[path])

    items.sort(key=order)  # stable: a file's tests keep their order


@pytest.fixture(scope="module")
def keys() -> Keys:
    """The hybrid tests' keys (tests/test_hybrid_impl.py, tests/test_hybrid_node.py): nodes n1..n4
    and the client c1, of seed 7."""
    return Keys(7, ("n1", "n2", "n3", "n4"), ("c1",))
