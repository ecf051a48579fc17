"""The protocols meshcheck itself registers (pyproject.toml's meshcheck.protocols entry points),
in the order `meshcheck protocols` lists them: what a plug-in's protocol is listed after."""

OWN_PROTOCOLS = ("gossip", "hotstuff", "hybrid", "pbft", "pysyncobj", "raft", "routing")
