"""plenum's SimPool with genesis transactions that carry no BLS keys, for this machine's lack of libursa.

plenum's simulation (plenum/test/consensus/helper.py, SimPool) writes each validator's genesis NODE
transaction with a BLS key it generates through python-ursa, which loads libursa, a native library
that neither Debian nor PyPI packages. The simulated replicas never read those keys: SimPool builds
each one with MockBlsBftReplica, which signs and checks nothing. create_pool_txn_data already writes
a pool without BLS keys when asked (nodes_with_bls=0), and that is all this changes.

Used by drivers/plenum/smoke.py, and as a pytest plugin for plenum's own simulation suites
(docs/plenum.md):

    cd "$(.venv-plenum/bin/python -c 'import plenum, os; print(os.path.dirname(os.path.dirname(plenum.__file__)))')"
    PYTHONPATH=/path/to/meshcheck/drivers/plenum /path/to/.venv-plenum/bin/python -m pytest \
        -p bls_free_pool plenum/test/consensus/order_service/test_sim_ordering.py
"""

from __future__ import annotations

from typing import Any


def _bls_free_genesis(self: Any) -> None:
    from plenum.test.helper import create_pool_txn_data  # type: ignore[import-not-found]

    self._genesis_txns = create_pool_txn_data(
        node_names=self._genesis_validators,
        crypto_factory=None,
        get_free_port=self._get_free_port,
        nodes_with_bls=0,
    )["txns"]


def install() -> None:
    """Make every SimPool built from now on write its genesis without BLS keys."""
    from plenum.test.consensus.helper import SimPool  # type: ignore[import-not-found]

    SimPool._generate_genensis_txns = _bls_free_genesis


def pytest_configure(config: Any) -> None:
    install()
