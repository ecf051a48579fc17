"""meshcheck's checks of tinyraft, a Raft library meshcheck did not write."""
