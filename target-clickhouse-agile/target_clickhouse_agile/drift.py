"""Fields whose shape nobody foresaw: kept, reported once, counted, never a reason to stop a sync.

Tracker evolves and organisations differ (custom fields, settings, old data): a field may arrive as an
object where the documentation shows a string, as a string where it shows a number, or as something new.
The target stops a run only for what the metrics and the table keys cannot do without (see
`rows.REQUIRED_FIELDS`): an id, a timestamp, a status. Any other field with an unexpected shape keeps
its value (every table of the tap's streams has a `raw` column holding the whole record as JSON; a stream
without a migration has none, and the warning says the value is not stored), leaves its typed
column empty, is logged once per (stream, field) with the record that showed it first, and is counted in
the end-of-run summary.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter


class ShapeDrift:
    """What the run saw: per (stream, field) the number of records, and the first warning of each."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self.fields: Counter[tuple[str, str]] = Counter()
        self.records: Counter[str] = Counter()

    def note(self, stream: str, record_ident: str, problems: dict[str, str], *, kept: bool = True) -> None:
        """One record of ``stream`` had these fields (name -> what was wrong) in an unexpected shape.
        ``kept``: its table has a `raw` column (a stream without a migration has none: the value is lost)."""
        if not problems:
            return
        with self._lock:
            self.records[stream] += 1
            first_seen = []
            for field in problems:
                key = (stream, field)
                if key not in self.fields:
                    first_seen.append(field)
                self.fields[key] += 1
        where = "is kept in `raw`" if kept else "is not stored (its table has no `raw` column)"
        for field in first_seen:
            self._logger.warning(
                "%s record %s: field '%s' has an unexpected shape (%s); its value %s and its column left "
                "empty. Reported once per stream and field; the run goes on.",
                stream,
                record_ident,
                field,
                problems[field],
                where,
            )

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    def summary(self) -> str:
        """``"3 records with fields of an unexpected shape {"boards.country": 3}"``, or ``""``."""
        if not self.fields:
            return ""
        by_field = {f"{stream}.{field}": count for (stream, field), count in sorted(self.fields.items())}
        count = self.total_records
        return f"{count} records with fields of an unexpected shape kept in raw {json.dumps(by_field)}"
