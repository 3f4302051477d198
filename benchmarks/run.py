"""`make bench`: the old exporter vs `tap | target` on the same simulated organisations.

For every size and simulated latency: PyPI `tracker-exporter` 2.0.0 (changelog export on, upload to the
real ClickHouse 18.16 server over HTTP), then our tap piped into our target, once into the same server
(native protocol), once into embedded chdb, and once into each loopback cluster of 18.16 servers with
ZooKeeper (`cluster`: 1 shard x 2 replicas; `sharded`: 2 shards; see `tests/support/cluster.py`). Each
process is measured with `os.wait4` (wall, user+sys CPU, peak RSS); requests come from the simulator's own
counters. Results: `benchmarks/results/*.md` (and raw JSON under `benchmarks/results/raw/`, not committed).

The old exporter needs ~18 requests and ~0.1 s of CPU per issue, so a full run at 20 ms latency would take
hours. It therefore runs in full only where `--old-full` says (by default 2,000 issues at 0 ms: the run
the parity report reads); elsewhere it is stopped after `--old-cap` seconds and its wall time is
extrapolated linearly from its own progress log to the issues it would process (at most 10,000: page-mode
search stops there). Extrapolated numbers are marked as such in every table.

Our pipeline's runs of at most `REPEAT_MAX_ISSUES` issues take seconds, so a busy moment of the machine moves
them by a tenth: each runs `--repeat` times (3), every time into a fresh database, and the table shows the
run with the median wall time (its CPU and memory too) and the range of all. Where the old exporter runs
to the end, it runs `--old-repeat` times (2): once before ours and then after them, so that a slow or fast
spell of the machine (a fixed loop of pure Python varies 2-3x within minutes here) weighs on both sides of
the ratio; its row shows the median (for two runs, the mean) of its walls and CPU, and the range.

    python -m benchmarks.run [--sizes 2000,20000] [--latencies 0,20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import old_exporter, pipeline, scratch_dirs
from benchmarks.old_exporter import SEARCH_LIMIT
from benchmarks.reporting import RESULTS
from tests.support.clickhouse import ClickHouseServer, ensure_installed
from tests.support.cluster import SHARDED, Cluster
from tracker_simulator import TrackerSimulator, generate_organisation

#: Our runs of at most this many issues are repeated (`--repeat`); larger ones take long enough to run once.
REPEAT_MAX_ISSUES = 2000
SEARCH_ROUTES = (
    "POST /{v}/issues/_search",
    "POST /{v}/issues/_count",
    "POST /{v}/system/search/scroll/_clear",
)


@dataclass
class Row:
    """One measured (or extrapolated) run for the results table."""

    size: int
    latency_ms: int
    system: str
    status: str  # "complete", "capped", "extrapolated"
    issues: int  # issues it exported (or would export)
    wall_s: float
    processes: list[dict[str, Any]] = field(default_factory=list)  # ProcStats as dicts
    requests: int = 0
    search_requests: int = 0
    requests_per_issue: float = 0.0
    peak_concurrency: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    note: str = ""
    schema_s: float = 0.0  # the target on empty input into a fresh database (start-up + schema)
    records: int = 0  # Singer RECORD messages our target loaded
    api_cpu_s: float = 0.0  # the in-process simulator's CPU during our run (it shares the two cores)
    #: The ClickHouse servers' (and ZooKeeper's) CPU during our run; None in older results.
    database_cpu_s: float | None = None
    #: Wall times of every run of a repeated configuration, in run order (empty: it ran once).
    walls: list[float] = field(default_factory=list)


def _parse_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _search_requests(by_route: dict[str, int]) -> int:
    return sum(by_route.get(route, 0) for route in SEARCH_ROUTES)


def run_old(
    sim: TrackerSimulator,
    size: int,
    latency: int,
    workdir: Path,
    server: ClickHouseServer,
    cap_s: float | None,
    reference_rate: float | None = None,
    run: int = 1,
) -> tuple[Row, old_exporter.OldRun]:
    """The old exporter, full or capped, into its own database on the server (`old_<size>_<latency>`, and
    `..._r<run>` for a repeated run).

    `reference_rate`: requests per processed issue of an earlier complete run; a capped run that stopped
    before its first progress line (it logs every 100 issues) is measured by its requests instead.
    """
    sim.reset_stats()
    http_url = f"http://{server.host}:{server.http_port}/"
    database = f"old_{size}_{latency}" + (f"_r{run}" if run > 1 else "")
    result = old_exporter.run(sim.url, workdir, http_url=http_url, database=database, cap_s=cap_s)
    stats = sim.stats
    search = _search_requests(stats.by_route)
    if result.complete:
        issues, status, wall, note = result.issues_done, "complete", result.proc.wall_s, ""
        # per issue it processed (fetched), including those it then failed to transform
        per_issue = (stats.total - search) / max(result.issues_planned, 1)
        if result.failed:
            note = f"{len(result.failed)} of {result.issues_planned} issues failed to transform (dropped)"
    else:
        issues, status = result.issues_planned, "capped"
        if result.progress:
            # issues done when it was stopped, from its progress rate; requests/issue over that span
            seconds, done = result.progress[-1]
            at_cap = done + (result.proc.wall_s - seconds) * done / max(seconds, 1e-9)
            per_issue = (stats.total - search) / max(at_cap, 1)
            how = "from its progress log"
        elif reference_rate:
            at_cap = (stats.total - search) / reference_rate
            per_issue = reference_rate
            how = f"from its {stats.total} requests at {reference_rate:.1f} requests/issue (complete run)"
        else:
            at_cap, per_issue, how = 0.0, 0.0, "no progress measured"
        wall = result.proc.wall_s * issues / at_cap if at_cap else result.proc.wall_s
        note = (
            f"stopped after {result.proc.wall_s:.0f} s at ~{at_cap:.0f} of {issues} issues ({how}); "
            f"wall extrapolated linearly"
        )
    if result.issues_found > SEARCH_LIMIT:
        note = (note + "; " if note else "") + (
            f"search found {result.issues_found}, it processes only {result.issues_planned}"
        )
    row = Row(
        size,
        latency,
        "old exporter",
        status,
        issues,
        wall,
        [result.proc.as_dict()],
        stats.total,
        search,
        per_issue,
        stats.peak_concurrency,
        result.rows,
        note,
    )
    return row, result


ENGINE_NAMES = {
    "server": "ClickHouse 18.16",
    "http": "ClickHouse 18.16 over HTTP",
    "chdb": "chdb",
    "cluster": "cluster 1x2 (18.16)",
    "sharded": "cluster 2x1 (18.16)",
}


def run_ours(
    sim: TrackerSimulator,
    size: int,
    latency: int,
    engine: str,
    workdir: Path,
    server: Any,
    cluster: Cluster | None = None,
    run: int = 1,
) -> Row:
    """`tap | target` into the server (native protocol), embedded chdb, or a cluster; run 2 and later of
    a repeated configuration write into databases of their own (and measure no schema set-up)."""
    sim.reset_stats()
    database = f"new_{size}_{latency}" + ("" if run == 1 else f"_r{run}")
    if run > 1:
        workdir = workdir / f"run{run}"
    if engine == "server":
        settings: dict[str, Any] = {"host": server.host, "port": server.port, "database": database}
    elif engine == "http":
        settings = {
            "host": server.host,
            "port": server.http_port,
            "protocol": "http",
            "database": f"http_{database}",
        }
    elif engine == "chdb":
        settings = {"embedded_path": str(workdir / "chdb"), "database": "agile"}
    else:
        assert cluster is not None
        kind = {"cluster": {}, "sharded": {"cluster": SHARDED}}[engine]
        settings = cluster.settings(0, database=database.replace("new", engine, 1), **kind)
    result = pipeline.run(sim.url, workdir, settings, database_pids=_database_pids(engine, server, cluster))
    stats = sim.stats
    search = _search_requests(stats.by_route)
    rows = pipeline.count_rows(settings) if result.ok else {}
    schema_s = 0.0
    if engine != "chdb" and run == 1:
        fresh = {**settings, "database": settings["database"] + "_schema"}
        schema_s = pipeline.schema_setup_seconds(workdir, fresh)
    issues = rows.get("issues", 0)
    note = "" if result.ok else f"FAILED: tap exit {result.tap.returncode}, target {result.target.returncode}"
    return Row(
        size,
        latency,
        f"ours → {ENGINE_NAMES[engine]}",
        "complete" if result.ok else "failed",
        issues,
        result.wall_s,
        [result.tap.as_dict(), result.target.as_dict()],
        stats.total,
        search,
        (stats.total - search) / max(issues, 1),
        stats.peak_concurrency,
        rows,
        note,
        schema_s,
        records=result.records,
        api_cpu_s=result.api_cpu_s,
        database_cpu_s=result.database_cpu_s,
    )


def old_summary(runs: list[Row]) -> Row:
    """The old exporter's complete runs of one configuration as one row: the median wall time and CPU
    (for two runs, their mean), the largest peak RSS, the walls of all in `walls`; a run that did not
    complete, if any, instead."""
    incomplete = [row for row in runs if row.status != "complete"]
    if incomplete or len(runs) == 1:
        return incomplete[0] if incomplete else runs[0]
    summary = replace(runs[0], walls=[row.wall_s for row in runs])
    summary.wall_s = statistics.median(summary.walls)
    process = dict(runs[0].processes[0])
    process["cpu_s"] = statistics.median(row.processes[0]["cpu_s"] for row in runs)
    process["max_rss_mb"] = max(row.processes[0]["max_rss_mb"] for row in runs)
    summary.processes = [process]
    return summary


def median_run(runs: list[Row]) -> Row:
    """The run with the median wall time, carrying the walls of all and the first run's schema set-up
    time; a failed run, if any, instead (a failure must show)."""
    failed = [row for row in runs if row.status != "complete"]
    chosen = failed[0] if failed else sorted(runs, key=lambda row: row.wall_s)[len(runs) // 2]
    if len(runs) > 1:
        chosen.walls = [row.wall_s for row in runs]
        chosen.schema_s = runs[0].schema_s
    return chosen


def _database_pids(engine: str, server: Any, cluster: Cluster | None) -> list[int]:
    """The processes of the database `engine` loads into (none for chdb: it runs inside the target)."""
    if engine in ("server", "http"):
        processes = [server.process]
    elif cluster is not None and engine in ("cluster", "sharded"):
        processes = [node.process for node in cluster.nodes] + [cluster.zookeeper.process]
    else:
        processes = []
    return [p.pid for p in processes if p is not None]


def extrapolate_old(size: int, latency: int, measured: list[Row]) -> Row | None:
    """An old-exporter row for a combination not run at all: seconds per issue of the largest run at the same
    latency, times the issues it would process."""
    same = [row for row in measured if row.system == "old exporter" and row.latency_ms == latency]
    if not same:
        return None
    base = max(same, key=lambda row: row.size)
    issues = min(size, SEARCH_LIMIT)
    per_issue_s = base.wall_s / max(base.issues, 1)
    return Row(
        size,
        latency,
        "old exporter",
        "extrapolated",
        issues,
        per_issue_s * issues,
        requests_per_issue=base.requests_per_issue,
        note=f"not run; {per_issue_s:.3f} s/issue from the {base.size}-issue run ({base.status}) x {issues}",
    )


def rerender(raw: Path, args: argparse.Namespace) -> int:
    """Re-derive the computed columns of a raw JSON result (extrapolations, per-issue rates) and re-render.

    For results written before a capped run without a progress line was measured by its requests.
    """
    rows = [Row(**item) for item in json.loads(raw.read_text()) if item["status"] != "extrapolated"]
    complete = [r for r in rows if r.system == "old exporter" and r.status == "complete"]
    for row in complete:
        row.requests_per_issue = (row.requests - row.search_requests) / min(row.size, SEARCH_LIMIT)
    rate = complete[-1].requests_per_issue if complete else None
    for row in rows:
        if row.system == "old exporter" and row.status == "capped" and not row.requests_per_issue and rate:
            proc = row.processes[0]
            at_cap = (row.requests - row.search_requests) / rate
            row.wall_s = proc["wall_s"] * row.issues / at_cap
            row.requests_per_issue = rate
            row.note = (
                f"stopped after {proc['wall_s']:.0f} s at ~{at_cap:.0f} of {row.issues} issues (from its "
                f"{row.requests} requests at {rate:.1f} requests/issue (complete run)); "
                "wall extrapolated linearly"
            )
    for size, latency in _skipped_pairs(args):
        old_rows = [r for r in rows if r.system == "old exporter"]
        if not any((r.size, r.latency_ms) == (size, latency) for r in old_rows) and (
            row := extrapolate_old(size, latency, rows)
        ):
            rows.append(row)
    raw.write_text(json.dumps([asdict(row) for row in rows], indent=1))
    name = raw.stem
    (RESULTS / f"{name}.md").write_text(render(rows, 0.0, args))
    print(f"Wrote {RESULTS / f'{name}.md'}")
    return 0


def _skipped_pairs(args: argparse.Namespace) -> list[tuple[int, int]]:
    return [tuple(_parse_list(pair.replace(":", ","))) for pair in args.old_skip.split(",") if pair]  # type: ignore[misc]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default=None,
        help="organisation sizes (issues), comma-separated; default 2000,20000 (300 --quick)",
    )
    parser.add_argument("--latencies", default="0,20", help="simulated latencies (ms), comma-separated")
    parser.add_argument("--quick", action="store_true", help="short caps, no parity; a smoke run")
    parser.add_argument("--old-cap", type=float, default=100.0, help="seconds before a capped old run stops")
    parser.add_argument(
        "--old-full", default="2000:0", help="size:latency pairs where the old exporter runs to the end"
    )
    parser.add_argument(
        "--old-skip",
        default="20000:20",
        help="size:latency pairs where the old exporter is only extrapolated",
    )
    parser.add_argument(
        "--ours-skip",
        default="20000:0:chdb,20000:20:server,20000:20:chdb,20000:0:sharded,20000:20:cluster,"
        "20000:20:sharded,2000:20:cluster,2000:20:sharded",
        help="size:latency:engine triples where our pipeline is not run (time budget)",
    )
    parser.add_argument(
        "--engines",
        default="server,chdb,cluster,sharded",
        help="our target's engines: server, http (the same server over HTTP), chdb, cluster (1 shard x 2 "
        "replicas), sharded (2 shards)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help=f"runs of our pipeline per configuration of at most {REPEAT_MAX_ISSUES} issues (median shown)",
    )
    parser.add_argument(
        "--old-repeat",
        type=int,
        default=2,
        help="runs of the old exporter where it runs to the end: the first before ours, the others after "
        "(median shown)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-parity", action="store_true", help="skip the parity report")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch directory (on tmpfs: memory, remove it after)",
    )
    parser.add_argument(
        "--rerender", type=Path, help="re-derive and re-render a raw JSON result, run nothing"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.old_repeat < 1:
        parser.error("--repeat and --old-repeat must be at least 1")
    if args.rerender:
        return rerender(args.rerender, args)
    sizes = _parse_list(args.sizes or ("300" if args.quick else "2000,20000"))
    latencies = _parse_list(args.latencies)
    engines = [e for e in args.engines.split(",") if e]
    full = {tuple(_parse_list(pair.replace(":", ","))) for pair in args.old_full.split(",") if pair}
    skip = {tuple(_parse_list(pair.replace(":", ","))) for pair in args.old_skip.split(",") if pair}
    ours_skip = set(args.ours_skip.split(","))
    cap = 45.0 if args.quick else args.old_cap

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "raw").mkdir(exist_ok=True)
    scratch = scratch_dirs.make("run-")
    if args.keep:
        scratch_dirs.keep(scratch)  # now: a run killed midway keeps it too
    print(f"Scratch directory: {scratch}", flush=True)
    old_exporter.ensure_venv(scratch / "pip.log")
    ensure_installed()
    pipeline.compile_bytecode()
    server = ClickHouseServer(scratch / "clickhouse")
    server.start()
    cluster = None
    if {"cluster", "sharded"} & set(engines):
        cluster = Cluster(scratch / "cluster")
        cluster.start()
    rows: list[Row] = []
    parity_input: dict[str, Any] | None = None
    started = time.monotonic()
    try:
        for size in sizes:
            org = generate_organisation(size, seed=args.seed)
            for latency in latencies:
                with TrackerSimulator(org, latency_ms=latency) as sim:
                    tag = f"{size}-{latency}ms"
                    old_runs: list[Row] = []
                    if (size, latency) in skip:
                        print(f"[{tag}] old exporter: skipped (extrapolated below)", flush=True)
                    else:
                        old_cap = None if (size, latency) in full and not args.quick else cap
                        print(f"[{tag}] old exporter (cap {old_cap or 'none'}) ...", flush=True)
                        complete = [r for r in rows if r.system == "old exporter" and r.status == "complete"]
                        rate = complete[-1].requests_per_issue if complete else None
                        row, old = run_old(sim, size, latency, scratch / tag / "old", server, old_cap, rate)
                        old_runs, old_row_at = [row], len(rows)
                        rows.append(row)
                        _print(row)
                        if old.complete and parity_input is None and not args.quick:
                            parity_input = {"old_database": f"old_{size}_{latency}", "size": size}
                            parity_input["latency"] = latency
                    for engine in engines:
                        if f"{size}:{latency}:{engine}" in ours_skip:
                            print(f"[{tag}] tap | target -> {engine}: skipped (--ours-skip)", flush=True)
                            continue
                        runs = []
                        for run in range(1, (args.repeat if size <= REPEAT_MAX_ISSUES else 1) + 1):
                            print(f"[{tag}] tap | target -> {engine} (run {run}) ...", flush=True)
                            workdir = scratch / tag / engine
                            runs.append(run_ours(sim, size, latency, engine, workdir, server, cluster, run))
                            _print(runs[-1])
                        rows.append(median_run(runs))
                    if old_runs and old_runs[0].status == "complete" and old_cap is None:
                        # Its other runs after ours: together they bracket ours in time, so a slow or fast
                        # spell of the machine weighs on both sides of the ratio.
                        for run in range(2, args.old_repeat + 1):
                            print(f"[{tag}] old exporter (run {run}) ...", flush=True)
                            workdir = scratch / tag / f"old-{run}"
                            row, _ = run_old(sim, size, latency, workdir, server, old_cap, None, run)
                            old_runs.append(row)
                            _print(row)
                        rows[old_row_at] = old_summary(old_runs)
                    here = (size, latency)
                    parity_here = parity_input and (parity_input["size"], parity_input["latency"]) == here
                    if parity_here and not args.no_parity and "server" in engines:
                        from benchmarks import parity

                        print(f"[{tag}] parity report ...", flush=True)
                        parity.write_report(
                            org,
                            f"http://{server.host}:{server.http_port}/",
                            {"host": server.host, "port": server.port},
                            old_database=parity_input["old_database"],
                            new_database=f"new_{size}_{latency}",
                            old_log=scratch / tag / "old" / "old-exporter.log",
                            extra={"seed": args.seed},
                        )
        for size in sizes:
            for latency in latencies:
                if (size, latency) in skip and (row := extrapolate_old(size, latency, rows)):
                    rows.append(row)
    finally:
        server.stop()
        if cluster is not None:
            cluster.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    name = "benchmarks-quick" if args.quick else "benchmarks"
    (RESULTS / "raw" / f"{name}.json").write_text(json.dumps([asdict(row) for row in rows], indent=1))
    (RESULTS / f"{name}.md").write_text(render(rows, elapsed, args, scratch))
    print(f"Wrote {RESULTS / f'{name}.md'} ({elapsed:.0f} s)")
    return 0


def _print(row: Row) -> None:
    procs = ", ".join(
        f"{p['name']} cpu {p['cpu_s']:.1f}s rss {p['max_rss_mb']:.0f}MB rc {p['returncode']}"
        for p in row.processes
    )
    print(
        f"    {row.system}: {row.status}, {row.issues} issues, wall {row.wall_s:.1f}s, {procs}, "
        f"{row.requests} requests ({row.requests_per_issue:.2f}/issue + {row.search_requests} search) "
        f"{row.note}",
        flush=True,
    )


def _fmt_wall(row: Row) -> str:
    if row.status == "complete" and len(row.walls) > 1:
        return f"{row.wall_s:.1f} (median of {len(row.walls)}: {min(row.walls):.1f}-{max(row.walls):.1f})"
    if row.status == "complete":
        return f"{row.wall_s:.1f}"
    if row.status == "failed":
        return f"{row.wall_s:.1f} (FAILED)"
    return f"~{row.wall_s:.0f} (extrapolated)"


def _proc(row: Row, name: str, key: str, digits: int = 1) -> str:
    for proc in row.processes:
        if proc["name"] == name:
            value = f"{proc[key]:.{digits}f}"
            return f"{value} (at cap)" if proc.get("capped") else value
    return "-"


def render(rows: list[Row], elapsed: float, args: argparse.Namespace, scratch: Path | None = None) -> str:
    """The markdown report: one table of runs, one of ratios, then notes. `scratch`: where the server's
    data was (not known when old results are rendered again)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmarks: tracker-exporter 2.0.0 vs tap-yandex-tracker | target-clickhouse-agile",
        "",
        f"Generated by `python -m benchmarks.run {' '.join(sys.argv[1:])}` on {now}, {elapsed / 60:.0f} min, "
        f"Python {platform.python_version()}, {_cpus()} CPUs (load average {_load()} at the end; other "
        "work on the machine means timing noise; "
        "ratios compare runs of the same invocation). Simulated organisation seed "
        f"{args.seed}; simulator in the benchmark process; ClickHouse 18.16 server on loopback"
        + (f", its data in {scratch_dirs.describe(scratch)}." if scratch is not None else "."),
        "",
        "Old exporter: changelog export on, upload to ClickHouse 18.16 over HTTP (tables created as "
        "described in `benchmarks/old_exporter.py`). Ours: default settings (adaptive concurrency, at "
        "most 16 requests in flight), business hours 09:00-22:00 like the old exporter." + _repeat_note(rows),
        "",
        "| issues | latency | system | run | issues exported | wall s | CPU s (old / tap / target) "
        "| peak RSS MB (old / tap / target) | requests | requests/issue (+ search) | rows written |",
        "|---:|---:|---|---|---:|---:|---|---|---:|---|---:|",
    ]
    for row in rows:
        if row.system == "old exporter":
            cpu, rss = _proc(row, "old exporter", "cpu_s"), _proc(row, "old exporter", "max_rss_mb", 0)
        else:
            cpu = f"{_proc(row, 'tap', 'cpu_s')} / {_proc(row, 'target', 'cpu_s')}"
            rss = f"{_proc(row, 'tap', 'max_rss_mb', 0)} / {_proc(row, 'target', 'max_rss_mb', 0)}"
        requests = str(row.requests) if row.requests else "-"
        per_issue = f"{row.requests_per_issue:.2f} (+{row.search_requests})" if row.requests else "-"
        if row.status == "extrapolated":
            per_issue = f"{row.requests_per_issue:.2f} (assumed)"
        rows_written = sum(row.rows.values()) if row.rows else "-"
        out.append(
            f"| {row.size} | {row.latency_ms} ms | {row.system} | {row.status} | {row.issues} "
            f"| {_fmt_wall(row)} | {cpu} | {rss} | {requests} | {per_issue} | {rows_written} |"
        )
    out += ["", "## Ratios (old / new, same invocation)", ""]
    out += [
        "| issues | latency | new system | wall old/new | CPU old/new | peak RSS old/new | requests old/new |"
    ]
    out += ["|---:|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        if row.system == "old exporter":
            continue
        old = next(
            (
                r
                for r in rows
                if r.system == "old exporter" and (r.size, r.latency_ms) == (row.size, row.latency_ms)
            ),
            None,
        )
        if old is None or not row.processes or row.status != "complete":
            continue
        mark = "" if old.status == "complete" else " (extrapolated)"
        new_cpu = sum(p["cpu_s"] for p in row.processes)
        new_rss = max(p["max_rss_mb"] for p in row.processes)
        wall = f"{old.wall_s / row.wall_s:.1f}x{mark}"
        if old.status == "complete":
            cpu = f"{old.processes[0]['cpu_s'] / new_cpu:.1f}x"
            rss = f"{old.processes[0]['max_rss_mb'] / new_rss:.2f}x"
            req = f"{old.requests_per_issue / row.requests_per_issue:.1f}x per issue"
        else:
            cpu = rss = "-"
            req = f"{old.requests_per_issue / row.requests_per_issue:.1f}x per issue"
        out.append(f"| {row.size} | {row.latency_ms} ms | {row.system} | {wall} | {cpu} | {rss} | {req} |")
    out += _cpu_per_record_table(rows)
    out += _cluster_table(rows)
    out += ["", "## Notes", ""]
    out += [f"- {row.size} issues, {row.latency_ms} ms, {row.system}: {row.note}" for row in rows if row.note]
    out += [
        "- CPU and RSS of our pipeline are per process (tap, target); the ratio uses their CPU sum and the "
        "larger RSS. Requests/issue excludes search requests (`_search`, `_count`, scroll `_clear`), shown "
        "after `+`.",
        "- A capped old run never reaches its upload (it inserts everything at the end), so its CPU and RSS "
        "at the cap are lower bounds.",
        "",
    ]
    return "\n".join(out)


def _repeat_note(rows: list[Row]) -> str:
    """How repeated runs are shown (nothing for results whose runs each ran once)."""
    repeats = max((len(row.walls) for row in rows if row.system != "old exporter"), default=0)
    old_repeats = max((len(row.walls) for row in rows if row.system == "old exporter"), default=0)
    note = ""
    if repeats >= 2:
        note += (
            f" Configurations of ours with at most {REPEAT_MAX_ISSUES:,} issues ran {repeats} times, each "
            "into a fresh database: the table shows the run with the median wall time (its CPU and memory "
            "too) and the range of all, and the ratios use that run."
        )
    if old_repeats >= 2:
        note += (
            f" Where the old exporter ran to the end it ran {old_repeats} times, once before ours and then "
            "after them, each into a fresh database: the table shows the median of its wall times and of its "
            "CPU (for two runs, their mean), the range of its wall times and its largest peak RSS, and the "
            "ratios use those; requests and rows are its first run's (every run makes the same)."
        )
    elif repeats >= 2:
        note += " The old exporter ran once."
    return note


def _cpu_per_record_table(rows: list[Row]) -> list[str]:
    """CPU per Singer record of our two processes, and what the in-process API simulator and the database
    took meanwhile. All of them share the machine's cores, so their CPU sum divided by the cores is a wall
    time no schedule could beat on this machine (`CPU floor`; anything else running adds to it); the wall's
    distance from it is what better overlap could still win, the rest only less CPU."""
    ours = [r for r in rows if r.records and r.processes and r.status == "complete"]
    if not ours:
        return []
    cores = _cpus()
    out = [
        "",
        "## CPU per record (ours)",
        "",
        "| issues | latency | target | Singer records | CPU s per 1,000 records (tap / target) "
        f"| API simulator CPU s | database CPU s | CPU floor s (these CPU s / {cores} cores) | wall s |",
        "|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in ours:
        tap, target = (next(p["cpu_s"] for p in row.processes if p["name"] == n) for n in ("tap", "target"))
        per_k = f"{tap / row.records * 1000:.3f} / {target / row.records * 1000:.3f}"
        if row.database_cpu_s is None:
            database = floor = "n/a"
        else:
            database = f"{row.database_cpu_s:.1f}" if "chdb" not in row.system else "(in the target)"
            floor = f"{(tap + target + row.api_cpu_s + row.database_cpu_s) / cores:.1f}"
        out.append(
            f"| {row.size} | {row.latency_ms} ms | {row.system.removeprefix('ours → ')} | {row.records} "
            f"| {per_k} | {row.api_cpu_s:.1f} | {database} | {floor} | {row.wall_s:.1f} |"
        )
    return out


def _cluster_table(rows: list[Row]) -> list[str]:
    """Loading a cluster beside the single server, at the same size and latency."""
    clustered = [r for r in rows if "cluster" in r.system and r.status == "complete"]
    if not clustered:
        return []
    out = [
        "",
        "## Loading a cluster (same organisation, same tap)",
        "",
        "Wall time includes creating the schema on the first run (cluster: every statement ON CLUSTER, "
        "waiting for each node); `schema s` is that part alone, measured apart on an empty database, and "
        "rows/s counts the load without it.",
        "",
        "| issues | latency | target | wall s | schema s | rows written | rows/s | target CPU s "
        "| wall vs one server |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.status != "complete" or row.system == "old exporter" or "chdb" in row.system:
            continue
        single = next(
            (
                r
                for r in rows
                if r.system.endswith("ClickHouse 18.16")
                and (r.size, r.latency_ms) == (row.size, row.latency_ms)
            ),
            None,
        )
        if single is None or not any(
            r.size == row.size and r.latency_ms == row.latency_ms for r in clustered
        ):
            continue
        written = sum(row.rows.values())
        ratio = f"{row.wall_s / single.wall_s:.2f}x" if single.status == "complete" else "-"
        out.append(
            f"| {row.size} | {row.latency_ms} ms | {row.system.removeprefix('ours → ')} | {row.wall_s:.1f} "
            f"| {row.schema_s:.1f} | {written} | {written / max(row.wall_s - row.schema_s, 0.001):,.0f} "
            f"| {_proc(row, 'target', 'cpu_s')} | {ratio} |"
        )
    return out


def _load() -> str:
    import os

    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def _cpus() -> int:
    """The cores this process may run on (and its children with it)."""
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
