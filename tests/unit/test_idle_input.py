"""idle_input.lines over a real pipe: lines split anywhere, a line of megabytes, the end of input without
a newline, and the idle hook called exactly when the next line has not arrived yet."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

import pytest

from target_clickhouse_agile.idle_input import lines


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
    write_later(write_end, [b"4\n", b"5\n"], pause=0.2)
    for line in reader:
        seen.append(line)
    assert seen == ["1\n", "2\n", "3\n", "4\n", "5\n"]
    assert idle[:2] == [3, 4]  # before line 4 and before line 5 the input was found waiting


def test_a_writer_that_only_hesitates_is_not_a_pause(pipe: tuple[int, int]) -> None:
    """A reader faster than a busy writer finds the pipe empty between writes: not an idle input."""
    read_end, write_end = pipe
    write_later(write_end, [b"%d\n" % n for n in range(20)], pause=0.005)
    idle: list[int] = []
    assert len(list(lines(read_end, lambda: idle.append(1), idle_after=0.5))) == 20
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
    wrote_ahead = threading.Event()

    def writer() -> None:
        os.write(write_end, line)
        for _ in range(512):  # 512 KiB more, within the read-ahead
            os.write(write_end, line)
        wrote_ahead.set()
        for _ in range(2048):  # 2 MiB beyond it
            os.write(write_end, line)
        os.close(write_end)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    reader = lines(read_end, lambda: None, read_ahead=1 << 20)
    assert next(reader) == line.decode()
    assert wrote_ahead.wait(timeout=10), "the writer went on while no line was taken"
    thread.join(timeout=0.5)
    assert thread.is_alive(), "but not beyond the read-ahead"
    assert sum(1 for _ in reader) == 512 + 2048
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_read_error_surfaces_where_the_line_was_expected(pipe: tuple[int, int]) -> None:
    _read_end, write_end = pipe
    with pytest.raises(OSError, match="Bad file descriptor"):
        next(lines(write_end, lambda: None))  # the write end of a pipe cannot be read
