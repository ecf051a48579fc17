"""The fault injectors on hosts over SSH (meshcheck/systems/remote.py, remote_nodes.py,
remote_links.py, remote_clock.py), against real sshds (tests/sshd_hosts.py: one per network
namespace, the controller in one more). Every check is made over SSH, on the hosts, so that the
test runs unchanged against real machines: MESHCHECK_SSH_HOSTS=FILE names their hosts file (three
hosts, root, nftables; gcc on the first) instead of the sshds made here.

One test, `make test`'s representative of the whole (the runs of a system are in
tests/test_remote_runs.py, slow): each node's process group with a sidecar started on its host;
a pause that stops every thread of the group and a resume that starts them all, and one
(`pause = "node"`) that stops the node's own processes and leaves its sidecar running; a kill that
ends the group, sidecar and all; partitions both ways and one way, and loss, as the hosts' own
nftables rules that cut what they say and nothing else, undone; a clock shifted on its host; a
node's data directory on a lazy file system on its host (remote_disks.py), whose power failure
drops what was not synced (not the node's files meshcheck wrote, synced; one `when = "absent"`
kept over the restart), and a corruption there that damages what the same fault damages on
this machine; and after the controller lets go, nothing of the run left on any host: no process of
a node's group (one left running on purpose, for the reaper), no table, no mount (one left
mounted on purpose), no folder."""

from __future__ import annotations

import contextlib
import os
import random
import shlex
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from meshcheck.cluster import nemesis
from meshcheck.cluster.netns import enter
from meshcheck.cluster.netns import leave
from meshcheck.faults.corrupt import corrupt_one
from meshcheck.systems import hosts_file
from meshcheck.systems import remote_clock
from meshcheck.systems import remote_disks
from meshcheck.systems import system_file
from meshcheck.systems.hosts_file import Host
from meshcheck.systems.remote import Remote
from meshcheck.systems.remote import run_id
from meshcheck.systems.remote_clock import RemoteClock
from meshcheck.systems.remote_disks import RemoteDisks
from meshcheck.systems.remote_links import RemoteLinks
from meshcheck.systems.remote_nodes import STATES
from meshcheck.systems.remote_nodes import RemoteNodes
from meshcheck.systems.remote_setup import ipv4
from tests.sshd_hosts import CONTROL
from tests.sshd_hosts import SshHosts
from tests.sshd_hosts import sshd_hosts
from tests.sshd_hosts import unavailable

GIVEN = os.environ.get("MESHCHECK_SSH_HOSTS", "")
WHY = None if GIVEN else unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"SSH hosts: {WHY}")

SLEEPER = """
name = "sleeper"

[nodes]
names = "s{i}"
ports = ["client"]
command = ["sh", "-c", "sleep 600; : {data}"]
peer = "{host}"
ready = { command = ["true"], timeout = 10 }

[[nodes.files]]
path = "conf"
text = "{i}"

[[nodes.files]]
path = "state/term"
text = "0"
when = "absent"

[[nodes.sidecars]]
name = "watch"
command = ["sleep", "601"]

[client]
plugin = "jsonl"
port = "client"
workloads = ["registers"]
"""


@contextlib.contextmanager
def hosts() -> Iterator[tuple[tuple[Host, ...], SshHosts | None]]:
    """The hosts: MESHCHECK_SSH_HOSTS's, or three sshds of this machine's, the controller's
    thread in their network."""
    if GIVEN:
        yield hosts_file.load(Path(GIVEN))[:3], None
        return
    with sshd_hosts() as made:
        back = enter(made.net.namespace(CONTROL))
        try:
            yield hosts_file.load(made.hosts_file), made
        finally:
            leave(back)


def states(remote: Remote, pgid: int) -> str:
    """The state letters of the group's threads on its host (empty: none left)."""
    return remote.run(STATES + f"states {pgid}").strip()


def tables(remote: Remote) -> str:
    return remote.run("nft list tables")


def rules(remote: Remote, table: str) -> str:
    return remote.run(f"nft list table inet {table} 2>/dev/null || true")


def reaches(remote: Remote, address: str) -> bool:
    """Whether a TCP connection from `remote` to sshd's port at `address` is made within 1 s."""
    probe = f"timeout 1 bash -c {shlex.quote(f'exec 3<>/dev/tcp/{address}/22')}"
    return remote.status(probe) == 0


# the median of three TCP connections' set-up times from the host to sshd at ADDRESS, in seconds
ROUND_TRIP = """
import socket, statistics, sys, time
times = []
for _ in range(3):
    t = time.monotonic()
    socket.create_connection((sys.argv[1], 22), timeout=5).close()
    times.append(time.monotonic() - t)
print(statistics.median(times))
"""


