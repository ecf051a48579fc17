"""A toy key-value service that speaks meshcheck's `jsonl` client protocol (docs/systems.md), for the
tests of system files (tests/test_systems_run.py): node 1 keeps the registers in a file it writes
and fsyncs before it answers; every other node forwards each request to node 1. With
`--independent` each node keeps registers of its own: a cluster that is not linearizable.

    toy_kv.py HOST PORT DATA_DIR HOST:PORT,HOST:PORT,... [--independent]

(every node's address, node 1's first: the primary)
"""

import asyncio
import json
import os
import sys

host, port, data, primary = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")[0]
independent = "--independent" in sys.argv
primary_host, primary_port = primary.rsplit(":", 1)
is_primary = independent or (primary_host, int(primary_port)) == (host, port)
path = os.path.join(data, "store.json")
store = {}
if os.path.exists(path):
    with open(path) as f:
        store = json.load(f)


def save():
    with open(path + ".tmp", "w") as f:
        json.dump(store, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def apply(request):
    key, value = request["key"], request.get("value")
    if request["f"] == "read":
        return {"type": "ok", "value": store.get(key)}
    if request["f"] == "write":
        store[key] = value
        save()
        return {"type": "ok"}
    if request["f"] == "cas":
        old, new = value
        if store.get(key) != old:
            return {"type": "fail", "error": "mismatch"}
        store[key] = new
        save()
        return {"type": "ok"}
    return {"type": "fail", "error": "unknown f"}


async def forward(request):
    reader, writer = await asyncio.open_connection(primary_host, int(primary_port))
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        return json.loads(await reader.readline())
    finally:
        writer.close()


async def serve(reader, writer):
    while line := await reader.readline():
        request = json.loads(line)
        try:
            answer = apply(request) if is_primary else await forward(request)
        except OSError as e:
            answer = {"type": "info", "error": str(e)}
        answer["id"] = request["id"]
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(serve, host, port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
