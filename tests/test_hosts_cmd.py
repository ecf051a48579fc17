"""`meshcheck hosts up N` / `meshcheck hosts down` (meshcheck/hosts_cmd.py, systems/local_hosts.py):
N sshds, each in a network namespace of its own, left running after the command exits, reached
over SSH from the controller's namespace with the hosts file it wrote; `down` ends them, their
namespaces and their folder. Bad input is one line, exit 2. No cluster run: one `ssh` command."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from meshcheck.cli import main
from meshcheck.cluster.netns import destroy
from meshcheck.cluster.netns import namespaces
from meshcheck.systems import local_hosts

WHY = local_hosts.unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"SSH hosts: {WHY}")


def ssh(folder: Path, control: str, host: str, command: str) -> subprocess.CompletedProcess[str]:
    """`command` run on `host` over SSH from the controller's namespace, as the hosts file says."""
    spec = tomllib.loads((folder / "hosts.toml").read_text())
    address = spec["hosts"][host]["address"]
    return subprocess.run(
        ["nsenter", f"--net=/run/netns/{control}", "--", "ssh", "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={folder / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes",
         "-i", str(folder / "id"), f"root@{address}", command],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_hosts_up_leaves_sshds_running_that_down_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "hosts"
    stem = ""
    try:
        assert main(["hosts", "up", "2", "--dir", str(folder)]) == 0
        said = capsys.readouterr().out
        assert f"hosts file: {folder.resolve() / 'hosts.toml'}" in said, said
        control = said.split("--net=/run/netns/")[1].split()[0]
        stem = control.removesuffix("ctl")
        ours = [ns for ns in namespaces() if ns.startswith(stem)]
        assert len(ours) == 4  # h1, h2, the controller's, the bridge's
        # the command has exited: the sshds answer still, each on its own namespace's address
        done = ssh(folder, control, "h2", "cat /proc/net/fib_trie | grep -c 198.18.0.3")
        assert done.returncode == 0 and int(done.stdout) >= 1, done.stderr
        assert main(["hosts", "up", "2", "--dir", str(folder)]) == 2  # holds hosts already
        assert "holds hosts already" in capsys.readouterr().err
    finally:
        code = main(["hosts", "down", "--dir", str(folder)])
        left = [ns for ns in namespaces() if stem and ns.startswith(stem)]
        for ns in left:  # whatever `down` left, gone however the test ends
            destroy(ns)
    assert code == 0 and left == [] and not folder.exists()
    sshds = subprocess.run(["pgrep", "-f", f"{folder.resolve()}/sshd-"], capture_output=True)
    assert sshds.returncode == 1, sshds.stdout  # no sshd of theirs


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["hosts", "up", "x"], "hosts up x: expected how many hosts, 1 to 9"),
        (["hosts", "up", "10"], "hosts up 10: expected 1 to 9 hosts"),
        (["hosts", "down"], "no hosts `meshcheck hosts up` started"),
    ],
)
def test_bad_input_to_hosts_is_one_line_exit_2(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.splitlines()) == 1 and "Traceback" not in err
