"""Gossip in Z3: the merge is a join-semilattice on every state, the delta rule is exact, and what phi means.

The code these facts are about is impl/gossip/entries.py (Entry, merge, digest, delta, update) and
impl/gossip/phi.py (phi, Arrivals). tests/test_models_gossip.py ties the two: Hypothesis states go through
the Python functions and through Z3 evaluating this module's formulas, and must agree.

1. The merge is a join-semilattice (Shapiro, Preguica, Baquero and Zawirski, "Conflict-free Replicated
   Data Types", SSS 2011, section 2.2 and Proposition 2.1: a state-based object whose states form a
   join-semilattice, whose merge is the join and whose updates go up, converges). A state is a Z3 array
   from an uninterpreted, unbounded sort of keys to a slot, `absent` or `entry(version, origin, value)`;
   version, origin and value are unbounded integers. Origin and value are strings in Python, compared by
   `<`; the proofs only compare them (never add or inspect them), so any strictly order-preserving map of
   the finitely many strings of some Python states into the integers carries every proof over to those
   states (the tests use exactly such a map). The rank is `(version, origin, value)` compared
   lexicographically, as `Entry.rank`, and an absent key is below every entry. Proved, for all states
   (every key at once: the key in each claim is free, so the claim holds for every key, and by
   extensionality for the states as maps; versions are not even restricted to >= 1):
   the order is a total order on slots (`order`); merge is commutative, associative and idempotent; it
   is an upper bound of both inputs and below every upper bound of both (the least upper bound), so
   the merge is the join of the pointwise order.
   Then the theorem: for every finite sequence of states x1..xn, merge_all(x1..xn) depends only on the
   set {x1..xn}: not on the order, not on duplicates (a message delivered twice), not on a lost exchange
   sent again. Proved by induction on n, with base and step in Z3 (`merge_all_induction`: at a key, the
   empty merge is the greatest slot of the empty set, and if a partial merge is the greatest slot of a
   set X, joining y gives the greatest of X + {y}, for every set X of slots) and the induction itself on
   paper (merge_all is that fold, `entries.merge_all`): so merge_all(x)[key] is the greatest slot of
   {x1[key] .. xn[key]}, which is unique (`merge_all_unique`), so two sequences with the same set merge
   to the same state. Also proved directly, for bounded length (`merge_all_bounded`): any three states
   and every sequence of length 3 or 4 that holds each of them, in any order with any duplicates (the
   positions are symbolic integers), merge to the same state (length 5 takes Z3 about 30 s, 6 more than
   a minute: the induction is what covers every length).
2. Delta propagation (van Renesse, Dumitriu, Gough and Thomas, "Efficient Reconciliation and Flow
   Control for Anti-Entropy Protocols", LADIS 2008, section 3: a peer sends its digest and gets back
   what is newer). A digest holds a rank per key, which is the entry itself (rank and entry determine
   each other), so a digest is a state here. For every state `mine` and every digest: the delta holds
   only entries of `mine`, each strictly above the digest's rank for its key (nothing the digest's
   holder has at an equal or higher rank); it holds every entry of `mine` the holder lacks (an absent
   key or a lower rank). For every `peer` and `mine`: merge(peer, delta(mine, digest(peer))) =
   merge(peer, mine), so delta exchanges converge where full-state exchanges do. An update writes a
   version one above what the writer holds for the key, so its entry is above the one it replaces.
3. The phi-accrual detector (Hayashibara, Defago, Yared and Katayama, "The phi Accrual Failure
   Detector", SRDS 2004, section 4): phi(e) = max(0, -log10(P_later(e))), P_later(e) =
   0.5 * erfc((e - mean) / (std * sqrt 2)). Z3 has neither erfc nor log10: both are uninterpreted
   functions, and what is proved rests on these axioms, the only facts assumed (`PHI_AXIOMS`): erfc is
   strictly decreasing, 0 < erfc < 2, erfc(0) = 1; log10 is strictly increasing on the positive reals;
   exp10(t) > 0 and log10(exp10(t)) = t; log10(1/2) > -0.30103 (log10 2 = 0.30102999...); sqrt2 > 0
   and sqrt2^2 = 2. All are true of the real functions. Each lemma's hypotheses are instances of them at
   the points it uses (quantifier-free, so Z3 decides the lemma, and a counterexample comes with
   values, which the tests then check with math.erfc). Proved, over the reals, for every mean and
   every std > 0:
   - `phi_monotone`: phi is non-decreasing in elapsed (the suspicion level only grows while no
     heartbeat comes);
   - `phi_after_heartbeat`: a heartbeat at time h sets the detector's last arrival to h
     (`Arrivals.heard`), so at any later time u its phi is phi(u - h, mean', std') of the new window,
     and at u = h it is phi(0, mean', std') = -log10(Phi(mean'/std')), Phi the normal distribution
     function. Whenever mean' >= 0 (always true of the detector: intervals are >= 0 and first_interval
     > 0) that is <= log10 2 < 0.30103, below every threshold >= 0.30103 (the default is 8): a heartbeat
     always clears a suspicion, whatever the window. The exact condition for phi(0) < T is
     Phi(mean/std) > 10^-T, which a negative mean can break (a variant shows it);
   - `phi_threshold_meaning`: for every threshold T > 0, phi(e) >= T iff P_later(e) <= 10^-T. This is
     exact, and by definition: it is the monotonicity of log10 and nothing else. So threshold 8 means:
     under the model "the next inter-arrival time is Normal(mean, std)", a live peer is suspected during
     one interval exactly when that interval exceeds the point where P_later = 10^-8, which happens with
     probability exactly 10^-8 per interval (and less per check when checks come at discrete times).
     What 10^-8 rests on is not proved here and is an approximation: real arrivals need not be normal
     (heavy tails, pauses), and the detector uses the window's estimates of mean and std, not the true
     ones (more false suspicions from a window that underestimates std; fewer from min_std, which
     raises a small std). Measured on the real `phi` (intervals Normal(1000, 100), 2026-11-22): with the
     true mean and std, 10^7 intervals gave 10,137 suspicions at threshold 3 (1.014e-3 against 1e-3,
     binomial sd 0.032e-3) and 972 at threshold 4 (9.72e-5 against 1e-4, sd 0.31e-5); with the detector
     as it runs (`Arrivals`, window 100, min_std 1), 1.40e-3 at threshold 3 (1,402 in 999,900) and
     1.79e-4 at 4 (179): the estimates cost 1.4x and 1.8x; with exponential intervals of the same mean, 1.97e-2 (1,971 in 99,900): twenty times the nominal rate;
     with the default min_std 100 and a true std of 20, none in 99,900. tests/test_models_gossip.py
     re-measures smaller runs of each.
   The floating-point function is a different object: it clamps with max(0, .), returns inf once
   P_later underflows to 0, and math.erfc need not be exactly monotone in the last bit; the tests check
   monotonicity of the real `phi` numerically.

Each claim is a `Lemma` (hypotheses imply conclusion, for every value of its constants). `GossipVariant`
switches in known bugs so every proof is shown able to fail, with a counterexample: a merge that keeps
the incoming entry on an equal version, or keeps the held one (compares versions only): not
commutative; a delta that compares versions only: skips an entry the peer lacks (same version, another
writer), and delta exchanges then converge somewhere else than full-state ones; phi with std < 0 allowed:
decreasing; a window with a negative mean: phi right after a heartbeat above the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal
from typing import TypeAlias

import attrs
import z3

from meshcheck.models.proof import DEFAULT_DEPTH
from meshcheck.models.proof import DEFAULT_TIMEOUT_MS
from meshcheck.models.proof import Lemma
from meshcheck.models.proof import ProofResult
from meshcheck.models.proof import prove_lemma

Tie: TypeAlias = Literal["rank", "incoming", "held"]


@attrs.frozen
class GossipVariant:
    """Switches that break the proofs on purpose, to show that each one can fail.

    merge_ties: how the merge picks between two entries for one key. "rank": the higher rank (version,
    origin, value), as impl/gossip/entries.py; "incoming": the incoming entry unless the held one has a
    strictly higher version; "held": the held entry unless the incoming one has a strictly higher
    version (both compare versions only). delta_compares: "rank" sends an entry above the digest's rank,
    as the code; "version" only one of a higher version. std_positive, mean_nonnegative: the hypotheses
    std > 0 (phi's precondition, impl/gossip/phi.py refuses std <= 0) and mean >= 0 (true of every
    window of the detector); False drops one.
    """

    merge_ties: Tie = "rank"
    delta_compares: Literal["rank", "version"] = "rank"
    std_positive: bool = True
    mean_nonnegative: bool = True


# --- the vocabulary: keys, slots, states -----------------------------------------------------------

Key = z3.DeclareSort("GossipKey")

_slot = z3.Datatype("GossipSlot")
_slot.declare("absent")
_slot.declare("entry", ("version", z3.IntSort()), ("origin", z3.IntSort()), ("value", z3.IntSort()))
Slot = _slot.create()
"""absent, or entry(version, origin, value): what a state holds for one key."""

ABSENT = Slot.absent


def state_sort(key: Any = Key) -> Any:
    """The sort of states: arrays from keys to slots (Key for proofs, strings for evaluation)."""
    return z3.ArraySort(key, Slot)


def present(x: Any) -> Any:
    return Slot.is_entry(x)


def _lex_gt(xs: Sequence[Any], ys: Sequence[Any]) -> Any:
    """(x1, x2, ...) > (y1, y2, ...) lexicographically."""
    (x, *xr), (y, *yr) = xs, ys
    if not xr:
        return x > y
    return z3.Or(x > y, z3.And(x == y, _lex_gt(xr, yr)))


def _rank(x: Any) -> tuple[Any, Any, Any]:
    return (Slot.version(x), Slot.origin(x), Slot.value(x))


def rank_gt(x: Any, y: Any) -> Any:
    """Entry x has a strictly higher rank than entry y (`entries.newer`)."""
    return _lex_gt(_rank(x), _rank(y))


def leq(x: Any, y: Any) -> Any:
    """The order on slots: absent is the bottom, entries by rank."""
    return z3.Or(z3.Not(present(x)), z3.And(present(y), z3.Not(rank_gt(x, y))))


def join(held: Any, incoming: Any, variant: GossipVariant = GossipVariant()) -> Any:
    """The slot `merge` keeps for one key, from the held and the incoming one (`entries.join`)."""
    if variant.merge_ties == "rank":
        keep_held = z3.Not(rank_gt(incoming, held))
    elif variant.merge_ties == "incoming":
        keep_held = Slot.version(held) > Slot.version(incoming)
    else:
        keep_held = Slot.version(held) >= Slot.version(incoming)
    both = z3.If(keep_held, held, incoming)
    return z3.If(z3.Not(present(held)), incoming, z3.If(z3.Not(present(incoming)), held, both))


def _pointwise(a: Any, f: Callable[[Any], Any]) -> Any:
    k = z3.FreshConst(a.sort().domain(), "k")
    return z3.Lambda([k], f(k))


def merge(mine: Any, theirs: Any, variant: GossipVariant = GossipVariant()) -> Any:
    """Key by key, the join of the two states (`entries.merge(mine, theirs)`)."""
    return _pointwise(mine, lambda k: join(mine[k], theirs[k], variant))


def merge_all(states: Sequence[Any], variant: GossipVariant = GossipVariant()) -> Any:
    """`entries.merge_all`: merge from the empty state, left to right."""
    out = z3.K(states[0].sort().domain(), ABSENT)
    for s in states:
        out = merge(out, s, variant)
    return out


def digest(state: Any) -> Any:
    """The rank per key (`entries.digest`). A rank is (version, origin, value), the entry itself, so
    the digest is the state: a slot array. Kept as a function so the claims read as the code does."""
    return state


def delta(mine: Any, their_digest: Any, variant: GossipVariant = GossipVariant()) -> Any:
    """The entries of `mine` above the digest's rank, or for keys it lacks (`entries.delta`)."""

    def one(k: Any) -> Any:
        d = their_digest[k]
        if variant.delta_compares == "rank":
            above = rank_gt(mine[k], d)
        else:
            above = Slot.version(mine[k]) > Slot.version(d)
        send = z3.And(present(mine[k]), z3.Or(z3.Not(present(d)), above))
        return z3.If(send, mine[k], ABSENT)

    return _pointwise(mine, one)


