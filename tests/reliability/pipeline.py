"""Run the real pipeline (tap CLI | target CLI, two processes) and break it on purpose.

The tap's stdout is pumped into the target's stdin by a thread of the test (byte-exact, including a last
line cut by a kill), so a test can kill either process at a chosen moment: after N issue records went
through, or once the target has logged N inserts. Every captured output is registered with
`CAPTURED`, which the `secret_scan` fixture (conftest.py) checks for configured secrets after each test.

Written before `tests/e2e/harness.py` existed; kept small and specific to fault injection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
TAP_CLI = str(BIN / "tap-yandex-tracker")
TARGET_CLI = str(BIN / "target-clickhouse-agile")

#: Everything captured during the current test: (label, text). Scanned for secrets by `secret_scan`.
CAPTURED: list[tuple[str, str]] = []


def capture(label: str, text: str) -> str:
    """Remember `text` for the end-of-test secret scan and return it unchanged."""
    CAPTURED.append((label, text))
    return text


@dataclass
class Fault:
    """When to break the pipeline. `after_issue_records`: kill the tap (SIGKILL) once that many issue
    records passed to the target. `after_inserts`: once the target logged that many INSERTs, call
    `action(tap, target)` (e.g. SIGKILL the target, stop the ClickHouse server)."""

    after_issue_records: int | None = None
    after_inserts: int | None = None
    action: Callable[[subprocess.Popen[bytes], subprocess.Popen[bytes]], None] | None = None
    fired: threading.Event = field(default_factory=threading.Event)


@dataclass
class PipelineRun:
    tap_returncode: int
    target_returncode: int
    states: list[dict[str, Any]]
    tap_stderr: str
    target_stderr: str
    target_stdout: str
    fault_fired: bool = False

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    @property
    def ok(self) -> bool:
        return self.tap_returncode == 0 and self.target_returncode == 0

    def explain(self) -> str:
        return (
            f"tap rc={self.tap_returncode} target rc={self.target_returncode}\n--- tap stderr (tail)\n"
            f"{self.tap_stderr[-3000:]}\n--- target stderr (tail)\n{self.target_stderr[-3000:]}"
        )


def write_json(path: Path, payload: Any) -> str:
    path.write_text(json.dumps(payload))
    return str(path)


def parse_states(stdout: str) -> list[dict[str, Any]]:
    """The target prints each STATE value as one JSON line; anything else on stdout is a bug."""
    states = []
    for line in stdout.splitlines():
        if line.strip():
            states.append(json.loads(line))
    return states


def kill9(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)


def run_pipeline(
    workdir: Path,
    tap_config: Mapping[str, Any],
    target_config: Mapping[str, Any],
    *,
    state: Mapping[str, Any] | None = None,
    fault: Fault | None = None,
    timeout: float = 300,
    label: str = "pipeline",
) -> PipelineRun:
    """tap | target as two subprocesses; returns exit codes, the target's STATEs and both stderr texts."""
    workdir.mkdir(parents=True, exist_ok=True)
    tap_args = [TAP_CLI, "--config", write_json(workdir / "tap.json", dict(tap_config))]
    if state is not None:
        tap_args += ["--state", write_json(workdir / "state.json", dict(state))]
    target_args = [TARGET_CLI, "--config", write_json(workdir / "target.json", dict(target_config))]
    tap_err = (workdir / "tap.stderr").open("wb")
    tap = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=tap_err)
    target = subprocess.Popen(
        target_args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    tap_err.close()
    fault = fault or Fault()
    target_out: list[bytes] = []
    target_err: list[bytes] = []

    def pump() -> None:
        """tap stdout → target stdin, line by line; a kill may leave a cut last line, forwarded as is."""
        assert tap.stdout is not None
        assert target.stdin is not None
        issues = 0
        try:
            for line in iter(tap.stdout.readline, b""):
                target.stdin.write(line)
                if fault.after_issue_records is not None and b'"stream":"issues"' in line.replace(b" ", b""):
                    issues += 1
                    if issues == fault.after_issue_records and b'"type":"RECORD"' in line.replace(b" ", b""):
                        kill9(tap)
                        fault.fired.set()
            target.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the target died; the tap then dies of SIGPIPE or is killed below

    def read_stderr() -> None:
        assert target.stderr is not None
        inserts = 0
        for line in iter(target.stderr.readline, b""):
            target_err.append(line)
            if fault.after_inserts is not None and b"Inserted " in line:
                inserts += 1
                if inserts == fault.after_inserts and fault.action is not None:
                    fault.action(tap, target)
                    fault.fired.set()

    def read_stdout() -> None:
        assert target.stdout is not None
        target_out.extend(iter(target.stdout.readline, b""))

    threads = [threading.Thread(target=f, daemon=True) for f in (pump, read_stderr, read_stdout)]
    for thread in threads:
        thread.start()
    try:
        target.wait(timeout=timeout)
        for thread in threads:
            thread.join(timeout=30)
        if target.returncode != 0:
            kill9(tap)  # a runner (Meltano) stops the tap when the target fails
        tap.wait(timeout=60)
    finally:
        for process in (tap, target):
            kill9(process)
            process.wait(timeout=30)
        if tap.stdout is not None:
            tap.stdout.close()
    stdout = b"".join(target_out).decode("utf-8", "replace")
    run = PipelineRun(
        tap_returncode=tap.returncode,
        target_returncode=target.returncode,
        states=parse_states(stdout),
        tap_stderr=(workdir / "tap.stderr").read_text(errors="replace"),
        target_stderr=b"".join(target_err).decode("utf-8", "replace"),
        target_stdout=stdout,
        fault_fired=fault.fired.is_set(),
    )
    capture(f"{label}: tap stderr", run.tap_stderr)
    capture(f"{label}: target stderr", run.target_stderr)
    capture(f"{label}: target stdout (STATEs)", run.target_stdout)
    return run


def run_target_cli(
    workdir: Path,
    target_config: Mapping[str, Any],
    stdin: str,
    *,
    timeout: float = 120,
    label: str = "target",
) -> PipelineRun:
    """The target CLI alone on prepared Singer input (bad-input and security tests)."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [TARGET_CLI, "--config", write_json(workdir / "target.json", dict(target_config))]
    done = subprocess.run(args, input=stdin.encode(), capture_output=True, timeout=timeout, check=False)
    stdout = done.stdout.decode("utf-8", "replace")
    states = []
    for line in stdout.splitlines():
        try:
            states.append(json.loads(line))
        except json.JSONDecodeError:
            states.append({"<unparsable stdout line>": line})
    run = PipelineRun(0, done.returncode, states, "", done.stderr.decode("utf-8", "replace"), stdout)
    capture(f"{label}: stderr", run.target_stderr)
    capture(f"{label}: stdout", stdout)
    return run


def run_tap_cli(
    workdir: Path, tap_config: Mapping[str, Any], *, timeout: float = 120, label: str = "tap"
) -> subprocess.CompletedProcess[str]:
    """The tap CLI alone (credential tests): stdout and stderr are captured and scanned."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [TAP_CLI, "--config", write_json(workdir / "tap.json", dict(tap_config))]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    capture(f"{label}: stdout", done.stdout)
    capture(f"{label}: stderr", done.stderr)
    return done
