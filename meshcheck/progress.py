"""Progress of long runs on stderr: states found, queue, elapsed.

On a terminal one line is rewritten in place every second; otherwise (CI logs, pipes) the first report
is printed at once (the run has started) and then a line every `every` seconds, so that a long run
shows it is alive without flooding the log.
"""

from __future__ import annotations

import sys
import time
from typing import IO
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcheck.specs.tlc.check import Progress


class ProgressPrinter:
    def __init__(self, label: str, *, stream: IO[str] | None = None, every: float = 10.0) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self._last: float | None = None  # when a line was last printed (not on a terminal)
        self._shown = False

    def __call__(self, p: Progress) -> None:
        text = (
            f"{self.label}: {p.distinct:,} distinct states, {p.generated:,} generated, "
            f"queue {p.queue:,}, {p.seconds:.0f}s"
        )
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
            self._shown = True
        elif self._last is None or time.monotonic() - self._last >= self.every:
            self.stream.write(text + "\n")
            self._last = time.monotonic()
        self.stream.flush()

    def done(self) -> None:
        """Clear the in-place line before the result is printed."""
        if self.tty and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