def update(held: Any, origin: Any, value: Any) -> Any:
    """The entry an update writes over slot `held` (`entries.update`)."""
    version = z3.If(present(held), Slot.version(held) + 1, 1)
    return Slot.entry(version, origin, value)


# --- 1. the merge is a join-semilattice ------------------------------------------------------------


def _states(names: str) -> list[Any]:
    return list(z3.Consts(names, state_sort()))


def _key() -> Any:
    return z3.Const("key", Key)


def _tag(variant: GossipVariant) -> str:
    return (
        "" if variant.merge_ties == "rank" else f" (merge keeps the {variant.merge_ties} on ties)"
    )


def order() -> Lemma:
    """The order on slots is a total order: reflexive, antisymmetric, transitive, total. Antisymmetry
    needs the whole entry in the rank: two entries of equal rank are equal."""
    x, y, z = z3.Consts("x y z", Slot)
    return Lemma(
        name="gossip.order",
        statement="<= on slots (absent bottom, entries by rank) is a total order",
        hypotheses=(),
        conclusion=z3.And(
            leq(x, x),
            z3.Implies(z3.And(leq(x, y), leq(y, x)), x == y),
            z3.Implies(z3.And(leq(x, y), leq(y, z)), leq(x, z)),
            z3.Or(leq(x, y), leq(y, x)),
        ),
        shown=(("x", x), ("y", y), ("z", z)),
    )


