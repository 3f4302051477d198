"""Scale benchmark (not a test): N simulated issues (default 100,000) through tap | target into a real
clickhouse-server, sampling both processes' resident memory once a second.

"Flat memory" means the RSS of tap and target stops growing with the number of issues processed: the
samples taken at 25/50/75/100 % of the run should be about equal, while rows keep growing. The results
(markdown) go to `benchmarks/results/scale_100k.md` (or `--output`).

    .venv/bin/python -m benchmarks.scale_100k                 # 100,000 issues (long: tens of minutes)
    .venv/bin/python -m benchmarks.scale_100k --issues 20000  # the quick variant
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import pipeline, scratch_dirs
from target_clickhouse_agile.clickhouse import connect
from tests.support.clickhouse import ClickHouseServer, ensure_installed
from tracker_simulator import TrackerSimulator, generate_organisation

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "results" / "scale_100k.md"
TABLES = ("issues", "issue_changelog", "issue_status_intervals", "issue_metrics", "issue_flow")


def rss_mb(pid: int) -> float | None:
    """Resident set size of a live process from /proc (None once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


@dataclass
class Samples:
    """(seconds since start, tap RSS MB, target RSS MB) once a second."""

    rows: list[tuple[float, float | None, float | None]] = field(default_factory=list)

    def at_fraction(self, fraction: float) -> tuple[float, float | None, float | None]:
        return self.rows[min(len(self.rows) - 1, int(fraction * (len(self.rows) - 1)))]

    def peak(self, index: int) -> float:
        return max((r[index] or 0.0) for r in self.rows) if self.rows else 0.0


def run(issues: int, seed: int, output: Path, timeout_s: float) -> int:
    ensure_installed()
    pipeline.compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="scale_"))  # the logs, kept: on the disk, not in memory
    server_home = scratch_dirs.make("scale-server-")
    server = ClickHouseServer(server_home)
    server.start()
    started_gen = time.monotonic()
    org = generate_organisation(issues, seed=seed)
    generated_s = time.monotonic() - started_gen
    settings = server.settings(database="scale", batch_size_rows=20000)
    try:
        with TrackerSimulator(org) as sim:
            tap_cfg = work / "tap.json"
            tap_cfg.write_text(json.dumps({"api_url": sim.url, "token": "sim-token", "org_id": "sim-org"}))
            target_cfg = work / "target.json"
            target_cfg.write_text(json.dumps(settings))
            with (work / "tap.log").open("w") as tap_log, (work / "target.log").open("w") as target_log:
                started = time.monotonic()
                tap = subprocess.Popen(
                    [str(BIN / "tap-yandex-tracker"), "--config", str(tap_cfg)],
                    stdout=subprocess.PIPE,
                    stderr=tap_log,
                )
                target = subprocess.Popen(
                    [str(BIN / "target-clickhouse-agile"), "--config", str(target_cfg)],
                    stdin=tap.stdout,
                    stdout=(work / "states.jsonl").open("w"),
                    stderr=target_log,
                )
                assert tap.stdout is not None
                tap.stdout.close()
                samples = Samples()
                stop = threading.Event()

                def sample() -> None:
                    while not stop.is_set():
                        samples.rows.append((time.monotonic() - started, rss_mb(tap.pid), rss_mb(target.pid)))
                        stop.wait(1.0)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                target_rc = target.wait(timeout=timeout_s)
                tap_rc = tap.wait(timeout=60)
                stop.set()
                sampler.join()
                wall = time.monotonic() - started
            with connect(settings) as conn:
                counts = {t: conn.query(f"SELECT count() AS n FROM {t} FINAL")[0]["n"] for t in TABLES}
            stats = sim.stats
            requests = stats.total
    finally:
        server.stop()
        shutil.rmtree(server_home, ignore_errors=True)  # ~1 GiB, in memory on a tmpfs
    write_report(output, issues, generated_s, wall, tap_rc, target_rc, samples, counts, requests, work)
    print(output.read_text())
    return 0 if tap_rc == 0 and target_rc == 0 else 1


def write_report(
    output: Path,
    issues: int,
    generated_s: float,
    wall: float,
    tap_rc: int,
    target_rc: int,
    samples: Samples,
    counts: dict[str, int],
    requests: int,
    work: Path,
) -> None:
    """Append one section per run (the file keeps the history of runs: 20k quick runs and 100k runs)."""
    lines = [
        f"## {issues:,} issues — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"- exit codes: tap {tap_rc}, target {target_rc}; wall {wall:.0f} s "
        f"({issues / wall:.0f} issues/s); simulator requests {requests:,}; "
        f"org generated in {generated_s:.0f} s",
        f"- rows under FINAL: {', '.join(f'{t} {n:,}' for t, n in counts.items())}",
        f"- peak RSS: tap {samples.peak(1):.0f} MB, target {samples.peak(2):.0f} MB",
        f"- logs: {work}",
        "",
        "| progress (wall time) | seconds | tap RSS MB | target RSS MB |",
        "|---|---|---|---|",
    ]
    for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
        at, tap_mb, target_mb = samples.at_fraction(fraction)
        lines.append(f"| {fraction:.0%} | {at:.0f} | {tap_mb or 0:.0f} | {target_mb or 0:.0f} |")
    lines.append("")
    output.parent.mkdir(parents=True, exist_ok=True)
    header = (
        ""
        if output.exists()
        else (
            "# Scale: N simulated issues through tap | target (benchmarks/scale_100k.py)\n\n"
            "Memory is flat when the RSS columns stop growing while the run proceeds.\n\n"
        )
    )
    with output.open("a") as handle:
        handle.write(header + "\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds before the run is abandoned")
    args = parser.parse_args()
    return run(args.issues, args.seed, args.output, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
