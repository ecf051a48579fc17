"""Hypothesis stateful tests of the implementation against the specs."""
