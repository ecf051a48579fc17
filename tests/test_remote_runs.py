"""Whole runs of a system on hosts over SSH (`meshcheck cluster test --system FILE --hosts FILE`),
against real sshds (tests/sshd_hosts.py), the controller in a network namespace of its own: the
toy key-value service (tests/data/systems/toy.toml) under kill and partition reaches the verdict
its run on this machine's namespace network reaches with the same seed, and leaves nothing on the
hosts; a controller killed with SIGKILL leaves nothing either, once the hosts' reapers have seen
their sessions close, the lazy file systems under the nodes' data included; latency on hosts
without netem goes through the delayer and leaves nothing; a fault a host cannot carry out is
refused in one line, and so is a host
whose key is not the known one; a deployment with roles, a sidecar and a readiness probe
(examples/replicas/) runs on the hosts as on this machine; so does etcd (meshcheck/systems/known/etcd.toml, `make
etcd`), its members dialling each other at the hosts' addresses, the verdict its local run reaches
with the same seed; and so does the toy service under power failures and corruption, each node's
data on a lazy file system on its host, a host without the python that needs refused in one line.
Slow (`make test-all`):
tests/test_remote_faults.py is `make test`'s representative."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshcheck.systems.remote import BOUND
from tests.sshd_hosts import SshHosts
from tests.sshd_hosts import sshd_hosts
from tests.sshd_hosts import unavailable

WHY = unavailable()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(WHY is not None, reason=f"SSH hosts: {WHY}")]
TOY = Path(__file__).parent / "data" / "systems" / "toy.toml"
ETCD = Path(__file__).parent.parent / "meshcheck" / "systems" / "known" / "etcd.toml"
RUN = ["--time", "5", "--nemesis", "kill,partition", "--seed", "1", "--rate", "60"]


def meshcheck(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "meshcheck", *argv]


def verdicts(stdout: str) -> dict[str, str]:
    """The table's checks and their results (`| check | result | detail |`)."""
    rows = [line.split("|") for line in stdout.splitlines() if line.startswith("| ")]
    return {r[1].strip(): r[2].strip() for r in rows[1:] if len(r) > 3}


def nothing_left(hosts: SshHosts) -> None:
    for name in hosts.names:
        assert hosts.sessions_gone(name, BOUND + 5) == [], name  # no process but sshd's
        assert "meshcheck_" not in hosts.tables(name), name  # no table of a run's
        queued = hosts.net.run_in(name, ["iptables", "-w", "-S", "OUTPUT"]).stdout
        assert "NFQUEUE" not in queued, name  # no delayer's rule
        assert hosts.mounts(name) == [], name  # no lazy file system left mounted
        assert list(hosts.work(name).iterdir()) == [], name  # the run's folder removed


