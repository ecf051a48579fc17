"""The protocols the runtime hosts, one module each (impl/runtime/protocols.py imports a module
the first time its protocol is asked for): how a node's core is built from the cluster's options,
what the harness may read of it, and what its log and its wire carry."""
