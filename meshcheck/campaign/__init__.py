"""`meshcheck campaign`: the property checks and the mutant kill matrix, again and again with fresh
seeds, on several workers sharing one Hypothesis example database, until the time is up.

- meshcheck/campaign/tasks.py: one unit of work (a check of a protocol, with or without a mutant,
  a seed, an example budget) and `run_task`, which a worker process runs: plain data in, plain
  data out (examples run, coverage, the failure as ITF text), so any engine can carry it;
- meshcheck/campaign/engines.py: where tasks run: a local process pool, or an existing
  distributed engine (Dask distributed; Ray behind the same three calls, measured against it);
- meshcheck/campaign/run.py: the loop (keep every worker busy until the deadline), failures folded
  by signature, coverage merged as results arrive, the progress line, the result;
- meshcheck/campaign/report.py: the summary table, the JSON, the coverage plot;
- meshcheck/campaign/page.py: `build(result) -> meshcheck.html.page.Page`;
- meshcheck/campaign/command.py: the command line.
"""
