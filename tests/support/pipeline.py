"""The one way tests run the plugins: their console scripts, alone or as `tap | target`.

    result = run_pipeline(tap_config(sim), target_config(settings), workdir=tmp_path).check()
    result.last_state                          # the last STATE the target printed
    run_pipeline(..., fault=Fault(after_issue_records=50))                  # kill -9 the tap mid-run
    run_pipeline(..., fault=Fault(after_inserts=3, action=stop_server))     # break something mid-load

The tap's stdout is pumped into the target's stdin by a thread of the test, line by line and byte-exact
(a last line cut by a kill is forwarded as is), so a test can act at a chosen moment: after N issue
records went through, or once the target has logged N inserts. Everything printed is also handed to
`capture()`, which the reliability suite's secret scan reads after each test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.configs import write_json

BIN = Path(sys.executable).parent
TAP_CLI = str(BIN / "tap-yandex-tracker")
TARGET_CLI = str(BIN / "target-clickhouse-agile")

#: Everything the plugins printed during the current test, (label, text); cleared after each test.
CAPTURED: list[tuple[str, str]] = []


def capture(label: str, text: str) -> str:
    """Remember `text` for the end-of-test secret scan and return it unchanged."""
    CAPTURED.append((label, text))
    return text


def parse_json_lines(text: str) -> list[dict[str, Any]]:
    """JSON lines; a line cut short by a killed process is skipped."""
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


@dataclass
class ProcessResult:
    """What one console script did: exit code, stdout and stderr."""

    name: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]

    @property
    def states(self) -> list[dict[str, Any]]:
        """The STATE values a target printed (one bare JSON value per line)."""
        return parse_json_lines(self.stdout)

    def describe(self) -> str:
        tail = "\n".join(self.stderr.splitlines()[-25:])
        return f"{self.name} exited {self.returncode}; stderr tail:\n{tail}"


@dataclass
class Fault:
    """When to break the pipeline. `after_issue_records`: kill the tap (SIGKILL) once that many issue
    records passed to the target. `after_inserts`: once the target logged that many INSERTs, call
    `action(tap, target)` (e.g. SIGKILL the target, stop the ClickHouse server). `hold_states`: the tap's
    STATE lines and the end of its output reach the target only once the fault fired (at most
    `HOLD_SECONDS` later), so the fault lands while the load runs and before any STATE (a checkpoint that
    writes one ends the window a failover replays), however fast or slow the machine is."""

    after_issue_records: int | None = None
    after_inserts: int | None = None
    action: Callable[[subprocess.Popen[bytes], subprocess.Popen[bytes]], None] | None = None
    hold_states: bool = False
    fired: threading.Event = field(default_factory=threading.Event)


#: How long `Fault.hold_states` holds back STATE lines and the end of input for a fault that does not fire.
HOLD_SECONDS = 120


def _is_state(line: bytes) -> bool:
    if b"STATE" not in line:
        return False
    try:
        message = json.loads(line)
    except ValueError:
        return False  # a line cut by a kill: forwarded as it is
    return isinstance(message, dict) and message.get("type") == "STATE"


@dataclass
class PipelineResult:
    """A `tap | target` run. `states` are the STATE values the target emitted, in order."""

    tap: ProcessResult
    target: ProcessResult
    fault_fired: bool = False

    @property
    def states(self) -> list[dict[str, Any]]:
        return self.target.states

    @property
    def last_state(self) -> dict[str, Any] | None:
        states = self.states
        return states[-1] if states else None

    @property
    def ok(self) -> bool:
        return self.tap.returncode == 0 and self.target.returncode == 0

    def describe(self) -> str:
        return f"{self.tap.describe()}\n\n{self.target.describe()}"

    def check(self) -> PipelineResult:
        """Raise with both stderr tails unless both processes exited 0."""
        if not self.ok:
            raise AssertionError(self.describe())
        return self


def kill9(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)


def records_loaded(result: ProcessResult) -> dict[str, int]:
    """Records per stream from the target's end-of-run summary log line ({} when it did not finish)."""
    for line in reversed(result.stderr.splitlines()):
        if "Summary:" in line and "records loaded" in line:
            return json.loads(line.split("records loaded", 1)[1].split("}", 1)[0] + "}")
    return {}


