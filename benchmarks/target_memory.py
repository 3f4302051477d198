"""Is the target's memory flat in the number of records? (A benchmark, not a test.)

Pipes N synthetic issues, each with a realistic changelog (~12 entries), into the real
`target-clickhouse-agile` console script, on the ClickHouse server and on embedded chdb, for N = 2,000 and
20,000, and reports the child's peak RSS (its own `VmHWM`, see `benchmarks/procs.py`; each run from a fresh
helper process) and rows per second.

    .venv/bin/python -m benchmarks.target_memory [--sizes 2000 20000] [--engines server chdb]
    .venv/bin/python -m benchmarks.target_memory --big-record 50     # one issue with a 50 MB description

Writes `benchmarks/results/target_memory.md` (or `big_record.md`). The input is generated on the fly into
a file first, so the producer's memory is not the target's and the timing is the target's alone.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks import pipeline, scratch_dirs
from benchmarks.procs import PeakRss, reap
from tap_yandex_tracker import schemas
from tests.support.clickhouse import ClickHouseServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "target_memory.md"
TARGET = str(Path(sys.executable).parent / "target-clickhouse-agile")
FLOW = ["open", "inProgress", "inReview", "inProgress", "testing", "resolved", "closed"]
STATUS_TYPES = {"open": "new", "inProgress": "inProgress", "inReview": "inProgress", "testing": "inProgress"}


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _ref(key: str) -> dict[str, str]:
    return {"id": key, "key": key, "display": key}


def messages(issues: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Statuses, then per issue its changelog and the issue record (the tap's order), a STATE every 500."""
    rng = random.Random(seed)
    yield {"type": "SCHEMA", "stream": "statuses", "schema": schemas.STATUSES, "key_properties": ["id"]}
    for n, key in enumerate(dict.fromkeys(FLOW), start=1):
        status_type = STATUS_TYPES.get(key, "done")
        yield {"type": "RECORD", "stream": "statuses", "record": {"id": n, "key": key, "type": status_type}}
    yield {
        "type": "SCHEMA",
        "stream": "issue_changelog",
        "schema": schemas.CHANGELOG,
        "key_properties": ["id"],
    }
    yield {"type": "SCHEMA", "stream": "issues", "schema": schemas.ISSUES, "key_properties": ["id"]}
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i in range(issues):
        issue_id, key = f"{i:024x}", f"BENCH-{i + 1}"
        created = start + timedelta(minutes=7 * i)
        at, entries = created, []
        for step, status in enumerate(FLOW):
            fields: list[dict[str, Any]] = [
                {
                    "field": {"id": "status"},
                    "from": _ref(FLOW[step - 1]) if step else None,
                    "to": _ref(status),
                }
            ]
            entries.append((at, "IssueCreated" if step == 0 else "IssueWorkflow", fields))
            at += timedelta(minutes=rng.randint(5, 3000))
            entries.append((at, "IssueUpdated", [{"field": {"id": "tags"}, "from": None, "to": ["x", "y"]}]))
            at += timedelta(minutes=rng.randint(1, 60))
        for n, (moment, kind, fields) in enumerate(entries):
            entry = {
                "id": f"{i:016x}{n:08x}",
                "issue_id": issue_id,
                "issue_key": key,
                "updatedAt": _ts(moment),
            }
            entry.update({"type": kind, "transport": "front", "updatedBy": {"id": "u1", "display": "Bench"}})
            entry["fields"] = fields
            yield {"type": "RECORD", "stream": "issue_changelog", "record": entry}
        record = {"id": issue_id, "key": key, "summary": f"Benchmark issue {i}" * 3, "queue": _ref("BENCH")}
        record.update({"status": _ref(FLOW[-1]), "createdAt": _ts(created), "updatedAt": _ts(at)})
        yield {"type": "RECORD", "stream": "issues", "record": record}
        if (i + 1) % 500 == 0:
            yield {"type": "STATE", "value": {"bookmarks": {"issues": {"replication_key_value": _ts(at)}}}}


def big_record_messages(megabytes: int) -> Iterator[dict[str, Any]]:
    """One issue whose description holds `megabytes` MB (plus the statuses it needs), then a STATE."""
    for message in messages(1):
        if message["type"] == "RECORD" and message["stream"] == "issues":
            message["record"]["description"] = "x" * (megabytes * 1_000_000)
        yield message
    yield {"type": "STATE", "value": {"bookmarks": {}}}


