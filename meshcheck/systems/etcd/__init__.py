"""etcd's client plug-in (meshcheck/systems/known/etcd.toml describes its members): clients over
etcd's JSON gateway (gateway.py), the leader as etcd's status names it (client.py)."""
