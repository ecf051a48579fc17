"""Stated numbers of a design, measured in the simulator and judged: `meshcheck claims ...`.

- verdict.py: percentiles and the verdict on "X is under B" (holds / holds with a different
  constant / does not hold, with the witness seed);
- plot.py: small self-contained SVG plots (line plots, CDFs, percentile curves);
- report.py: the progress line and the summary table every claims subcommand prints;
- raft.py: the second design's Raft deployment (14 coordinators) on impl/raft;
- gossip.py: the gossip layer at 10 to 10,000 nodes on impl/gossip (propagation, rounds, messages
  and bytes, the phi-accrual detector, 593 agents), and the growth verdicts of verdict.py;
- command.py: the subcommands.
"""
