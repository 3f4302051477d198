"""`python -m benchmarks.throughput`: how close the pipeline gets to what a rate-limited API allows.

An API with 100 ms latency that serves at most 16 requests at once (more are refused with 429 and
`Retry-After: 1`) bounds a full sync of N issues from below by N x 100 ms / 16 (one changelog request per
issue; search pages and reference data are a few dozen more). The tap is run with its defaults (adaptive
concurrency, ceiling 16) and, for comparison, pinned at 4 in flight (the default before the adaptive limit),
and against APIs that admit fewer requests than the ceiling: 6 (a busy organisation) and 16 with the ceiling
at 17 (one less than the tap may ask), where each refused probe costs every worker the pause. Each run goes
tap | target into a ClickHouse 18.16 server on loopback; the floor is that of the run's API. Measured per
run: wall time, its ratio to the floor, the tap's own wall time (the rest is the target's last checkpoint:
final inserts and the metrics step), requests and the share refused. The defaults run `--repeat` times (3),
each against a fresh simulator, and the median is reported with every run: a tap that runs at exactly the
API's capacity is now and then refused at the boundary (the simulator frees a place after the last byte of
an answer is sent), and a single refusal costs every worker the `Retry-After` second, a sixth of the floor.
Results: `benchmarks/results/throughput.md`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from datetime import datetime, timezone
from typing import Any

from benchmarks import pipeline
from benchmarks import scratch as scratch_dir
from benchmarks.reporting import write_results
from tests.support.clickhouse import ClickHouseServer, ensure_installed
from tracker_simulator import TrackerSimulator, generate_organisation

#: The tap's default settings, run `--repeat` times.
DEFAULTS = "defaults (adaptive, ceiling 16)"
#: Run once each after the defaults, for comparison: tap settings and the API's capacity (None: `--capacity`).
COMPARISONS: dict[str, tuple[dict[str, Any], int | None]] = {
    "pinned at 4 in flight": ({"adaptive_concurrency": False, "max_concurrent_requests": 4}, None),
    "defaults, an API that admits 6": ({}, 6),
    "ceiling 17, an API that admits 16": ({"max_concurrent_requests": 17}, 16),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--capacity", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the defaults (the median is reported)")
    args = parser.parse_args(argv)

    def floor_s(capacity: int) -> float:
        """N x L / K: the wall time no schedule beats against an API that serves `capacity` at once."""
        return args.issues * args.latency_ms / 1000 / capacity

    floor = floor_s(args.capacity)
    scratch = scratch_dir.make("bench-throughput-")
    ensure_installed()
    pipeline.compile_bytecode()
    server = ClickHouseServer(scratch / "clickhouse")
    server.start()
    rows = []
    default_walls: list[float] = []
    runs = [(f"{DEFAULTS}, run {n + 1}", ({}, None)) for n in range(max(1, args.repeat))]
    runs += list(COMPARISONS.items())
    try:
        org = generate_organisation(args.issues, seed=args.seed)
        for index, (name, (tap_settings, api_capacity)) in enumerate(runs):
            capacity = api_capacity or args.capacity
            run_floor = floor_s(capacity)
            with TrackerSimulator(
                org, latency_ms=args.latency_ms, capacity=capacity, capacity_retry_after=1.0
            ) as sim:
                target = {"host": server.host, "port": server.port, "database": f"throughput_{index}"}
                run = pipeline.run(sim.url, scratch / f"run{index}", target, tap_settings)
                stats = sim.stats
                refused = stats.by_status.get(429, 0)
                rows.append(
                    f"| {name} | {'ok' if run.ok else 'FAILED'} | {capacity} | {run_floor:.2f} "
                    f"| {run.wall_s:.1f} | {run.wall_s / run_floor:.2f} | {run.tap.wall_s:.1f} "
                    f"| {stats.total} | {refused} ({100 * refused / max(stats.total, 1):.2f} %) "
                    f"| {run.tap.cpu_s:.1f} / {run.target.cpu_s:.1f} |"
                )
                print(rows[-1], flush=True)
                if name.startswith(DEFAULTS):
                    default_walls.append(run.wall_s)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = [
        "# Throughput against a rate-limited API",
        "",
        f"Generated by `python -m benchmarks.throughput {' '.join(sys.argv[1:])}` on {now}: "
        f"{args.issues} issues, "
        f"{args.latency_ms:g} ms latency, an API that serves K requests at once (429 + Retry-After: 1 "
        f"beyond), K = {args.capacity} unless the row says otherwise; floor N x L / K "
        f"({floor:.2f} s at K = {args.capacity}).",
        "",
        "| tap settings | run | API capacity K | floor s | wall s | wall / floor | of which the tap s "
        "| requests | refused | CPU s tap / target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        f"Defaults, median of {len(default_walls)} runs: {statistics.median(default_walls):.1f} s = "
        f"{statistics.median(default_walls) / floor:.2f} x the floor.",
        "",
    ]
    write_results("throughput.md", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