def merge_commutative(variant: GossipVariant = GossipVariant()) -> Lemma:
    a, b = _states("a b")
    k = _key()
    ab, ba = merge(a, b, variant), merge(b, a, variant)
    return Lemma(
        name="gossip.merge_commutative",
        statement="merge(a, b) = merge(b, a), all states" + _tag(variant),
        hypotheses=(),
        conclusion=ab[k] == ba[k],
        shown=(
            ("a[key]", a[k]),
            ("b[key]", b[k]),
            ("merge(a,b)[key]", ab[k]),
            ("merge(b,a)[key]", ba[k]),
        ),
    )


def merge_associative(variant: GossipVariant = GossipVariant()) -> Lemma:
    a, b, c = _states("a b c")
    k = _key()
    left = merge(merge(a, b, variant), c, variant)
    right = merge(a, merge(b, c, variant), variant)
    return Lemma(
        name="gossip.merge_associative",
        statement="merge(merge(a, b), c) = merge(a, merge(b, c)), all states" + _tag(variant),
        hypotheses=(),
        conclusion=left[k] == right[k],
        shown=(
            ("a[key]", a[k]),
            ("b[key]", b[k]),
            ("c[key]", c[k]),
            ("((a b) c)[key]", left[k]),
            ("(a (b c))[key]", right[k]),
        ),
    )


