"""One METRIC line per child stream and metric instead of one per issue.

The SDK syncs a child stream once per parent record and logs `record_count`, `sync_duration` and
`http_request_count` for every such sync: three lines per issue for `issue_changelog`, 60,000 lines for a
20,000-issue run. Operators read the progress lines instead; tools that read METRIC lines still get the
totals, logged when the sync ends, in the SDK's format and without a `context` tag.

The child stream's meters (the SDK's `get_record_counter` / `get_sync_timer` / `get_http_request_counter`
hooks) add into :class:`MetricTotals` instead of logging. Dropping the lines in a logging filter instead
would still build, format (secret scrubbing reads the message) and discard 6,000 log records per 2,000
issues: ~10 % of the tap's CPU.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from types import TracebackType
from typing import Any

from singer_sdk import metrics


class MetricTotals:
    """Sums of the points the child stream's meters would have logged, per (stream, metric, kind)."""

    def __init__(self) -> None:
        self._totals: dict[tuple[str, metrics.Metric, str], float] = defaultdict(float)
        self._lock = threading.Lock()  # changelog fetches count their requests in worker threads

    def add(self, stream: str, metric: metrics.Metric, kind: str, value: float) -> None:
        with self._lock:
            self._totals[(stream, metric, kind)] += value

    def counter(self, metric: metrics.Metric, stream: str, **tags: Any) -> metrics.Counter:
        return TotallingCounter(self, metric, {metrics.Tag.STREAM: stream, **tags})

    def timer(self, metric: metrics.Metric, stream: str) -> metrics.Timer:
        return TotallingTimer(self, metric, {metrics.Tag.STREAM: stream})

    def log(self, logger: logging.Logger | None = None, *, wait: float | None = None) -> None:
        """Log each total once, as the SDK would have logged a single point (then start again from 0).
        `wait`: seconds to wait for the totals' lock, then log nothing (a signal handler's call: the
        thread it interrupted may hold the lock); None waits as long as it takes."""
        logger = logger or metrics.get_metrics_logger()
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            return
        try:
            totals, self._totals = self._totals, defaultdict(float)
        finally:
            self._lock.release()
        for (stream, metric, kind), value in sorted(totals.items(), key=lambda item: str(item[0])):
            number: float = int(value) if kind == "counter" else value
            metrics.log(logger, metrics.Point(kind, metric, number, {metrics.Tag.STREAM: stream}))


class TotallingCounter(metrics.Counter):
    """The SDK's counter, adding to the totals where it would log."""

    def __init__(self, totals: MetricTotals, metric: metrics.Metric, tags: dict[str, Any]) -> None:
        super().__init__(metric, tags)
        self._sums = totals

    def _pop(self) -> None:
        self._sums.add(str(self.tags[metrics.Tag.STREAM]), self.metric, "counter", self.value)
        self.value = 0

    def _ready_to_log(self) -> bool:
        return False


class TotallingTimer(metrics.Timer):
    """The SDK's timer, adding to the totals where it would log."""

    def __init__(self, totals: MetricTotals, metric: metrics.Metric, tags: dict[str, Any]) -> None:
        super().__init__(metric, tags)
        self._sums = totals

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._sums.add(str(self.tags[metrics.Tag.STREAM]), self.metric, "timer", self.elapsed())
