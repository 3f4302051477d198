"""``TapRun``: what the streams of one run share, handed to every stream when the tap creates it.

Streams never reach back into the tap object: they read the settings, count into the statistics, send
through the request gate and hand changelog fetches to the prefetcher of this object. The tap builds it
once, after the settings were validated, and owns its end (:meth:`TapRun.finish`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tap_yandex_tracker.auth import TrackerAuthenticator
from tap_yandex_tracker.malloc_arenas import limit_malloc_arenas
from tap_yandex_tracker.prefetch import ChangelogPrefetcher
from tap_yandex_tracker.read_ahead import ReadAhead
from tap_yandex_tracker.run_stats import RunStats
from tap_yandex_tracker.sdk_metric_totals import MetricTotals
from tap_yandex_tracker.set_aside import SetAsideIssues
from tap_yandex_tracker.settings import TapSettings
from tap_yandex_tracker.transport import RequestGate


@dataclass
class TapRun:
    """Settings, counters, the request gate, credentials and the changelog prefetcher of one run."""

    settings: TapSettings
    logger: logging.Logger
    stats: RunStats = field(default_factory=RunStats)
    #: The issues the issues stream set aside or resolved in this run (read by ``skipped_issues``).
    set_aside: SetAsideIssues = field(default_factory=SetAsideIssues)
    #: Reference collections requested at the start of the sync (read_ahead.py).
    read_ahead: ReadAhead = field(default_factory=ReadAhead)
    #: The changelog's per-issue METRIC points, summed (logged once at the end of the sync).
    metric_totals: MetricTotals = field(default_factory=MetricTotals)

    def __post_init__(self) -> None:
        limit_malloc_arenas()  # before the first worker thread
        self.gate = RequestGate(
            self.settings.max_concurrent_requests,
            self.stats,
            adaptive=self.settings.adaptive_concurrency,
            logger=self.logger,
            api_url=self.settings.base_url,
        )
        self.authenticator = TrackerAuthenticator(
            token=self.settings.token or None, iam_token=self.settings.iam_token or None
        )
        self.prefetcher = ChangelogPrefetcher(self.settings.max_concurrent_requests)

    def abort(self) -> None:
        """After a fatal error: drop queued changelog fetches and make in-flight retries give up."""
        self.read_ahead.close()
        self.prefetcher.close(cancel=True)

    def finish(self) -> None:
        """End of a sync (all streams done): stop the worker pools, log the one-line summary once."""
        self.read_ahead.close()
        self.prefetcher.close(cancel=True)
        self.stats.log_summary_once(self.logger)