def merge_idempotent(variant: GossipVariant = GossipVariant()) -> Lemma:
    (a,) = _states("a")
    k = _key()
    aa = merge(a, a, variant)
    return Lemma(
        name="gossip.merge_idempotent",
        statement="merge(a, a) = a, all states" + _tag(variant),
        hypotheses=(),
        conclusion=aa[k] == a[k],
        shown=(("a[key]", a[k]), ("merge(a,a)[key]", aa[k])),
    )


def merge_upper_bound(variant: GossipVariant = GossipVariant()) -> Lemma:
    a, b = _states("a b")
    k = _key()
    ab = merge(a, b, variant)
    return Lemma(
        name="gossip.merge_upper_bound",
        statement="a <= merge(a, b) and b <= merge(a, b), every key, all states" + _tag(variant),
        hypotheses=(),
        conclusion=z3.And(leq(a[k], ab[k]), leq(b[k], ab[k])),
        shown=(("a[key]", a[k]), ("b[key]", b[k]), ("merge(a,b)[key]", ab[k])),
    )


def merge_least(variant: GossipVariant = GossipVariant()) -> Lemma:
    """Below every upper bound. With the upper-bound lemma: merge is the least upper bound (the join).

    Stated key by key (a[key] <= u[key] and b[key] <= u[key] imply merge(a, b)[key] <= u[key]), which
    is stronger than the claim for states (a <= u at every key)."""
    a, b, u = _states("a b u")
    k = _key()
    ab = merge(a, b, variant)
    return Lemma(
        name="gossip.merge_least_upper_bound",
        statement="a <= u and b <= u => merge(a, b) <= u, every key, all states" + _tag(variant),
        hypotheses=(leq(a[k], u[k]), leq(b[k], u[k])),
        conclusion=leq(ab[k], u[k]),
        shown=(("a[key]", a[k]), ("b[key]", b[k]), ("u[key]", u[k]), ("merge(a,b)[key]", ab[k])),
    )


def _is_max(top: Any, members: Any) -> Any:
    """`top` is the greatest slot of the set `members` (a Z3 set of slots), absent if the set is empty:
    the least upper bound of a set in this total order."""
    x = z3.Const("x", Slot)
    empty = z3.ForAll([x], z3.Not(members[x]))
    greatest = z3.ForAll([x], z3.Implies(members[x], leq(x, top)))
    return z3.Or(z3.And(empty, top == ABSENT), z3.And(members[top], greatest))


def merge_all_induction(variant: GossipVariant = GossipVariant()) -> Lemma:
    """The induction behind "merge_all depends only on the set of states merged", at one (every) key.

    Base: the empty merge (absent) is the greatest of the empty set. Step: if `fold` is the greatest of
    a set X of slots, join(fold, y) is the greatest of X + {y}, for every set X (finite or not), slot
    `fold` and slot y. So by induction on n, merge_all(x1..xn)[key] is the greatest of the set
    {x1[key] .. xn[key]}: the fold sees the sequence only through that set."""
    members = z3.Const("X", z3.ArraySort(Slot, z3.BoolSort()))
    fold, y = z3.Consts("fold y", Slot)
    step = join(fold, y, variant)
    return Lemma(
        name="gossip.merge_all_induction",
        statement=(
            "absent = max {} and (fold = max X => join(fold, y) = max X + {y}), all sets X of slots"
            + _tag(variant)
        ),
        hypotheses=(),
        conclusion=z3.And(
            _is_max(ABSENT, z3.K(Slot, z3.BoolVal(False))),
            z3.Implies(_is_max(fold, members), _is_max(step, z3.Store(members, y, True))),
        ),
        shown=(("X", members), ("fold", fold), ("y", y), ("join(fold, y)", step)),
    )


