"""A hosts file: the machines `meshcheck cluster test --system FILE --hosts HOSTS.toml` runs the
nodes on, each reached over SSH (remote.py; docs/systems.md, "Nodes on hosts over SSH"), read into
frozen `Host`s. Node i of the run goes to the file's i-th host.

```toml
[defaults]                        # optional: every host's value unless it gives its own
user = "root"                     # default: root
port = 22                         # default: 22
identity = "keys/id_ed25519"      # the private key (relative to this file); required somewhere
known_hosts = "keys/known_hosts"  # the hosts' keys, checked strictly; required somewhere
work = "/var/tmp"                 # where the run makes its folder on the host (default /tmp)
python = "/opt/meshcheck/.venv/bin/python"  # a Python 3.11 there with mfusepy and attrs, for
                                  # the power and corrupt faults (default python3)

[hosts.h1]                        # one table per host, in the order the nodes take them
address = "10.0.0.11"             # what the client and the other nodes dial: {host}
```

Every error is one line naming the file and the key (ConfigError, exit 2), as a system file's:
a missing file, bad TOML, no host, a missing or unknown key, a wrong type, a bad name, port,
address, user, work folder or python, an identity or known_hosts file that is not there, two hosts at
one address."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from pathlib import PurePosixPath
from typing import Any

import attrs

from meshcheck.impl.base.errors import ConfigError
from meshcheck.systems.system_file import read_toml

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
# a DNS name: labels of letters, digits and - (an address must not start with -: an ssh option)
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# a work folder: an absolute path of plain characters (it goes into shell commands, quoted)
_WORK = re.compile(r"/[A-Za-z0-9._/-]*")
# a python: a program's name or path of plain characters, not an option
_PYTHON = re.compile(r"[A-Za-z0-9._/][A-Za-z0-9._/+-]*")
KEYS = ("address", "port", "user", "identity", "known_hosts", "work", "python")
DEFAULT_KEYS = ("port", "user", "identity", "known_hosts", "work", "python")


@attrs.frozen
class Host:
    """One machine: `name` (for the logs), `address` (a name or an IP address: the node's
    {host}), sshd's `port`, the `user` to log in as, the private key `identity`, the
    `known_hosts` file its key is checked against, and the folder `work` the run's own folder is
    made in (and removed from at the end), and the `python` that runs the lazy file system's
    daemon and the corruption of a node's files there (meshcheck/systems/remote_disks.py)."""

    name: str
    address: str
    port: int
    user: str
    identity: Path
    known_hosts: Path
    work: str
    python: str = "python3"

    def destination(self) -> str:
        return f"{self.user}@{self.address}"


def load(path: Path) -> tuple[Host, ...]:
    """The hosts of the file at `path`, in its order, every key checked (see the module)."""
    data = read_toml(path, "hosts file")
    for key in data:
        if key not in ("defaults", "hosts"):
            raise ConfigError(f"{path}: {key}: unknown key (defaults, hosts)")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: defaults: expected a table")
    for key in defaults:
        if key not in DEFAULT_KEYS:
            raise ConfigError(f"{path}: defaults.{key}: unknown key ({', '.join(DEFAULT_KEYS)})")
    hosts = data.get("hosts")
    if hosts is None:
        raise ConfigError(f"{path}: hosts: missing (a [hosts.NAME] table per host)")
    if not isinstance(hosts, dict) or not hosts:
        raise ConfigError(f"{path}: hosts: expected a [hosts.NAME] table per host")
    found: list[Host] = []
    for name, table in hosts.items():
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{path}: hosts.{name}: a host's name is 1-31 of a-z, 0-9 and -")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: hosts.{name}: expected a table")
        found.append(_host(path, name, table, defaults))
    seen: dict[tuple[str, int], str] = {}
    for host in found:
        where = (host.address, host.port)
        if where in seen:
            raise ConfigError(
                f"{path}: hosts.{host.name}.address: {host.address}:{host.port} is "
                f"hosts.{seen[where]}'s too (one node per host)"
            )
        seen[where] = host.name
    return tuple(found)


def _host(path: Path, name: str, table: dict[str, Any], defaults: dict[str, Any]) -> Host:
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"{path}: hosts.{name}.{key}: unknown key ({', '.join(KEYS)})")

    def value(key: str, kind: type, fallback: Any = None) -> Any:
        where = f"hosts.{name}.{key}" if key in table else f"defaults.{key}"
        given = table.get(key, defaults.get(key, fallback))
        if given is None:
            raise ConfigError(f"{path}: hosts.{name}.{key}: missing (here or in [defaults])")
        if not isinstance(given, kind) or isinstance(given, bool):
            expected = {str: "a string", int: "an integer"}[kind]
            raise ConfigError(f"{path}: {where}: expected {expected}, not {given!r}")
        return given, where

    address, where = value("address", str)
    if not _address(address):
        raise ConfigError(f"{path}: {where}: {address!r} is no IP address or host name")
    port, where = value("port", int, 22)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{path}: {where}: {port} is no port (1 to 65535)")
    user, where = value("user", str, "root")
    if not _USER.fullmatch(user):
        raise ConfigError(f"{path}: {where}: {user!r} is no user name")
    files = []
    for key in ("identity", "known_hosts"):
        given, where = value(key, str)
        file = (path.parent / Path(given).expanduser()).resolve()
        if not file.is_file():
            raise ConfigError(f"{path}: {where}: no such file {file}")
        files.append(file)
    work, where = value("work", str, "/tmp")
    if not _WORK.fullmatch(work) or ".." in PurePosixPath(work).parts:
        raise ConfigError(f"{path}: {where}: {work!r} is no absolute folder of a-z, 0-9, ._/-")
    python, where = value("python", str, "python3")
    if not _PYTHON.fullmatch(python):
        raise ConfigError(f"{path}: {where}: {python!r} is no program's name or path")
    return Host(name, address, port, user, files[0], files[1], work.rstrip("/") or "/", python)


def _address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(text))
    return True
