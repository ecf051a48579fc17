"""The protocol `tinyraft`, as meshcheck's commands see it."""

from meshcheck.protocol import Models
from meshcheck.protocol import Protocol

TINYRAFT = Protocol(
    name="tinyraft",
    title="tinyraft, a small Raft without a leader no-op, from outside meshcheck's tree",
    # the spec it implements: the harness checks it with Raft.tla's whole property set
    models=Models(spec="Raft"),
    property_tests=("tinyraft_meshcheck.tests",),
    bugs="tinyraft_meshcheck.adapter:BUGS",
    checks="tinyraft_meshcheck.adapter:CHECKS",
    # a Raft: `meshcheck scenarios` runs the directed scenarios on it
    directed="tinyraft_meshcheck.directed:TARGET",
)
