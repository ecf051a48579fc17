"""The node process: `python -m meshcheck.impl.runtime.node_main CONFIG NODE`, or the same node
from flags alone, as a system file starts any system's nodes (meshcheck/systems/known/cores/):
`python -m meshcheck.impl.runtime.node_main --protocol raft --name n1 --peers
n1=127.0.0.1:7001,n2=... --data DIR/data/n1 [--seed 3] [--clients 16] [--options JSON]`, the
configuration (config.py) made of them: every node at its peer address, no link proxy, the data
folder the parent of the node's own (named as the node), the options a JSON object; `--clients N`
for a core whose clients sign (PBFT's, HotStuff's): the client cores c1..cN it admits, everyone's
keys derived from seed 0 (impl/runtime/protocols.py BFT_CLIENTS, BFT_KEYS; the plug-in's client
cores take theirs from the same seed: meshcheck/systems/runtime_client.py). Two environment
variables, which a system file sets per node (`nodes.env`, `[nodes.node.NAME] env`) and `--set`
changes: MESHCHECK_BUGS, the catalogue mutants the node runs (comma-separated: the runtime's own
to its disk, impl/runtime/mutants.py, the others to its core), and MESHCHECK_BYZANTINE, this
node's Byzantine behaviours (comma-separated), which the node writes to `byzantine.txt` in its
data folder so that the checks once the run is over tell the honest nodes from it; and
MESHCHECK_CORE, the core's options over the runtime's defaults (`max_entries=2,snapshot_interval=
50`, as `meshcheck cluster test --core` takes them, each value JSON or a bare word), refused in one
line if the core does not take them, and written to `core.json` in its data folder, from which the
checks once the run is over take the spec's constants (PBFT.tla's CheckpointEvery and Window).

Reads the cluster's configuration (config.py), builds the node's core as the simulator would
(protocols.py), and hosts it (host.py) until SIGTERM or SIGINT. Any error before the node is up (a
bad configuration, a state file it cannot read back: disk.py) is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any
from typing import NoReturn

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.runtime import mutants
from meshcheck.impl.runtime.config import ClusterConfig
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.host import Host
from meshcheck.impl.runtime.protocols import BFT_CLIENTS
from meshcheck.impl.runtime.protocols import BFT_KEYS
from meshcheck.impl.runtime.protocols import BYZANTINE
from meshcheck.impl.runtime.protocols import protocol


async def serve(config: ClusterConfig, node: str) -> None:
    if node not in config.nodes:
        raise MeshcheckError(f"node {node!r} is not in the configuration {config.node_ids()}")
    proto = protocol(config.protocol)
    codec = proto.codec()
    rng = random.Random(f"{config.seed}:{node}")
    # the runtime's own mutants (impl/runtime/mutants.py) are the disk's, never the core's
    options = {k: v for k, v in config.options.items() if k != mutants.OPTION}
    bugs = frozenset(config.options.get(mutants.OPTION, ()))
    core = proto.build(node, config.node_ids(), options, rng)
    tls = None
    if config.tls:  # cryptography's x509 only where the cluster speaks TLS
        from meshcheck.impl.runtime.tls import client_context
        from meshcheck.impl.runtime.tls import server_context

        folder = config.tls_folder()
        tls = (server_context(folder, node), client_context(folder, node))
    log = None
    # a Byzantine node writes no log: the spec's Byzantine replicas are the ones it does not follow
    byzantine = node in options.get(BYZANTINE, {})
    if byzantine:  # what the post-run checks read (the module's docstring)
        said = config.state_file(node).with_name(BYZANTINE_FILE)
        said.parent.mkdir(parents=True, exist_ok=True)
        said.write_text(",".join(options[BYZANTINE][node]) + "\n", encoding="utf-8")
    if proto.log_state is not None and not byzantine:
        path = config.state_file(node).with_name("node.ndjson")
        path.parent.mkdir(parents=True, exist_ok=True)
        log = proto.log_writer(
            path,
            f"seed-{config.seed}",
            node,
            proto.log_state,
            proto.log_params,
            restarts=proto.restarts_logged,
            actions=proto.log_actions,
        )
    host = Host(
        node,
        core,
        codec,
        Disk(config.state_file(node), codec, bugs=bugs),
        config.routes[node],
        tls=tls,
        log=log,
        fingerprint=proto.fingerprint if log is not None else None,
        record=proto.message_record,
        receives=proto.log_receives,
        members=proto.members(options),
        inspect=proto.inspect,
        # the core rebuilt inside this process after a `crash` (host.py), with a generator of its
        # own per incarnation, as the simulator seeds a node rebuilt after a crash
        rebuild=lambda k: proto.build(
            node, config.node_ids(), options, random.Random(f"{config.seed}:{node}:{k}")
        ),
    )
    server = await host.start(*config.nodes[node])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # the hash seed this process runs with (the launcher's, cluster.json's `hash_seeds`): a state
    # that follows a set's order is this seed's (impl/runtime/launcher.py `hash_seeds`)
    print(f"{node} up, PYTHONHASHSEED={os.environ.get('PYTHONHASHSEED', 'random')}", flush=True)
    await stop.wait()
    server.close()
    await host.stop()


BUGS, BYZANTINE_ENV = "MESHCHECK_BUGS", "MESHCHECK_BYZANTINE"  # the flags form's (the docstring)
CORE_ENV = "MESHCHECK_CORE"  # the core's options, the flags form's (the docstring)
BYZANTINE_FILE = "byzantine.txt"  # a Byzantine node's behaviours, in its data folder
CORE_FILE = "core.json"  # the core's options MESHCHECK_CORE gave, in its data folder
USAGE = (
    "usage: python -m meshcheck.impl.runtime.node_main CONFIG NODE | --protocol P --name NODE "
    "--peers NODE=HOST:PORT,... --data DIR [--seed N] [--clients N] [--options JSON]"
)


def core_pairs(text: str, where: str) -> list[tuple[str, Any]]:
    """`max_entries=2,snapshot_interval=50` as pairs, each value read as JSON (a bare word as a
    string); one line (MeshcheckError, prefixed by `where`) for a pair without `=`."""
    pairs: list[tuple[str, Any]] = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        name, eq, raw = item.partition("=")
        if not eq or not name.strip():
            raise MeshcheckError(f"{where} {item}: expected NAME=VALUE")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        pairs.append((name.strip(), value))
    return pairs


def refused(name: str, nodes: list[str], options: dict[str, Any]) -> str:
    """Why the core `name` refuses `options` (built once here, before the node serves), or ""."""
    try:
        protocol(name).build(nodes[0], nodes, options, random.Random(0))
    except (TypeError, ValueError, MeshcheckError) as exc:
        return f"{name}'s core refuses it ({exc})"
    return ""


def client_names(count: int) -> list[str]:
    """The client cores a BFT core's replicas admit (`--clients`), named as the cores' runner
    names them (meshcheck/cluster/options.py `client_names`)."""
    return [f"c{k}" for k in range(1, count + 1)]


class _Flags(argparse.ArgumentParser):
    """argparse, its errors one line (MeshcheckError) rather than its usage and an exit."""

    def error(self, message: str) -> NoReturn:
        raise MeshcheckError(f"{message}; {USAGE}")


def core_env() -> dict[str, Any]:
    """The core's options MESHCHECK_CORE gives (the docstring)."""
    return dict(core_pairs(os.environ.get(CORE_ENV, ""), CORE_ENV + "="))


