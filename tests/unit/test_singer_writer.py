"""The tap's stdout writer (singer_writer.py): blocks, paced STATE, the background flusher and signals.

Real pipes and a real signal; the SDK's message classes as the SDK passes them."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.singerlib.encoding.simple import RecordMessage, StateMessage

from tap_yandex_tracker import singer_writer
from tap_yandex_tracker.singer_writer import BLOCK_BYTES, TrackerMessageWriter
from tap_yandex_tracker.tap import TapYandexTracker


def record(n: int, padding: int = 0) -> RecordMessage:
    return RecordMessage(stream="issues", record={"id": n, "pad": "x" * padding})


def state(n: int) -> StateMessage:
    return StateMessage(value={"bookmarks": {"issues": {"replication_key_value": f"n{n}"}}})


def kinds(data: bytes) -> list[tuple[str, Any]]:
    """("RECORD", id) / ("STATE", bookmark) per line; every line must be whole JSON."""
    out = []
    for line in data.decode().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            out.append(("RECORD", message["record"]["id"]))
        else:
            out.append(("STATE", message["value"]["bookmarks"]["issues"]["replication_key_value"]))
    return out


class PipeStdout:
    """sys.stdout replaced by a text wrapper over the write end of a real pipe (unbuffered underneath,
    as with PYTHONUNBUFFERED=1). A thread drains the pipe as a target would (a block is larger than a
    pipe holds); `read` returns what arrived since the last call, waiting up to `timeout` for more than
    `at_least` bytes."""

    def __init__(self) -> None:
        self.read_fd, write_fd = os.pipe()
        self.stream = io.TextIOWrapper(open(write_fd, "wb", buffering=0), encoding="utf-8")  # noqa: SIM115
        self._arrived = bytearray()
        self._taken = 0
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while chunk := os.read(self.read_fd, 1 << 20):
            with self._changed:
                self._arrived += chunk
                self._changed.notify_all()

    def read(self, timeout: float, lines: int = 1) -> bytes:
        """What arrived since the last call, once it holds `lines` whole lines (or `timeout` passed)."""

        def enough() -> bool:
            return self._arrived.count(b"\n", self._taken) >= lines

        with self._changed:
            self._changed.wait_for(enough, timeout)
            data = bytes(self._arrived[self._taken :])
            self._taken = len(self._arrived)
        return data

    def close(self) -> None:
        self.stream.close()
        self._reader.join(timeout=5)
        os.close(self.read_fd)


@pytest.fixture
def pipe() -> Iterator[PipeStdout]:
    """Each test sets it as sys.stdout itself: pytest restores its own capture between setup and call."""
    out = PipeStdout()
    yield out
    out.close()


@pytest.fixture
def writer(monkeypatch: pytest.MonkeyPatch) -> Iterator[TrackerMessageWriter]:
    """A writer, closed (its flusher stopped) after the test."""
    made = TrackerMessageWriter()
    yield made
    made.close()


def test_records_wait_for_a_block_or_the_flusher(
    pipe: PipeStdout, writer: TrackerMessageWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", pipe.stream)
    monkeypatch.setattr(singer_writer, "FLUSH_INTERVAL_S", 2.0)
    writer.write_message(record(1))
    writer.write_message(record(2))
    assert pipe.read(timeout=0.2) == b""  # collected, not written one by one
    # The main thread now does nothing (waits for the API): the background flusher delivers them.
    assert kinds(pipe.read(timeout=10, lines=2)) == [("RECORD", 1), ("RECORD", 2)]


def test_a_full_block_goes_out_at_once(
    pipe: PipeStdout, writer: TrackerMessageWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", pipe.stream)
    monkeypatch.setattr(singer_writer, "FLUSH_INTERVAL_S", 3600.0)  # no timed flush: blocks only
    count = BLOCK_BYTES // 1000 + 3
    for n in range(count):
        writer.write_message(record(n, padding=1000))
    sizes = [len(singer_writer.dumps_line(record(n, padding=1000).to_dict())) for n in range(count)]
    whole_lines = next(n for n in range(count) if sum(sizes[: n + 1]) >= BLOCK_BYTES) + 1  # filled 64 KiB
    block = pipe.read(timeout=10, lines=whole_lines)
    assert len(block) >= BLOCK_BYTES
    assert block.endswith(b"\n")
    assert pipe.read(timeout=0.3) == b""  # the rest waits for the next block or flush
    writer.flush()
    assert [n for _, n in kinds(block + pipe.read(timeout=10, lines=count - whole_lines))] == list(
        range(count)
    )


def test_state_is_paced_and_never_ahead_of_its_records(
    pipe: PipeStdout, writer: TrackerMessageWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", pipe.stream)
    writer.state_interval_s = 3600  # never due by time in this test: only flush() writes it
    writer.write_message(record(1))
    writer.write_message(state(1))
    writer.write_message(record(2))
    writer.write_message(state(2))
    early = kinds(pipe.read(timeout=1.5, lines=2))  # the flusher may write the records; the STATE waits
    assert all(kind == "RECORD" for kind, _ in early)
    writer.flush()  # end of a stream / of the run
    writer.write_message(state(2))  # the same STATE again: dropped
    writer.flush()
    everything = early + kinds(pipe.read(timeout=10, lines=3 - len(early)))
    assert everything == [("RECORD", 1), ("RECORD", 2), ("STATE", "n2")]
    assert pipe.read(timeout=0.2) == b""


def test_state_comes_with_the_flushes_when_due(
    pipe: PipeStdout, writer: TrackerMessageWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", pipe.stream)
    writer.write_message(record(1))
    writer.write_message(state(1))
    # Held, then due after state_interval_s (0.5 s): the flusher writes it after its record.
    assert kinds(pipe.read(timeout=10, lines=2)) == [("RECORD", 1), ("STATE", "n1")]


def test_state_interval_zero_writes_every_state_at_once(
    pipe: PipeStdout, writer: TrackerMessageWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", pipe.stream)
    monkeypatch.setattr(singer_writer, "FLUSH_INTERVAL_S", 3600.0)  # only the STATEs flush
    writer.state_interval_s = 0
    for n in (1, 2):
        writer.write_message(record(n))
        writer.write_message(state(n))
    expected = [("RECORD", 1), ("STATE", "n1"), ("RECORD", 2), ("STATE", "n2")]
    assert kinds(pipe.read(timeout=10, lines=4)) == expected


def test_after_a_failed_write_nothing_more_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails (a full disk) loses its block: no later STATE may be written after it."""
    failing = FailingFile()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(failing, encoding="utf-8"))
    writer = TrackerMessageWriter()
    writer.state_interval_s = 0
    writer.write_message(record(1))
    with pytest.raises(OSError, match="No space left"):
        writer.write_message(state(1))
    failing.full = False
    with pytest.raises(OSError, match="No space left"):
        writer.write_message(record(2))
    with pytest.raises(OSError, match="No space left"):
        writer.write_message(state(2))
    assert failing.data == b""


