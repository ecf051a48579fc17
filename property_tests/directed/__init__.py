"""Directed scenarios for any Raft-shaped implementation (docs/raft-scenarios.md): the situations
Raft bugs hide in, each scripted through the simulator's message and node control and checked for
what must hold in it. target.py: what an implementation offers them; script.py: the steps they are
written in; library.py: the scenarios; run.py: running and judging one."""