def tap_args(
    config: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    workdir: Path,
    catalog: Mapping[str, Any] | None = None,
) -> list[str]:
    """The tap's command line, its settings (and STATE, catalog) written as files into `workdir`."""
    args = [TAP_CLI, "--config", str(write_json(workdir / "tap.json", dict(config)))]
    if state is not None:
        args += ["--state", str(write_json(workdir / "state.json", dict(state)))]
    if catalog is not None:
        args += ["--catalog", str(write_json(workdir / "catalog.json", dict(catalog)))]
    return args


def run_tap(
    config: Mapping[str, Any],
    *,
    workdir: Path,
    state: Mapping[str, Any] | None = None,
    catalog: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    label: str = "tap",
) -> ProcessResult:
    """The tap's console script alone (`env`: extra environment variables)."""
    done = subprocess.run(
        tap_args(config, state, Path(workdir), catalog),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    capture(f"{label}: stdout", done.stdout)
    capture(f"{label}: stderr", done.stderr)
    return ProcessResult("tap", done.returncode, done.stdout, done.stderr)


def run_target(
    config: Mapping[str, Any],
    input_text: str,
    *,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    label: str = "target",
) -> ProcessResult:
    """The target's console script on `input_text` (Singer lines; `env`: extra environment variables)."""
    args = [TARGET_CLI, "--config", str(write_json(Path(workdir) / "target.json", dict(config)))]
    done = subprocess.run(
        args,
        input=input_text.encode(),
        env={**os.environ, **(env or {})},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    result = ProcessResult(
        "target",
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )
    capture(f"{label}: stdout", result.stdout)
    capture(f"{label}: stderr", result.stderr)
    return result


def run_pipeline(
    tap_settings: Mapping[str, Any],
    target_settings: Mapping[str, Any],
    *,
    workdir: Path,
    state: Mapping[str, Any] | None = None,
    fault: Fault | None = None,
    while_running: Callable[[subprocess.Popen[bytes]], None] | None = None,
    timeout: float = 300,
    label: str = "pipeline",
) -> PipelineResult:
    """`tap | target` as two processes, as users run them (see the module's docstring for `fault`).

    `while_running(target_process)` is called once both have started (in this thread), e.g. to stop the
    ClickHouse server at the right moment; the run then continues until both processes exit.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    target_args = [TARGET_CLI, "--config", str(write_json(workdir / "target.json", dict(target_settings)))]
    tap_err_path = workdir / "tap.stderr"
    with tap_err_path.open("wb") as tap_err:
        tap = subprocess.Popen(tap_args(tap_settings, state, workdir), stdout=subprocess.PIPE, stderr=tap_err)
    target = subprocess.Popen(
        target_args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    fault = fault or Fault()
    target_out: list[bytes] = []
    target_err: list[bytes] = []

    def pump() -> None:
        """tap stdout → target stdin; a kill may leave a cut last line, forwarded as is."""
        assert tap.stdout is not None
        assert target.stdin is not None
        issues = 0
        held: list[bytes] = []
        try:
            for line in iter(tap.stdout.readline, b""):
                if fault.hold_states and not fault.fired.is_set():
                    if _is_state(line):
                        held.append(line)
                        continue
                elif held:
                    target.stdin.writelines(held)
                    held.clear()
                target.stdin.write(line)
                if fault.after_issue_records is not None and b'"stream":"issues"' in line.replace(b" ", b""):
                    issues += 1
                    if issues == fault.after_issue_records and b'"type":"RECORD"' in line.replace(b" ", b""):
                        kill9(tap)
                        fault.fired.set()
            if fault.hold_states:
                target.stdin.flush()
                deadline = time.monotonic() + HOLD_SECONDS
                while not fault.fired.wait(0.1) and target.poll() is None and time.monotonic() < deadline:
                    pass
                target.stdin.writelines(held)
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
        if while_running is not None:
            while_running(target)
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
    result = PipelineResult(
        tap=ProcessResult("tap", tap.returncode, "", tap_err_path.read_text(errors="replace")),
        target=ProcessResult(
            "target",
            target.returncode,
            b"".join(target_out).decode("utf-8", "replace"),
            b"".join(target_err).decode("utf-8", "replace"),
        ),
        fault_fired=fault.fired.is_set(),
    )
    capture(f"{label}: tap stderr", result.tap.stderr)
    capture(f"{label}: target stderr", result.target.stderr)
    capture(f"{label}: target stdout (STATEs)", result.target.stdout)
    return result
