"""`agile-pipeline`: tap | target for runners without a disk, the STATE kept in ClickHouse itself.

Why: a cron container or a cloud function starts from nothing each time. The target already keeps the latest
STATE in the `target_state` table (`store_state: true`), written only once the data it covers is durable;
this module reads it back at start and hands it to the tap, so every run is incremental with no state file
and no Meltano. Two ways to run the pair:

* `run_subprocess`: the two console scripts joined through this process (the CLI default);
* `run_in_process`: both plugins in this Python process (a serverless function has no shell and pays for
  every interpreter start); the tap runs in the calling thread, the target in a worker thread.

Both take a time budget (`max_seconds`): once it is spent the tap is stopped at a message boundary, the
target drains what it has and checkpoints the last STATE it received, and the next run resumes from it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from target_clickhouse_agile.clickhouse import apply_migrations, connect, first_line, load_state
from target_clickhouse_agile.redact import mask, protect
from target_clickhouse_agile.settings import DEFAULTS
from target_clickhouse_agile.target import TargetClickhouseAgile


@dataclass
class PipelineResult:
    """What one run did: the STATE it ended with and whether the tap reached its end."""

    state_before: dict[str, Any] | None
    state: dict[str, Any] | None
    completed: bool
    seconds: float
    states_emitted: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "completed": self.completed,
            "seconds": round(self.seconds, 3),
            "states_emitted": self.states_emitted,
            "messages": self.messages,
            "incremental": self.state_before is not None,
            "state": self.state,
        }


class BudgetExhausted(Exception):  # noqa: N818 - a signal, not an error
    """Raised into the tap from its output when the time budget is spent."""


def stateful_target_config(target_config: Mapping[str, Any], state_id: str | None = None) -> dict[str, Any]:
    """The target's settings with `store_state` on (the point of these runners)."""
    config = dict(target_config)
    config["store_state"] = True
    if state_id:
        config["state_id"] = state_id
    config.setdefault("state_id", DEFAULTS["state_id"])
    return config


def latest_state(target_config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The last STATE the target checkpointed in ClickHouse, or None on the very first run.

    Migrations run first so that `target_state` exists on an empty server (the target would apply them
    a moment later anyway)."""
    with contextlib.closing(connect(target_config)) as conn:
        apply_migrations(conn)
        return load_state(conn, str(target_config.get("state_id") or DEFAULTS["state_id"]))


# -- in-process ---------------------------------------------------------------------------------------


class _BudgetedLines(io.TextIOBase):
    """The tap's stdout while it runs in-process: a pipe to the target, cut once the budget is spent.

    The tap writes one whole message per `write` call, so raising there stops it between messages."""

    def __init__(self, pipe: IO[str], deadline: float | None) -> None:
        self._pipe = pipe
        self._deadline = deadline
        self.cut = False
        self.messages = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.cut = True
            raise BudgetExhausted
        self.messages += text.count("\n")
        return self._pipe.write(text)

    def flush(self) -> None:
        self._pipe.flush()


class _CollectingTarget(TargetClickhouseAgile):
    """The target, with its STATE messages collected instead of printed: in-process, stdout belongs to
    the tap's pipe (and to the function's own logs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emitted_states: list[dict[str, Any]] = []

    def _write_state_message(self, state: dict) -> None:
        self.emitted_states.append(state)


def run_in_process(
    tap_config: Mapping[str, Any],
    target_config: Mapping[str, Any],
    *,
    max_seconds: float | None = None,
    state_id: str | None = None,
) -> PipelineResult:
    """Run tap and target in this process; raise if either fails (the STATE then stays where it was)."""
    try:
        from tap_yandex_tracker.tap import TapYandexTracker
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError("run_in_process needs tap-yandex-tracker installed in this environment") from exc

    started = time.monotonic()
    deadline = started + max_seconds if max_seconds else None
    target_cfg = stateful_target_config(target_config, state_id)
    state_before = latest_state(target_cfg)
    target = _CollectingTarget(config=target_cfg)
    tap = TapYandexTracker(config=dict(tap_config), state=state_before or {})

    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "r", encoding="utf-8")
    writer = os.fdopen(write_fd, "w", encoding="utf-8")
    target_error: list[BaseException] = []

    def consume() -> None:
        try:
            target.listen(reader)
        except BaseException as exc:  # reported by the caller's thread
            target_error.append(exc)
        finally:
            reader.close()  # a dead target must not leave the tap blocked on a full pipe

    consumer = threading.Thread(target=consume, name="agile-target", daemon=True)
    consumer.start()
    output = _BudgetedLines(writer, deadline)
    tap_error: BaseException | None = None
    try:
        with contextlib.redirect_stdout(output):
            tap.sync_all()
    except BudgetExhausted:
        pass
    except BaseException as exc:
        tap_error = exc
    finally:
        with contextlib.suppress(OSError):  # the target may have closed its end already
            writer.close()
    consumer.join()
    if target_error:
        raise RuntimeError(f"target failed: {first_line(str(target_error[0]))}") from target_error[0]
    if tap_error is not None and not isinstance(tap_error, BrokenPipeError):
        raise RuntimeError(f"tap failed: {first_line(str(tap_error))}") from tap_error
    return PipelineResult(
        state_before=state_before,
        state=target.emitted_states[-1] if target.emitted_states else state_before,
        completed=not output.cut,
        seconds=time.monotonic() - started,
        states_emitted=len(target.emitted_states),
        messages=output.messages,
    )


