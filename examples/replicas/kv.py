"""A primary and its replicas: a key-value service over meshcheck's `jsonl` client protocol
(docs/systems.md), the example of a system file with roles, a sidecar, a readiness probe and an
order of starts (replicas.toml, docs/systems.md "Roles, sidecars, a probe and the order of starts").

    kv.py --role primary --listen HOST:PORT --data DIR [--name NAME]
    kv.py --role replica --listen HOST:PORT --data DIR --primary HOST:PORT [--name NAME]

With `--name`, every answer the primary gives says it served it (`"served"`, and `"leader"`),
whichever node the client asked: the report names the primary, not the replica asked.

The primary keeps the registers in DIR/store.json, written and fsynced before it answers. A
replica first syncs: it copies the primary's registers into DIR/store.json, retrying until the
primary answers; then it forwards every request to the primary, once: a request the primary never
got (it refused the connection) is `fail`, one whose answer was lost after it was sent `info`
(docs/plugins.md, "System plug-ins: what an error is recorded as").
Every node answers `{"f": "status"}`: ok once it can serve (a replica: once synced), which is what
the file's readiness probe (ready.py) and the sidecar (heartbeat.py) ask.
"""

import argparse
import asyncio
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--role", choices=["primary", "replica"], required=True)
parser.add_argument("--listen", required=True)
parser.add_argument("--data", required=True)
parser.add_argument("--primary", default="")
parser.add_argument("--name", default="")  # the node's name: answers say who served them
args = parser.parse_args()
host, port = args.listen.rsplit(":", 1)
path = os.path.join(args.data, "store.json")
store = {}
synced = args.role == "primary"


def say(what):
    print(f"{time.time():.6f} {args.role} {what}", flush=True)


def save():
    with open(path + ".tmp", "w") as f:
        json.dump(store, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def apply(request):
    key, value = request.get("key"), request.get("value")
    if request["f"] == "dump":
        return {"type": "ok", "value": store}
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


class Unsent(Exception):
    """The primary could not be reached: the request was never sent."""


async def ask_primary(request):
    primary_host, primary_port = args.primary.rsplit(":", 1)
    try:
        reader, writer = await asyncio.open_connection(primary_host, int(primary_port))
    except OSError as e:
        raise Unsent(str(e) or "primary unreachable") from e
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        return json.loads(await reader.readline())
    finally:
        writer.close()


async def sync():
    """A replica's first sync: the primary's registers copied, however long the primary takes."""
    global store, synced
    tries = 0
    while True:
        tries += 1
        try:
            answer = await ask_primary({"id": 0, "f": "dump"})
            break
        except (Unsent, OSError, ValueError):
            await asyncio.sleep(0.1)
    store = answer["value"]
    save()
    synced = True
    say(f"synced {len(store)} keys from the primary {args.primary} at try {tries}")


async def serve(reader, writer):
    while line := await reader.readline():
        request = json.loads(line)
        if request["f"] == "status":
            answer = (
                {"type": "ok", "value": args.role}
                if synced
                else {"type": "fail", "error": "syncing"}
            )
        elif args.role == "primary":
            answer = apply(request)
            if args.name:  # the primary served it, whichever node the client asked
                answer["served"] = answer["leader"] = args.name
        elif not synced:
            answer = {"type": "fail", "error": "syncing"}
            if args.name:
                answer["served"] = args.name
        else:
            try:
                answer = await ask_primary(request)
            except Unsent as e:  # certainly not done
                answer = {"type": "fail", "error": str(e)}
                if args.name:
                    answer["served"] = args.name
            except (OSError, ValueError) as e:  # sent, its answer lost: maybe done
                answer = {"type": "info", "error": str(e) or "no answer"}
        answer["id"] = request["id"]
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()
    writer.close()


async def main():
    global store
    say("starting")
    if args.role == "primary" and os.path.exists(path):
        with open(path) as f:
            store = json.load(f)
    server = await asyncio.start_server(serve, host, int(port))
    say(f"serving on {args.listen}")
    if args.role == "replica":
        await sync()
    async with server:
        await server.serve_forever()


asyncio.run(main())
