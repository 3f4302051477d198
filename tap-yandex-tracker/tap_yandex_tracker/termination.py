"""How the tap ends on SIGTERM or SIGINT: the latest STATE out, then the process gone, whatever it was doing.

The SDK's handler logs a line and raises `SystemExit` from the signal handler, that is, inside whatever the
main thread was running when the signal came, and Python then joins the worker threads before exiting.
That left the tap hanging for good about once in 20 stops by `meltano config test` (which terminates the
tap at its first RECORD and waits for it):

- In Python 3.11, `logging.Handler.handle` takes the handler's lock one step before the `try` that gives
  it back. A signal landing there unwinds the main thread with the lock still held.
- Every other thread's next log line then waits for it forever, and the exit waits for those threads.

A second signal while the handler was still running (a double Ctrl-C) interrupted it inside the writer's
own lock and deadlocked the same way.

So the handler (`TapYandexTracker._handle_termination`):
- restores the default action of both signals at once, so a second one ends the process immediately;
- starts a watchdog that ends the process after `GRACE_SECONDS` whatever happens, because a reader that
  has stopped reading (meltano's test does) can leave the final write blocked on a full pipe; it calls
  `os._exit` and nothing else (a flush of stderr could block on the same kind of pipe);
- writes the STATE and everything before it (singer_writer.py), then the run's METRIC totals
  (sdk_metric_totals.py), which the unwinding used to log;
- logs the SDK's line and leaves with `os._exit(0)`, the SDK's exit code, without unwinding the
  interrupted code or waiting for threads: stdout is written and flushed by then, stderr is flushed.

The watchdog's exit is 0 as well: a stop that was asked for, whose last STATE may be missing; the STATEs
before it are complete, and a run resumes from the last one the target received.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading

#: Seconds the final STATE may take to reach the reader before the process ends anyway.
GRACE_SECONDS = 30.0
SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT") if hasattr(signal, name))


def begin() -> None:
    """The first steps of a graceful stop: a second signal is fatal, and the stop has a deadline."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    watchdog = threading.Timer(GRACE_SECONDS, expire)
    watchdog.daemon = True
    watchdog.start()


def finish(logger: logging.Logger) -> None:
    """The last step, after the STATE (written, or its write failed): the SDK's log line, then the process
    ends with 0."""
    with contextlib.suppress(Exception):
        logger.info("Gracefully shutting down...")
    leave()


def leave() -> None:
    """End the process now, with exit code 0, after flushing what Python still buffers for stderr."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(0)


def expire() -> None:
    """The watchdog's end of the process: at once, touching no stream."""
    os._exit(0)
