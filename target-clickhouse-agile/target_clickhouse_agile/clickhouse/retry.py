"""When to retry a ClickHouse operation: when the connection could not be established (and, in
`native.py`, a read or INSERT sent without a ping on a connection that turned out dead, once).

ClickHouse has no transactions. An INSERT that failed *after* its data started flowing may have been partly
applied, so retrying it blindly could duplicate a block on a plain MergeTree. We therefore retry only failures
that happened before anything was sent (`ClickHouseError.connection_failed`), e.g. while the server restarts.
A failed insert that is *not* retried surfaces as an error, the target exits non-zero without a STATE, and the
next run re-sends the rows; a partly applied block is then harmless because every table is a
`ReplacingMergeTree` keyed on the logical key, so re-sent rows replace (not duplicate) what landed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from target_clickhouse_agile.clickhouse.errors import ClickHouseError

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Up to `attempts` tries with exponential back-off `base_delay * 2**n`, capped at `max_delay` seconds."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    @staticmethod
    def is_retryable(error: BaseException) -> bool:
        """True only for failures that happened before any data could reach the server."""
        return isinstance(error, ClickHouseError) and error.connection_failed

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        return min(self.max_delay, self.base_delay * (2**attempt))

    def run(self, operation: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """Run `operation`, retrying connection failures; any other error propagates at once."""
        for attempt in range(self.attempts):
            try:
                return operation()
            except ClickHouseError as error:
                if not self.is_retryable(error) or attempt == self.attempts - 1:
                    raise
                wait = self.delay(attempt)
                logger.warning(
                    "%s; retrying in %.1f s (attempt %d of %d)", error, wait, attempt + 2, self.attempts
                )
                sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


NO_RETRY = RetryPolicy(attempts=1)
