"""Four replicas of Indy Plenum's consensus services order a few batches on plenum's own simulation.

Run inside .venv-plenum (`make plenum`), not the main venv:

    .venv-plenum/bin/python drivers/plenum/smoke.py --seed 0 --requests 6

It builds the pool as plenum's own simulation suites do (plenum/test/consensus/helper.py's SimPool:
each replica a ReplicaService holding plenum's real OrderingService, CheckpointService and
ViewChangeService, wired through SimNetwork, which serialises every message as the wire would, and
driven by MockTimer), with one difference: the genesis transactions carry no BLS keys (generating them
needs libursa, a native library not packaged for Debian or PyPI; drivers/plenum/bls_free_pool.py), which
plenum supports (create_pool_txn_data's nodes_with_bls) and its simulated replicas never read (they
are built with MockBlsBftReplica). The primary sends a batch every simulated second, as
plenum/test/consensus/order_service/test_sim_ordering.py does, until every replica has ordered them all.

Printed on stdout, one JSON object a line: one {"event": "ordered", ...} per batch each replica
ordered, in the order the replicas ordered them, then one {"event": "replica", ...} per replica with
its view, last ordered batch and stable checkpoint. Exit 2 with one line on bad arguments; exit 1
with one line when the pool did not order every batch within the budget of simulated time.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from functools import partial
from typing import Any

MAX_BATCH_SIZE = 2
CHK_FREQ = 2


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=0, help="SimRandom's seed (delays, ports)")
    parser.add_argument("--requests", type=int, default=6, help="client requests to order (>= 1)")
    parser.add_argument(
        "--timeout", type=int, default=300, help="simulated seconds the pool may take (>= 1)"
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.timeout < 1:
        parser.exit(2, "smoke.py: --requests and --timeout must be at least 1\n")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    # plenum logs every step at DEBUG through the root logger; stdout is for the JSON lines alone.
    # plenum is installed in .venv-plenum, not in the venv mypy checks from: hence the ignores.
    logging.disable(logging.WARNING)

    import random

    import bls_free_pool  # beside this file
    from plenum.common.constants import CURRENT_PROTOCOL_VERSION  # type: ignore[import-not-found]
    from plenum.common.messages.node_messages import Ordered  # type: ignore[import-not-found]
    from plenum.common.request import Request  # type: ignore[import-not-found]
    from plenum.common.startable import Mode  # type: ignore[import-not-found]
    from plenum.common.timer import RepeatingTimer  # type: ignore[import-not-found]
    from plenum.server.consensus.utils import replica_name_to_node_name  # type: ignore[import-not-found]
    from plenum.test.consensus.helper import SimPool  # type: ignore[import-not-found]
    from plenum.test.consensus.order_service.sim_helper import order_requests  # type: ignore[import-not-found]
    from plenum.test.simulation.sim_random import DefaultSimRandom  # type: ignore[import-not-found]

    bls_free_pool.install()

    # Seeded, so that a run replays: plenum's test helpers draw from the global generator in places.
    random.seed(args.seed)
    pool = SimPool(4, DefaultSimRandom(args.seed))
    out: list[dict[str, Any]] = []

    def on_ordered(node: str, msg: Ordered, *_: Any) -> None:
        out.append(
            {
                "event": "ordered",
                "replica": node,
                "view": msg.viewNo,
                "pp_seq_no": msg.ppSeqNo,
                "digest": msg.digest,
                "requests": list(msg.valid_reqIdr),
            }
        )

    for node in pool.nodes:
        config = node._orderer._config
        config.Max3PCBatchSize = MAX_BATCH_SIZE
        config.CHK_FREQ = CHK_FREQ
        config.LOG_SIZE = 3 * CHK_FREQ
        node._data.node_mode = Mode.participating
        name = replica_name_to_node_name(node.name)
        node._orderer._network._connecteds = list(set(node._data.validators) - {name})
        node._internal_bus.subscribe(Ordered, partial(on_ordered, name))

    requests = [
        Request(
            operation={"type": "buy", "amount": 10 + i},
            reqId=i + 1,
            protocolVersion=CURRENT_PROTOCOL_VERSION,
        )
        for i in range(args.requests)
    ]
    pool.sim_send_requests(requests)
    RepeatingTimer(pool.timer, 1, partial(order_requests, pool))

    batches = -(-args.requests // MAX_BATCH_SIZE)
    try:
        for node in pool.nodes:
            pool.timer.wait_for(
                lambda node=node: node._orderer.last_ordered_3pc[1] >= batches,
                timeout=args.timeout,
            )
    except TimeoutError:
        print(
            f"smoke.py: the pool did not order {batches} batches in {args.timeout} simulated seconds",
            file=sys.stderr,
        )
        return 1
    for node in pool.nodes:
        data = node._data
        out.append(
            {
                "event": "replica",
                "replica": replica_name_to_node_name(node.name),
                "view": data.view_no,
                "primary": data.primary_name,
                "last_ordered": list(data.last_ordered_3pc),
                "stable_checkpoint": data.stable_checkpoint,
            }
        )
    for line in out:
        print(json.dumps(line, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