def on_hosts(hosts: SshHosts, argv: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    """`meshcheck ARGV` run by the controller, in its namespace, against `hosts`."""
    return subprocess.run(
        hosts.control(meshcheck(argv)), capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def on_this_machine(argv: list[str], out: Path) -> subprocess.CompletedProcess[str]:
    """`meshcheck cluster test ARGV` on this machine's namespace network, its report in `out`."""
    return subprocess.run(
        meshcheck(["cluster", "test", "--network", "netns", "--out", str(out), *argv]),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def said(stderr: str) -> list[str]:
    """meshcheck's own lines of `stderr`."""
    return [line for line in stderr.splitlines() if line.startswith("meshcheck:")]


def without_python(hosts: SshHosts) -> None:
    """The hosts file's `python` made one that is on no host."""
    text = hosts.hosts_file.read_text()
    hosts.hosts_file.write_text(
        "\n".join(
            'python = "/opt/none/bin/python"' if line.startswith("python =") else line
            for line in text.splitlines()
        )
    )


def test_the_toy_service_over_ssh_reaches_the_local_verdict_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    with sshd_hosts() as hosts:
        out = tmp_path / "ssh"
        argv = ["cluster", "test", "--system", str(TOY), "--hosts", str(hosts.hosts_file)]
        done = on_hosts(hosts, [*argv, "--out", str(out), *RUN], 600)
        assert done.returncode == 0, done.stdout + done.stderr
        nothing_left(hosts)
    local = on_this_machine(["--system", str(TOY), *RUN], tmp_path / "local")
    assert local.returncode == 0, local.stdout + local.stderr
    remote, here = verdicts(done.stdout), verdicts(local.stdout)
    for check in ("linearizable (kv)", "acknowledged writes kept (kv)", "progress after healing"):
        assert remote[check] == here[check] == "holds", (remote, here)
    assert remote["nemesis"] == here["nemesis"] == "2 faults"
    # the plan struck on the hosts: the partition as nftables rules there, the kill and restart
    struck = (out / "nemesis.log").read_text()
    assert "partition t3" in struck and "kill t1 undone" in struck, struck
    network = (out / "network.log").read_text()
    assert "partition" in network and "uncut" in network and "heal" in network, network
    # each node's output and data came back from its host; the endpoints are the hosts'
    assert all((out / "logs" / f"t{i}.out").is_file() for i in (1, 2, 3))
    assert sorted(p.name for p in (out / "data").iterdir()) == ["t1", "t2", "t3"]
    endpoints = json.loads((out / "cluster.json").read_text())
    assert [e["host"] for e in endpoints.values()] == [f"198.18.0.{i}" for i in (2, 3, 4)]


def test_a_controller_killed_with_sigkill_leaves_nothing_on_the_hosts(tmp_path: Path) -> None:
    with sshd_hosts() as hosts:
        argv = ["cluster", "test", "--system", str(TOY), "--hosts", str(hosts.hosts_file),
                "--out", str(tmp_path / "out"), "--time", "60", "--nemesis", "partition,power"]  # fmt: skip
        # its control sockets' folder under tmp_path: a controller killed cannot remove it
        env = {**os.environ, "TMPDIR": str(tmp_path)}
        controller = subprocess.Popen(
            hosts.control(meshcheck(argv)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        assert controller.stderr is not None
        try:
            for line in controller.stderr:  # the clients run: every node up on its host
                if line.strip().startswith("t="):
                    break
            assert controller.poll() is None
            nodes = [p for name in hosts.names for p in hosts.pids(name)]
            assert nodes, "no node on any host"
            controller.send_signal(signal.SIGKILL)
            controller.wait(timeout=30)
            killed = time.monotonic()
            nothing_left(hosts)
            print(f"cleaned up {time.monotonic() - killed:.2f} s after the SIGKILL")
            assert time.monotonic() - killed < BOUND + 5
        finally:
            if controller.poll() is None:
                controller.kill()
                controller.wait()


def test_latency_on_hosts_without_netem_goes_through_the_delayer(tmp_path: Path) -> None:
    """This machine's kernel has no netem: latency on the hosts is the delayer behind a queue
    rule (remote_delayer.py); the run's checks hold and neither is left after it (where a kernel
    has netem, the run uses it and this test checks only that)."""
    with sshd_hosts() as hosts:
        out = tmp_path / "out"
        argv = ["cluster", "test", "--system", str(TOY), "--hosts", str(hosts.hosts_file),
                "--out", str(out), "--time", "4", "--nemesis", "latency", "--seed", "1",
                "--rate", "60"]  # fmt: skip
        done = on_hosts(hosts, argv, 300)
        assert done.returncode == 0, done.stdout + done.stderr
        network = (out / "network.log").read_text()
        assert "slow" in network and "unslow" in network, network
        if "(netem)" not in network:
            assert "(nfqueue)" in network, network
        assert verdicts(done.stdout)["linearizable (kv)"] == "holds", done.stdout
        nothing_left(hosts)


def test_a_fault_a_host_cannot_carry_out_is_one_line(tmp_path: Path) -> None:
    """This machine's kernel has no netem, and the delayer that stands in for it needs the hosts
    file's python: latency on hosts without it is refused before any node starts (where a kernel
    has netem, the run goes ahead and this test says nothing)."""
    with sshd_hosts() as hosts:
        without_python(hosts)
        argv = ["cluster", "test", "--system", str(TOY), "--hosts", str(hosts.hosts_file),
                "--out", str(tmp_path / "out"), "--time", "2", "--nemesis", "latency"]  # fmt: skip
        done = on_hosts(hosts, argv, 300)
        if "netem" not in done.stderr:
            pytest.skip("this kernel has netem")
        assert done.returncode == 2
        assert said(done.stderr) == [
            "meshcheck: --nemesis latency: host h1's kernel has no netem (sch_netem), and the "
            "delayer that stands in for it needs the hosts file's `python` there (now "
            "/opt/none/bin/python)"
        ], done.stderr
        nothing_left(hosts)


def test_a_deployment_with_roles_a_sidecar_and_a_probe_runs_on_the_hosts(tmp_path: Path) -> None:
    """examples/replicas/ (a primary, replicas started once it is ready, a heartbeat sidecar in
    each node's group, a readiness probe run on the host) under kill, pause, partition and clock:
    every check holds, each node's sidecar log came back, and nothing is left."""
    replicas = Path(__file__).parent.parent / "examples" / "replicas" / "replicas.toml"
    with sshd_hosts() as hosts:
        out = tmp_path / "out"
        argv = ["cluster", "test", "--system", str(replicas), "--hosts", str(hosts.hosts_file),
                "--out", str(out), "--time", "6", "--seed", "4",
                "--nemesis", "kill,pause,partition,clock"]  # fmt: skip
        done = on_hosts(hosts, argv, 600)
        assert done.returncode == 0, done.stdout + done.stderr
        nothing_left(hosts)
    assert all("ok" in (out / f"r{i}.heartbeat.log").read_text() for i in (1, 2, 3))
    assert "ready" in (out / "r2.ready.log").read_text()


def test_a_host_whose_key_is_not_the_known_one_is_one_line(tmp_path: Path) -> None:
    with sshd_hosts() as hosts:
        known = hosts.folder / "known_hosts"
        other = tmp_path / "other"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                       check=True, timeout=30)  # fmt: skip
        key = " ".join(other.with_suffix(".pub").read_text().split()[:2])
        known.write_text(
            "".join(f"{line.split()[0]} {key}\n" for line in known.read_text().splitlines())
        )
        argv = ["cluster", "test", "--system", str(TOY), "--hosts", str(hosts.hosts_file),
                "--out", str(tmp_path / "out"), "--time", "1"]  # fmt: skip
        done = on_hosts(hosts, argv, 120)
    assert done.returncode == 2
    assert said(done.stderr) == [
        "meshcheck: host h1 (root@198.18.0.2:22): ssh could not connect: Host key verification "
        "failed."
    ], done.stderr


@pytest.mark.skipif(shutil.which("etcd") is None, reason="no etcd: `make etcd`")
@pytest.mark.parametrize("nemesis", ["kill,pause,partition", "isolate,loss,latency,clock"])
def test_etcd_over_ssh_reaches_the_local_verdict_and_leaves_nothing(
    tmp_path: Path, nemesis: str
) -> None:
    """etcd's own file, unchanged: each member's data on its host, its peers and its client's
    endpoints the hosts' addresses; the processes' faults, then the network's and the clock's,
    struck there as here (power and corrupt: the toy service's test below)."""
    run = ["--system", str(ETCD), "--workload", "cas", "--time", "10", "--seed", "1",
           "--nemesis", nemesis]  # fmt: skip
    with sshd_hosts() as hosts:
        out = tmp_path / "ssh"
        argv = ["cluster", "test", "--hosts", str(hosts.hosts_file), "--out", str(out), *run]
        done = on_hosts(hosts, argv, 600)
        assert done.returncode == 0, done.stdout + done.stderr
        nothing_left(hosts)
    local = on_this_machine(run, tmp_path / "local")
    assert local.returncode == 0, local.stdout + local.stderr
    remote, here = verdicts(done.stdout), verdicts(local.stdout)
    for check in ("linearizable (kv)", "acknowledged writes kept (kv)", "progress after healing"):
        assert remote[check] == here[check] == "holds", (remote, here)
    assert remote["nemesis"] == here["nemesis"], (remote, here)
    # the members found each other at the hosts' addresses; their data came back
    addresses = [f"198.18.0.{i}" for i in (2, 3, 4)]
    endpoints = json.loads((out / "cluster.json").read_text())
    assert [e["host"] for e in endpoints.values()] == addresses
    for i, address in enumerate(addresses, 1):
        assert f"ClientURLs:[http://{address}:7001]" in (out / f"e{i}.log").read_text()
        assert (out / "data" / f"e{i}" / "member" / "wal").is_dir()
    # run.txt: the hosts file, each member's host, the program each host ran
    kept = (out / "run.txt").read_text()
    assert f"hosts file: {hosts.hosts_file.resolve()} sha256 " in kept
    for i, address in enumerate(addresses, 1):
        assert f"host h{i}: e{i} on root@{address}:22, work " in kept
        assert (
            f"system program on h{i}: {Path(shutil.which('etcd') or '').resolve()} sha256 " in kept
        )


def test_power_and_corruption_on_the_hosts_reach_the_local_verdict(tmp_path: Path) -> None:
    """The toy service (it never syncs its folder: a power failure loses its store) under power
    and corrupt: the same faults, the same losses and damage, the same verdict as its run on
    this machine's namespace network with the same seed; nothing left mounted."""
    run = ["--system", str(TOY), "--time", "6", "--nemesis", "power,corrupt", "--seed", "2",
           "--rate", "60"]  # fmt: skip
    with sshd_hosts() as hosts:
        out = tmp_path / "ssh"
        argv = ["cluster", "test", "--hosts", str(hosts.hosts_file), "--out", str(out), *run]
        done = on_hosts(hosts, argv, 600)
        assert "Traceback" not in done.stderr, done.stderr
        nothing_left(hosts)
    local = on_this_machine(run, tmp_path / "local")
    assert done.returncode == local.returncode == 1, done.stdout + local.stdout
    remote, here = verdicts(done.stdout), verdicts(local.stdout)
    for check in ("linearizable (kv)", "acknowledged writes kept (kv)", "nemesis", "nodes down"):
        assert remote[check].split(":")[0] == here[check].split(":")[0], (check, remote, here)

    def struck(folder: Path) -> list[str]:  # what each fault did, without its time
        lines = (folder / "nemesis.log").read_text().splitlines()
        return [line.split(None, 1)[1] for line in lines if "lost:" in line or ": " in line][:3]

    assert struck(out) == struck(tmp_path / "local"), (struck(out), struck(tmp_path / "local"))
    assert any("corrupt t1: store.json" in line for line in struck(out)), struck(out)
    assert (out / "t1.lazyfs.log").is_file() and (out / "data" / "t1" / "store.json").is_file()


def test_a_host_without_the_python_the_disk_faults_need_is_one_line(tmp_path: Path) -> None:
    with sshd_hosts() as hosts:
        without_python(hosts)
        argv = ["cluster", "test", "--system", str(TOY), "--hosts", str(hosts.hosts_file),
                "--out", str(tmp_path / "out"), "--time", "2", "--nemesis", "corrupt"]  # fmt: skip
        done = on_hosts(hosts, argv, 300)
        assert done.returncode == 2, done.stderr
        assert said(done.stderr) == [
            "meshcheck: --nemesis corrupt: host h1: no /opt/none/bin/python; the hosts file's "
            "`python` must name a Python 3.11 there with mfusepy and attrs (now "
            "/opt/none/bin/python)"
        ], done.stderr
        nothing_left(hosts)
