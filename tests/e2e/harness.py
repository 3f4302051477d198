"""End-to-end harness: the real console scripts (`tap-yandex-tracker | target-clickhouse-agile`) joined by
a pipe, what they print, what lands in ClickHouse, and what the simulator says should have landed.

Kept free of pytest so that other suites (chaos, soak, benchmarks) can drive the same pipeline:

    result = run_pipeline(tap_config(sim), target_config(settings), workdir=tmp_path)
    result.check()                                   # both exited 0
    stored = read_tables(settings)                   # rows as plain Python values
    problems = compare_with_truth(stored, expected_from_simulator(sim))
    assert not problems, "\\n".join(problems[:20])

The expectations are computed here, independently of the target's metrics core: from the simulator's ground
truth (each issue's status timeline) and the simulator's own status types, with a separate, deliberately
simple business-time walk (`business_seconds_by_day`).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import holidays

from target_clickhouse_agile.clickhouse.connection import connect
from tests.simulator import IssueTruth, TrackerSimulator
from tests.simulator.catalog import STATUS_TYPE

BIN = Path(sys.executable).parent
TAP_CLI = str(BIN / "tap-yandex-tracker")
TARGET_CLI = str(BIN / "target-clickhouse-agile")

#: Tracker status type → category, as the data contract defines it (independent of the target's table).
CATEGORY_OF_TYPE = {
    "new": "todo",
    "inProgress": "active",
    "paused": "wait",
    "done": "done",
    "cancelled": "cancelled",
}
CLOSED = frozenset({"done", "cancelled"})

#: The calendar every e2e run uses (the target's defaults, spelled out so the checks below can use them).
CALENDAR = {
    "timezone": "Europe/Moscow",
    "work_hours_start": "09:00",
    "work_hours_end": "18:00",
    "work_days": [1, 2, 3, 4, 5],
    "holidays_country": "RU",
}


# --- configs -------------------------------------------------------------------------------------


def tap_config(sim: TrackerSimulator, **overrides: Any) -> dict[str, Any]:
    """Tap settings for a simulator (its default credentials, fast retries)."""
    return {
        "api_url": sim.url,
        "token": "sim-token",
        "org_id": "sim-org",
        "max_concurrent_requests": 4,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.1,
        **overrides,
    }


def target_config(settings: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """Target settings: the ClickHouse settings of a fixture plus the e2e calendar."""
    return {**settings, **CALENDAR, **overrides}


def write_json(directory: Path, name: str, payload: Any) -> Path:
    path = Path(directory) / name
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


# --- running the console scripts -------------------------------------------------------------------


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

    def describe(self) -> str:
        tail = "\n".join(self.stderr.splitlines()[-25:])
        return f"{self.name} exited {self.returncode}; stderr tail:\n{tail}"


@dataclass
class PipelineResult:
    """A `tap | target` run. `states` are the STATE values the target emitted, in order."""

    tap: ProcessResult
    target: ProcessResult
    states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    @property
    def ok(self) -> bool:
        return self.tap.returncode == 0 and self.target.returncode == 0

    def check(self) -> PipelineResult:
        """Raise with both stderr tails unless both processes exited 0."""
        if not self.ok:
            raise AssertionError(f"{self.tap.describe()}\n\n{self.target.describe()}")
        return self


def _read_all(stream: IO[bytes], sink: list[bytes]) -> threading.Thread:
    thread = threading.Thread(target=lambda: sink.append(stream.read()), daemon=True)
    thread.start()
    return thread


def run_target(
    config: Mapping[str, Any], input_text: str, *, workdir: Path, timeout: float = 300
) -> ProcessResult:
    """The target's console script on `input_text` (Singer lines)."""
    args = [TARGET_CLI, "--config", str(write_json(workdir, "target.json", config))]
    done = subprocess.run(
        args, input=input_text, capture_output=True, text=True, timeout=timeout, check=False
    )
    return ProcessResult("target", done.returncode, done.stdout, done.stderr)


def records_loaded(result: ProcessResult) -> dict[str, int]:
    """Records per stream from the target's end-of-run summary log line ({} when it did not finish)."""
    for line in reversed(result.stderr.splitlines()):
        if "Summary:" in line and "records loaded" in line:
            return json.loads(line.split("records loaded", 1)[1].split("}", 1)[0] + "}")
    return {}


def target_states(result: ProcessResult) -> list[dict[str, Any]]:
    """The STATE values a target printed (one bare JSON value per line)."""
    return parse_json_lines(result.stdout)


