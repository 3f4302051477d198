"""The tap's sync as a batch job for Linux's scheduler (`SCHED_BATCH`), on by default (`batch_scheduling`).

A sync at low latency is CPU-bound: the tap, the target, the API and the database share the machine's CPUs,
and the target sets the run's pace (it has a backlog from its first line to its end). Under the default
policy every wakeup of one of the tap's threads (an answer arrived, the interpreter lock was released)
may preempt whatever runs, the target included. `SCHED_BATCH` tells the kernel that the tap is a
non-interactive, CPU-bound job: its share of the CPU is what it was (its nice value is untouched), but its
wakeups no longer preempt other programs. Measured on 2 CPUs, 2,000 issues at 0 ms, the tap run as
`chrt -b 0` against the plain tap in alternating rounds (10 each, twice): wall paired -0.34 and -0.15 s
(of ~3.2 s), and less CPU in every process (tap -0.18 / -0.09 s, target -0.17 / -0.04 s, the API simulator
-0.14 / -0.05 s): fewer preemptions, fewer switches between the tap's own threads. The same for the target
made the run slower (+0.16 s): the target is the one that should run when it can.

Set for the console script's sync only, on the thread that runs it, before it starts any other (threads
inherit the policy): a program that runs the tap inside its own process keeps its scheduling. Only the
default policy is replaced: a tap started under another one on purpose (`chrt -i`, a real-time policy,
`chrt -b` already) keeps it. Where the policy does not exist (not Linux) or cannot be set (a sandbox that
forbids the call), the sync runs as before.
"""

from __future__ import annotations

import logging
import os


def run_as_batch_job(logger: logging.Logger) -> bool:
    """Put the calling thread (and every thread it starts afterwards) under `SCHED_BATCH` when it runs under
    the default policy; whether it did."""
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None:
        logger.debug("CPU scheduling: SCHED_BATCH does not exist here; the default policy stays")
        return False
    try:
        current = os.sched_getscheduler(0)
        if current != os.SCHED_OTHER:
            logger.debug("CPU scheduling: policy %d, chosen by whoever started the tap, is kept", current)
            return False
        os.sched_setscheduler(0, batch, os.sched_param(0))
    except OSError as error:
        logger.debug("CPU scheduling: SCHED_BATCH not set (%s); the default policy stays", error)
        return False
    logger.debug("CPU scheduling: SCHED_BATCH (batch_scheduling)")
    return True
