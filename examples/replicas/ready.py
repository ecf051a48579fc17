"""The readiness probe of replicas.toml: exits 0 once the node at HOST PORT answers `status` ok
(a replica: once it has synced from its primary), 1 otherwise, printing what it heard.

    ready.py HOST PORT
"""

import json
import socket
import sys

try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as s:
        s.sendall(b'{"id": 0, "f": "status"}\n')
        answer = json.loads(s.makefile().readline())
except (OSError, ValueError) as e:
    print(f"no answer: {e}")
    sys.exit(1)
print(json.dumps(answer))
sys.exit(0 if answer.get("type") == "ok" else 1)
