"""Mutation testing of the protocol cores with mutmut 3 (`make mutation`, mutation/run.py)."""
