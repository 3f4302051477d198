"""`python -m benchmarks.remote_server`: the pipeline against a ClickHouse server that is far away.

The server runs on loopback behind `latency_proxy.LatencyProxy` (in a process of its own), which holds
everything it carries for half the round-trip time in each direction: 0, 5, 10 and 20 ms round trips by
default (a server on the same machine, in the same zone, in another zone, in another region). 2,000 issues
at 0 ms API latency go `tap | target` into a fresh database each time, then an incremental run follows from
its STATE (what an hourly schedule runs); this tree alternates with `--base` (default d7bdbd3, the commit
before a statement stopped sending two pings first) over `--repeat` rounds, and the median of each is
reported. What distance costs the target is its number of round trips: per statement the ping (when the
connection has been quiet, see `clickhouse/native.py`), the statement, and for an INSERT the block
exchange; per connection the handshake. The first load of a database also creates the schema (~80
statements).
Results: `benchmarks/results/remote_server.md`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import pipeline
from benchmarks.cpu_versus import plugin_path, two_versions
from benchmarks.latency_proxy import relay_process

RESULTS = Path(__file__).resolve().parent / "results"
BASE = "d7bdbd3"
TREE = "this tree"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.remote_server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--issues", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--rtt-ms", default="0,5,10,20", help="round-trip times to the server, comma-separated"
    )
    parser.add_argument("--base", default=BASE, help="the commit this tree is compared with")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (the median of each is reported)")
    args = parser.parse_args(argv)
    round_trips = [float(value) for value in args.rtt_ms.split(",")]

    walls: dict[tuple[str, str, float], list[float]] = {}  # (version, "first" or "incremental", rtt)
    failed = 0
    with two_versions(args.base, args.issues, args.seed, "bench-remote-") as (
        scratch,
        base_source,
        sim,
        server,
    ):
        versions = [(TREE, None), (args.base, base_source)]
        for round_ in range(args.repeat):
            for rtt in round_trips:
                for name, source in versions if round_ % 2 == 0 else versions[::-1]:
                    label = f"{round_}-{rtt:g}-{'base' if source else 'tree'}".replace(".", "_")
                    with plugins_of(source), relay_process((server.host, server.port), rtt / 2000) as port:
                        target = {"host": "127.0.0.1", "port": port, "database": f"remote_{label}"}
                        runs = first_and_incremental(sim.url, scratch / label, target)
                    failed += len(runs) < 2  # no incremental run without the first one's STATE
                    for kind, run in zip(("first", "incremental"), runs, strict=False):
                        failed += not run.ok
                        walls.setdefault((name, kind, rtt), []).append(run.wall_s)
                        outcome = "ok" if run.ok else "FAILED"
                        print(f"{name}, {rtt:g} ms, {kind}: {run.wall_s:.2f} s ({outcome})", flush=True)
    command = " ".join(["python -m benchmarks.remote_server", *(sys.argv[1:] if argv is None else argv)])
    _report(command, args, round_trips, walls, failed)
    return 1 if failed else 0


@contextmanager
def plugins_of(source: Path | None) -> Iterator[None]:
    """The tap and target started meanwhile are `source`'s (another commit's extracted tree), or this
    tree's when None."""
    previous = os.environ.get("PYTHONPATH")
    if source is not None:
        os.environ["PYTHONPATH"] = plugin_path(source)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def first_and_incremental(api_url: str, workdir: Path, target: dict[str, Any]) -> list[pipeline.PipelineRun]:
    """A first load into the target's (fresh) database, then, if it succeeded, a run from its STATE."""
    first = pipeline.run(api_url, workdir / "first", target)
    if not first.ok:
        return [first]
    state = pipeline.last_state(workdir / "first")
    return [first, pipeline.run(api_url, workdir / "incremental", target, state=state)]


def _report(
    command: str,
    args: argparse.Namespace,
    round_trips: list[float],
    walls: dict[tuple[str, str, float], list[float]],
    failed: int,
) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    median = {key: statistics.median(values) for key, values in walls.items()}
    near = round_trips[0]
    lines = [
        "# The pipeline against a distant ClickHouse server",
        "",
        f"Generated by `{command}` on {now}: {args.issues} issues at 0 ms API latency, `tap | target` "
        "into a fresh database of a ClickHouse 18.16 server on loopback behind a relay (a process of its "
        "own) that delays each direction by half the round trip, then an incremental run from the first "
        f"one's STATE (nothing changed: the tap's lookback window and the reference data); this tree "
        f"against {args.base}, alternating, median of {args.repeat} rounds"
        f"{f'; {failed} runs FAILED' if failed else ''}. Wall seconds; in brackets what the round trip "
        f"added to {near:g} ms.",
        "",
        f"| round trip | first load: this tree | {args.base} | incremental: this tree | {args.base} |",
        "|---:|---:|---:|---:|---:|",
    ]
    for rtt in round_trips:
        cells = []
        for kind in ("first", "incremental"):
            for name in (TREE, args.base):
                wall = median[(name, kind, rtt)]
                cells.append(f"{wall:.1f} ({wall - median[(name, kind, near)]:+.1f})")
        lines.append(f"| {rtt:g} ms | {' | '.join(cells)} |")
    lines += ["", "Every run, wall seconds (this tree / base):", ""]
    for rtt in round_trips:
        for kind in ("first", "incremental"):
            runs = " / ".join(
                ", ".join(f"{w:.2f}" for w in walls[(name, kind, rtt)]) for name in (TREE, args.base)
            )
            lines.append(f"- {rtt:g} ms, {kind}: {runs}")
    lines.append("")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "remote_server.md").write_text("\n".join(lines))
    print(f"Wrote {RESULTS / 'remote_server.md'}")


if __name__ == "__main__":
    sys.exit(main())