def merge_all_unique() -> Lemma:
    """A set of slots has one greatest element: two sequences with the same set merge to one state."""
    members = z3.Const("X", z3.ArraySort(Slot, z3.BoolSort()))
    f, g = z3.Consts("f g", Slot)
    return Lemma(
        name="gossip.merge_all_unique",
        statement="f = max X and g = max X => f = g, all sets X of slots",
        hypotheses=(_is_max(f, members), _is_max(g, members)),
        conclusion=f == g,
        shown=(("X", members), ("f", f), ("g", g)),
    )


MAX_SEQUENCE = 4


def merge_all_bounded(
    variant: GossipVariant = GossipVariant(), sources: int = 3, longest: int = MAX_SEQUENCE
) -> Lemma:
    """Any `sources` states s1.., and every sequence of length `sources` to `longest` that holds each of
    them (order and duplicates symbolic: position j is s[p_j] for an integer p_j): merge_all of the
    sequence = merge_all(s1, .., sn). Since the s's are arbitrary (they may be equal), this covers
    every set of at most `sources` distinct states.

    Merges are pointwise, so the claim is stated at one (free, so every) key, and each partial merge is
    named by a slot constant (fold_j = join(fold_j-1, x_j)): the same formula, kept flat for the solver.
    """
    s = _states(" ".join(f"s{i}" for i in range(1, sources + 1)))
    k = _key()
    hyps: list[Any] = []
    shown: list[tuple[str, Any]] = [(f"s{i + 1}[key]", x[k]) for i, x in enumerate(s)]

    def fold(name: str, slots: Sequence[Any]) -> Any:
        out = ABSENT
        for j, x in enumerate(slots):
            step = z3.Const(f"{name}_{j + 1}", Slot)
            hyps.append(step == join(out, x, variant))
            out = step
        return out

    want = fold("merged", [x[k] for x in s])
    claims: list[Any] = []
    for m in range(sources, longest + 1):
        picks = [z3.Int(f"p{m}_{j}") for j in range(m)]
        hyps.extend(z3.And(p >= 1, p <= sources) for p in picks)
        hyps.extend(z3.Or(*(p == i for p in picks)) for i in range(1, sources + 1))
        got = fold(f"seq{m}", [_pick([x[k] for x in s], p) for p in picks])
        claims.append(got == want)
        shown.append((f"length {m}: order", z3.Concat(*(z3.IntToStr(p) for p in picks))))
        shown.append((f"length {m}: merged[key]", got))
    return Lemma(
        name="gossip.merge_all_bounded",
        statement=(
            f"merge_all(x1..xm) = merge_all(s1..s{sources}) for every m <= {longest} and every "
            f"sequence x of s1..s{sources} holding each, all states" + _tag(variant)
        ),
        hypotheses=tuple(hyps),
        conclusion=z3.And(*claims),
        shown=(*shown, ("merge_all(s)[key]", want)),
    )


def _pick(slots: Sequence[Any], p: Any) -> Any:
    out = slots[-1]
    for i in range(len(slots) - 1, 0, -1):
        out = z3.If(p == i, slots[i - 1], out)
    return out


# --- 2. the delta rule ------------------------------------------------------------------------------


def _dtag(variant: GossipVariant) -> str:
    return "" if variant.delta_compares == "rank" else " (delta compares versions only)"


def delta_sends_only_newer(variant: GossipVariant = GossipVariant()) -> Lemma:
    mine, dig = _states("mine digest")
    k = _key()
    d = delta(mine, dig, variant)
    return Lemma(
        name="gossip.delta_sends_only_newer",
        statement=(
            "delta(mine, digest) holds only entries of mine, each above the digest's rank, all "
            "states and digests" + _dtag(variant)
        ),
        hypotheses=(),
        conclusion=z3.Implies(
            present(d[k]),
            z3.And(d[k] == mine[k], z3.Or(z3.Not(present(dig[k])), rank_gt(d[k], dig[k]))),
        ),
        shown=(("mine[key]", mine[k]), ("digest[key]", dig[k]), ("delta[key]", d[k])),
    )


def delta_sends_all_missing(variant: GossipVariant = GossipVariant()) -> Lemma:
    mine, dig = _states("mine digest")
    k = _key()
    d = delta(mine, dig, variant)
    lacks = z3.And(present(mine[k]), z3.Or(z3.Not(present(dig[k])), rank_gt(mine[k], dig[k])))
    return Lemma(
        name="gossip.delta_sends_all_missing",
        statement=(
            "delta(mine, digest) holds every entry of mine the digest lacks or ranks lower, all "
            "states and digests" + _dtag(variant)
        ),
        hypotheses=(lacks,),
        conclusion=d[k] == mine[k],
        shown=(("mine[key]", mine[k]), ("digest[key]", dig[k]), ("delta[key]", d[k])),
    )


