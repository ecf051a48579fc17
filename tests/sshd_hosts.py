"""The SSH hosts the tests run against: meshcheck/systems/local_hosts.py, which `meshcheck hosts up`
also starts for a user."""

from meshcheck.systems.local_hosts import CONTROL
from meshcheck.systems.local_hosts import SshHosts
from meshcheck.systems.local_hosts import sshd_hosts
from meshcheck.systems.local_hosts import unavailable

__all__ = ["CONTROL", "SshHosts", "sshd_hosts", "unavailable"]
