"""Benchmarks (`make bench`): medians of several runs and ratios against a baseline measured in the same run."""