def delta_converges(variant: GossipVariant = GossipVariant()) -> Lemma:
    peer, mine = _states("peer mine")
    k = _key()
    via_delta = merge(peer, delta(mine, digest(peer), variant), variant)
    full = merge(peer, mine, variant)
    return Lemma(
        name="gossip.delta_converges",
        statement=(
            "merge(peer, delta(mine, digest(peer))) = merge(peer, mine), all states"
            + _dtag(variant)
            + _tag(variant)
        ),
        hypotheses=(),
        conclusion=via_delta[k] == full[k],
        shown=(
            ("peer[key]", peer[k]),
            ("mine[key]", mine[k]),
            ("with delta[key]", via_delta[k]),
            ("with full state[key]", full[k]),
        ),
    )


def update_supersedes() -> Lemma:
    """The entry an update writes is above the slot it replaces, so merging it in always installs it."""
    held = z3.Const("held", Slot)
    origin, value = z3.Ints("origin value")
    new = update(held, origin, value)
    return Lemma(
        name="gossip.update_supersedes",
        statement="update(held) > held, and merge keeps it, every held slot",
        hypotheses=(),
        conclusion=z3.And(z3.Not(leq(new, held)), join(held, new) == new, join(new, held) == new),
        shown=(("held", held), ("written", new)),
    )


# --- 3. phi-accrual ---------------------------------------------------------------------------------

_R = z3.RealSort()
erfc = z3.Function("erfc", _R, _R)
log10 = z3.Function("log10", _R, _R)
exp10 = z3.Function("exp10", _R, _R)
SQRT2 = z3.Real("sqrt2")
LOG10_2_BOUND = z3.RealVal("0.30103")
"""An upper bound of log10 2 = 0.30102999566...: phi right after a heartbeat is below it."""


def _erfc_decreasing(x: Any, y: Any) -> Any:
    """The axiom "erfc is strictly decreasing" at the two points x and y."""
    return z3.And(z3.Implies(x < y, erfc(x) > erfc(y)), z3.Implies(y < x, erfc(y) > erfc(x)))


def _erfc_range(x: Any) -> Any:
    """The axiom "0 < erfc < 2" at x."""
    return z3.And(erfc(x) > 0, erfc(x) < 2)


def _log10_increasing(x: Any, y: Any) -> Any:
    """The axiom "log10 is strictly increasing on the positive reals" at x and y."""
    inc = z3.And(z3.Implies(x < y, log10(x) < log10(y)), z3.Implies(y < x, log10(y) < log10(x)))
    return z3.Implies(z3.And(x > 0, y > 0), inc)


def _exp10(t: Any) -> Any:
    """The axiom "exp10(t) > 0 and log10(exp10(t)) = t" at t."""
    return z3.And(exp10(t) > 0, log10(exp10(t)) == t)


_SQRT2 = z3.And(SQRT2 > 0, SQRT2 * SQRT2 == 2)
_LOG10_HALF = log10(z3.RealVal("1/2")) > -LOG10_2_BOUND
_ERFC_ZERO = erfc(z3.RealVal(0)) == 1

PHI_AXIOMS: tuple[str, ...] = (
    "erfc is strictly decreasing",
    "0 < erfc(x) < 2",
    "erfc(0) = 1",
    "log10 is strictly increasing on x > 0",
    "exp10(t) > 0 and log10(exp10(t)) = t",
    "log10(1/2) > -0.30103",
    "sqrt2 > 0 and sqrt2^2 = 2",
)
"""What the phi lemmas assume of erfc, log10, exp10 and sqrt 2, all true of the real functions. Each
lemma's hypotheses are instances of these at the points it needs (quantifier-free, so Z3 decides them
and a failure comes with values): the lemma then holds for every erfc and log10 that satisfy the axioms,
and a counterexample satisfies the instances (tests/test_models_gossip.py checks it on math.erfc)."""


@attrs.frozen
class PhiOps:
    """The operations phi is built from: Z3 symbols for the proofs, floats for the tests
    (tests/test_models_gossip.py evaluates `p_later` and `phi` with math.erfc and math.log10 and compares
    them with impl/gossip/phi.py)."""

    erfc: Callable[[Any], Any]
    log10: Callable[[Any], Any]
    sqrt2: Any
    clamp: Callable[[Any], Any]  # max(0, x)


Z3_OPS = PhiOps(erfc, log10, SQRT2, lambda p: z3.If(p > 0, p, 0))


def erfc_arg(elapsed: Any, mean: Any, std: Any, ops: PhiOps = Z3_OPS) -> Any:
    """(elapsed - mean) / (std * sqrt 2): where phi evaluates erfc."""
    return (elapsed - mean) / (std * ops.sqrt2)


