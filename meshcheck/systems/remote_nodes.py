"""A system's nodes, each on a host of its own reached over SSH (remote.py; docs/systems.md,
"Nodes on hosts over SSH"): what nodes.py does with local processes, done on the hosts.

On its host, node NAME runs in the run's folder R (remote.py): the system's folder copied to
R/system (`{here}`), its data directory R/data/NAME (`{data}`), its output in R/NAME.log (or the
file's `log`, `{dir}` being R), its files (`[[nodes.files]]`) written there. A start runs one shell
in a session and process group of its own (`setsid`), which writes its pid to R/pids/NAME (the
reaper's list), starts the node's command and each sidecar in that group, waits for the node and
writes its exit status to R/NAME.exit. The nemesis's kill, pause and resume signal that group
over SSH and return once /proc on the host shows the signal acted (as
impl/runtime/process_group.py does here): every thread stopped, none stopped, none alive. A node is
ready when its port accepts TCP from this machine, or its probe, run on the host, exits 0."""

from __future__ import annotations

import shlex
import signal
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from meshcheck.impl.base.errors import ImplError
from meshcheck.impl.runtime.launcher import accepts
from meshcheck.systems import probe
from meshcheck.systems import provenance
from meshcheck.systems import templates
from meshcheck.systems.nodes import SystemNodes
from meshcheck.systems.remote import Remote
from meshcheck.systems.remote import env_prefix
from meshcheck.systems.remote import quote
from meshcheck.systems.system_file import SystemFile

POLL_EVERY = 0.25  # seconds between two looks at a starting node over SSH
WAIT = 10  # seconds a signal has to act on the host before the fault is reported not carried out
# `states PGID`: the state letters of every thread of every process in the group, from /proc
# (the command may hold spaces and parentheses: the fields start after its last ") ")
STATES = r"""
states() {
  cat /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null |
    awk -v g="$1" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); if (f[3] == g) printf "%s", f[1] }'
}
"""
# `until_states PGID TEST`: wait until TEST holds of the group's thread states (`all_stopped`:
# every thread stopped, T or t, or gone, Z or X; `none_stopped`; `all_dead`; an empty group
# passes each)
UNTIL = (
    STATES
    + r"""
all_stopped() { case "$1" in *[!TtZX]*) return 1 ;; esac; }
none_stopped() { case "$1" in *[Tt]*) return 1 ;; esac; }
all_dead() { case "$1" in *[!ZX]*) return 1 ;; esac; }
until_states() {
  i=0
  while [ "$i" -lt ROUNDS ]; do
    s=$(states "$1")
    if "$2" "$s"; then return 0; fi
    sleep 0.01
    i=$((i + 1))
  done
  echo "process group $1: threads in states '$s' after WAIT s" >&2
  return 1
}
""".replace("ROUNDS", str(WAIT * 60)).replace("WAIT", str(WAIT))
)
STOPPED, RUNNING, DEAD = "all_stopped", "none_stopped", "all_dead"  # until_states's tests
# `until_tree PID SIG TEST`: SIG to process PID and every process descended from it (by their
# parents' pids in /proc: `tree`), again to those TEST does not yet hold of, until it holds of
# every thread of them (a node's own processes, not the sidecars beside it: `pause = "node"`;
# impl/runtime/process_group.py `stop_tree` here)
TREE = r"""
tree() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
    { s = $0; sub(/.*\) /, "", s); split(s, f, " "); parent[$1] = f[2] }
    END {
      if (!(root in parent)) exit
      want[root] = 1; grew = 1
      while (grew) { grew = 0; for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; grew = 1 } }
      for (p in want) print p
    }'
}
tree_states() {
  for p in $(tree "$1"); do cat /proc/"$p"/task/[0-9]*/stat 2>/dev/null; done |
    awk '{ s = $0; sub(/.*\) /, "", s); printf "%s", substr(s, 1, 1) }'
}
until_tree() {
  i=0
  while [ "$i" -lt ROUNDS ]; do
    s=$(tree_states "$1")
    if "$3" "$s"; then return 0; fi
    kill -"$2" $(tree "$1") 2>/dev/null
    sleep 0.01
    i=$((i + 1))
  done
  echo "process $1 and its children: threads in states '$s' after WAIT s" >&2
  return 1
}
""".replace("ROUNDS", str(WAIT * 60)).replace("WAIT", str(WAIT))


