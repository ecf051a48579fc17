"""tinyraft: a small Raft (Ongaro and Ousterhout, 2014) that knows nothing of meshcheck.

One `Server` per node, driven by its host through four calls (`start`, `receive`, `timer`,
`propose`), each of which fills the server's `Outbox`: what to make durable, what to send, the
commands applied and the answers to clients, the timers to set. Messages are plain dicts, log
entries dicts {"term", "command"}, the state machine a dict of keys. Unlike meshcheck's own core,
a new leader appends no no-op entry: it commits entries of earlier terms only once an entry of its
own term is stored on a majority (section 5.4.2). Clients' reads go through the log.

Three bugs can be switched on (`Config.bugs`), each a known class of Raft bug:

- `vote_twice`: a server grants its vote without checking whom it already voted for in the term;
- `match_regress`: a leader takes a follower's acknowledged index as its matchIndex even when an
  older, reordered acknowledgement says less;
- `commit_stops_at_old_term`: the leader's commit loop stops at the first entry of an earlier term,
  so a leader elected over uncommitted entries of an earlier term never commits again.
"""

from tinyraft.server import BUGS
from tinyraft.server import Config
from tinyraft.server import Outbox
from tinyraft.server import Server

__all__ = ["BUGS", "Config", "Outbox", "Server"]
