"""Singer message output tuned for a STATE after every issue.

Every issue's changelog ends with a STATE (the SDK's child sync writes one, and so does
`IssueChangelogStream.sync_issue`); the SDK's writer deep-copies and compares each, flushes stdout after
every message, and its child sync re-sends the identical SCHEMA each time. At 10k+ issues that cost more
than the HTTP work. This writer

* drops a SCHEMA message identical to the previous one of the same stream (a no-op for any target);
* serialises RECORD and STATE messages with orjson (`json_codec`; the SDK's simplejson path with decimal
  support was the single largest cost per record) as UTF-8;
* collects its output and writes it to stdout in blocks of 64 KiB, and within ~0.75 s otherwise (a
  background flusher covers the moments the tap waits for the API). ``PYTHONUNBUFFERED=1``, which many
  container images set, would otherwise make every message its own system call: ~10 % of the tap's CPU;
* paces STATE: the newest STATE goes out with the timed flushes (``state_interval_seconds``), at the end
  of every top-level stream and at exit, instead of once per issue (a deep copy and a comparison each).
  A STATE is serialised when the SDK writes it and lands after everything written before it, so a STATE
  on the pipe never covers a record that is not on the pipe before it; an interrupted run resumes from
  the last STATE it printed, about a second of work behind at most. ``state_interval_seconds: 0``
  restores one STATE per issue. (A SIGKILL now cuts a block rather than a line: the target reports the
  cut last line and checkpoints nothing after the last whole STATE, as before.)
* stops writing for good after a failed write (a full disk, a closed pipe): the error is raised in the
  main thread, and no STATE is ever written after output that was lost.

SIGTERM/SIGINT: the SDK's handler writes a STATE and raises SystemExit wherever the main thread is. Raised
halfway through a write, that would drop collected records that the STATE then covers, or duplicate half a
line; so while the main thread is inside the writer, the handler is deferred to the moment it leaves
(``TapYandexTracker._handle_termination``), and it writes everything, its STATE last, before exiting.

A stdout without a byte stream (a test's StringIO) gets every message at once, as text.
"""

from __future__ import annotations

import atexit
import contextlib
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from singer_sdk.helpers._state import StateWriter
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib.encoding.simple import RecordMessage, SchemaMessage, StateMessage

from tap_yandex_tracker.json_codec import dumps_line

FLUSH_INTERVAL_S = 0.5
BLOCK_BYTES = 64 * 1024


class OutputError(OSError):
    """Writing to stdout failed (the reader exited: EPIPE; a full disk): what the write held is lost, and
    nothing is written after it, so no STATE covers it."""


