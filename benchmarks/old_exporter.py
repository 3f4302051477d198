"""The exporter we replace (PyPI `tracker-exporter` 2.0.0): its own venv, its tables, one measured run.

The package is installed into `benchmarks/.venv-old` (created on first use, gitignored), never into the
project's venv, and runs unchanged through `old_exporter_entry.py`. It uploads to the real ClickHouse
18.16 server over HTTP. Its migrations (golang-migrate files in its repository, not in the wheel) declare
`DateTime64(3, 'UTC')` and `LowCardinality(String)`, which 18.16 lacks; `OLD_TABLES` declares the same
three tables (columns = the keys of the rows it inserts, same engine, ORDER BY and PARTITION BY) with the
two rewrites our own dialect makes for old servers: `DateTime('UTC')` and plain `String`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks.procs import PeakRss, ProcStats, reap_with_cap

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-old"
PYTHON = VENV / "bin" / "python"
ENTRY = HERE / "old_exporter_entry.py"
#: tracker-exporter 2.0.0 and PyYAML (which its wheel does not declare), exact versions with hashes.
LOCK = HERE.parent / "locks" / "old-exporter.txt"
SEARCH_LIMIT = 10_000  # the exporter (page-mode search) never sees more issues than this
DT = "DateTime('UTC')"

# table -> (columns, engine clause); column types after the 18.16 rewrites described above
OLD_TABLES: dict[str, tuple[list[tuple[str, str]], str]] = {
    "issues": (
        [
            ("version", f"{DT} DEFAULT now()"),
            *((name, "String") for name in ("queue", "title", "issue_key", "issue_type", "priority")),
            *((name, "String") for name in ("status", "resolution", "assignee", "author", "qa_engineer")),
            ("tags", "Array(String)"),
            ("components", "Array(String)"),
            ("project", "String"),
            ("created_at", DT),
            ("updated_at", DT),
            ("deadline", "Date DEFAULT 0"),
            ("closed_at", f"{DT} DEFAULT 0"),
            ("resolved_at", f"{DT} DEFAULT 0"),
            ("start_date", "Date DEFAULT 0"),
            ("end_date", "Date DEFAULT 0"),
            ("is_subtask", "UInt8"),
            ("is_closed", "UInt8"),
            ("is_resolved", "UInt8"),
            ("story_points", "Float32"),
            ("sprints", "Array(String)"),
            ("parent_issue_key", "String"),
            ("epic_issue_key", "String"),
            ("aliases", "Array(String)"),
            ("was_moved", "UInt8"),
            ("moved_at", f"{DT} DEFAULT 0"),
            ("moved_by", "String"),
        ],
        "ReplacingMergeTree(version) PARTITION BY toYYYYMM(updated_at) ORDER BY issue_key",
    ),
    "issue_metrics": (
        [
            ("version", f"{DT} DEFAULT now()"),
            ("last_seen", DT),
            ("issue_key", "String"),
            ("status_name", "String"),
            ("status_transitions_count", "UInt8"),
            ("duration", "UInt32"),
            ("human_readable_duration", "String"),
            ("busdays_duration", "UInt32"),
            ("human_readable_busdays_duration", "String"),
        ],
        "ReplacingMergeTree(version) PARTITION BY toYYYYMM(last_seen) "
        "ORDER BY (issue_key, status_name, last_seen)",
    ),
    "issues_changelog": (
        [
            ("version", f"{DT} DEFAULT now()"),
            ("event_time", DT),
            *((name, "String") for name in ("issue_key", "queue", "event_type", "transport", "actor")),
            *((name, "String") for name in ("changed_field", "changed_from", "changed_to")),
        ],
        "ReplacingMergeTree(version) PARTITION BY toYYYYMM(event_time) "
        "ORDER BY (issue_key, event_time, event_type, changed_field)",
    ),
}

_PROGRESS = re.compile(r"^(\S+ \S+) \[INFO\].*Processed (\d+) of ~(\d+) issues")
_TOTALS = re.compile(r"Total issues: (\d+), total metrics: (\d+), total changelog events: (\d+)")
_FAILED = re.compile(r"Issue (\S+) can't be transformed, details: (.*)$")


def ensure_venv(log: Path | None = None) -> Path:
    """Create `benchmarks/.venv-old` with the exporter when it is missing; returns its python."""
    if PYTHON.exists() and _has_exporter():
        return PYTHON
    print(f"Installing tracker-exporter from {LOCK.name} into {VENV} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    out = log.open("w") if log else subprocess.DEVNULL
    install = [str(PYTHON), "-m", "pip", "install", "-q", "--require-hashes", "--no-deps", "-r", str(LOCK)]
    subprocess.run(install, check=True, stdout=out, stderr=out)
    return PYTHON


def _has_exporter() -> bool:
    probe = [str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('tracker-exporter'))"]
    result = subprocess.run(probe, capture_output=True, text=True, check=False)
    return result.stdout.strip() == "2.0.0"


def clickhouse_http(http_url: str, sql: str) -> str:
    """One statement over ClickHouse's HTTP interface (the protocol the exporter itself uses)."""
    request = urllib.request.Request(http_url, data=sql.encode(), method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return response.read().decode()


def create_tables(http_url: str, database: str) -> None:
    """A fresh database with the exporter's three tables."""
    clickhouse_http(http_url, f"DROP DATABASE IF EXISTS {database}")
    clickhouse_http(http_url, f"CREATE DATABASE {database}")
    for table, (columns, engine) in OLD_TABLES.items():
        body = ", ".join(f"`{name}` {kind}" for name, kind in columns)
        clickhouse_http(http_url, f"CREATE TABLE {database}.{table} ({body}) ENGINE = {engine}")


@dataclass
class OldRun:
    """One run of the old exporter: process cost, progress and what it produced."""

    proc: ProcStats
    issues_done: int = 0  # issues it transformed (from its own log) by the end or by the cap
    issues_planned: int = 0  # what its search said it would process (at most 10,000)
    issues_found: int = 0  # what `_count` said matched the query
    rows: dict[str, int] = field(default_factory=dict)  # rows it inserted, per table (its own log)
    rows_final: dict[str, int] = field(default_factory=dict)  # count() after its OPTIMIZE ... FINAL
    failed: dict[str, str] = field(default_factory=dict)  # issue key -> error it logged
    progress: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, issues done)
    log: Path | None = None

    @property
    def complete(self) -> bool:
        return not self.proc.capped and self.proc.returncode == 0

    def extrapolated_wall_s(self) -> float:
        """Wall time for all `issues_planned` issues, linear in issues from the last progress line."""
        if self.complete or not self.progress:
            return self.proc.wall_s
        seconds, done = self.progress[-1]
        return seconds * self.issues_planned / max(done, 1)


