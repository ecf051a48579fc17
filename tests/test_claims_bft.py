"""`meshcheck claims bft-compare`: PBFT against chained HotStuff (meshcheck/claims/bft.py); its bad
input is tests/test_claims_input.py's."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from meshcheck.claims import bft
from meshcheck.claims.verdict import FAILS
from meshcheck.claims.verdict import HOLDS
from meshcheck.cli import main
from meshcheck.impl.hotstuff import crypto as hs_crypto
from meshcheck.impl.hotstuff.messages import GENESIS_QC
from meshcheck.impl.hotstuff.messages import Vote
from meshcheck.impl.pbft import crypto as pbft_crypto
from meshcheck.impl.pbft.messages import Checkpoint
from meshcheck.impl.pbft.messages import Prepare
from meshcheck.impl.pbft.messages import Signed

IDS = frozenset({"r1", "r2", "r3", "r4", "c1"})
SIG, HASH = b"s" * 64, b"h" * 32


def test_wire_sizes_follow_the_documented_encoding() -> None:
    # a vote: tag, block hash, view, voter, signature
    assert bft.wire_size(Vote(HASH, 3, "r1", SIG), IDS) == 1 + 32 + 8 + 4 + 64
    # a PBFT prepare in its signed envelope: tag, body (tag, view, seq, digest, src), signer, sig
    prepare = Signed(Prepare(0, 1, HASH, "r2"), "r2", SIG)
    assert bft.wire_size(prepare, IDS) == 1 + (1 + 8 + 8 + 32 + 4) + 4 + 64
    # a checkpoint's attached state is not on the wire (the paper's CHECKPOINT is the digest)
    bare = Checkpoint(10, HASH, "r3")
    heavy = Checkpoint(10, HASH, "r3", history=((),) * 50)
    assert bft.wire_size(heavy, IDS) == bft.wire_size(bare, IDS) == 1 + 8 + 32 + 4
    # a QC grows with its signatures: 2f+1 of them at 68 bytes each
    assert bft.wire_size(GENESIS_QC, IDS) == 1 + 32 + 8 + 2
    # a string that is not a node id is sent at its length
    assert bft.wire_size("v12", IDS) == 2 + 3


@pytest.fixture(scope="module")
def at_seven() -> dict[tuple[str, int], bft.Load]:
    return {
        (p, b): bft.measure_load(p, 7, b, 20)
        for p in bft.PROTOCOLS
        for b in sorted({1, bft.DEFAULT_BATCH[p]})
    }


def test_both_protocols_commit_every_request_with_sane_counts(
    at_seven: dict[tuple[str, int], bft.Load],
) -> None:
    n = 7
    pbft, hs, hs4 = at_seven["pbft", 1], at_seven["hotstuff", 1], at_seven["hotstuff", 4]
    for r in (pbft, hs, hs4):
        assert r.committed == r.requests == 20
        assert r.cpu > 0 and r.per_cpu_second > 0
    per = pbft.per_request
    # PBFT, batch 1: a pre-prepare to n-1 backups, prepares among the n-1 backups, commits n x n-1
    assert n - 1 <= per(pbft.messages["PrePrepare"]) <= 1.5 * (n - 1)
    assert (n - 1) ** 2 <= per(pbft.messages["Prepare"]) <= 1.5 * (n - 1) ** 2
    assert n * (n - 1) <= per(pbft.messages["Commit"]) <= 1.5 * n * (n - 1)
    # HotStuff, batch 1: one block per request (and three empty ones to commit the last)
    for kind in ("Proposal", "Vote"):
        assert n - 1 <= hs.per_request(hs.messages[kind]) <= 1.5 * (n - 1)
    # the claim at n = 7: far fewer messages per request, and batching divides them again
    assert hs.per_request(hs.replica_messages) * 4 < per(pbft.replica_messages)
    assert hs4.per_request(hs4.replica_messages) * 2 < hs.per_request(hs.replica_messages)
    # every message is signed in PBFT; HotStuff signs requests, proposals and votes
    assert per(pbft.signed) >= 2 * n
    assert n <= hs.per_request(hs.signed) <= 2 * n
    for r in (pbft, hs):
        assert r.per_request(r.checked) > r.per_request(r.signed)
    # the client's messages are counted apart: HotStuff's client sends to every replica
    assert hs.per_request(hs.messages["SignedRequest"]) == n
    assert pbft.per_request(pbft.messages["Request"]) == 1


def test_the_crypto_patch_is_undone() -> None:
    originals = [(m.Signer.sign, m.KeyRing.verify) for m in (pbft_crypto, hs_crypto)]
    tally = bft.Tally()
    with bft.count_crypto(tally):
        ring = hs_crypto.KeyRing(0, ["a"])
        sig = ring.signer("a").sign(b"x")
        assert ring.verify("a", sig, b"x")
    assert (tally.signed, tally.checked) == (1, 1)
    assert [(m.Signer.sign, m.KeyRing.verify) for m in (pbft_crypto, hs_crypto)] == originals


def test_a_leaders_crash_costs_a_view_change() -> None:
    for protocol in bft.PROTOCOLS:
        v = bft.measure_view_change(protocol, 7, 1)
        assert v.ticks is not None, protocol
        assert v.view_change_messages > 0, protocol
    pbft = bft.measure_view_change("pbft", 7, 1)
    assert pbft.leader == "r1" and pbft.messages["ViewChange"] >= 4


def test_hotstuff_at_four_with_one_crashed_leader_never_commits_again() -> None:
    # Chained HotStuff commits a block once it heads three blocks of consecutive views and the
    # third is certified, which its next view's leader does: four live leaders in a row. With
    # round-robin leaders and one of four replicas down there are never more than three.
    v = bft.measure_view_change("hotstuff", 4, 1)
    assert v.ticks is None
    assert v.view_change_messages > 100


def _load(protocol: str, n: int, per_request: float) -> bft.Load:
    return bft.Load(
        protocol, n, 1, 10, 10, 100, {"Prepare": round(per_request * 10)}, {}, 0, 0, 1.0
    )


def test_the_power_fit_finds_the_exponent_and_judges_it() -> None:
    fit = bft.fit_power([(n, 3.0 * n**1.5) for n in (4, 7, 10, 16)])
    assert fit.k == pytest.approx(1.5) and fit.c == pytest.approx(3.0) and fit.r2 == 1.0
    sizes = (4, 7, 10)
    good = bft.Comparison(
        sizes,
        10,
        tuple(_load("pbft", n, 2 * n * n) for n in sizes)
        + tuple(_load("hotstuff", n, 2 * n) for n in sizes),
        (),
    )
    claims = bft.growth(good)
    assert [g.kind for g in claims] == [HOLDS, HOLDS]
    assert bft.overall(claims) == HOLDS
    # a HotStuff growing as n^2 breaks the claim
    bad = bft.Comparison(
        sizes,
        10,
        tuple(_load(p, n, 2 * n * n) for p in bft.PROTOCOLS for n in sizes),
        (),
    )
    claims = bft.growth(bad)
    assert [g.kind for g in claims] == [HOLDS, FAILS]
    assert "exponent 2.00, not 1" in claims[1].text()
    assert bft.overall(claims) == FAILS
    # two sizes are no evidence of a shape
    two = bft.Comparison(
        (4, 7), 10, tuple(_load(p, n, 2 * n) for p in bft.PROTOCOLS for n in (4, 7)), ()
    )
    assert bft.overall(bft.growth(two)) == FAILS


def test_the_command_prints_the_tables_plot_and_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "bft.json"
    argv = ["claims", "bft-compare", "--sizes", "4,7,10", "--requests", "10", "-q"]
    rc = main([*argv, "--out", str(tmp_path), "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "PBFT O(n^2)" in out and "HotStuff O(n^1)" in out
    verdict = [line for line in out.splitlines() if line.startswith("verdict on")]
    assert len(verdict) == 1 and verdict[0].endswith("at batch 1: holds")
    # loads at batch 1 and 4, the crash rows, and five costs fitted per batch
    assert out.count("| HotStuff |") == 3 + 3 + 3 + 2 * len(bft.COSTS)
    assert "| PBFT     | 1     | signatures checked |" in out
    data = json.loads(js.read_text())
    assert len(data["loads"]) == 9 and len(data["view_changes"]) == 6
    assert {g["verdict"] for g in data["growth"]} == {HOLDS}
    root = ET.parse(tmp_path / "bft-compare.svg").getroot()
    labels = [
        g.get("data-label", "")
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if g.get("class") == "series"
    ]
    assert any(label.startswith("PBFT, batch 1") for label in labels)
    assert any(label.startswith("HotStuff, batch 4") for label in labels)
    # `claims plot` draws the same picture again from the JSON, measuring nothing
    assert main(["claims", "plot", str(js), "--out", str(tmp_path / "again")]) == 0
    again = (tmp_path / "again" / "bft-compare.svg").read_text()
    assert again == (tmp_path / "bft-compare.svg").read_text()
