"""Which actions a lockstep search took, asserted of the fixed-seed search.

A lockstep test asserts that every action of the spec is taken at least once (an action the test
never takes is an action nobody tested). What a search reaches depends on its draw: under `verify
--explore` or `--seed` the profiles are seeded afresh (property_tests/profiles.py), and a fresh
seed once never delivered a gossip push in a whole run (`make verify --explore`, seed
2848846920). So the assertion is made of the derandomized search, the one `make test` and `make
verify` run: a seeded search's actions count, and when it missed some, the same budget
derandomized runs too and adds what it takes. A fresh draw adds to the coverage; it never takes
from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable

from hypothesis import settings

Search = Callable[[settings, Counter[str]], None]  # runs the lockstep, counting what it takes


def never_taken(
    search: Search, budget: settings, actions: Iterable[str]
) -> tuple[list[str], Counter[str]]:
    """The actions neither the search with `budget` nor, where that draw missed any, the same
    budget derandomized took; and what was taken."""
    fired: Counter[str] = Counter()
    search(budget, fired)
    wanted = list(actions)
    missing = [a for a in wanted if not fired[a]]
    if missing and not budget.derandomize:
        search(settings(budget, derandomize=True, database=None), fired)
        missing = [a for a in wanted if not fired[a]]
    return missing, fired
