"""The node process: `python -m meshcheck.impl.runtime.node_main CONFIG NODE`.

Reads the cluster's configuration (config.py), builds the node's core as the simulator would
(protocols.py), and hosts it (host.py) until SIGTERM or SIGINT. Any error before the node is up (a
bad configuration, a state file it cannot read back: disk.py) is one line on stderr and exit 2.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from meshcheck.impl.base.errors import MeshcheckError
from meshcheck.impl.runtime import mutants
from meshcheck.impl.runtime.config import ClusterConfig
from meshcheck.impl.runtime.disk import Disk
from meshcheck.impl.runtime.host import Host
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


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m meshcheck.impl.runtime.node_main CONFIG NODE", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(ClusterConfig.read(Path(argv[0])), argv[1]))
    except MeshcheckError as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
