"""The console script's sync runs under Linux's SCHED_BATCH (unless `batch_scheduling` is false, or the tap
was started under another policy); a program that runs the tap inside its own process keeps its scheduling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.configs import tap_config
from tests.support.pipeline import tap_args
from tests.support.tap_runs import run_inprocess
from tracker_simulator import TrackerSimulator

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")

#: The policy this test process runs under: what every process it starts inherits.
INHERITED = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else 0


def _is_changelog_record(line: bytes) -> bool:
    message = json.loads(line)
    return message.get("type") == "RECORD" and message.get("stream") == "issue_changelog"


def _thread_policies(pid: int) -> dict[int, int]:
    """Each thread of `pid` (by its id) and its scheduling policy; threads gone meanwhile are left out."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(task.name)] = os.sched_getscheduler(int(task.name))
        except ProcessLookupError:
            continue
    return found


def _policies_while_syncing(command: list[str]) -> dict[int, int]:
    """The policies of the tap's threads once its first changelog record is out (its changelog workers, the
    read-ahead and the writer's threads are running by then), read from outside while it runs."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        assert tap.stdout is not None
        for line in tap.stdout:
            if _is_changelog_record(line):
                break
        else:
            raise AssertionError("the tap wrote no changelog record")
        policies = _thread_policies(tap.pid)
        tap.stdout.read()  # the rest of the sync, to its end
        assert tap.wait(timeout=120) == 0
    return policies


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, os.SCHED_BATCH if INHERITED == os.SCHED_OTHER else INHERITED), (False, INHERITED)],
    ids=["default", "off"],
)
def test_the_console_scripts_sync_runs_as_a_batch_job(
    small_sim: TrackerSimulator, tmp_path: Path, setting: bool | None, expected: int
) -> None:
    config = tap_config(small_sim)
    if setting is not None:
        config["batch_scheduling"] = setting
    policies = _policies_while_syncing(tap_args(config, None, tmp_path))
    assert len(policies) > 2, policies  # the main thread and its workers
    assert set(policies.values()) == {expected}, policies


def test_a_policy_chosen_by_whoever_started_the_tap_is_kept(
    small_sim: TrackerSimulator, tmp_path: Path
) -> None:
    """Started under SCHED_IDLE (what `chrt -i 0` does), the sync stays there."""
    command = tap_args(tap_config(small_sim), None, tmp_path)
    start_idle = (
        "import os, sys; os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    policies = _policies_while_syncing([sys.executable, "-c", start_idle, *command])
    assert set(policies.values()) == {os.SCHED_IDLE}, policies


def test_a_sync_inside_another_program_leaves_its_scheduling_alone(small_sim: TrackerSimulator) -> None:
    found: list[int] = []

    def sync() -> None:  # in a thread of its own: a policy, were one set, would stay with the thread
        output = run_inprocess(tap_config(small_sim))
        assert output.records["issues"]
        found.append(os.sched_getscheduler(0))

    syncing = threading.Thread(target=sync)
    syncing.start()
    syncing.join(timeout=120)
    assert found == [INHERITED]
