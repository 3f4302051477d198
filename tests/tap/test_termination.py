"""SIGTERM ends the tap in every state it can be in (termination.py), each case in a process of its own.

`meltano config test` terminates the tap at its first RECORD and stops reading; the SDK's handler then
left it hanging about once in 20 runs (a logging lock kept by the interrupted main thread, worker threads
waiting for it, the exit waiting for them). These cases put the process in such states on purpose.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the process never got there"
        time.sleep(0.02)


def _catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler for `signum` (its `SigCgt` mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


#: A tap whose API is never reached: the cases below only write.
PRELUDE = """
import logging, os, signal, sys, threading, time
logging.basicConfig(level=logging.INFO)  # as the console script's logging: the handler's line shows
from tap_yandex_tracker import termination
from tap_yandex_tracker.tap import TapYandexTracker
from singer_sdk.singerlib import RecordMessage
tap = TapYandexTracker(config={"api_url": "http://127.0.0.1:9", "token": "t", "org_id": "o",
                               "state_interval_seconds": 0})
def record(n):
    return RecordMessage(stream="issues", record={"id": str(n), "padding": "x" * 2000})
"""


@contextmanager
def _started(body: str) -> Iterator[subprocess.Popen[bytes]]:
    """The script running, stdout and stderr piped; killed if a case leaves it hanging."""
    script = PRELUDE + textwrap.dedent(body)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def test_a_stop_does_not_wait_for_a_thread_that_cannot_finish() -> None:
    """A worker blocked for good (as on a lock the interrupted main thread kept): the STATE still comes
    out and the process exits 0 at once instead of joining the worker."""
    with _started(
        """
        from concurrent.futures import ThreadPoolExecutor
        never = threading.Lock()
        never.acquire()
        ThreadPoolExecutor(1).submit(never.acquire)
        tap.write_message(record(1))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
        """
    ) as process:
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    types = [json.loads(line)["type"] for line in stdout.decode().splitlines()]
    assert types == ["RECORD", "STATE"]
    assert "Gracefully shutting down" in stderr.decode()


def test_a_stop_while_the_reader_reads_nothing_ends_after_the_grace_period() -> None:
    """stdout is a pipe nobody reads (as after meltano's terminate): the write in progress can never end,
    so the STATE cannot follow it; the deadline ends the process, with the SDK's exit code."""
    with _started(
        """
        termination.GRACE_SECONDS = 1.0
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        n = 0
        while True:  # fills the pipe, then blocks inside a write
            n += 1
            tap.write_message(record(n))
        """
    ) as process:
        process.wait(timeout=30)  # without the deadline: never
    assert process.returncode == 0


def test_a_second_signal_ends_the_process_at_once() -> None:
    """The first SIGTERM's stop is stuck behind a full pipe (deadline 60 s); a second one ends it now."""
    with _started(
        """
        termination.GRACE_SECONDS = 60.0
        print("writing", file=sys.stderr, flush=True)
        n = 0
        while True:
            n += 1
            tap.write_message(record(n))
        """
    ) as process:
        assert process.stderr is not None
        while process.stderr.readline() not in (b"writing\n", b""):  # the tap's handler is installed
            pass
        _wait_for(lambda: "pipe" in Path(f"/proc/{process.pid}/wchan").read_text())  # blocked in a write
        process.send_signal(signal.SIGTERM)
        _wait_for(lambda: not _catches(process.pid, signal.SIGTERM))  # the first stop has begun
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)  # without the second signal's default action: 60 s
    assert process.returncode == -signal.SIGTERM