def p_later(elapsed: Any, mean: Any, std: Any, ops: PhiOps = Z3_OPS) -> Any:
    """P(next arrival later than `elapsed`) under Normal(mean, std): 0.5 * erfc((e - mean)/(std sqrt 2))."""
    return 0.5 * ops.erfc(erfc_arg(elapsed, mean, std, ops))


def phi(elapsed: Any, mean: Any, std: Any, ops: PhiOps = Z3_OPS) -> Any:
    """max(0, -log10(P_later(elapsed))): impl/gossip/phi.py's `phi` where P_later > 0."""
    return ops.clamp(-ops.log10(p_later(elapsed, mean, std, ops)))


def _window(mean: Any, std: Any, variant: GossipVariant) -> list[Any]:
    hyps = [_SQRT2]
    if variant.std_positive:
        hyps.append(std > 0)
    else:  # dropped, but a division by zero is no number: Z3 would pick any value for it
        hyps.append(std != 0)
    if variant.mean_nonnegative:
        hyps.append(mean >= 0)
    return hyps


def _ptag(variant: GossipVariant, *, mean_matters: bool) -> str:
    dropped = [] if variant.std_positive else ["std > 0"]
    if mean_matters and not variant.mean_nonnegative:
        dropped.append("mean >= 0")
    return f" (without {', '.join(dropped)})" if dropped else ""


def phi_monotone(variant: GossipVariant = GossipVariant()) -> Lemma:
    e1, e2, mean, std = z3.Reals("elapsed1 elapsed2 mean std")
    z1, z2 = erfc_arg(e1, mean, std), erfc_arg(e2, mean, std)
    p1, p2 = p_later(e1, mean, std), p_later(e2, mean, std)
    return Lemma(
        name="gossip.phi_monotone",
        statement="e1 <= e2 => phi(e1) <= phi(e2), all mean, std > 0"
        + _ptag(variant, mean_matters=False),
        hypotheses=(
            *_window(mean, std, attrs.evolve(variant, mean_nonnegative=False)),
            _erfc_decreasing(z1, z2),
            _erfc_range(z1),
            _erfc_range(z2),
            _log10_increasing(p1, p2),
            e1 <= e2,
        ),
        conclusion=phi(e1, mean, std) <= phi(e2, mean, std),
        shown=(
            ("elapsed1", e1),
            ("elapsed2", e2),
            ("mean", mean),
            ("std", std),
            ("phi(elapsed1)", phi(e1, mean, std)),
            ("phi(elapsed2)", phi(e2, mean, std)),
        ),
    )


def phi_after_heartbeat(variant: GossipVariant = GossipVariant()) -> Lemma:
    """A heartbeat at h: at time u >= h, elapsed = u - h, so at u = h phi is phi(0) of the new window,
    which is <= log10 2 < 0.30103 for every window with mean >= 0 and std > 0."""
    h, mean, std, threshold = z3.Reals("heartbeat mean std threshold")
    elapsed = h - h  # `Arrivals.heard(h)` sets last = h; `Arrivals.phi(h)` takes h - last
    z0, p0 = erfc_arg(elapsed, mean, std), p_later(elapsed, mean, std)
    return Lemma(
        name="gossip.phi_after_heartbeat",
        statement=(
            "phi(0) <= log10 2 < threshold for every threshold >= 0.30103, all mean >= 0, std > 0"
            + _ptag(variant, mean_matters=True)
        ),
        hypotheses=(
            *_window(mean, std, variant),
            _erfc_decreasing(z0, z3.RealVal(0)),
            _erfc_range(z0),
            _ERFC_ZERO,
            _log10_increasing(p0, z3.RealVal("1/2")),
            _LOG10_HALF,
            threshold >= LOG10_2_BOUND,
        ),
        conclusion=phi(elapsed, mean, std) < threshold,
        shown=(
            ("mean", mean),
            ("std", std),
            ("threshold", threshold),
            ("phi(0)", phi(elapsed, mean, std)),
        ),
    )


def phi_threshold_meaning(variant: GossipVariant = GossipVariant()) -> Lemma:
    e, mean, std, t = z3.Reals("elapsed mean std threshold")
    p, bound = p_later(e, mean, std), exp10(-t)
    return Lemma(
        name="gossip.phi_threshold_meaning",
        statement="phi(e) >= T <=> P_later(e) <= 10^-T, all T > 0, all e, mean, std > 0"
        + _ptag(variant, mean_matters=False),
        hypotheses=(
            *_window(mean, std, attrs.evolve(variant, mean_nonnegative=False)),
            _erfc_range(erfc_arg(e, mean, std)),
            _exp10(-t),
            _log10_increasing(p, bound),
            t > 0,
        ),
        conclusion=(phi(e, mean, std) >= t) == (p <= bound),
        shown=(("elapsed", e), ("mean", mean), ("std", std), ("threshold", t)),
    )


