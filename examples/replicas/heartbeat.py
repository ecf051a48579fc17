"""The sidecar of replicas.toml: beside each node, every 0.2 s, a line saying whether the node
answers `status` (a failover agent's first duty, as Redis Sentinel's PING). Each line carries
this process's pid: after a kill of its node, the node's next sidecar is another process.

    heartbeat.py NODE HOST PORT
"""

import json
import os
import socket
import sys
import time

node, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(f"{time.time():.6f} pid {os.getpid()} watching {node}", flush=True)
while True:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b'{"id": 0, "f": "status"}\n')
            said = json.loads(s.makefile().readline()).get("type", "?")
    except (OSError, ValueError):
        said = "no answer"
    print(f"{time.time():.6f} pid {os.getpid()} {node}: {said}", flush=True)
    time.sleep(0.2)