class RemoteProcess:
    """A node's process group on its host, as `Processes` looks at a local Popen (`poll`,
    `returncode`, `pid`): its exit status read from the host."""

    def __init__(self, nodes: RemoteNodes, name: str, pgid: int) -> None:
        self._nodes = nodes
        self.name = name
        self.pid = pgid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._nodes.exit_status(self.name, self.pid)
        return self.returncode


class RemoteNodes(SystemNodes):
    """The nodes `names` of `system`, node n on `remotes[n]` (opened), listening on its host's
    address `hosts[n]`; `folder` is the report folder here, into which `collect` brings each
    host's logs and data at the end."""

    def __init__(
        self,
        system: SystemFile,
        names: Sequence[str],
        folder: Path,
        *,
        remotes: Mapping[str, Remote],
        hosts: Mapping[str, str],
        ports: Mapping[str, Mapping[str, int]],
        extra_env: Callable[[str], Mapping[str, str]] = lambda _: {},
        seed: int = 0,
    ) -> None:
        super().__init__(
            system, names, folder, hosts=hosts, ports=ports,
            data=lambda n: folder / "data" / n, extra_env=extra_env, seed=seed,
        )  # fmt: skip
        self.remotes = dict(remotes)
        self.groups: dict[str, RemoteProcess] = {}
        folder.mkdir(parents=True, exist_ok=True)  # the probes' logs are kept here

    # where things are on the host

    def dir_of(self, node: str) -> str:
        return self.remotes[node].folder

    def here_of(self, node: str) -> str:
        return f"{self.remotes[node].folder}/system"

    def data_of(self, node: str) -> str:
        return f"{self.remotes[node].folder}/data/{node}"

    def python_of(self, node: str) -> str:
        return "python3"  # the host's: meshcheck's own interpreter is this machine's

    def remote_log(self, node: str) -> str:
        if not self.system.nodes.log:
            return f"{self.remotes[node].folder}/{node}.log"
        return templates.fill(self.system.nodes.log, self.values(node))

    def here(self, node: str, path: str) -> Path:
        """Where a path on `node`'s host lands in the report folder once collected (`collect`)."""
        root = self.remotes[node].folder
        if path == root or path.startswith(root + "/"):
            return self.folder / path[len(root) :].lstrip("/")
        return self.folder / "hosts" / node / path.lstrip("/")

    def values_here(self, node: str) -> dict[str, str]:
        values = self.values(node)
        return {
            **values,
            "dir": str(self.folder.resolve()),
            "here": str(self.system.here),
            "data": str((self.folder / "data" / node).resolve()),
        }

    def log_path(self, node: str) -> Path:
        return self.here(node, self.remote_log(node))

    # setting up and collecting

    def install(self) -> None:
        """The system's folder copied to each host, and every executable of the file's
        `install.needs` looked for there: a missing one is one line, exit 2. The program each
        node runs there, resolved and hashed there, goes into the report's run.txt
        (provenance.py)."""
        for node in self.names:
            remote = self.remotes[node]
            remote.put_tree(self.system.here, self.here_of(node))
            for need in self.system.install.needs:
                program = f"{self.here_of(node)}/{need[2:]}" if need.startswith("./") else need
                if not remote.has(program):
                    hint = f" ({self.system.install.hint})" if self.system.install.hint else ""
                    raise ImplError(
                        f"host {remote.host.name}: {need} is not there for {node}{hint}"
                    )
            program = shlex.quote(self.command(node)[0])
            found = remote.run(
                f'p=$(command -v {program}) && r=$(readlink -f "$p") && '
                f'echo "$r sha256 $(sha256sum < "$r" | cut -d " " -f 1)" || '
                f"echo {shlex.quote(self.command(node)[0] + ' (not found at the start)')}"
            ).strip()
            provenance.add(self.folder, f"system program on {remote.host.name}", found)

    def collect(self) -> None:
        """Each host's run folder (logs, data, files) brought into the report folder, but for
        the system's copy and the run's own bookkeeping."""
        for node in self.names:
            self.remotes[node].fetch_tree(
                self.remotes[node].folder,
                self.folder,
                exclude=(
                    "system",
                    "pids",
                    "undo",
                    "clock",
                    "py",
                    "durable",
                    "final",
                    *(f"{n}.node" for n in self.names),
                ),
            )

    # processes

    def write_files(self, node: str) -> list[Path]:
        values = self.values(node)
        written = []
        for f in self.system.nodes.files:
            path = templates.fill(f.path, values)
            if not path.startswith("/"):
                path = f"{values['data']}/{path}"
            if f.when == "absent" and self.remotes[node].status(f"[ -e {shlex.quote(path)} ]") == 0:
                continue  # the node's own now (nodes.py)
            # synced, as nodes.py writes them: never among a power failure's losses
            self.remotes[node].put(path, templates.fill(f.text, values).encode(), synced=True)
            written.append(self.here(node, path))
        return written

    def _script(self, node: str, command: Sequence[str], env: Mapping[str, str]) -> str:
        """The shell line that starts `node` (the module's docstring) and prints its group's id."""
        remote = self.remotes[node]
        r = remote.folder
        values = self.values(node)
        inner = [
            f"echo $$ > {shlex.quote(f'{r}/pids/{node}.new')}",
            f"mv {shlex.quote(f'{r}/pids/{node}.new')} {shlex.quote(f'{r}/pids/{node}')}",
            f"{env_prefix(env)}{quote(command)} >> {shlex.quote(self.remote_log(node))} 2>&1 "
            "< /dev/null &",
            "n=$!",
            f"echo $n > {shlex.quote(f'{r}/{node}.node')}",  # the node's own pid: `pause`
        ]
        for sidecar in self.nodes[node].sidecars:
            log = (
                templates.fill(sidecar.log, values) if sidecar.log
                else f"{r}/{node}.{sidecar.name}.log"
            )  # fmt: skip
            own = {var: templates.fill(v, values) for var, v in sidecar.env}
            words = [templates.fill(word, values) for word in sidecar.command]
            inner.append(
                f'mkdir -p "$(dirname {shlex.quote(log)})"; '
                f"{env_prefix({**env, **own})}{quote(words)} >> {shlex.quote(log)} 2>&1 "
                "< /dev/null &"
            )
        status = shlex.quote(f"{r}/{node}.exit")
        inner += ["wait $n", f"echo $? > {status}"]
        data = shlex.quote(values["data"])
        pid = shlex.quote(f"{r}/pids/{node}")
        log = shlex.quote(self.remote_log(node))
        return (
            f'rm -f {pid} {status}; mkdir -p {data} "$(dirname {log})" && cd {data} && '
            f"{{ setsid sh -c {shlex.quote(chr(10).join(inner))} > /dev/null 2>&1 < /dev/null & }}; "
            f"i=0; while [ ! -s {pid} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done; "
            f"cat {pid}"
        )

    def start(self, node: str) -> None:
        """Start (or restart) `node` on its host, its files written first, its sidecars in its
        process group, and wait until it is ready."""
        last = self.groups.get(node)
        if last is not None and last.returncode is None and last.poll() is None:
            raise ImplError(f"{node} is running already")
        self.write_files(node)
        env = self.env(node)
        said = self.remotes[node].run(self._script(node, self.command(node), env)).strip()
        if not said.isdigit():
            raise ImplError(f"{node} did not start on host {self.remotes[node].host.name}")
        self.groups[node] = RemoteProcess(self, node, int(said))
        ready = self.nodes[node].ready
        if not ready.command:
            address = (self.hosts[node], self.ports[node][ready.port])
            self.await_ready(
                node, ready.timeout, lambda _: None if accepts(address) else "",
                every=POLL_EVERY,
            )  # fmt: skip
            return
        values = self.values(node)
        limit = probe.try_limit(ready.timeout)
        words = [templates.fill(word, values) for word in ready.command]
        script = (
            f"cd {shlex.quote(values['data'])} && {env_prefix(env)}timeout {limit:g} {quote(words)}"
        )
        check = probe.Probe(node, self.remotes[node].argv(script), {}, self.probe_log(node))
        self.await_ready(
            node, ready.timeout, lambda left: check(left, limit), "pass its readiness probe",
            every=probe.EVERY,
        )  # fmt: skip

    def await_ready(
        self,
        name: str,
        wait: float,
        ready: Callable[[float], str | None],
        what: str = "listen",
        every: float = POLL_EVERY,
    ) -> None:
        """As `Processes.await_ready`, the node's group on its host looked at every `every` s."""
        deadline = time.monotonic() + wait
        why = ""
        while (left := deadline - time.monotonic()) > 0:
            code = self.groups[name].poll()
            if code is not None:
                raise ImplError(f"{name} exited with {code}: {self.tail(name)}")
            said = ready(left)
            if said is None:
                return
            why = said
            time.sleep(max(every, POLL_EVERY))
        because = f" ({why})" if why else ""
        raise ImplError(f"{name} did not {what} within {wait} s{because}: {self.tail(name)}")

    def exit_status(self, node: str, pgid: int) -> int | None:
        """None while `node`'s group (`pgid`) has a live process; else its exit status (-9
        when it was killed before writing one)."""
        r = self.remotes[node].folder
        out = self.remotes[node].run(
            STATES + f"if [ -s {shlex.quote(f'{r}/{node}.exit')} ]; then "
            f"cat {shlex.quote(f'{r}/{node}.exit')}; else states {pgid}; echo; fi"
        ).strip()  # fmt: skip
        if out.lstrip("-").isdigit():
            return int(out)
        return None if out.strip("ZX") else -signal.SIGKILL

    def last_lines(self, name: str, lines: int) -> list[str]:
        if name not in self.remotes:
            return []
        log = shlex.quote(self.remote_log(name))
        out = self.remotes[name].run(f"[ -f {log} ] && tail -n {int(lines)} {log} || true")
        return out.strip().splitlines()[-lines:]

    def _signal(self, name: str, sig: str, until: str, then: str = "") -> None:
        """`sig` to the node's group, and back once `until` holds of it; `then` run after."""
        group = self.groups.get(name)
        if group is None:
            return
        pg = group.pid
        self.remotes[name].run(
            UNTIL + f"if kill -{sig} -{pg} 2>/dev/null; then until_states {pg} {until}; fi\n"
            f"{then}"
        )  # fmt: skip

    def kill(self, name: str) -> None:
        """kill -9 to the node's process group on its host (its sidecars with it); returns once no
        process of it is alive there."""
        group = self.groups.get(name)
        if group is None:
            return
        self._signal(
            name, "KILL", DEAD, f"rm -f {shlex.quote(f'{self.remotes[name].folder}/pids/{name}')}"
        )
        group.returncode = group.returncode if group.returncode is not None else -signal.SIGKILL

    def pause(self, name: str) -> None:
        """SIGSTOP to the node's group on its host, its sidecars with it; with `pause = "node"`,
        to the node's process and what it started only (nodes.py)."""
        if self.system.nodes.pause == "node":
            self._signal_tree(name, "STOP", STOPPED)
        else:
            self._signal(name, "STOP", STOPPED)

    def resume(self, name: str) -> None:
        if self.system.nodes.pause == "node":
            self._signal_tree(name, "CONT", RUNNING)
        else:
            self._signal(name, "CONT", RUNNING)

    def _signal_tree(self, name: str, sig: str, until: str) -> None:
        if name not in self.groups:
            return
        pid = shlex.quote(f"{self.remotes[name].folder}/{name}.node")
        self.remotes[name].run(
            UNTIL + TREE + f'n=$(cat {pid} 2>/dev/null) && [ -n "$n" ] && until_tree "$n" {sig} '
            f'{until} || [ -z "$n" ]\n'
        )

    def running(self) -> list[str]:
        return sorted(n for n, g in self.groups.items() if g.poll() is None)

    def pids(self) -> list[int]:
        return [g.pid for g in self.groups.values()]

    def stop(self, grace: float | None = None, sig: int | None = None) -> None:
        """Every node's group: SIGCONT, the file's stop signal, SIGKILL after its grace, each
        host's at once; returns once none is alive."""
        how = self.system.nodes.stop
        grace = how.grace if grace is None else grace
        name = signal.Signals(sig).name[3:] if sig is not None else how.signal
        rounds = max(1, round(grace / 0.05))
        for node, group in list(self.groups.items()):
            pg = group.pid
            pid = shlex.quote(f"{self.remotes[node].folder}/pids/{node}")
            self.remotes[node].run(
                UNTIL + f"kill -CONT -{pg} 2>/dev/null; kill -{name} -{pg} 2>/dev/null\n"
                f"i=0; while [ $i -lt {rounds} ] && [ -n \"$(states {pg} | tr -d ZX)\" ]; do "
                "sleep 0.05; i=$((i + 1)); done\n"
                f"kill -KILL -{pg} 2>/dev/null; until_states {pg} {shlex.quote(DEAD)}; "
                f"rm -f {pid}",
                timeout=grace + WAIT + 30,
            )  # fmt: skip
            group.returncode = group.returncode if group.returncode is not None else -9
        self.groups.clear()
        self.sidecars.clear()

    def launch(self, *_: object, **__: object) -> None:
        raise NotImplementedError("a node on a host starts with `start`")
