"""etcd, a system nobody here wrote, as a cluster under test: real `etcd` processes (Debian's
etcd-server, 3.4; `make etcd` installs it) on loopback, each member's peer traffic through a proxy
the nemesis controls, clients over etcd's JSON gateway, and the history checked as the project's own clusters' runs are.

- server.py: the members' processes (start, kill -9 and restart on the member's own data
  directory, SIGSTOP/SIGCONT, stop), ended with the harness however it ends;
- peers.py: the proxy in front of each member's peer port, which knows the sender of each
  connection by etcd's own `X-Server-From` header and so cuts partitions of any shape;
- gateway.py: the JSON gateway's client (`/v3/kv/*`, `/v3/lease/*`, `/v3/lock/*`,
  `/v3/maintenance/status`) over HTTP/1.1 on asyncio streams;
- run.py: one test run: workload, nemesis, history, checks, report folder (the command:
  meshcheck/etcd_cmd.py).
"""
