"""The trace recorder as it was before recorded steps were kept as deltas (impl/sim/recorder.py):
after every spec action the whole abstract state, from the plug-in's full refinement mapping
(`abstract_state`, never `abstract_state_since`), kept for every step. tests/test_trace_recording.py
runs seeded simulations with this and with the simulator's recorder and compares their ITF text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from meshcheck.impl.base.errors import ContractViolation
from meshcheck.impl.base.trace import INIT
from meshcheck.impl.base.trace import Step
from meshcheck.impl.base.trace import Trace
from meshcheck.impl.base.values import FrozenDict
from meshcheck.impl.base.values import Value
from meshcheck.impl.sim.network import Envelope
from meshcheck.impl.sim.network import Network


class ReferenceRecorder:
    """The recorder as it was: the whole abstract state kept for every recorded step. Its messages
    bag is counted again from the network (each message's record taken as it was sent) when asked
    for after a message came or went, where the recorder keeps a count a record up to date as
    they come and go: the comparison checks that bookkeeping too."""

    def __init__(self, plugin_name: str, record_of: Callable[[Any], Value], enabled: bool) -> None:
        self.enabled = enabled
        self._plugin_name = plugin_name
        self._record_of = record_of  # the plugin's message_record
        self._records: dict[int, Value] = {}  # envelope id -> its message's record, in flight
        self._counted: FrozenDict | None = None  # the bag, until a message comes or goes
        self._steps: list[Step] = []
        self._state: FrozenDict | None = None
        self._notes: list[str] = []  # faults to mention in the next recorded step

    # -- the messages bag ---------------------------------------------------------------------------

    def put(self, envelope: Envelope) -> None:
        if self.enabled:
            self._records[envelope.id] = self._record_of(envelope.message)
            self._counted = None

    def take(self, envelope: Envelope) -> None:
        if self.enabled:
            del self._records[envelope.id]
            self._counted = None

    def record(self, envelope_id: int) -> Value | None:
        """The spec record of a message in flight (None when recording is off)."""
        return self._records.get(envelope_id)

    def bag(self, network: Network) -> FrozenDict:
        """The spec's `messages`: every message in the network, counted."""
        if not self.enabled:
            return FrozenDict(Counter(self._record_of(e.message) for e in network))
        if self._counted is None:
            self._counted = FrozenDict(Counter(self._records[e.id] for e in network))
        return self._counted

    # -- steps --------------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        if self.enabled:
            self._notes.append(text)

    def init(self, state: FrozenDict) -> None:
        if self.enabled:
            self._state = state
            self._steps.append(Step(state, INIT, FrozenDict(), FrozenDict({"time": 0})))

    def step(
        self,
        state: Callable[[], FrozenDict],
        action: str | None,
        params: Mapping[str, Value],
        *,
        node: str,
        event: object,
        now: int,
        fault: str = "",
    ) -> None:
        """Record a spec action if the abstract state (`state()`, computed only when recording)
        changed; a change with no action names is a plugin's contract violation."""
        if not self.enabled:
            return
        new = state()
        if new == self._state:
            return  # a stutter: nothing the spec can see changed
        if action is None:
            raise ContractViolation(
                f"{self._plugin_name}: {event} at {node} changed the abstract state but names no spec action"
            )
        meta: dict[str, Value] = {"node": node, "time": now, "event": str(event)}
        if fault:
            meta["fault"] = fault
        if self._notes:
            meta["faults"] = tuple(self._notes)
            self._notes = []
        self._state = new
        self._steps.append(Step(new, action, FrozenDict(params), FrozenDict(meta)))

    def trace(self, variables: tuple[str, ...], meta: Mapping[str, Value]) -> Trace:
        return Trace(vars=variables, steps=tuple(self._steps), meta=FrozenDict(meta))
