"""Systems under test described, not coded: a TOML system file says how to install, start, stop and
find the files of each node of a system, and a client plug-in (entry point group
`meshcheck.systems`, `plugin.py`) says how a client talks to it. The nemesis, the workloads and the
checkers never know which system they test (Jepsen's `db` and `client` split, Kingsbury,
github.com/jepsen-io/jepsen, jepsen/src/jepsen/db.clj and client.clj)."""
