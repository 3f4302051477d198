"""The target's input lines, with a hook for the moments the tap has nothing more to say yet.

Behind a slow API the tap writes a few records, then waits for its next answers; the target used to wait
with it, holding rows, metrics and the STATE until `checkpoint_seconds` (5 minutes) or the end of the input,
and did all of that work after the tap had finished. Reading the pipe here, the target knows when the
next line has kept it waiting a quarter of a second: `on_idle` is called then, and every half second while
the pause lasts, and the target uses the pause for a checkpoint (target.py decides whether one is due).
From a file, or while lines keep coming, nothing changes: the input never waits that long.

The pipe is read by a thread of its own, up to `READ_AHEAD_BYTES` ahead of the line being processed: a
shell pipe holds 64 KiB, so while the target made a checkpoint (a second of inserts and metrics) the tap
stood still, blocked writing, with its requests in flight idle. That thread needs the interpreter lock
for every read, and while the main thread runs Python (a metrics step) it gets it only every few
milliseconds: from a pipe of 64 KiB that was slower than the tap writes, and the tap stood blocked for
0.2 s at a time all the same. So on Linux the pipe is asked to hold 1 MiB (`enlarge_pipe`; where the
kernel's limits allow less, as much as they allow) and is read a pipe-full at a time, 1 MiB at most (2,000
issues at 0 ms: the wall -0.08 s, paired over 8 rounds). Elsewhere, or from a file, reads stay at 64 KiB.

Lines are decoded as `sys.stdin` would have decoded them (its encoding, its error handler), so a line
reads the same whichever way it came in. Reads are whole pipe buffers, never a line at a time; a line
of any length (a changelog record can be megabytes) is searched for its end once.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a POSIX system: pipes keep their size
    fcntl = None  # type: ignore[assignment]

READ_SIZE = 1 << 16
#: The pipe size asked for, and the most read at once: Linux's default ceiling for an unprivileged process
#: (`/proc/sys/fs/pipe-max-size`). The kernel takes it from the user's budget of pipe pages
#: (`pipe-user-pages-soft`, 16,384 pages by default: 256 pages each, for 64 such pipes at once); a user
#: over that budget gets smaller pipes (two pages), and this target reads those 64 KiB at a time, as before.
PIPE_BYTES = 1 << 20
_PIPE_MAX_SIZE = Path("/proc/sys/fs/pipe-max-size")
#: Input read while the target is busy, at most (see the module docstring): a few seconds of a fast tap.
READ_AHEAD_BYTES = 4 << 20
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
    read_ahead: int = READ_AHEAD_BYTES,
) -> Iterator[str]:
    """The lines of `fd` to its end (the last one without its newline, if it has none). When the next
    line has kept the input waiting `idle_after` seconds, `on_idle()` is called, and again every
    `idle_every` seconds while it has not arrived. A read error of `fd` is raised where the line would be."""
    source = _ReadAhead(fd, max(read_ahead, READ_SIZE))
    buffer = bytearray()
    start = 0  # where the next line starts in `buffer`
    searched = 0  # up to where `buffer` is known to hold no newline
    try:
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
            while (chunk := source.take(timeout)) is None:
                on_idle()
                timeout = idle_every
            if not chunk:
                if buffer:
                    yield buffer.decode(encoding, errors)
                return
            buffer += chunk
    finally:
        source.close()


class _ReadAhead:
    """A daemon thread reading `fd` into chunks, at most `limit` bytes ahead of whoever takes them."""

    def __init__(self, fd: int, limit: int) -> None:
        self._fd = fd
        self._limit = limit
        self._read_size = min(max(READ_SIZE, enlarge_pipe(fd)), PIPE_BYTES)
        self._chunks: deque[bytes] = deque()
        self._held = 0
        self._ended = False
        self._closed = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="target-input", daemon=True).start()

    def take(self, timeout: float) -> bytes | None:
        """The next chunk; `b""` at the end of the input; None if nothing came within `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._chunks or self._ended, timeout):
                return None
            if self._chunks:
                chunk = self._chunks.popleft()
                self._held -= len(chunk)
                self._changed.notify_all()
                return chunk
            if self._error is not None:
                raise self._error
            return b""

    def close(self) -> None:
        """No more takes: the thread stops at its next chunk. A read in progress, or one about to start,
        is left to end, so `fd` must stay open until the input ends (stdin does): a descriptor closed and
        reused meanwhile would be read by this thread."""
        with self._changed:
            self._closed = True
            self._chunks.clear()
            self._changed.notify_all()

    def _read(self) -> None:
        try:
            while True:
                with self._changed:
                    self._changed.wait_for(lambda: self._held < self._limit or self._closed)
                    if self._closed:
                        return
                try:
                    chunk = os.read(self._fd, self._read_size)
                except BlockingIOError:  # a non-blocking stdin with nothing in it yet
                    _wait_readable(self._fd)
                    continue
                with self._changed:
                    if chunk:
                        self._chunks.append(chunk)
                        self._held += len(chunk)
                    else:
                        self._ended = True
                    self._changed.notify_all()
                if not chunk:
                    return
        except BaseException as error:  # raised in the consumer, where the read would have failed
            with self._changed:
                self._error, self._ended = error, True
                self._changed.notify_all()


def enlarge_pipe(fd: int, size: int = PIPE_BYTES) -> int:
    """Ask the kernel for a pipe of at least `size` bytes behind `fd` (see the module docstring) and return
    the size it has then. A larger pipe is kept; where `size` is above the system's `pipe-max-size`, that
    much is asked for instead; where the kernel refuses (the user's pipe budget is spent), the pipe keeps
    its size. 0 when `fd` is not a pipe (a file, a socket, a terminal) or the system has no pipe sizes."""
    get, set_size = (getattr(fcntl, name, None) for name in ("F_GETPIPE_SZ", "F_SETPIPE_SZ"))
    if get is None or set_size is None:
        return 0
    try:
        current = fcntl.fcntl(fd, get)
    except OSError:
        return 0
    for wanted in (size, min(size, _pipe_max_size())):
        if current >= wanted:
            return current
        try:
            return fcntl.fcntl(fd, set_size, wanted)
        except OSError:
            continue
    return current


def _pipe_max_size() -> int:
    """The largest pipe an unprivileged process may ask for (0 where the system does not say)."""
    try:
        return int(_PIPE_MAX_SIZE.read_text())
    except (OSError, ValueError):
        return 0


def _wait_readable(fd: int) -> None:
    """Wait until `fd` has data (or its end), half a second at most."""
    try:
        select.select([fd], [], [], 0.5)
    except (OSError, ValueError):  # a descriptor select cannot watch (pipes on Windows)
        time.sleep(0.05)