def write_input(path: Path, issues: int, big_record_mb: int = 0) -> int:
    """The Singer input as a file; returns the number of RECORD messages."""
    count = 0
    source = big_record_messages(big_record_mb) if big_record_mb else messages(issues)
    with path.open("w", encoding="utf-8") as handle:
        for message in source:
            count += message["type"] == "RECORD"
            handle.write(json.dumps(message) + "\n")
    return count


def _measure(config_path: str, input_path: str) -> None:
    """Run in a fresh helper process: the target as its only child, then its peak RSS and timing."""
    started = time.monotonic()
    with open(input_path, encoding="utf-8") as stdin:
        proc = subprocess.Popen(
            [TARGET, "--config", config_path], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        peak = PeakRss(proc.pid, "target-clickhouse-agile")
        assert proc.stderr is not None
        err = proc.stderr.read().decode("utf-8", "replace")
        stats = reap(proc, "target", started, peak)
    print(
        json.dumps(
            {
                "rc": stats.returncode,
                "seconds": stats.wall_s,
                "peak_kib": stats.max_rss_mb * 1024,
                "err": err[-800:],
            }
        )
    )


def measure(config: dict[str, Any], input_path: Path, workdir: Path) -> dict[str, Any]:
    config_path = workdir / "target.json"
    config_path.write_text(json.dumps(config))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.target_memory", "--measure", str(config_path), str(input_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"target failed: {result['err']}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--engines", nargs="+", default=["server", "chdb"], choices=["server", "chdb"])
    parser.add_argument("--big-record", type=int, metavar="MB", help="one issue with an MB-sized description")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        _measure(*args.measure)
        return 0
    if args.big_record:
        args.sizes = [1]

    pipeline.compile_bytecode()
    rows = []
    work = scratch_dirs.make("memory-")
    try:
        server = ClickHouseServer(work / "server") if "server" in args.engines else None
        if server is not None:
            server.start()
        try:
            for size in args.sizes:
                input_path = work / f"input_{size}.jsonl"
                records = write_input(input_path, size, args.big_record or 0)
                for engine in args.engines:
                    if engine == "server":
                        assert server is not None
                        config = server.settings(database=f"bench_{size}")
                    else:
                        config = {"embedded_path": str(work / f"chdb_{size}"), "database": "agile"}
                    result = measure(config, input_path, work)
                    rows.append(
                        (engine, size, records, result["peak_kib"] / 1024, records / result["seconds"])
                    )
                    print(
                        f"{engine:6} N={size:>6} records={records:>7} peak RSS {rows[-1][3]:7.1f} MiB "
                        f"{rows[-1][4]:8.0f} records/s ({result['seconds']:.1f} s)"
                    )
        finally:
            if server is not None:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.big_record:
        write_big_record_results(args.big_record, rows)
    else:
        write_results(rows)
    return 0


def write_big_record_results(megabytes: int, rows: list[tuple[str, int, int, float, float]]) -> None:
    lines = [
        f"# target-clickhouse-agile: one record with a {megabytes} MB description",
        "",
        f"`python -m benchmarks.target_memory --big-record {megabytes}`: the peak RSS of the target process",
        "(its `VmHWM`) loading one issue whose description is that big. Memory per record is linear in its",
        "size: the line, the parsed record, its `raw` JSON and the INSERT's encoding of it. The embedded",
        "engine starts at ~350 MiB.",
        "",
        "| engine | peak RSS (MiB) |",
        "|---|---:|",
        *(f"| {engine} | {rss:.0f} |" for engine, _n, _r, rss, _rate in rows),
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {sys.platform}, Python {sys.version.split()[0]}.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    (RESULTS.parent / "big_record.md").write_text("\n".join(lines))


def write_results(rows: list[tuple[str, int, int, float, float]]) -> None:
    lines = [
        "# target-clickhouse-agile: peak memory vs. number of records",
        "",
        "`python -m benchmarks.target_memory` (synthetic issues, 14 changelog entries each, fed from a file",
        "into the real console script; peak RSS of the target process from its `VmHWM`;",
        "records/s includes start-up, migrations and the metrics step). Server = clickhouse-server 18.16 on",
        "loopback, chdb = embedded engine in the target's process.",
        "",
        "| engine | issues (N) | records | peak RSS (MiB) | records/s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {e} | {n:,} | {r:,} | {rss:.0f} | {rate:,.0f} |" for e, n, r, rss, rate in rows]
    lines += [
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {sys.platform}, Python {sys.version.split()[0]}.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
