"""idle_input.lines over a real pipe: lines split anywhere, a line of megabytes, the end of input without
a newline, and the idle hook called exactly when the next line has not arrived yet."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from target_clickhouse_agile import idle_input
from target_clickhouse_agile.idle_input import PIPE_BYTES, READ_AHEAD_BYTES, READ_SIZE, enlarge_pipe, lines


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):  # a writer thread closes its end itself
            os.close(fd)


def write_later(fd: int, pieces: list[bytes], pause: float) -> threading.Thread:
    def run() -> None:
        for piece in pieces:
            time.sleep(pause)
            os.write(fd, piece)
        os.close(fd)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_lines_split_anywhere_come_out_whole(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    write_later(write_end, [b'{"a": 1}\n{"b"', b": 2}\n", b'{"c": "\xd0\xb4"}\r\n{"d": 4}'], pause=0.01)
    got = list(lines(read_end, lambda: None))
    assert got == ['{"a": 1}\n', '{"b": 2}\n', '{"c": "д"}\r\n', '{"d": 4}']


def test_a_line_of_megabytes_is_read_whole(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    big = b'{"text": "' + b"x" * 5_000_000 + b'"}\n'
    write_later(write_end, [big[i : i + 100_000] for i in range(0, len(big), 100_000)] + [b"{}\n"], 0)
    got = list(lines(read_end, lambda: None))
    assert [len(line) for line in got] == [len(big), 3]


def test_the_hook_runs_while_the_writer_pauses_and_not_while_lines_are_waiting(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.write(write_end, b"1\n2\n3\n")
    idle: list[int] = []
    seen: list[str] = []
    reader = lines(read_end, lambda: idle.append(len(seen)), idle_after=0.05)
    seen += [next(reader), next(reader), next(reader)]
    assert idle == []  # three lines were there: never waited
    write_later(write_end, [b"4\n", b"5\n"], pause=0.5)  # ten times idle_after: a busy machine keeps it
    for line in reader:
        seen.append(line)
    assert seen == ["1\n", "2\n", "3\n", "4\n", "5\n"]
    assert idle[:2] == [3, 4]  # before line 4 and before line 5 the input was found waiting


def test_a_writer_that_only_hesitates_is_not_a_pause(pipe: tuple[int, int]) -> None:
    """A reader faster than a busy writer finds the pipe empty between writes: not an idle input."""
    read_end, write_end = pipe
    write_later(write_end, [b"%d\n" % n for n in range(20)], pause=0.005)
    idle: list[int] = []
    assert len(list(lines(read_end, lambda: idle.append(1), idle_after=1.0))) == 20
    assert idle == []


def test_undecodable_bytes_follow_the_error_handler(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    write_later(write_end, [b'"\xff"\n'], pause=0)
    assert list(lines(read_end, lambda: None, errors="surrogateescape")) == ['"\udcff"\n']


def test_the_input_is_read_ahead_while_the_target_is_busy_up_to_a_limit(pipe: tuple[int, int]) -> None:
    """A shell pipe holds 64 KiB: without reading ahead, a tap writing while the target checkpoints would
    block. Up to `read_ahead` bytes it does not; beyond that it waits for the target again."""
    read_end, write_end = pipe
    line = b"x" * 1023 + b"\n"
    limit = 1 << 20
    beyond = 6 * 1024  # lines beyond the read-ahead: more than the enlarged pipe and two reads can hold
    written = [0]  # lines the writer got rid of
    wrote_ahead = threading.Event()

    def writer() -> None:
        for _ in range(1 + 512 + beyond):  # 512 KiB within the read-ahead, then 6 MiB beyond it
            os.write(write_end, line)
            written[0] += 1
            if written[0] == 513:
                wrote_ahead.set()
        os.close(write_end)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    reader = lines(read_end, lambda: None, read_ahead=limit)
    assert next(reader) == line.decode()
    pipe_bytes = fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ)
    assert wrote_ahead.wait(timeout=30), "the writer went on while no line was taken"
    while True:  # until the writer is held back
        before = written[0]
        time.sleep(0.3)
        if written[0] == before:
            break
    # never the whole input: the read-ahead (its last read may cross the limit by a read's size), the
    # chunk the first line was split from (held by the line reader), the pipe's own bytes
    assert written[0] * len(line) <= limit + 2 * max(READ_SIZE, pipe_bytes) + pipe_bytes + len(line)
    assert written[0] < 1 + 512 + beyond
    rest: list[str] = []
    consumer = threading.Thread(target=lambda: rest.extend(reader), daemon=True)
    consumer.start()
    consumer.join(timeout=60)
    assert len(rest) == 512 + beyond, "and the rest comes once lines are taken again"


#: Pipe sizes are Linux's (`F_GETPIPE_SZ`, `F_SETPIPE_SZ`); elsewhere `enlarge_pipe` leaves pipes alone.
linux_pipes = pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="pipe sizes are Linux's")


@linux_pipes
def test_a_pipe_is_enlarged(pipe: tuple[int, int]) -> None:
    """While the main thread runs Python, the reading thread gets the interpreter lock only now and then:
    a pipe of 64 KiB held the tap back (see the module's docstring). Once lines are read, a writer can put
    more than 64 KiB into the pipe without waiting for a read."""
    read_end, write_end = pipe
    reader = lines(read_end, lambda: None)
    os.write(write_end, b"1\n")
    assert next(reader) == "1\n"
    assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    os.set_blocking(write_end, False)  # a write that does not fit fails instead of waiting for the reader
    line = b"x" * (PIPE_BYTES // 2) + b"\n"
    assert os.write(write_end, line) == len(line)
    os.set_blocking(write_end, True)
    os.close(write_end)
    assert [len(got) for got in reader] == [len(line)]


@linux_pipes
def test_a_pipe_full_is_taken_in_one_read(pipe: tuple[int, int]) -> None:
    """Each read takes what the pipe holds, up to `PIPE_BYTES`: one hand-over of the interpreter lock per
    pipe-full, not per 64 KiB."""
    read_end, write_end = pipe
    assert enlarge_pipe(read_end) == PIPE_BYTES
    held = b"x" * (PIPE_BYTES // 2)
    assert os.write(write_end, held) == len(held)  # in the pipe before the reading thread starts
    source = idle_input._ReadAhead(read_end, READ_AHEAD_BYTES)
    try:
        assert source.take(10.0) == held
    finally:
        # The reading thread ends at the end of the input, not before: left blocked in a read, it could
        # read a later test's pipe that reuses this descriptor's number, and take that test's lines.
        os.close(write_end)
        assert source.take(10.0) == b""
        source.close()


@linux_pipes
def test_a_size_above_the_systems_ceiling_gets_the_ceiling(pipe: tuple[int, int]) -> None:
    """Asked for more than `pipe-max-size`, the kernel refuses an unprivileged process outright; the pipe
    then gets the ceiling rather than staying at 64 KiB (a privileged process gets what it asked for)."""
    read_end, _ = pipe
    ceiling = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    got = enlarge_pipe(read_end, size=2 * ceiling)
    assert got in (ceiling, 2 * ceiling)
    assert fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ) == got


@linux_pipes
def test_a_larger_pipe_is_kept(pipe: tuple[int, int]) -> None:
    """A pipe made larger than asked for by whoever made it is not shrunk."""
    read_end, _ = pipe
    fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, 256 * 1024)
    assert enlarge_pipe(read_end, size=128 * 1024) == 256 * 1024
    assert fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ) == 256 * 1024


@linux_pipes
def test_without_pipe_sizes_lines_are_read_as_before(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A system without pipe sizes (not Linux), simulated: nothing is asked of the pipe; lines come."""
    get_size = fcntl.F_GETPIPE_SZ
    monkeypatch.delattr(fcntl, "F_GETPIPE_SZ")
    read_end, write_end = pipe
    default = fcntl.fcntl(read_end, get_size)
    assert enlarge_pipe(read_end) == 0
    write_later(write_end, [b'{"a": 1}\n'], pause=0.01)
    assert list(lines(read_end, lambda: None)) == ['{"a": 1}\n']
    assert fcntl.fcntl(read_end, get_size) == default


def test_what_is_not_a_pipe_keeps_its_reads(tmp_path: Path) -> None:
    with open(tmp_path / "input", "wb+") as file:
        assert enlarge_pipe(file.fileno()) == 0
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        assert enlarge_pipe(listener.fileno()) == 0
    finally:
        listener.close()


def test_a_read_error_surfaces_after_the_lines_read_before_it() -> None:
    """A connection reset after two lines: both lines, then the error, where the third line was expected."""
    listener = socket.create_server(("127.0.0.1", 0))
    sender = socket.create_connection(listener.getsockname())
    receiver, _ = listener.accept()
    try:
        sender.sendall(b"1\n2\n")
        reader = lines(receiver.fileno(), lambda: None)
        assert [next(reader), next(reader)] == ["1\n", "2\n"]
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sender.close()  # with linger 0: a reset, not an end of input
        with pytest.raises(ConnectionResetError):
            next(reader)
    finally:
        for sock in (sender, receiver, listener):
            sock.close()


def test_a_non_blocking_input_is_waited_for(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.set_blocking(read_end, False)
    write_later(write_end, [b'{"a": 1}\n'], pause=0.2)
    assert list(lines(read_end, lambda: None)) == ['{"a": 1}\n']
