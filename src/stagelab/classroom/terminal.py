"""Text for root's terminal: what a learner wrote is shown, never obeyed.

A terminal acts on control characters: ESC starts sequences that move the cursor, rewrite
lines, set the window title or (on some terminals) answer back into root's input. Learners
control much of what `stagelab classroom` prints (their file names, a reset's output, the tail
of their engine's log), so everything the command prints goes through `printable`, which
shows each C0 and C1 control character (but newline and tab), DEL, and the Unicode
bidirectional overrides as a visible escape like `\\x1b` (ECMA-48 defines the C0 and C1 sets;
Unicode's UAX #9 the bidirectional controls, which can make text read in another order).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Return `text` with every control character but newline and tab shown as an escape."""
    return _CONTROL.sub(_escape, text)


def _escape(found: re.Match) -> str:
    code = ord(found[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class PrintableStream(io.TextIOBase):
    """A text stream that writes to `stream` what `printable` makes of each write."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        """Write `text`, its control characters escaped; return its length."""
        self.stream.write(printable(text))
        return len(text)

    def flush(self) -> None:
        """Flush the underlying stream."""
        self.stream.flush()

    def fileno(self) -> int:
        """Return the underlying stream's file descriptor."""
        return self.stream.fileno()


@contextmanager
def printable_output() -> Iterator[None]:
    """Within the block, everything printed to stdout and stderr is printable()."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = PrintableStream(saved[0]), PrintableStream(saved[1])
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved
