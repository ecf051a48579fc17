"""How the directed scenarios drive tinyraft (`meshcheck scenarios --protocol tinyraft`): the
harness's target of its adapter, which judges its answers as its own and checks the properties of
the spec its descriptor names, at its adapter's pace."""

from meshcheck.property_tests.plugin import target
from tinyraft_meshcheck.adapter import ADAPTER

TARGET = target(ADAPTER)