def run_tap(
    config: Mapping[str, Any],
    *,
    workdir: Path,
    state: Mapping[str, Any] | None = None,
    timeout: float = 300,
) -> ProcessResult:
    """The tap's console script alone (e.g. to record its output once and replay it into targets)."""
    done = subprocess.run(
        _tap_args(config, state, workdir), capture_output=True, text=True, timeout=timeout, check=False
    )
    return ProcessResult("tap", done.returncode, done.stdout, done.stderr)


def _tap_args(config: Mapping[str, Any], state: Mapping[str, Any] | None, workdir: Path) -> list[str]:
    args = [TAP_CLI, "--config", str(write_json(workdir, "tap.json", config))]
    if state is not None:
        args += ["--state", str(write_json(workdir, "state.json", state))]
    return args


def run_pipeline(
    tap_settings: Mapping[str, Any],
    target_settings: Mapping[str, Any],
    *,
    workdir: Path,
    state: Mapping[str, Any] | None = None,
    timeout: float = 300,
    while_running: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> PipelineResult:
    """`tap | target` as two processes joined by a pipe, exactly as users run them.

    `while_running(target_process)` is called once both have started (in this thread), e.g. to stop the
    ClickHouse server at the right moment; the run then continues until both processes exit.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    target_args = [TARGET_CLI, "--config", str(write_json(workdir, "target.json", target_settings))]
    tap = subprocess.Popen(
        _tap_args(tap_settings, state, workdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert tap.stdout is not None
    assert tap.stderr is not None
    target = subprocess.Popen(target_args, stdin=tap.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tap.stdout.close()  # the target owns the read end: the tap gets SIGPIPE if the target dies
    assert target.stdout is not None
    assert target.stderr is not None
    buffers: dict[str, list[bytes]] = {"tap_err": [], "out": [], "err": []}
    readers = [
        _read_all(tap.stderr, buffers["tap_err"]),
        _read_all(target.stdout, buffers["out"]),
        _read_all(target.stderr, buffers["err"]),
    ]
    try:
        if while_running is not None:
            while_running(target)
        target.wait(timeout=timeout)
        tap.wait(timeout=timeout)
    finally:
        for process in (tap, target):
            if process.poll() is None:
                process.kill()
                process.wait()
        for reader in readers:
            reader.join(timeout=30)

    def text(name: str) -> str:
        return b"".join(buffers[name]).decode("utf-8", errors="replace")

    target_result = ProcessResult("target", target.returncode, text("out"), text("err"))
    return PipelineResult(
        tap=ProcessResult("tap", tap.returncode, "", text("tap_err")),
        target=target_result,
        states=target_states(target_result),
    )


# --- what landed ---------------------------------------------------------------------------------

LIVE = "FINAL WHERE _is_deleted = 0"
TABLE_QUERIES = {
    "issues": "SELECT * FROM issues FINAL",
    "issue_changelog": "SELECT * FROM issue_changelog FINAL",
    "issue_status_intervals": f"SELECT * FROM issue_status_intervals {LIVE}",
    "issue_metrics": f"SELECT * FROM issue_metrics {LIVE}",
    "issue_flow": f"SELECT * FROM issue_flow {LIVE}",
}
#: Columns that legitimately differ between two loads of the same data (load and computation times).
VOLATILE = frozenset({"_version", "_loaded_at", "computed_at"})
KEYS = {
    "issues": ("issue_id",),
    "issue_changelog": ("event_id", "field_id"),
    "issue_status_intervals": ("issue_id", "seq"),
    "issue_metrics": ("issue_id", "status"),
    "issue_flow": ("issue_id",),
}


def read_tables(settings: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The five core tables as the dashboards see them (FINAL, tombstones hidden), sorted by key."""
    tables = run_queries(settings, TABLE_QUERIES)
    return {
        table: sorted(rows, key=lambda r, t=table: tuple(str(r[k]) for k in KEYS[t]))
        for table, rows in tables.items()
    }


def run_queries(settings: Mapping[str, Any], queries: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Rows of each named query. Embedded ClickHouse is read in a child process: chdb opens one data
    directory per process, and the calling process may already hold another one (e.g. from an in-process
    target test)."""
    if str(settings.get("host") or "").strip():
        return _run_queries_here(settings, queries)
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.harness", "run-queries"],
        input=json.dumps({"settings": dict(settings), "queries": dict(queries)}).encode(),
        capture_output=True,
        check=False,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    if done.returncode != 0:
        raise RuntimeError(f"reading {settings} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return pickle.loads(done.stdout)  # noqa: S301 - our own child process


def _run_queries_here(
    settings: Mapping[str, Any], queries: Mapping[str, str]
) -> dict[str, list[dict[str, Any]]]:
    with connect(settings) as conn:
        return {name: conn.query(sql) for name, sql in queries.items()}


def comparable(tables: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Tables without the columns that record *when* something was loaded or computed."""
    return {
        t: [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows] for t, rows in tables.items()
    }


def table_differences(
    left: Mapping[str, list[dict[str, Any]]], right: Mapping[str, list[dict[str, Any]]], limit: int = 10
) -> list[str]:
    """Readable differences between two `comparable()` snapshots (empty when equal)."""
    problems: list[str] = []
    for table in sorted(set(left) | set(right)):
        a = {tuple(str(r[k]) for k in KEYS[table]): r for r in left.get(table, [])}
        b = {tuple(str(r[k]) for k in KEYS[table]): r for r in right.get(table, [])}
        for key in sorted(set(a) ^ set(b))[:limit]:
            problems.append(f"{table} {key}: only in {'left' if key in a else 'right'}")
        for key in sorted(set(a) & set(b)):
            if a[key] != b[key] and len(problems) < limit * 5:
                diff = {c: (a[key].get(c), b[key].get(c)) for c in a[key] if a[key].get(c) != b[key].get(c)}
                problems.append(f"{table} {key}: {diff}")
    return problems


def max_stored_updated_at(settings: Mapping[str, Any]) -> datetime | None:
    """The newest `updated_at` durably stored in `issues` (what a STATE bookmark may cover at most)."""
    with connect(settings) as conn:
        rows = conn.query("SELECT count() AS n, max(updated_at) AS m FROM issues")
    return rows[0]["m"] if rows[0]["n"] else None


def issues_bookmark(state: Mapping[str, Any]) -> datetime | None:
    """The `issues` replication bookmark of a STATE value (None before the first issue)."""
    value = (state.get("bookmarks") or {}).get("issues", {}).get("replication_key_value")
    return parse_utc(value) if value else None


def parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


# --- what should have landed ---------------------------------------------------------------------


def category(status: str) -> str:
    return CATEGORY_OF_TYPE[STATUS_TYPE[status]]


def whole_seconds(start: datetime, end: datetime) -> int:
    """Truncated whole seconds, as the contract defines `duration_s`."""
    delta = end - start
    return delta.days * 86400 + delta.seconds


@dataclass(frozen=True)
class ExpectedVisit:
    seq: int
    status: str
    entered_at: datetime
    left_at: datetime | None

    @property
    def duration_s(self) -> int | None:
        return None if self.left_at is None else whole_seconds(self.entered_at, self.left_at)


@dataclass
class ExpectedIssue:
    """One issue as the contract says the tables must show it, computed from the simulator's truth."""

    truth: IssueTruth
    changelog_entries: int
    visits: list[ExpectedVisit]
    started_at: datetime | None
    done_at: datetime | None
    reopen_count: int

    @property
    def lead_time_s(self) -> int | None:
        return None if self.done_at is None else whole_seconds(self.truth.created_at, self.done_at)

    @property
    def cycle_time_s(self) -> int | None:
        if self.done_at is None or self.started_at is None:
            return None
        return whole_seconds(self.started_at, self.done_at)


def expected_issue(truth: IssueTruth, changelog_entries: int) -> ExpectedIssue:
    """Visits, start, done and reopens from a truth timeline, straight from the data contract."""
    timeline: list[tuple[str, datetime]] = []
    for status, at in truth.timeline:
        if not timeline or timeline[-1][0] != status:  # a no-op transition is not a visit
            timeline.append((status, at))
    ends: list[datetime | None] = [at for _s, at in timeline[1:]]
    visits = [
        ExpectedVisit(seq, status, at, end)
        for seq, ((status, at), end) in enumerate(zip(timeline, [*ends, None], strict=True), start=1)
    ]
    categories = [category(v.status) for v in visits]
    started = next(
        (v.entered_at for v, c in zip(visits, categories, strict=True) if c in ("active", "wait")), None
    )
    done_at = None
    if categories[-1] == "done":
        first = len(visits) - 1
        while first > 0 and categories[first - 1] == "done":
            first -= 1
        done_at = visits[first].entered_at
    reopens = sum(1 for a, b in pairwise(categories) if a in CLOSED and b not in CLOSED)
    return ExpectedIssue(truth, changelog_entries, visits, started, done_at, reopens)


def expected_from_simulator(sim: TrackerSimulator) -> dict[str, ExpectedIssue]:
    """Per issue id, the expectation for every issue the simulator holds right now."""
    org = sim.org
    truths = sim.ground_truth()
    with org.lock:
        entries = {record.id: record.version for record in org.records}
    return {issue_id: expected_issue(truth, entries[issue_id]) for issue_id, truth in truths.items()}


# --- an independent business-time calculation -------------------------------------------------------


@dataclass(frozen=True)
class SimpleCalendar:
    """Working hours of working days in a timezone, walked one local day at a time.

    Deliberately naive (no caching, no day ordinals) so that it shares no code or shortcut with the
    target's `WorkCalendar`; it only shares the public-holiday data (the `holidays` package).
    """

    timezone: str = CALENDAR["timezone"]
    start: time = time(9, 0)
    end: time = time(18, 0)
    work_days: frozenset[int] = frozenset(CALENDAR["work_days"])
    country: str | None = CALENDAR["holidays_country"]

    def is_working(self, day: date) -> bool:
        if day.isoweekday() not in self.work_days:
            return False
        return not (self.country and day in holidays.country_holidays(self.country, years=day.year))

    def business_seconds_by_day(self, start: datetime, end: datetime) -> int:
        """Truncated seconds of [start, end) inside working hours of working days."""
        zone = ZoneInfo(self.timezone)
        total = timedelta(0)
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            if self.is_working(day):
                open_at = datetime.combine(day, self.start, zone)
                close_at = datetime.combine(day, self.end, zone)
                overlap = min(end, close_at) - max(start, open_at)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total.days * 86400 + total.seconds


# --- comparing ---------------------------------------------------------------------------------------


def _by(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


Stamp = Callable[[datetime | None], datetime | None]


def _exact(value: datetime | None) -> datetime | None:
    return value


def _to_second(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(microsecond=0)


def compare_with_truth(
    tables: Mapping[str, list[dict[str, Any]]],
    expected: Mapping[str, ExpectedIssue],
    *,
    business_sample: Iterable[str] = (),
    calendar: SimpleCalendar | None = None,
    seconds_only: bool = False,
) -> list[str]:
    """Every difference between the stored tables and the expectation, one readable line each.

    Checks issue and changelog-entry counts, each issue's visits (status, category, entered/left, exact
    `duration_s`), per-status visits and sums, and the flow facts. For the issues in `business_sample`
    the business seconds of every visit, of each status's sum and of lead/cycle time are recomputed with
    `calendar`. `seconds_only`: the server stores `DateTime` (old servers), so timestamps are compared to
    the second; durations must still be exact, because the target computes them from milliseconds.
    """
    ts: Stamp = _to_second if seconds_only else _exact
    problems: list[str] = []
    issues = {r["issue_id"]: r for r in tables["issues"]}
    missing, extra = set(expected) - set(issues), set(issues) - set(expected)
    if missing or extra:
        problems.append(f"issues: {len(missing)} missing, {len(extra)} extra")
    entries = {
        k: len({r["event_id"] for r in v}) for k, v in _by(tables["issue_changelog"], "issue_id").items()
    }
    intervals = _by(tables["issue_status_intervals"], "issue_id")
    metrics = _by(tables["issue_metrics"], "issue_id")
    flows = {r["issue_id"]: r for r in tables["issue_flow"]}
    sample = set(business_sample)
    calendar = calendar or SimpleCalendar()
    for issue_id, want in sorted(expected.items()):
        issue = issues.get(issue_id)
        where = f"{want.truth.key} ({issue_id})"
        if issue is None:
            continue
        if (issue["issue_key"], issue["status"]) != (want.truth.key, want.truth.current_status):
            problems.append(f"{where}: issue row {issue['issue_key']}/{issue['status']}")
        if entries.get(issue_id, 0) != want.changelog_entries:
            problems.append(
                f"{where}: {entries.get(issue_id, 0)} changelog entries, want {want.changelog_entries}"
            )
        visits = sorted(intervals.get(issue_id, []), key=lambda r: r["seq"])
        problems += _compare_visits(where, visits, want, ts)
        problems += _compare_metrics(where, metrics.get(issue_id, []), want, ts)
        problems += _compare_flow(where, flows.get(issue_id), want, ts)
        if issue_id in sample:
            problems += _compare_business(
                where, visits, metrics.get(issue_id, []), flows.get(issue_id), want, calendar
            )
    return problems


def _compare_visits(where: str, rows: list[dict[str, Any]], want: ExpectedIssue, ts: Stamp) -> list[str]:
    got = [
        (r["seq"], r["status"], r["status_category"], ts(r["entered_at"]), ts(r["left_at"]), r["duration_s"])
        for r in rows
    ]
    wanted = [
        (v.seq, v.status, category(v.status), ts(v.entered_at), ts(v.left_at), v.duration_s)
        for v in want.visits
    ]
    if got != wanted:
        return [f"{where}: intervals\n  got  {got}\n  want {wanted}"]
    return []


def _compare_metrics(where: str, rows: list[dict[str, Any]], want: ExpectedIssue, ts: Stamp) -> list[str]:
    wanted: dict[str, dict[str, Any]] = {}
    for visit in want.visits:
        entry = wanted.setdefault(
            visit.status,
            {"visits": 0, "duration_s": 0, "first_entered_at": ts(visit.entered_at), "is_current": 0},
        )
        entry["visits"] += 1
        entry["duration_s"] += visit.duration_s or 0
        entry["last_entered_at"] = ts(visit.entered_at)
        entry["is_current"] = int(visit.left_at is None)
    got = {
        r["status"]: {
            "visits": r["visits"],
            "duration_s": r["duration_s"],
            "first_entered_at": ts(r["first_entered_at"]),
            "is_current": r["is_current"],
            "last_entered_at": ts(r["last_entered_at"]),
        }
        for r in rows
    }
    if got != wanted:
        return [f"{where}: issue_metrics\n  got  {got}\n  want {wanted}"]
    return []


def _compare_flow(where: str, row: dict[str, Any] | None, want: ExpectedIssue, ts: Stamp) -> list[str]:
    if row is None:
        return [f"{where}: no issue_flow row"]
    got = (
        ts(row["created_at"]),
        ts(row["started_at"]),
        ts(row["done_at"]),
        row["lead_time_s"],
        row["cycle_time_s"],
        row["reopen_count"],
    )
    wanted = (
        ts(want.truth.created_at),
        ts(want.started_at),
        ts(want.done_at),
        want.lead_time_s,
        want.cycle_time_s,
        want.reopen_count,
    )
    if got != wanted:
        return [
            f"{where}: issue_flow (created, started, done, lead, cycle, reopens)\n"
            f"  got  {got}\n  want {wanted}"
        ]
    return []


def _compare_business(
    where: str,
    rows: list[dict[str, Any]],
    metric_rows: list[dict[str, Any]],
    flow: dict[str, Any] | None,
    want: ExpectedIssue,
    calendar: SimpleCalendar,
) -> list[str]:
    problems = []
    stored = {r["seq"]: r["business_duration_s"] for r in rows}
    sums: dict[str, int] = defaultdict(int)
    for visit in want.visits:
        expected = None
        if visit.left_at is not None:
            expected = calendar.business_seconds_by_day(visit.entered_at, visit.left_at)
        sums[visit.status] += expected or 0
        if stored.get(visit.seq) != expected:
            problems.append(f"{where}: visit {visit.seq} business {stored.get(visit.seq)}, want {expected}")
    stored_sums = {r["status"]: r["business_duration_s"] for r in metric_rows}
    if stored_sums != dict(sums):
        problems.append(f"{where}: business sums per status {stored_sums}, want {dict(sums)}")
    if flow is not None and want.done_at is not None:
        lead = calendar.business_seconds_by_day(want.truth.created_at, want.done_at)
        cycle = (
            None
            if want.started_at is None
            else calendar.business_seconds_by_day(want.started_at, want.done_at)
        )
        if (flow["business_lead_time_s"], flow["business_cycle_time_s"]) != (lead, cycle):
            problems.append(
                f"{where}: business lead/cycle "
                f"{flow['business_lead_time_s']}/{flow['business_cycle_time_s']}, want {lead}/{cycle}"
            )
    return problems


if __name__ == "__main__":  # `python -m tests.e2e.harness run-queries < {"settings", "queries"}`
    if sys.argv[1:] != ["run-queries"]:
        raise SystemExit("usage: python -m tests.e2e.harness run-queries < request.json (see run_queries)")
    request = json.loads(sys.stdin.read())
    sys.stdout.buffer.write(pickle.dumps(_run_queries_here(request["settings"], request["queries"])))
