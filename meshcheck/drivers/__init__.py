"""The driver protocol: the adapter contract (impl/adapters/contract.py) spoken as JSON lines over
a child process's stdin and stdout, so that an implementation in any language runs under
meshcheck's simulator (docs/driver-protocol.md).

- wire.py: the protocol's values and records, both ways (what `Collected` is on the wire);
- pipe.py: meshcheck's end: `DriverProcess` (the child), `PipeDriver` (one node of it, a
  `StepDriver`), `pipe_plugin` (the simulator plug-in);
- serve.py: a driver's end for drivers written in Python: any in-process `Driver` served over the
  pipe (`python -m meshcheck.drivers MODULE:FUNCTION [ARG ...]`), the reference the
  protocol's tests hold other ends to.
"""
