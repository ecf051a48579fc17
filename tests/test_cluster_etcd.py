"""etcd under meshcheck as a running cluster (meshcheck/cluster/etcd/): three members of Debian's
etcd-server (`make etcd`) under kills, pauses and partitions, the history linearizable; the peer
proxy cuts a member off by etcd's own sender header; a stale read that etcd's serializable mode
allows is what the linearizability check refuses (the check shown to fail on the real system);
bad input is one line and exit 2."""

from __future__ import annotations

import asyncio
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from meshcheck.cli import main
from meshcheck.cluster import anomaly
from meshcheck.cluster.etcd import server
from meshcheck.cluster.etcd.gateway import Gateway, GatewayError
from meshcheck.cluster.etcd.peers import PeerNetwork, _body, flow, parse_head, partition
from meshcheck.cluster.etcd.run import (
    EtcdOptions,
    _ids,
    linearizable_kv,
    mutual_exclusion,
    reads_written,
    run,
)
from meshcheck.cluster.etcd.server import EtcdCluster
from meshcheck.cluster.nemesis import Fault
from meshcheck.traces.history import jepsen
from meshcheck.traces.history.history import Op
from meshcheck.traces.history.models import KeyValue
from tests.test_cluster_cmd import nodes_of

needs_etcd = pytest.mark.skipif(
    shutil.which("etcd") is None, reason="etcd is not installed: `make etcd`"
)


def etcd_pids(folder: Path) -> list[int]:
    """The live etcd processes whose data directory is under `folder`."""
    return nodes_of(folder, b"/usr/bin/etcd")