def run(
    api_url: str,
    workdir: Path,
    *,
    http_url: str | None,
    database: str,
    cap_s: float | None,
    capture: Path | None = None,
) -> OldRun:
    """Run the exporter once (`--run-once`) against `api_url`; upload to `http_url` unless it is None."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("EXPORTER_", "VIRTUAL_ENV"))
    }
    env.update(
        {
            "EXPORTER_TRACKER__TOKEN": "sim-token",
            "EXPORTER_TRACKER__ORG_ID": "sim-org",
            "EXPORTER_TRACKER__LANGUAGE": "en",
            # every issue, oldest update first (it appends `"Sort by": Updated ASC` itself)
            "EXPORTER_TRACKER__SEARCH__QUERY": 'Created: >= "2000-01-01"',
            "EXPORTER_CHANGELOG_EXPORT_ENABLED": "true",
            "EXPORTER_CLICKHOUSE__ENABLE_UPLOAD": "true" if http_url else "false",
            "EXPORTER_CLICKHOUSE__DATABASE": database,
            "EXPORTER_LOGLEVEL": "info",
        }
    )
    if http_url:
        host, port = http_url.removeprefix("http://").rstrip("/").split(":")
        env.update({"EXPORTER_CLICKHOUSE__HOST": host, "EXPORTER_CLICKHOUSE__PORT": port})
        env["EXPORTER_CLICKHOUSE__USERNAME"] = "default"
        create_tables(http_url, database)
    command = [str(PYTHON), str(ENTRY), "--api-url", api_url, "--global-field", "qaEngineer"]
    command += ["--global-field", "project", "--clickhouse-setting", "date_time_input_format=best_effort"]
    if capture:
        command += ["--capture", str(capture)]
    log = workdir / "old-exporter.log"
    with log.open("w") as err:
        started_wall, started = time.time(), time.monotonic()
        # stdout: with upload off it prints every row it would have inserted
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=err)
        stats = reap_with_cap(proc, "old exporter", started, cap_s, PeakRss(proc.pid, ENTRY.name))
    result = OldRun(proc=stats, log=log)
    _read_log(result, log, started_wall)
    if http_url and result.complete:
        for table in OLD_TABLES:
            count = clickhouse_http(http_url, f"SELECT count() FROM {database}.{table}")
            result.rows_final[table] = int(count)
    return result


def _read_log(result: OldRun, log: Path, started_wall: float) -> None:
    for line in log.read_text(errors="replace").splitlines():
        if match := _PROGRESS.match(line):
            at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S.%f").timestamp()
            result.progress.append((at - started_wall, int(match[2])))
            result.issues_planned = int(match[3])
        elif match := _TOTALS.search(line):
            result.issues_done = int(match[1])
            result.rows = {"issues": int(match[1]), "issue_metrics": int(match[2])}
            result.rows["issues_changelog"] = int(match[3])
        elif match := _FAILED.search(line):
            result.failed[match[1]] = match[2]
        elif "Found " in line and " issues by query" in line:
            result.issues_found = int(line.split("Found ", 1)[1].split()[0])
    if not result.issues_done and result.progress:
        result.issues_done = result.progress[-1][1]
    if not result.issues_planned:
        result.issues_planned = min(result.issues_found, SEARCH_LIMIT)