# -- subprocesses -------------------------------------------------------------------------------------


def _executable(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def run_subprocess(
    tap_config: Mapping[str, Any],
    target_config: Mapping[str, Any],
    *,
    max_seconds: float | None = None,
    state_id: str | None = None,
) -> PipelineResult:
    """Run the two console scripts, relaying whole lines from tap to target (so a budget cut never
    leaves half a message on the target's input); raise if either exits non-zero."""
    started = time.monotonic()
    deadline = started + max_seconds if max_seconds else None
    target_cfg = stateful_target_config(target_config, state_id)
    state_before = latest_state(target_cfg)
    with tempfile.TemporaryDirectory(prefix="agile-pipeline-") as tmp:
        paths = {name: Path(tmp) / f"{name}.json" for name in ("tap", "target", "state")}
        paths["tap"].write_text(json.dumps(dict(tap_config)))
        paths["target"].write_text(json.dumps(target_cfg))
        tap_cmd = [_executable("tap-yandex-tracker"), "--config", str(paths["tap"])]
        if state_before:
            paths["state"].write_text(json.dumps(state_before))
            tap_cmd += ["--state", str(paths["state"])]
        target_cmd = [_executable("target-clickhouse-agile"), "--config", str(paths["target"])]
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, text=True, encoding="utf-8")
        target = subprocess.Popen(
            target_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )
        states: list[dict[str, Any]] = []
        reader = threading.Thread(target=_collect_states, args=(target.stdout, states), daemon=True)
        reader.start()
        assert tap.stdout is not None
        assert target.stdin is not None
        cut, messages = False, 0
        try:
            for line in tap.stdout:
                if deadline is not None and time.monotonic() >= deadline:
                    cut = True
                    break
                target.stdin.write(line)
                messages += 1
        except BrokenPipeError:
            cut = True  # the target died (its exit code tells why): stop the tap too
        finally:
            if cut:
                tap.terminate()
            tap.stdout.close()
            with contextlib.suppress(BrokenPipeError):
                target.stdin.close()
        target_rc = target.wait()
        reader.join()
        tap_rc = tap.wait()
    if target_rc != 0:
        raise RuntimeError(f"target-clickhouse-agile exited with {target_rc}")
    if tap_rc != 0 and not cut:
        raise RuntimeError(f"tap-yandex-tracker exited with {tap_rc}")
    return PipelineResult(
        state_before=state_before,
        state=states[-1] if states else state_before,
        completed=not cut,
        seconds=time.monotonic() - started,
        states_emitted=len(states),
        messages=messages,
    )


def _collect_states(stream: IO[str] | None, states: list[dict[str, Any]]) -> None:
    for line in stream or ():
        if line.strip():
            states.append(json.loads(line))


# -- CLI ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="agile-pipeline",
        description="tap-yandex-tracker | target-clickhouse-agile, resuming from the STATE kept in "
        "ClickHouse (table target_state); prints a JSON summary of the run.",
    )
    parser.add_argument("--tap-config", required=True, type=Path, help="tap settings (JSON file)")
    parser.add_argument("--target-config", required=True, type=Path, help="target settings (JSON file)")
    parser.add_argument("--state-id", help="name of the STATE in target_state (default: the target's)")
    parser.add_argument("--max-seconds", type=float, help="time budget; the run checkpoints and stops")
    parser.add_argument("--in-process", action="store_true", help="run both plugins in this process")
    args = parser.parse_args(argv)
    try:
        tap_config = _settings(args.tap_config, "--tap-config")
        target_config = _settings(args.target_config, "--target-config")
        protect({**tap_config, **target_config})  # tokens and the password, in every log line from now on
        run = run_in_process if args.in_process else run_subprocess
        result = run(tap_config, target_config, max_seconds=args.max_seconds, state_id=args.state_id)
    except Exception as error:  # one line that says what failed; the traceback only at DEBUG
        logging.getLogger("agile-pipeline").debug("Traceback of the error below", exc_info=error)
        print(f"agile-pipeline: {mask(first_line(str(error)) or type(error).__name__)}", file=sys.stderr)  # noqa: T201
        return 1
    print(json.dumps(result.as_dict(), sort_keys=True))  # noqa: T201 - the CLI's output
    return 0


def _settings(path: Path, option: str) -> dict[str, Any]:
    """A JSON settings file; a missing, empty or broken file is named with what to fix."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{option} {path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise ValueError(
            f"{option} {path} is not valid JSON ({error}); it must hold one JSON object"
        ) from None
    if not isinstance(settings, dict):
        raise ValueError(f"{option} {path} must hold a JSON object of settings")
    return settings


if __name__ == "__main__":
    raise SystemExit(main())
