"""The target's input lines, with a hook for the moments the tap has nothing more to say yet.

Behind a slow API the tap writes a few records, then waits for its next answers; the target used to wait
with it, holding rows, metrics and the STATE until `checkpoint_seconds` (5 minutes) or the end of the input,
and did all of that work after the tap had finished. Reading the pipe here, the target knows when the
next line has kept it waiting a quarter of a second: `on_idle` is called then, and every half second while
the pause lasts, and the target uses the pause for a checkpoint (target.py decides whether one is due).
From a file, or while lines keep coming, nothing changes: the input never waits that long.

Lines are decoded as `sys.stdin` would have decoded them (its encoding, its error handler), so a line
reads the same whichever way it came in. Reads are whole pipe buffers, never a line at a time; a line
of any length (a changelog record can be megabytes) is searched for its end once.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Iterator

READ_SIZE = 1 << 16
#: How long the next line must keep the input waiting before it counts as a pause of the tap: a reader
#: that is only faster than a busy writer finds the pipe empty between two of its writes all the time.
IDLE_AFTER_SECONDS = 0.25
#: While the pause lasts, how often `on_idle` is asked again (it decides itself whether to act).
IDLE_EVERY_SECONDS = 0.5


def lines(
    fd: int,
    on_idle: Callable[[], None],
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    idle_after: float = IDLE_AFTER_SECONDS,
    idle_every: float = IDLE_EVERY_SECONDS,
) -> Iterator[str]:
    """The lines of `fd` to its end (the last one without its newline, if it has none). When the next
    line has kept the input waiting `idle_after` seconds, `on_idle()` is called, and again every
    `idle_every` seconds while it has not arrived."""
    buffer = bytearray()
    start = 0  # where the next line starts in `buffer`
    searched = 0  # up to where `buffer` is known to hold no newline
    while True:
        end = buffer.find(b"\n", max(start, searched))
        if end >= 0:
            yield buffer[start : end + 1].decode(encoding, errors)
            start = searched = end + 1
            continue
        searched = len(buffer)
        if start:  # keep only the unfinished line
            del buffer[:start]
            searched -= start
            start = 0
        timeout = idle_after
        while not _readable(fd, timeout):
            on_idle()
            timeout = idle_every
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            if buffer:
                yield buffer.decode(encoding, errors)
            return
        buffer += chunk


def _readable(fd: int, timeout: float) -> bool:
    """Whether a read of `fd` would return at once (data or its end), waiting `timeout` seconds at most."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    return bool(poller.poll(timeout * 1000))