def _passes(out: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    """`cluster test --system etcd` for 8 s at seed 10 (the leader paused, killed, then its
    sends cut) with `flags`, into `out`: exit 0; what it printed."""
    code = main(
        ["cluster", "test", "--system", "etcd", "--time", "8", "--seed", "10", *flags,
         "--out", str(out), "--quiet"]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    return printed


@needs_etcd
def test_etcd_under_kills_pauses_and_partitions_is_linearizable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # seed 10: the leader paused, then killed, then its sends cut (a one-way partition)
    out = tmp_path / "report"
    printed = _passes(out, capsys, "--workload", "cas")
    assert "| linearizable (kv)      | holds" in printed
    assert "| progress after healing | holds" in printed
    struck = (out / "nemesis.log").read_text().splitlines()
    assert {line.split()[1] for line in struck} == {"kill", "pause", "partition"}
    assert main(["history", "check", str(out / "history.jsonl"), "--model", "kv"]) == 0
    assert etcd_pids(tmp_path) == []


@pytest.mark.slow  # etcd again; the linearizable run above cuts members through the same proxy
@needs_etcd
def test_the_peer_proxy_cuts_a_member_off_by_its_sender_header(tmp_path: Path) -> None:
    async def scenario() -> tuple[str | None, type[BaseException] | None, str | None]:
        with EtcdCluster(["e1", "e2", "e3"], tmp_path) as cluster:
            network = PeerNetwork(cluster.members)
            await network.start()
            try:
                await asyncio.gather(*(asyncio.to_thread(cluster.start, n) for n in cluster.names))
                network.learn(await _ids(cluster))
                e1, e2 = (Gateway(cluster.members[n].client) for n in ("e1", "e2"))
                await e2.put("k", "1", 5.0)
                cut = network.cut(partition(["e1"], cluster.names, one_way=False))
                # e2 and e3 are a majority without e1; a proposal e2 forwarded to e1 as leader
                # times out inside etcd ("request timed out, possibly due to previous leader
                # failure"): put again (the same value) until the new leader takes it
                for attempt in range(10):
                    try:
                        await e2.put("k", "2", 10.0)
                        break
                    except (GatewayError, TimeoutError, OSError):
                        if attempt == 9:
                            raise
                refused: type[BaseException] | None = None
                try:  # a linearizable read needs e1's leader's quorum: it cannot come
                    await e1.get("k", 3.0)
                except (GatewayError, TimeoutError, OSError) as e:
                    refused = type(e)
                stale = await e1.get("k", 3.0, serializable=True)
                network.restore(cut)
                back = None
                for _ in range(50):  # e1 catches up once its links are back
                    back = await e1.get("k", 3.0, serializable=True)
                    if back == "2":
                        break
                    await asyncio.sleep(0.2)
                await e1.close()
                await e2.close()
                return stale, refused, back
            finally:
                network.heal()
                await network.stop()

    stale, refused, back = asyncio.run(scenario())
    assert refused is not None  # cut off, e1 could not answer a linearizable read
    assert stale == "1"  # and served its own, older value when allowed to (serializable)
    assert back == "2"
    assert etcd_pids(tmp_path) == []


def test_a_stale_read_is_what_the_linearizability_check_refuses() -> None:
    # the history the scenario above made: "2" written (acknowledged) before a read that
    # returned "1"; linearizable reads would never return it, etcd's serializable ones may
    ops = [
        Op("c1", "write", "1", None, 0.0, 0.1, "ok", "k", 0),
        Op("c1", "write", "2", None, 0.2, 0.3, "ok", "k", 1),
        Op("c2", "read", None, "1", 0.4, 0.5, "ok", "k", 2),
    ]
    verdict = linearizable_kv(ops, 10.0)
    assert verdict.holds is False and "key k" in verdict.detail
    fresh = [*ops[:2], Op("c2", "read", None, "2", 0.4, 0.5, "ok", "k", 2)]
    assert linearizable_kv(fresh, 10.0).holds
    # a write that got no answer may have taken effect: a read of it is no violation
    pending = [ops[0], Op("c1", "write", "3", None, 0.2, math.inf, "info", "k", 1), fresh[2]]
    assert linearizable_kv(
        [*pending[:2], Op("c2", "read", None, "3", 0.4, 0.5, "ok", "k", 2)], 10.0
    ).holds


def test_the_proxy_reads_who_sends_and_which_way() -> None:
    head = b"GET /raft/stream/msgappv2/a1 HTTP/1.1\r\nHost: x\r\nX-Server-From: A1\r\n\r\n"
    assert parse_head(head) == ("GET", "/raft/stream/msgappv2/a1", "a1")
    # a stream carries the dialed member's messages to the dialer; a POST the dialer's
    assert flow("GET", "/raft/stream/message/a1", "e1", "e2") == ("e2", "e1")
    assert flow("POST", "/raft", "e1", "e2") == ("e1", "e2")
    assert parse_head(b"GET /version HTTP/1.1\r\n\r\n")[2] is None
    names = ["e1", "e2", "e3"]
    assert sorted(partition(["e1"], names, one_way=True)) == [("e1", "e2"), ("e1", "e3")]
    assert len(partition(["e1"], names, one_way=False)) == 4


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--system", "zookeeper"], "--system zookeeper: choose from etcd, meshcheck"),
        (["--system", "etcd", "--nemesis", "latency"], "--nemesis latency: etcd runs under"),
        (["--system", "etcd", "--bugs", "x"], "--bugs: etcd runs as it is released"),
        (["--system", "etcd", "--protocol", "pbft"], "--protocol pbft: --system etcd runs etcd"),
        (["--system", "etcd", "--workload", "status"], "--workload status: etcd runs registers"),
        (["--system", "etcd", "--nodes", "12"], "--nodes"),
        (["--system", "etcd", "--reads", "stale"], "--reads stale: choose from linearizable or"),
        (["--system", "etcd", "--workload", "lock", "--reads", "serializable"], "reads nothing"),
        (["--reads", "serializable"], "--reads serializable: only with --system etcd"),
        (["--client-pause", "6"], "--client-pause: only with --system etcd --workload lock"),
        (["--system", "etcd", "--client-pause", "6"], "--client-pause: only the lock workload"),
        (["--system", "etcd", "--workload", "lock", "--client-pause", "x"], "--client-pause x"),
    ],
)
def test_bad_input_for_etcd_is_one_line_and_exit_2(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "test", *flags, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_without_etcd_installed_one_line_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    assert main(["cluster", "test", "--system", "etcd", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"meshcheck: {server.INSTALL}"


@pytest.mark.parametrize(
    ("head", "body"),
    [
        (b"POST /raft HTTP/1.1\r\nContent-Length: 5\r\n\r\n", b"hello"),
        (b"POST /raft/snapshot HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
         b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\nT: 1\r\n\r\n"),
        (b"GET /version HTTP/1.1\r\n\r\n", b""),
    ],
)  # fmt: skip
def test_the_proxy_forwards_a_requests_body_and_stops_at_the_next_request(
    head: bytes, body: bytes
) -> None:
    async def forward() -> tuple[bytes, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(body + b"GET /next HTTP/1.1\r\n\r\n")
        reader.feed_eof()
        sent = bytearray()

        class Sink:
            def write(self, data: bytes) -> None:
                sent.extend(data)

            async def drain(self) -> None:
                return None

        await _body(reader, Sink(), head)  # type: ignore[arg-type]
        return bytes(sent), await reader.read()

    sent, rest = asyncio.run(forward())
    assert sent == body
    assert rest == b"GET /next HTTP/1.1\r\n\r\n"


@pytest.mark.slow  # etcd again, the lock workload
@needs_etcd
def test_etcd_locks_under_kills_pauses_and_partitions_keep_mutual_exclusion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    printed = _passes(out, capsys, "--workload", "lock")
    assert "| mutual exclusion (mutex) | holds" in printed
    history = (out / "history.jsonl").read_text()
    assert '"f": "acquire"' in history and '"f": "release"' in history
    assert main(["history", "check", str(out / "history.jsonl"), "--model", "mutex"]) == 0
    assert etcd_pids(tmp_path) == []


@pytest.mark.slow  # etcd again: Jepsen's lock finding reproduced (docs/etcd.md)
@needs_etcd
def test_a_client_paused_past_its_lease_is_a_second_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No fault in etcd: the first client stalls 6 s holding the lock, its 5 s lease expires under
    it, another client takes the lock, and the first still releases it as its own. The mutex check
    reports two holders at once, with what etcd documents of it; the same run without the pause
    holds."""
    flags = ["cluster", "test", "--system", "etcd", "--workload", "lock", "--time", "10",
             "--seed", "1", "--nemesis", "none", "--quiet"]  # fmt: skip
    assert main([*flags, "--client-pause", "6", "--out", str(tmp_path / "paused")]) == 1
    printed = capsys.readouterr().out
    assert "| mutual exclusion (mutex) | VIOLATED" in printed and "two holders at once" in printed
    assert "advises fencing with the lock key's revision" in printed
    # the window names the stalled holder, c1, and the client that took the lock under it; the
    # replay line names the same two (tests/test_history_reports.py checks it on such a run's
    # history, kept in tests/data)
    report = (tmp_path / "paused" / "anomaly.txt").read_text()
    holders = {line.split()[2].split(".")[0] for line in report.splitlines() if "acquire(" in line}
    assert "c1" in holders and len(holders) == 2, report
    assert main([*flags, "--out", str(tmp_path / "calm")]) == 0
    assert etcd_pids(tmp_path) == []


def test_two_holders_at_once_is_what_the_mutex_check_refuses() -> None:
    # L2 took the lock while L1 held it (a lease that expired under a holder that did not know
    # is how it happens with etcd's locks: the holder's release then finds the lock not its own)
    two = [
        Op("c1", "acquire", "L1", None, 0.0, 0.1, "ok", None, 0),
        Op("c2", "acquire", "L2", None, 0.2, 0.3, "ok", None, 1),
        Op("c1", "release", "L1", None, 0.4, 0.5, "ok", None, 2),
    ]
    verdict = mutual_exclusion(two, 10.0)
    assert verdict.holds is False and "two holders" in verdict.detail
    # in turn, it holds; an acquire without an answer followed by its lease's revoke frees the
    # lock whether or not it was taken
    turns = [two[0], two[2], Op("c2", "acquire", "L2", None, 0.6, 0.7, "ok", None, 3)]
    assert mutual_exclusion(turns, 10.0).holds
    unknown = [
        Op("c1", "acquire", "L1", None, 0.0, math.inf, "info", None, 0),
        Op("c1.1", "revoke", "L1", None, 0.2, 0.3, "ok", None, 1),
        Op("c2", "acquire", "L2", None, 0.4, 0.5, "ok", None, 2),
    ]
    assert mutual_exclusion(unknown, 10.0).holds
    # a release by a lease that never held the lock cannot have happened
    stray = [Op("c1", "release", "L9", None, 0.0, 0.1, "ok", None, 0)]
    assert mutual_exclusion(stray, 10.0).holds is False


@pytest.mark.slow  # etcd again, serializable reads
@needs_etcd
def test_serializable_reads_are_checked_as_what_etcd_promises_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the same seed as the linearizable run above: its one-way cut of the leader lets the members
    # it no longer reaches serve older values, which serializable reads may return
    out = tmp_path / "report"
    printed = _passes(out, capsys, "--reads", "serializable")
    assert "| linearizable (kv), writes and cas        | holds" in printed
    assert "| serializable reads return written values | holds" in printed
    assert etcd_pids(tmp_path) == []


def test_a_serializable_read_may_be_stale_but_never_from_nowhere() -> None:
    w1 = Op("c1", "write", "1", None, 0.0, 0.1, "ok", "k", 0)
    w2 = Op("c1", "write", "2", None, 0.2, 0.3, "ok", "k", 1)
    stale = Op("c2", "read", None, "1", 0.4, 0.5, "ok", "k", 2)
    verdict = reads_written([w1, w2, stale])
    assert (
        verdict.holds
        and verdict.detail == "1 read, 1 of them older than the write last done before"
    )
    # a value no write wrote, or one written only after the read returned
    made_up = Op("c2", "read", None, "7", 0.4, 0.5, "ok", "k", 2)
    assert reads_written([w1, w2, made_up]).holds is False
    future = Op("c2", "read", None, "3", 0.4, 0.5, "ok", "k", 2)
    w3 = Op("c1", "write", "3", None, 0.6, 0.7, "ok", "k", 3)
    assert reads_written([w1, w2, future, w3]).holds is False
    # a cas's new value counts as written; a write without an answer may have written
    cas = Op("c1", "cas", ("2", "4"), None, 0.35, 0.38, "ok", "k", 3)
    pending = Op("c3", "write", "5", None, 0.1, math.inf, "info", "k", 4)
    reads = [Op("c2", "read", None, v, 0.4, 0.5, "ok", "k", 5) for v in ("4", "5")]
    assert all(reads_written([w1, w2, cas, pending, r]).holds for r in reads)


@pytest.mark.slow  # etcd again; the anomaly report's drawing is tested below without a cluster
@needs_etcd
def test_etcd_whose_linearizable_reads_are_served_locally_is_caught_and_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a mutant of etcd's read path, made at the client: every read is served by the member asked
    # from its own store (serializable) while the check expects linearizable reads, as an etcd
    # whose ReadIndex were skipped would answer. e1 cut off both ways for 3 s serves its clients
    # older values while the others write, and the check says so, with the window (measured
    # with the seeded plans of seeds 1 to 4, partitions only: each caught)
    served_locally = Gateway.get

    async def get(self: Gateway, key: str, timeout: float, *, serializable: bool = False) -> Any:
        return await served_locally(self, key, timeout, serializable=True)

    monkeypatch.setattr(Gateway, "get", get)
    cut = (Fault(1.0, "partition", ("e1",), 3.0),)
    for seed in (1, 2, 3):  # the clients' draws; a read at e1 after a write elsewhere is likely
        outcome = run(EtcdOptions(time=6, seed=seed, plan=cut), tmp_path)
        verdict = {v.check: v for v in outcome.verdicts}["linearizable (kv)"]
        if verdict.holds is False:
            break
    assert verdict.holds is False, verdict
    assert verdict.detail.endswith("(anomaly.txt, anomaly.svg)")
    text = (tmp_path / "anomaly.txt").read_text()
    assert text.startswith("anomaly: not linearizable (kv, key k")
    assert "the nemesis from" in text and "documented: not as allowed" in text
    assert (tmp_path / "anomaly.svg").read_text().startswith("<svg")
    assert etcd_pids(tmp_path) == []


def test_the_anomaly_report_names_the_window_and_the_faults_around_it(tmp_path: Path) -> None:
    ops = [
        Op("c1", "write", "1", None, 0.0, 0.1, "ok", "k", 0),
        Op("c1", "write", "2", None, 1.2, 1.3, "ok", "k", 1),
        Op("c2", "read", None, "1", 1.4, 1.5, "ok", "k", 2),
        Op("c3", "write", "9", None, 5.0, 5.1, "ok", "j", 3),
    ]
    struck = [(1.0, "partition e1"), (1.45, "kill e2"), (2.0, "partition e1 undone"), (9.0, "x")]
    (tmp_path / "history.jsonl").write_text(jepsen.dumps(ops, KeyValue()), encoding="utf-8")
    text = anomaly.report(ops, KeyValue(), struck, tmp_path, title="t", documented="no")
    assert text is not None
    lines = text.splitlines()
    assert lines[0] == "anomaly: not linearizable (kv, key k)"
    assert "3 operations" in lines[1]  # both writes and the stale read; key j is not in it
    assert "t=1.000s  partition e1" in text and "t=9.000s" not in text
    assert "in force when the window opened: no fault" in text  # the window opens at t=0.0
    assert lines[-2] == "documented: no"
    assert lines[-1].startswith(
        f"replay: meshcheck history check {tmp_path}/history.jsonl --model kv"
    )
    # a linearizable history has no anomaly
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "history.jsonl").write_text(jepsen.dumps(ops[:2], KeyValue()))
    assert anomaly.report(ops[:2], KeyValue(), struck, tmp_path / "x", title="t") is None