def round_trip(remote: Remote, address: str) -> float:
    python = shlex.quote(remote.host.python)
    return float(remote.run(f"{python} -c {shlex.quote(ROUND_TRIP)} {shlex.quote(address)}"))


def delayers(remote: Remote, folder: str) -> str:
    """The processes of the delayer copied to the run's `folder` on the host, and the host's
    queue rules (empty: none)."""
    mine = shlex.quote(f"[{folder[0]}]{folder[1:]}/delayer.py")
    return remote.run(
        f"pgrep -af {mine} || true; iptables -w -S OUTPUT 2>/dev/null | grep NFQUEUE || true"
    ).strip()


def test_the_fault_injectors_act_on_the_hosts_and_leave_nothing(tmp_path: Path) -> None:
    system = system_file.load(_write(tmp_path / "sleeper.toml", SLEEPER))
    names = ["s1", "s2", "s3"]
    with hosts() as (given, made), tempfile.TemporaryDirectory(prefix="mc-t-") as sockets:
        rid = run_id()
        remotes = {n: Remote(h, Path(sockets), rid) for n, h in zip(names, given, strict=True)}
        for remote in remotes.values():
            remote.open()
        addresses = {n: ipv4(r.host) for n, r in remotes.items()}
        table = f"meshcheck_{rid.replace('-', '_')}"
        links = RemoteLinks(remotes, names, addresses, table)
        remote_clock.build(remotes["s1"])
        clock = RemoteClock("s1", remotes["s1"])
        nodes = RemoteNodes(
            system, names, tmp_path / "out", remotes=remotes,
            hosts={n: r.host.address for n, r in remotes.items()},
            ports={n: {"client": 7001} for n in names},
            extra_env=lambda n: clock.env() if n == "s1" else {},
        )  # fmt: skip
        try:
            nodes.install()
            remote_disks.install(remotes["s1"], ["power", "corrupt"])
            disks = RemoteDisks({"s1": remotes["s1"]}, lazy=True).__enter__()  # left to the reaper
            for n in names:
                nodes.start(n)
            groups = {n: nodes.groups[n].pid for n in names}
            for n in names:  # the group's shell, the node's shell and its sleep, the sidecar
                assert states(remotes[n], groups[n]) == "SSSS", n
                assert nodes.groups[n].poll() is None

            nodes.pause("s1")
            stopped = states(remotes["s1"], groups["s1"])
            assert stopped and set(stopped) <= set("Tt"), stopped
            nodes.resume("s1")
            assert not set(states(remotes["s1"], groups["s1"])) & set("Tt")
            # `pause = "node"`: the node's shell and its sleep; the group's shell and the sidecar
            # run on
            nodes.system = attrs.evolve(system, nodes=attrs.evolve(system.nodes, pause="node"))
            nodes.pause("s1")
            assert sorted(states(remotes["s1"], groups["s1"])) == ["S", "S", "T", "T"]
            beside = f"ps -o stat= -p $(pgrep -g {groups['s1']} -xf 'sleep 601')"
            assert remotes["s1"].run(beside).strip().startswith("S")
            nodes.resume("s1")
            assert not set(states(remotes["s1"], groups["s1"])) & set("Tt")
            nodes.system = system

            data = shlex.quote(nodes.data_of("s1"))
            assert data.strip("'") in remotes["s1"].run("cat /proc/mounts")  # on the host
            remotes["s1"].run(
                f"cd {data} && printf synced > a && sync a . && printf lost > b && printf x >> a"
            )
            assert disks.losses("s1") == [
                "bytes not synced: a (6 of 7 bytes survive)",
                "name never synced: b (4 bytes)",
            ]
            nodes.kill("s1")
            assert disks.power_failure("s1") == 3  # a, b, and the folder that gained b
            # the files meshcheck wrote at the start were synced: not lost, not among the losses
            assert remotes["s1"].run(f"cd {data} && ls && cat a") == "a\nconf\nstate\nsynced"
            remotes["s1"].run(f"printf 7 > {data}/state/term && printf x > {data}/conf")
            local = tmp_path / "here"
            local.mkdir()
            (local / "a").write_text("synced")
            damage = disks.corrupt("s1", random.Random(5), ["a"])
            assert damage == corrupt_one(local, random.Random(5), ["a"]), damage
            assert remotes["s1"].run_bytes(f"cat {data}/a") == (local / "a").read_bytes()
            nodes.start("s1")
            groups["s1"] = nodes.groups["s1"].pid
            # the file `when = "absent"` kept what the node made of it; the other written again
            assert remotes["s1"].run(f"cat {data}/state/term {data}/conf") == "71"

            nodes.kill("s2")  # its sidecar with it
            assert states(remotes["s2"], groups["s2"]).strip("ZX") == ""
            assert nodes.groups["s2"].poll() == -9 and nodes.running() == ["s1", "s3"]
            nodes.start("s2")
            assert nodes.groups["s2"].poll() is None and nodes.groups["s2"].pid != groups["s2"]
            groups["s2"] = nodes.groups["s2"].pid

            a1, a2, a3 = (addresses[n] for n in names)
            assert reaches(remotes["s2"], a1) and reaches(remotes["s1"], a3)
            both = nemesis.Fault(0.0, "partition", ("s1",), 1.0)
            undo = links.strike(both)
            assert not reaches(remotes["s2"], a1) and not reaches(remotes["s1"], a3)
            assert reaches(remotes["s2"], a3) and reaches(remotes["s3"], a2)
            for n in names:  # each side drops the other's addresses, no more
                dropped = rules(remotes[n], table)
                others = [a1] if n != "s1" else [a2, a3]
                assert all(a in dropped for a in others) and addresses[n] not in dropped, n
            undo()
            assert reaches(remotes["s2"], a1) and reaches(remotes["s1"], a3)
            assert "drop" not in "".join(rules(remotes[n], table) for n in names)

            one_way = nemesis.Fault(0.0, "partition", ("s1",), 1.0, one_way=True)
            undo = links.strike(one_way)  # what s1 sends is dropped where it arrives
            assert "drop" not in rules(remotes["s1"], table)
            assert all(a1 in rules(remotes[n], table) for n in ("s2", "s3"))
            undo()

            loss = nemesis.Fault(0.0, "loss", ("s3",), 1.0)
            links.strike(loss)
            for n in ("s1", "s2"):
                said = rules(remotes[n], table)
                assert f"ip saddr {a3} numgen random mod 10000 < 3000 drop" in said, said
            assert "numgen" not in rules(remotes["s3"], table)
            links.heal()
            assert "drop" not in "".join(rules(remotes[n], table) for n in names)
            assert all(table in tables(remotes[n]) for n in names)

            links.check(["latency"])  # netem, or where the kernel has none, the delayer
            before = round_trip(remotes["s1"], a2)
            undo = links.strike(nemesis.Fault(0.0, "latency", ("s1",), 1.0))
            slowed = round_trip(remotes["s1"], a2)
            if "nfqueue" in links.log.records[-1].detail:  # what s1 sends goes through the queue
                said = delayers(remotes["s1"], remotes["s1"].folder)
                assert "delayer.py" in said and "-A OUTPUT" in said, said
            undo()
            after = round_trip(remotes["s1"], a2)
            assert 0.04 < slowed - before < 0.2, (before, slowed)  # 100 +- 50 ms, median of 3
            assert after - before < 0.03, (before, after)
            assert delayers(remotes["s1"], remotes["s1"].folder) == ""  # no delayer, no rule
            assert "netem" not in remotes["s1"].run("tc qdisc show")

            env = " ".join(f"{k}={shlex.quote(v)}" for k, v in clock.env().items())
            before = float(remotes["s1"].run(f"env {env} date +%s.%N"))
            clock.set(1000.0)
            shifted = float(remotes["s1"].run(f"env {env} date +%s.%N"))
            assert 995 < shifted - before < 1010, shifted - before
            clock.set(0.0)

            nodes.stop(grace=0.5)  # s3 is left to the reaper: started again, never stopped
            nodes.start("s3")
            groups["s3"] = nodes.groups["s3"].pid
        finally:
            links.close()
            for remote in remotes.values():
                remote.close()
        _nothing_left(given, sockets, rid, groups, table, made)


def _nothing_left(
    given: tuple[Host, ...],
    sockets: str,
    rid: str,
    groups: dict[str, int],
    table: str,
    made: SshHosts | None,
) -> None:
    """A fresh connection to each host finds no process of the run's groups, no table of the
    run's, no run folder; and on this machine's sshds, no process but the listener."""
    for host, (node, pgid) in zip(given, groups.items(), strict=True):
        check = Remote(host, Path(sockets), f"check-{rid}").open()
        try:
            deadline = time.monotonic() + 5
            while states(check, pgid).strip("ZX") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert states(check, pgid).strip("ZX") == "", node
            assert table not in tables(check), node
            assert delayers(check, f"{host.work}/meshcheck-{rid}") == "", node
            assert check.status(f"test -e {host.work}/meshcheck-{rid}") == 1, node
            assert f"{host.work}/meshcheck-{rid}/" not in check.run("cat /proc/mounts"), node
        finally:
            check.close()
    if made is not None:
        for name in made.names:
            assert made.sessions_gone(name) == [], name
            assert list(made.work(name).iterdir()) == [], name


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