class TrackerMessageWriter(SingerWriter):
    """SCHEMA de-duplication, block writes and paced STATE."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[str, tuple[Any, ...]] = {}
        #: Re-entrant: a signal handler may write while the main thread holds the lock (the moments
        #: around a write where the handler is not deferred).
        self._lock = threading.RLock()
        self._depth = threading.local()
        self._deferred: Callable[[], None] | None = None
        self._failure: OSError | None = None
        self._stop_flusher = threading.Event()
        self._exit_hook = False
        self._pending = bytearray()
        self._held_state: bytes | None = None
        self._last_state: bytes | None = None
        self._last_flush = self._last_state_at = time.monotonic()
        self._flusher: threading.Thread | None = None
        #: The shortest time between two STATE messages (``state_interval_seconds``; 0 = every one).
        self.state_interval_s = FLUSH_INTERVAL_S

    # -- what the SDK calls ----------------------------------------------------------------------------
    def write_message(self, message: Any) -> None:
        if isinstance(message, StateMessage):
            self.write_state(message.value)
            return
        if isinstance(message, SchemaMessage):
            signature = (message.schema, list(message.key_properties or []), message.bookmark_properties)
            if self._schemas.get(message.stream) == signature:
                return
            self._schemas[message.stream] = signature
        if isinstance(message, RecordMessage):
            line = dumps_line(message.to_dict())
        else:
            line = (self.format_message(message) + "\n").encode()
        self._emit(line)

    def write_state(self, value: Any) -> None:
        """Hold the newest STATE for the next due flush (at once with ``state_interval_seconds: 0``). A
        STATE equal to the last one written is dropped, as the SDK's own StateWriter does."""
        line = dumps_line({"type": "STATE", "value": value})
        with self._writing():
            self._held_state = None if line == self._last_state else line
            if self._held_state is None:
                return
            if self._text_stdout() or self.state_interval_s <= 0:
                self._flush(with_state=True)
            else:
                self._flush_if_due()
        if self._flusher is None and not self._text_stdout():
            self._start_flusher()

    def flush(self) -> None:
        """Everything collected, then the newest STATE, onto stdout now."""
        with self._writing():
            self._flush(with_state=True)

    def close(self) -> None:
        """The end of a run (or of a command that wrote messages): flush and stop the flusher thread. A
        later message starts a new one."""
        try:
            self.flush()
        finally:
            self._stop_flusher.set()
            self._flusher = None

    def defer_while_writing(self, handler: Callable[[], None]) -> bool:
        """For a signal handler (it runs in the main thread): when the main thread is inside a write, run
        `handler` once that write is complete and return True; otherwise return False (run it now)."""
        if getattr(self._depth, "value", 0) == 0:
            self._deferred = None  # an earlier deferral is superseded by this run of the handler
            return False
        self._deferred = handler
        return True

    # -- internals -------------------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The lock, plus this thread's nesting depth (see :meth:`defer_while_writing`). After a failed
        write nothing is written any more: the failure is raised again."""
        with self._lock:
            if self._failure is not None:
                raise self._failure
            depth = getattr(self._depth, "value", 0)
            self._depth.value = depth + 1
            try:
                yield
            except BaseException:
                if depth == 0:
                    self._deferred = None  # the run ends with this error; a deferred exit adds nothing
                raise
            finally:
                self._depth.value = depth
        main = threading.current_thread() is threading.main_thread()
        if depth == 0 and main and self._deferred is not None:
            handler, self._deferred = self._deferred, None
            handler()

    def _emit(self, line: bytes) -> None:
        with self._writing():
            if self._text_stdout():
                self._write_out(line)
                return
            self._pending += line
            if len(self._pending) >= BLOCK_BYTES:
                self._flush(with_state=False)
            self._flush_if_due()
        if self._flusher is None:
            self._start_flusher()

    def _flush_if_due(self) -> None:
        """A STATE is due `state_interval_s` after the last one (with everything before it); collected
        records are due `FLUSH_INTERVAL_S` after the last write, however it came."""
        now = time.monotonic()
        if self._held_state is not None and now - self._last_state_at >= self.state_interval_s:
            self._flush(with_state=True)
        elif now - self._last_flush >= FLUSH_INTERVAL_S:
            self._flush(with_state=False)

    def _flush(self, *, with_state: bool) -> None:
        """Called holding the lock: what was collected (and the held STATE) onto stdout. A failed write
        is kept (see :meth:`_writing`): what it lost may never be covered by a later STATE."""
        data, self._pending = self._pending, bytearray()
        self._last_flush = time.monotonic()
        if with_state and self._held_state is not None:
            data += self._held_state
            self._last_state, self._held_state = self._held_state, None
            self._last_state_at = self._last_flush
        if data:
            try:
                self._write_out(data)
            except OSError as error:
                self._failure = OutputError(error.errno, error.strerror or str(error))
                raise self._failure from error

    def _start_flusher(self) -> None:
        """A daemon thread flushes what waits while the main thread waits for the API (a slow page, a
        Retry-After pause), so the target sees records and STATE within ~0.75 s. The run ends with
        :meth:`close`; an exit that skips it (an unexpected error) still gets a last flush."""
        if not self._exit_hook:
            atexit.register(self._flush_at_exit)
            self._exit_hook = True
        self._stop_flusher = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_periodically, args=(self._stop_flusher,), name="stdout-flusher", daemon=True
        )
        self._flusher.start()

    def _flush_periodically(self, stop: threading.Event) -> None:
        while not stop.wait(FLUSH_INTERVAL_S / 2):
            try:
                with self._writing():
                    if self._pending or self._held_state is not None:
                        self._flush_if_due()
            except OSError:  # kept by _flush and raised in the main thread at its next message
                return

    def _flush_at_exit(self) -> None:
        with contextlib.suppress(OSError):  # nothing is left to report it to
            self.flush()

    @staticmethod
    def _text_stdout() -> bool:
        return getattr(sys.stdout, "buffer", None) is None

    @staticmethod
    def _write_out(data: bytes | bytearray) -> None:
        """All of `data` to stdout's byte stream (UTF-8 whatever the locale), flushed; a text-only stdout
        (a test's StringIO) gets the text. An unbuffered stdout is a raw file, whose write may take
        only part of a block (a pipe interrupted by a signal)."""
        out = getattr(sys.stdout, "buffer", None)
        if out is None:
            sys.stdout.write(data.decode())
            return
        view = memoryview(data)
        while view:
            written = out.write(view)
            if written is None:  # a non-blocking stdout that is full: wait until it takes more
                select.select([], [out], [])
                continue
            view = view[written:]
        out.flush()


class PacedStateWriter(StateWriter):
    """The SDK's StateWriter deep-copies and compares the whole state on every write (once per issue);
    this one hands the state to :class:`TrackerMessageWriter`, which serialises it (a snapshot) and paces
    it. The tap installs it only over its own writer."""

    def __init__(self, message_writer: TrackerMessageWriter) -> None:
        super().__init__(message_writer)
        self._writer = message_writer

    def write_state(self, state: Any) -> None:
        self._writer.write_state(state)


class FlushedSync:
    """Stream mixin: a top-level sync ends with everything it wrote, and its last STATE, on stdout (the
    writer collects and paces; the SDK's test runner reads stdout after each stream)."""

    def sync(self, context: dict | None = None) -> None:
        try:
            super().sync(context)  # type: ignore[misc]
        finally:
            writer = self._tap.message_writer  # type: ignore[attr-defined]
            if context is None and isinstance(writer, TrackerMessageWriter):
                writer.flush()
