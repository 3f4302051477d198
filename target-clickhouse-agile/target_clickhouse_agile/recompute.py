"""The metrics step: for every issue touched since the last checkpoint, rebuild its derived rows.

It runs after every sink has been drained and before the STATE message is written (see
`TargetClickhouseAgile.drain_all`), reads each issue's complete history back from ClickHouse and hands it
to the pure metrics core. The step is idempotent: running it twice writes the same rows again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from target_clickhouse_agile.clickhouse import DERIVED_TABLES, Connection, MetricsRepository
from target_clickhouse_agile.metrics import WorkCalendar, compute_issue
from target_clickhouse_agile.status_categories import CategoryResolver

#: Issues whose history is read back by one query: it bounds the history rows held at once (~10 an issue).
#: With 1,000 (and writes at 20,000 rows) one run of 100,000 issues peaked at 100 MB against 97 MB: within
#: the noise, but nothing measured paid for it.
CHUNK = 500
#: Derived rows (and retired keys) held before they are written. Below it, a metrics step writes each
#: derived table once, however many chunks it read: every INSERT is a new part on the server. On 18.16 a
#: part is a directory with two files per column; on this project's 2-CPU test machine an INSERT of 20
#: columns cost the server ~10 ms idle, and the target waited 25-40 ms for each under load, three per
#: chunk of 500 issues before. Above it they are written after the chunk that reached it, so a
#: recomputation of every issue holds at most this many rows plus one chunk's (a step of a full sync covers
#: up to ~1,100 issues, ~9 derived rows each).
WRITE_ROWS = 10_000


@dataclass
class RefreshSummary:
    issues: int = 0
    skipped: int = 0
    rows: int = 0
    seconds: float = 0.0


@dataclass
class _PendingWrites:
    """Derived rows and retired keys computed since the last write, per derived table."""

    rows: dict[str, list[Any]] = field(default_factory=lambda: {table: [] for table in DERIVED_TABLES})
    retired: dict[str, set[tuple[Any, ...]]] = field(
        default_factory=lambda: {table: set() for table in DERIVED_TABLES}
    )

    @property
    def row_count(self) -> int:
        """Rows and retired keys held: both are written, and both take memory until then."""
        return sum(map(len, self.rows.values())) + sum(map(len, self.retired.values()))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MetricsRefresher:
    """Owns one connection (the sinks have their own) and the calendar used for business time."""

    def __init__(
        self,
        conn: Connection,
        calendar: WorkCalendar,
        categories: CategoryResolver,
        logger: logging.Logger,
    ) -> None:
        self._repo = MetricsRepository(conn)
        self._calendar = calendar
        self._categories = categories
        self._logger = logger

    def refresh(self, issue_ids: Iterable[str]) -> RefreshSummary:
        started = time.monotonic()
        summary = RefreshSummary()
        ids = sorted(set(issue_ids))
        if not ids:
            return summary
        self._categories.learn_types(self._repo.status_types())
        pending = _PendingWrites()
        for chunk in _chunks(ids, CHUNK):
            self._refresh_chunk(chunk, summary, pending)
            if pending.row_count >= WRITE_ROWS:
                self._write(pending)
                pending = _PendingWrites()
        self._write(pending)
        summary.seconds = time.monotonic() - started
        self._logger.info(
            "Metrics recomputed for %d issues (%d rows, %d waiting for their issue record) in %.2fs",
            summary.issues,
            summary.rows,
            summary.skipped,
            summary.seconds,
        )
        return summary

    def _refresh_chunk(self, chunk: Sequence[str], summary: RefreshSummary, pending: _PendingWrites) -> None:
        """Compute the derived rows of `chunk` and the keys they retire, into `pending` (written later)."""
        snapshots = self._repo.issue_snapshots(chunk)
        histories = self._repo.histories(list(snapshots))
        computed: dict[str, list[Any]] = {table: [] for table in DERIVED_TABLES}
        for issue_id in chunk:
            snapshot = snapshots.get(issue_id)
            if snapshot is None:
                # Changelog rows arrived before their issue: the issue record re-marks it later.
                summary.skipped += 1
                continue
            events = histories.get(issue_id, [])
            statuses = {snapshot.status}
            for event in events:
                change = event.changes.get("status")
                if change is not None:
                    statuses.update(s for s in (change.from_value, change.to_value) if s)
            result = compute_issue(snapshot, events, self._categories.mapping(statuses), self._calendar)
            computed["issue_status_intervals"].extend(result.intervals)
            computed["issue_metrics"].extend(result.statuses)
            computed["issue_flow"].append(result.flow)
            summary.issues += 1
        live_ids = list(snapshots)
        if not live_ids:
            return
        existing = self._repo.existing_keys(live_ids)
        for table, rows in computed.items():
            key_columns = ("issue_id", *DERIVED_TABLES[table])
            fresh = {tuple(getattr(r, c) for c in key_columns) for r in rows}
            pending.retired[table] |= existing[table] - fresh
            pending.rows[table].extend(rows)
            summary.rows += len(rows)

    def _write(self, pending: _PendingWrites) -> None:
        """Every chunk in `pending` written with one INSERT per derived table (on servers without
        `_is_deleted`, plus the deletion of its retired keys); a table with neither is not touched. The
        chunks hold different issues, so their keys never meet."""
        for table in DERIVED_TABLES:
            if pending.rows[table] or pending.retired[table]:
                self._repo.write(table, pending.rows[table], pending.retired[table])
