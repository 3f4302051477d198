"""The console script's sync runs under Linux's SCHED_BATCH (unless `batch_scheduling` is false); a program
that runs the tap inside its own process keeps its scheduling."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.support.configs import tap_config
from tests.support.pipeline import tap_args
from tests.support.tap_runs import run_inprocess
from tracker_simulator import TrackerSimulator

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")


def _policy_while_syncing(config: dict, workdir: Path) -> int:
    """The scheduling policy of the tap's main thread once its sync has written its first line, read from
    outside while it runs (it sets the policy before it writes anything)."""
    with subprocess.Popen(
        tap_args(config, None, workdir), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as tap:
        assert tap.stdout is not None
        first = tap.stdout.readline()
        assert first, "the tap wrote nothing"
        policy = os.sched_getscheduler(tap.pid)
        tap.stdout.read()  # the rest of the sync, to its end
        assert tap.wait(timeout=120) == 0
    return policy


@pytest.mark.parametrize(("setting", "expected"), [(None, "SCHED_BATCH"), (False, "SCHED_OTHER")])
def test_the_console_scripts_sync_runs_as_a_batch_job(
    small_sim: TrackerSimulator, tmp_path: Path, setting: bool | None, expected: str
) -> None:
    config = tap_config(small_sim)
    if setting is not None:
        config["batch_scheduling"] = setting
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # what this test process runs under
    assert _policy_while_syncing(config, tmp_path) == getattr(os, expected)


def test_a_sync_inside_another_program_leaves_its_scheduling_alone(small_sim: TrackerSimulator) -> None:
    found: list[int] = []

    def sync() -> None:  # in a thread of its own: a policy, were one set, would stay with the thread
        output = run_inprocess(tap_config(small_sim))
        assert output.records["issues"]
        found.append(os.sched_getscheduler(0))

    syncing = threading.Thread(target=sync)
    syncing.start()
    syncing.join(timeout=120)
    assert found == [os.SCHED_OTHER]