def from_flags(argv: list[str]) -> tuple[ClusterConfig, str]:
    """The configuration and the node named by the flags form (the module's docstring); one line
    (MeshcheckError) for anything it cannot read."""
    parser = _Flags(prog="node_main", add_help=False, exit_on_error=False)
    for flag in ("--protocol", "--name", "--peers", "--data"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--seed", default="0")
    parser.add_argument("--clients", default="0")
    parser.add_argument("--options", default="{}")
    try:
        args = parser.parse_args(argv)
    except argparse.ArgumentError as e:
        raise MeshcheckError(f"{e}; {USAGE}") from None
    nodes: dict[str, tuple[str, int]] = {}
    for part in (p for p in args.peers.split(",") if p):
        name, _, where = part.partition("=")
        host, _, port = where.rpartition(":")
        if not name or not host or not port.isdigit():
            raise MeshcheckError(f"--peers {part}: expected NODE=HOST:PORT")
        nodes[name] = (host, int(port))
    if args.name not in nodes:
        raise MeshcheckError(f"--name {args.name}: not among --peers {', '.join(nodes)}")
    data = Path(args.data)
    if data.name != args.name:
        raise MeshcheckError(f"--data {data}: a node's data folder is named as the node")
    try:
        options = json.loads(args.options)
        seed = int(args.seed)
        clients = int(args.clients)
    except ValueError as e:
        raise MeshcheckError(f"--options, --seed or --clients: {e}") from None
    if not isinstance(options, dict):
        raise MeshcheckError(f"--options {args.options}: not a JSON object")
    given = os.environ.get(CORE_ENV, "")
    core = core_env()
    if core and (why := refused(args.protocol, list(nodes), core)):
        raise MeshcheckError(f"{CORE_ENV}={given}: {why}")
    options |= core
    bugs = [b for b in os.environ.get(BUGS, "").split(",") if b]
    runtime_bugs = sorted(b for b in bugs if b in mutants.BUGS)
    core_bugs = sorted(b for b in bugs if b not in mutants.BUGS)
    if core_bugs:
        options["bugs"] = core_bugs
    if runtime_bugs:
        options[mutants.OPTION] = runtime_bugs
    if clients > 0:  # a core whose clients sign: whom it admits, everyone's keys (the docstring)
        options.setdefault(BFT_CLIENTS, client_names(clients))
        options.setdefault(BFT_KEYS, 0)
    behaviours = [b for b in os.environ.get(BYZANTINE_ENV, "").split(",") if b]
    known = protocol(args.protocol).behaviours if behaviours else {}
    for b in behaviours:
        if b not in known:
            raise MeshcheckError(
                f"{BYZANTINE_ENV}={b}: no Byzantine behaviour of {args.protocol}"
                f"{' (' + ', '.join(sorted(known)) + ')' if known else ''}"
            )
    if behaviours:
        options[BYZANTINE] = {args.name: behaviours}
    routes = {n: {p: a for p, a in nodes.items() if p != n} for n in nodes}
    config = ClusterConfig(args.protocol, nodes, routes, str(data.parent), seed, options)
    return config, args.name


def main(argv: list[str]) -> int:
    flags = bool(argv) and argv[0].startswith("--")
    if not flags and len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    node = argv[1] if not flags else "node_main"
    try:
        config, node = from_flags(argv) if flags else (ClusterConfig.read(Path(argv[0])), node)
        if flags:  # the options the checks once the run is over read (the docstring)
            kept = config.state_file(node).with_name(CORE_FILE)
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(json.dumps(core_env()), encoding="utf-8")
        asyncio.run(serve(config, node))
    except MeshcheckError as e:
        print(f"{node}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
