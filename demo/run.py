"""The demo pipeline, exactly as a user would run it: `tap-yandex-tracker | target-clickhouse-agile`.

The simulator serves a realistic organisation on loopback; the tap and the target run as their real
console scripts; the data lands in embedded ClickHouse under `.demo/clickhouse`. Each further run
advances the simulated clock first (new and changed issues), then syncs incrementally from the STATE the
previous run left in `.demo/state.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from demo.summary import print_summary
from target_clickhouse_agile.report.cli import write_report
from target_clickhouse_agile.report.data import ReportOptions
from tracker_simulator import TrackerSimulator, generate_organisation

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / ".demo"
TOKEN, ORG_ID = "sim-token", "sim-org"


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _write_json(path: Path, payload: object) -> None:
    path.write_text(json.dumps(payload, indent=2))


def _run_pipeline(api_url: str, state_file: Path, log_file: Path) -> dict | None:
    """tap | target as two processes joined by a pipe; returns the last STATE the target emitted."""
    tap_config, target_config = DEMO_DIR / "tap.json", DEMO_DIR / "target.json"
    _write_json(
        tap_config,
        {"api_url": api_url, "token": TOKEN, "org_id": ORG_ID, "max_concurrent_requests": 4},
    )
    _write_json(
        target_config,
        {"embedded_path": str(DEMO_DIR / "clickhouse"), "database": "agile", "timezone": "Europe/Moscow"},
    )
    tap_cmd = [_bin("tap-yandex-tracker"), "--config", str(tap_config)]
    if state_file.exists():
        tap_cmd += ["--state", str(state_file)]
    target_cmd = [_bin("target-clickhouse-agile"), "--config", str(target_config)]
    with log_file.open("w") as log:
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=log)
        target = subprocess.run(target_cmd, stdin=tap.stdout, capture_output=True, text=True, check=False)
        assert tap.stdout is not None
        tap.stdout.close()
        tap_rc = tap.wait()
        log.write(target.stderr)
    if tap_rc != 0 or target.returncode != 0:
        print(f"The pipeline failed (tap exit {tap_rc}, target exit {target.returncode}); see {log_file}")
        print("\n".join(target.stderr.splitlines()[-15:]))
        return None
    states = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    return states[-1] if states else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--issues", type=int, default=1500, help="size of the simulated organisation")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fresh", action="store_true", help="forget earlier demo runs first")
    args = parser.parse_args(argv)

    if args.fresh and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(exist_ok=True)
    runs_file, state_file = DEMO_DIR / "runs.json", DEMO_DIR / "state.json"
    previous_runs = json.loads(runs_file.read_text())["runs"] if runs_file.exists() else 0

    org = generate_organisation(args.issues, seed=args.seed)
    with TrackerSimulator(org, token=TOKEN, org_id=ORG_ID) as simulator:
        # Replay the simulated days that earlier runs saw, then one more: the new work of "today".
        for _day in range(previous_runs):
            simulator.advance(minutes=24 * 60, mutate=40, create=15)
        print(f"Simulated Tracker with {args.issues} issues at {simulator.url} (run {previous_runs + 1})")
        mode = "incremental, from the previous run's STATE" if state_file.exists() else "full"
        print(f"Syncing ({mode}) into embedded ClickHouse at {DEMO_DIR / 'clickhouse'} ...")
        started = time.monotonic()
        state = _run_pipeline(simulator.url, state_file, DEMO_DIR / "pipeline.log")
        elapsed = time.monotonic() - started
        requests = simulator.stats.total
    if state is None:
        return 1
    _write_json(state_file, state)
    _write_json(runs_file, {"runs": previous_runs + 1})
    print(f"Done in {elapsed:.1f}s with {requests} API requests. Log: {DEMO_DIR / 'pipeline.log'}\n")
    print_summary(DEMO_DIR / "clickhouse", "agile")
    # The flow report (agile-report) as of the simulated clock: the newest event in the data.
    settings = {"embedded_path": str(DEMO_DIR / "clickhouse"), "database": "agile"}
    options = ReportOptions(tz="Europe/Moscow", asof="latest")
    report = write_report(settings, options, DEMO_DIR / "report.html")
    print(f"\nFlow report: {report}")
    return 0