class FailingFile(io.RawIOBase):
    """A raw stdout on a full disk (until `full` is cleared)."""

    def __init__(self) -> None:
        self.full = True
        self.data = b""

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.data += bytes(chunk)
        return len(chunk)


def test_a_text_stdout_gets_every_message_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = io.StringIO()
    monkeypatch.setattr(sys, "stdout", text)
    writer = TrackerMessageWriter()
    writer.write_message(record(1))
    writer.write_message(state(1))
    assert kinds(text.getvalue().encode()) == [("RECORD", 1), ("STATE", "n1")]


class SignallingFile(io.RawIOBase):
    """A raw stdout whose writes first raise `signum` in this process (the first `times` of them; the
    handler runs right after the write returns, inside the writer) and take at most 100 bytes each (a
    pipe cut short by a signal)."""

    def __init__(self, signum: int = signal.SIGUSR1, times: int = 10**9) -> None:
        self.data = bytearray()
        self.signum = signum
        self.times = times

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        if self.times > 0:
            self.times -= 1
            os.kill(os.getpid(), self.signum)
        taken = bytes(chunk[:100])
        self.data += taken
        return len(taken)


def test_a_signal_during_a_write_is_handled_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = SignallingFile()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")  # .buffer is the raw file: unbuffered
    monkeypatch.setattr(sys, "stdout", stdout)
    writer = TrackerMessageWriter()
    writer.state_interval_s = 0
    handled_at: list[int] = []
    outcomes: list[bool] = []

    def on_signal(signum: int, frame: Any) -> None:
        outcomes.append(writer.defer_while_writing(lambda: handled_at.append(len(raw.data))))

    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        writer.write_message(record(1, padding=500))
        writer.write_message(state(1))  # written at once: the signals arrive inside the writes
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert kinds(bytes(raw.data)) == [("RECORD", 1), ("STATE", "n1")]  # whole lines, each once
    assert outcomes
    assert all(outcomes)
    # ...and the (last) deferred handler ran once that write was complete, at a line boundary
    assert handled_at
    assert handled_at[-1] == len(raw.data)
    assert not writer.defer_while_writing(lambda: None)  # outside a write: run it now


def test_the_tap_exits_on_sigterm_after_the_write_with_its_state_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tap's own handler (`TapYandexTracker._handle_termination`), installed by the SDK for SIGTERM:
    a SIGTERM inside a write exits 0 once the write is complete, with the tap's STATE written last."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    config = {"api_url": "http://127.0.0.1:9", "token": "t", "org_id": "o", "state_interval_seconds": 0}
    try:
        tap = TapYandexTracker(config=config)
        raw = SignallingFile(signal.SIGTERM, times=1)
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8"))
        tap.write_message(record(1, padding=500))  # collected
        with pytest.raises(SystemExit) as exited:
            tap.state_writer.write_state(state(1).value)  # written at once: the SIGTERM comes inside
        assert exited.value.code == 0
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    messages = [json.loads(line) for line in raw.data.decode().splitlines()]  # whole lines only
    assert [m["type"] for m in messages] == ["RECORD", "STATE", "STATE"]
    assert messages[1]["value"] == state(1).value
    assert messages[2]["value"] == tap.state  # the handler's STATE, after the write it interrupted
