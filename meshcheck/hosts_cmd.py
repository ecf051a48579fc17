"""`meshcheck hosts up N` and `meshcheck hosts down`: SSH hosts on this machine, each an sshd in a
network namespace of its own, to try `meshcheck cluster test --hosts` without other machines
(meshcheck/systems/local_hosts.py; docs/systems.md, "Trying hosts on one machine"). Root, the
namespace tools (`make netns`) and OpenSSH (`make sshd`); anything missing is one line, exit 2."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from meshcheck.impl.base.errors import EXIT_HOLDS
from meshcheck.impl.base.errors import MeshcheckError

DEFAULT_DIR = "reports/hosts"


def add_parser(sub: Any) -> None:
    h = sub.add_parser(
        "hosts", help="SSH hosts on this machine, to try `cluster test --hosts` (docs/systems.md)"
    )
    hsub = h.add_subparsers(dest="hosts_command", required=True)
    u = hsub.add_parser(
        "up", help="start N sshds, each in a network namespace of its own, and leave them running"
    )
    u.add_argument("count", metavar="N", help="how many hosts, 1 to 9 (h1 ... hN)")
    u.add_argument(
        "--dir", default=DEFAULT_DIR, help=f"their keys and hosts file (default {DEFAULT_DIR})"
    )
    d = hsub.add_parser("down", help="stop the hosts `hosts up` started, and remove their folder")
    d.add_argument("--dir", default=DEFAULT_DIR, help=f"as given to up (default {DEFAULT_DIR})")


def run_hosts_cmd(args: argparse.Namespace) -> int:
    from meshcheck.systems import local_hosts

    folder = Path(args.dir)
    if args.hosts_command == "up":
        if not args.count.isdigit():
            raise MeshcheckError(
                f"hosts up {args.count}: expected how many hosts, 1 to {local_hosts.MAX_HOSTS}"
            )
        count = int(args.count)
        hosts = local_hosts.up(count, folder)
        control = hosts.net.namespace(local_hosts.CONTROL)
        for name in hosts.names:
            print(f"{name} root@{hosts.net.address(name)}, work {hosts.work(name)}")
        print(f"hosts file: {hosts.hosts_file}")
        print(
            "the hosts are reached from the controller's namespace: run meshcheck there, e.g.\n"
            f"  nsenter --net=/run/netns/{control} -- meshcheck cluster test --system "
            f"tests/data/systems/toy.toml --hosts {shlex.quote(str(hosts.hosts_file))}\n"
            f"stop them with `meshcheck hosts down --dir {shlex.quote(args.dir)}`"
        )
        return EXIT_HOLDS
    gone = local_hosts.down(folder)
    print(f"hosts down: {len(gone)} namespaces removed, {folder} removed")
    return EXIT_HOLDS
