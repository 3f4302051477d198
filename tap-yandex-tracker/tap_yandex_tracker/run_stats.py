"""Run counters, the periodic progress line and the final one-line summary.

Shared by the main thread and the changelog workers, hence the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

PROGRESS_INTERVAL_S = 5.0


@dataclass
class RunStats:
    """Counters for one tap run."""

    started_at: float = field(default_factory=time.monotonic)
    requests: int = 0
    retries: int = 0
    issues: int = 0
    changelog_entries: int = 0
    changelog_missing: int = 0
    scroll_restarts: int = 0
    set_aside: int = 0
    reference_records: int = 0
    #: Requests in flight: the limit at the end, the highest it reached, its ceiling; requests refused.
    concurrency: int = 0
    concurrency_highest: int = 0
    concurrency_ceiling: int = 0
    refused: int = 0
    #: The gate's smoothed round trip of healthy answers, in seconds (None: none yet). With the requests in
    #: flight it explains the rate: about in-flight / round trip requests a second.
    round_trip_s: float | None = None
    _last_progress: float = field(default_factory=time.monotonic)
    _summary_logged: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def elapsed(self) -> float:
        return max(time.monotonic() - self.started_at, 1e-6)

    def maybe_log_progress(self, logger: logging.Logger) -> None:
        """Log a progress line at most every ``PROGRESS_INTERVAL_S`` seconds."""
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        elapsed = self.elapsed()
        logger.info(
            "progress: %d issues (%.1f/s), %d changelog entries, %d requests, %d retries, %.0f s elapsed",
            self.issues,
            self.issues / elapsed,
            self.changelog_entries,
            self.requests,
            self.retries,
            elapsed,
        )

    def summary(self) -> str:
        elapsed = self.elapsed()
        return (
            f"sync finished: {self.issues} issues, {self.changelog_entries} changelog entries, "
            f"{self.reference_records} reference records, {self.requests} requests, {self.retries} retries, "
            f"{self.scroll_restarts} scroll restarts, {self.changelog_missing} issues without changelog, "
            f"{self.set_aside} issues set aside, {elapsed:.1f} s ({self.issues / elapsed:.1f} issues/s); "
            f"requests in flight: {self.concurrency} at the end, {self.concurrency_highest} at most "
            f"(ceiling {self.concurrency_ceiling}), {self.refused} refused (429/503), round trip "
            + ("not measured" if self.round_trip_s is None else f"{self.round_trip_s * 1000:.0f} ms")
        )

    def log_summary_once(self, logger: logging.Logger) -> None:
        with self._lock:
            if self._summary_logged:
                return
            self._summary_logged = True
        logger.info("%s", self.summary())