# --- the proof set ----------------------------------------------------------------------------------


def lemmas(variant: GossipVariant = GossipVariant()) -> list[Lemma]:
    """Every lemma of the proof set, in table order."""
    return [
        order(),
        merge_commutative(variant),
        merge_associative(variant),
        merge_idempotent(variant),
        merge_upper_bound(variant),
        merge_least(variant),
        merge_all_induction(variant),
        merge_all_unique(),
        merge_all_bounded(variant),
        delta_sends_only_newer(variant),
        delta_sends_all_missing(variant),
        delta_converges(variant),
        update_supersedes(),
        phi_monotone(variant),
        phi_after_heartbeat(variant),
        phi_threshold_meaning(variant),
    ]


def prove(
    variant: GossipVariant = GossipVariant(),
    *,
    depth: int = DEFAULT_DEPTH,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[ProofResult]:
    """Every gossip obligation. All are lemmas over every state (no transition system, so `depth` is
    unused; it is there so every protocol's proof set takes the same arguments)."""
    del depth
    return [prove_lemma(lemma, timeout_ms=timeout_ms) for lemma in lemmas(variant)]


# --- evaluation on concrete states (what tests compare impl/gossip/entries.py with) ------------------

Rank: TypeAlias = tuple[int, str, str]


class _Codec:
    """Concrete Python states as Z3 arrays from string keys: origins and values mapped to integers by
    their order (strictly order-preserving, so every comparison the model makes is the code's)."""

    def __init__(self, *states: Mapping[str, Rank]) -> None:
        words = sorted({w for s in states for _, o, v in s.values() for w in (o, v)})
        self.code = {w: i for i, w in enumerate(words)}
        self.word = dict(enumerate(words))

    def array(self, state: Mapping[str, Rank]) -> Any:
        out = z3.K(z3.StringSort(), ABSENT)
        for key, (version, origin, value) in state.items():
            slot = Slot.entry(version, self.code[origin], self.code[value])
            out = z3.Store(out, z3.StringVal(key), slot)
        return out

    def read(self, array: Any, keys: Sequence[str]) -> dict[str, Rank]:
        out: dict[str, Rank] = {}
        for key in keys:
            slot = z3.simplify(z3.Select(array, z3.StringVal(key)))
            if z3.is_true(z3.simplify(present(slot))):
                version, origin, value = (z3.simplify(f) for f in _rank(slot))
                out[key] = (
                    version.as_long(),
                    self.word[origin.as_long()],
                    self.word[value.as_long()],
                )
            elif not z3.is_true(z3.simplify(Slot.is_absent(slot))):
                raise ValueError(f"slot for {key!r} did not evaluate: {slot}")
        return out


def _keys(*states: Mapping[str, Rank]) -> list[str]:
    return sorted({k for s in states for k in s})


def merge_of(
    mine: Mapping[str, Rank], theirs: Mapping[str, Rank], variant: GossipVariant = GossipVariant()
) -> dict[str, Rank]:
    """The model's merge of two concrete states (ranks per key), evaluated by Z3."""
    codec = _Codec(mine, theirs)
    return codec.read(merge(codec.array(mine), codec.array(theirs), variant), _keys(mine, theirs))


def merge_all_of(
    states: Sequence[Mapping[str, Rank]], variant: GossipVariant = GossipVariant()
) -> dict[str, Rank]:
    """The model's merge_all of concrete states, evaluated by Z3."""
    if not states:
        return {}
    codec = _Codec(*states)
    return codec.read(merge_all([codec.array(s) for s in states], variant), _keys(*states))


def delta_of(
    mine: Mapping[str, Rank],
    their_digest: Mapping[str, Rank],
    variant: GossipVariant = GossipVariant(),
) -> dict[str, Rank]:
    """The model's delta of a concrete state against a concrete digest, evaluated by Z3."""
    codec = _Codec(mine, their_digest)
    return codec.read(
        delta(codec.array(mine), codec.array(their_digest), variant), _keys(mine, their_digest)
    )


def update_of(held: Rank | None, origin: str, value: str) -> Rank:
    """The model's update over a concrete held entry (None: the key is not held), evaluated by Z3."""
    state = {} if held is None else {"k": held}
    codec = _Codec(state, {"k": (0, origin, value)})
    slot = update(codec.array(state)[z3.StringVal("k")], codec.code[origin], codec.code[value])
    return codec.read(z3.Store(z3.K(z3.StringSort(), ABSENT), z3.StringVal("k"), slot), ["k"])["k"]
