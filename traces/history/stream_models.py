"""What a stream may promise: four models, each the set of the stream checker's findings it
forbids (traces/history/stream.py names them), so that one run of the checker judges every model.

Every model forbids a lost acknowledged publish (`lost`: a message whose publish was ok missing
from a node's read-back) and what no stream allows (a message nobody published, a failed publish
delivered, a message seen before its publish began, an acknowledgement of a message not
delivered). They differ in two findings, after Jepsen's NATS 2.12.1 analysis (jepsen.io/analyses/
nats-2.12.1), which counts lost, duplicated and out-of-order messages per stream:

- `duplicate`: a message delivered twice to one consumer, or twice in one read-back;
- `order`: two observers (consumers, read-backs) that saw two messages in opposite orders, or
  three in a cycle.

| model | duplicates | order |
|---|---|---|
| total-order | forbidden | forbidden |
| ordered-at-least-once | allowed | forbidden |
| exactly-once | forbidden | allowed |
| at-least-once | allowed | allowed |

A model implies every model whose forbidden set is a subset of its own: total-order implies the
other three, ordered-at-least-once and exactly-once each imply at-least-once.
"""

from __future__ import annotations

# what every model forbids
BASE = frozenset(
    {"lost", "invented", "failed-publish-delivered", "delivered-before-publish", "ack-undelivered"}
)
MODELS: dict[str, frozenset[str]] = {  # strongest first
    "total-order": BASE | {"duplicate", "order"},
    "ordered-at-least-once": BASE | {"order"},
    "exactly-once": BASE | {"duplicate"},
    "at-least-once": BASE,
}
NAMES = tuple(MODELS)
# the model the stream checker judges when a history declares at-least-once delivery (its
# `{"delivery": "at-least-once"}` line), as every stream run's history does
DEFAULT = "ordered-at-least-once"


def implies(stronger: str, weaker: str) -> bool:
    """Whether a history that holds `stronger` holds `weaker` (a model implies itself)."""
    return MODELS[weaker] <= MODELS[stronger]


def stronger(name: str) -> list[str]:
    """The models stronger than `name`, strongest first."""
    return [n for n in NAMES if n != name and implies(n, name)]


def holds(name: str, kinds: set[str] | frozenset[str]) -> bool:
    """Whether a history whose checker found `kinds` of findings holds model `name`."""
    return not (MODELS[name] & kinds)
