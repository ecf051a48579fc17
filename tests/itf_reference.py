"""The ITF writer and reader as they were before they shared work between states (traces/itf.py):
one `encode_value` and `json.dumps` per variable of every state, and one full JSON parse and decode
of the document. tests/test_itf_sharing.py checks that the faster ones give the same bytes and the
same traces."""

from __future__ import annotations

from typing import Any

from meshcheck.impl.base.text import sort_key
from meshcheck.impl.base.trace import Trace
from meshcheck.traces import itf


def dumps(trace: Trace) -> str:
    for name in trace.vars:
        if not itf._name_ok(name):
            raise ValueError(f"variable names must be non-empty str without '#': {name!r}")
    constants = itf._constants(trace)
    top_meta: dict[str, Any] = {"format": itf.FORMAT, "format-description": itf.FORMAT_DESCRIPTION}
    for key in sorted(trace.meta, key=sort_key):
        if key == itf.CONSTANTS and constants is not None:
            continue
        top_meta[key] = itf.encode_value(trace.meta[key])
    text = itf._text
    fields = [f'  "#meta": {text(top_meta)}']
    if constants is not None:
        fields.append(f'  "params": {text(sorted(constants))}')
    fields.append(f'  "vars": {text(list(trace.vars))}')
    states = []
    for i, step in enumerate(trace.steps):
        lines = [f'      "#meta": {text(itf._state_meta(i, step))}']
        if i == 0 and constants is not None:
            lines += [
                f"      {text(k)}: {text(itf.encode_value(constants[k]))}"
                for k in sorted(constants)
            ]
        lines += [f"      {text(v)}: {text(itf.encode_value(step.state[v]))}" for v in trace.vars]
        states.append("    {\n" + ",\n".join(lines) + "\n    }")
    fields.append('  "states": [\n' + ",\n".join(states) + "\n  ]" if states else '  "states": []')
    if trace.loop is not None:
        fields.append(f'  "loop": {trace.loop}')
    return "{\n" + ",\n".join(fields) + "\n}\n"


def loads(text: str) -> Trace:
    """The document parsed whole as JSON, every state decoded on its own."""
    return itf._trace(itf._parse(text))
