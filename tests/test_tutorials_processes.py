"""The pages whose commands start processes run as written too (tests/test_tutorials.py says how):
a Raft cluster, an etcd cluster and the example service examples/meshkv under the nemesis, a campaign on Dask sharing a Redis server,
and verify's runs of the profiles page; in a file of their own so that they run beside the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_tutorials import run_in_a_folder

PAGES = [
    "docs/cluster.md",
    "docs/etcd.md",
    "docs/tutorial-own-service.md",
    # make test-all only: their commands are each another test's too (tests/test_campaign.py
    # starts the Redis-shared campaign; tests/test_verify_seed.py and test_verify_fast.py run the
    # profiles and seeds), and together they cost make test a minute and a half
    pytest.param("docs/campaigns.md", marks=pytest.mark.slow),
    pytest.param("docs/reference/profiles.md", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_written(page: str, tmp_path: Path) -> None:
    run_in_a_folder(page, tmp_path)
