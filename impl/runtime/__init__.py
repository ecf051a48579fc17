"""The runtime: real OS processes host the same sans-IO cores the simulator steps.

Beside impl/sim, not above it: the simulator hosts every node of a cluster in one process with
simulated time, network and disk; the runtime hosts one node per process with the monotonic clock
(clock.py), TCP frames (frames.py) carrying the cores' messages in one codec (codec.py), and a
write-ahead file fsynced before a step's sends leave (disk.py). Neither changes a core: a core only
sees events and returns effects (impl/base/events.py, impl/base/effects.py).
"""
