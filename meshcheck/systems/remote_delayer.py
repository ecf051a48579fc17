"""Latency on a host whose kernel has no netem (sch_netem), as the namespace network has it on this
machine (meshcheck/cluster/netns.py): what the host sends on its interface toward the others is
handed to an NFQUEUE by an iptables rule (netns.py says why iptables's target and not nftables's
`queue`), and the user-space delayer (meshcheck/cluster/delayer.py, standard library only), copied
to the run's folder R on the host and run there with the hosts file's `python`, gives each packet
its verdict late.

The delayer runs in a session and process group of its own whose id is in R/pids/delay-NODE, so
that the host's reaper (remote.py REAPER) kills it however the run ends; the rule's removal is
written to R/undo/nfqueue-NODE before the rule is added, so that the reaper removes it too. `stop`
takes the rule out first (with no reader, the queue would drop everything), then kills the
delayer, then removes both files."""

from __future__ import annotations

import shlex

from meshcheck.cluster.netns import DELAYER
from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.systems.remote import Remote

READY_WAIT = 10  # seconds the delayer has to bind its queue on the host and say "ready"


def path(remote: Remote) -> str:
    return f"{remote.folder}/delayer.py"


def install(remote: Remote) -> None:
    """The delayer copied to the host; MeshcheckError (one line) for a host with no iptables or
    no python."""
    if not remote.has("iptables"):
        raise MeshcheckError(
            f"--nemesis latency: host {remote.host.name}'s kernel has no netem (sch_netem), and "
            "the delayer that stands in for it needs iptables (Debian's iptables)"
        )
    if not remote.has(remote.host.python):
        raise MeshcheckError(
            f"--nemesis latency: host {remote.host.name}'s kernel has no netem (sch_netem), and "
            f"the delayer that stands in for it needs the hosts file's `python` there "
            f"(now {remote.host.python})"
        )
    remote.put(path(remote), DELAYER.read_bytes())


class HostDelayer:
    """The delay of what `node`'s host sends on `device`, through NFQUEUE `queue`."""

    def __init__(self, remote: Remote, node: str, device: str, queue: int) -> None:
        self.remote = remote
        self.node = node
        self.device = device
        self.queue = queue
        r = remote.folder
        self._pid = shlex.quote(f"{r}/pids/delay-{node}")
        self._undo = shlex.quote(f"{r}/undo/nfqueue-{node}")
        self._log = shlex.quote(f"{r}/delay-{node}.log")

    def rule(self) -> str:
        """The iptables rule's words, after `-A` or `-D`."""
        return f"OUTPUT -o {shlex.quote(self.device)} -j NFQUEUE --queue-num {self.queue}"

    def start(self, delay_ms: float, jitter_ms: float, seed: int) -> None:
        """The delayer started and bound, then the rule added."""
        remote = self.remote
        words = [remote.host.python, path(remote), str(self.queue), f"{delay_ms:g}",
                 f"{jitter_ms:g}", str(seed)]  # fmt: skip
        inner = "\n".join([
            f"echo $$ > {self._pid}.new",
            f"mv {self._pid}.new {self._pid}",
            "exec " + " ".join(shlex.quote(w) for w in words),
        ])  # fmt: skip
        rounds = READY_WAIT * 100
        said = remote.run(
            f"printf '%s\\n' {shlex.quote(f'iptables -w -D {self.rule()} 2>/dev/null')} "
            f"> {self._undo}\n"
            f"rm -f {self._pid}; cd / && {{ setsid sh -c {shlex.quote(inner)} > {self._log} 2>&1 "
            "< /dev/null & }\n"
            f"i=0; until grep -qx ready {self._log} 2>/dev/null || [ $i -ge {rounds} ]; do\n"
            f'  if [ -s {self._pid} ] && ! kill -0 "$(cat {self._pid})" 2>/dev/null; then break; fi\n'
            "  sleep 0.01; i=$((i + 1))\n"
            "done\n"
            f"if grep -qx ready {self._log}; then iptables -w -A {self.rule()} && echo ok; "
            f"else tail -n 1 {self._log}; fi"
        ).strip()
        if said != "ok":
            self.stop()
            raise MeshcheckError(
                f"--nemesis latency: host {remote.host.name}: the delayer did not start: "
                f"{said or f'no ready within {READY_WAIT} s'}"
            )

    def stop(self) -> None:
        """The rule out, then the delayer killed (its whole group), then their files gone."""
        self.remote.run(
            f"iptables -w -D {self.rule()} 2>/dev/null\n"
            f'[ -s {self._pid} ] && kill -KILL -"$(cat {self._pid})" 2>/dev/null\n'
            f"rm -f {self._pid} {self._undo} {self._log}; true"
        )
