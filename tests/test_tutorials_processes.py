"""The pages whose commands start processes run as written too (tests/test_tutorials.py says how):
a Raft cluster, an etcd cluster and the example service examples/meshkv under the nemesis, a campaign on Dask sharing a Redis server,
and verify's runs of the profiles page; in a file of their own so that they run beside the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_tutorials import run_in_a_folder

# Every page here is make test-all's. Their runs are real processes on real time, so a line a page
# shows can depend on a run's luck (tutorial-own-service.md's history held once, with both cores
# busy, where the step logs caught the bug: 2026-11-28), and each page's claims are another test's
# in make test: tests/test_cluster_cmd.py (cluster.md), tests/test_cluster_etcd.py (etcd.md),
# tests/test_meshkv.py (tutorial-own-service.md), tests/test_campaign.py (campaigns.md: the
# Redis-shared campaign), tests/test_verify_seed.py and test_verify_fast.py (profiles.md). Together
# they cost make test two and a half minutes.
pytestmark = pytest.mark.slow

PAGES = [
    "docs/cluster.md",
    "docs/etcd.md",
    "docs/tutorial-own-service.md",
    "docs/campaigns.md",
    "docs/reference/profiles.md",
]


@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_written(page: str, tmp_path: Path) -> None:
    run_in_a_folder(page, tmp_path)
