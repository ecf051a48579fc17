"""Jepsen-style tests of real clusters: node processes (impl/runtime), a nemesis that kills, pauses
and partitions them (nemesis.py), concurrent clients whose operations make a history (workload.py),
and the checks of that history and of the nodes' state files (checks.py); `meshcheck cluster test`
(meshcheck/cluster_cmd.py) runs one and prints one table (run.py)."""
