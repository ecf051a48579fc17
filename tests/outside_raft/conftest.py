"""tests/outside_raft is the source of a package installed out of tree (tests/test_plugin_raft.py):
its tests run there, in its own virtual environment, never collected from meshcheck's suite."""

collect_ignore_glob = ["*"]
