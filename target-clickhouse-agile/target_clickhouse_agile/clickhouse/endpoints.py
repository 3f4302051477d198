"""Which of several endpoints of the same data (`host` + `alt_hosts`) the target uses now.

Every connection of a run opened from the same settings shares one `Endpoints` object, so they all use
the same host: the metrics step then reads back what the sinks have just written (read-your-writes
without waiting for replication). When an operation fails because the host is unreachable or died,
the connection that saw it moves the shared choice to the next endpoint in order (`failed`); the others
follow at their next operation. There is no fail-back during a run: a host that returns is used again
only when the one in use fails too, or by the next run.

`failovers` counts the moves (for the log). Rows an earlier host took in the current checkpoint window are
sent again to the new one by the target (see `insert_journal.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from target_clickhouse_agile.clickhouse.errors import ClickHouseError

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

Endpoint = tuple[str, int]
T = TypeVar("T")


class Endpoints:
    """An ordered list of `(host, port)` and the one in use, safe to share between threads."""

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint is needed")
        self.all: tuple[Endpoint, ...] = tuple(endpoints)
        self._index = 0
        self.failovers = 0
        self._lock = threading.Lock()

    @property
    def current(self) -> Endpoint:
        with self._lock:
            return self.all[self._index]

    @property
    def several(self) -> bool:
        return len(self.all) > 1

    def failed(self, endpoint: Endpoint, reason: str) -> Endpoint:
        """`endpoint` is unreachable: move on to the next one (once, however many connections saw it)."""
        with self._lock:
            if self.all[self._index] == endpoint and self.several:
                self._index = (self._index + 1) % len(self.all)
                self.failovers += 1
                now = self.all[self._index]
                logger.warning(
                    "ClickHouse at %s:%d failed (%s); switching to %s:%d (alt_hosts, failover %d)",
                    *endpoint,
                    reason,
                    *now,
                    self.failovers,
                )
            return self.all[self._index]

    def order_from_current(self) -> list[Endpoint]:
        """Every endpoint, starting with the one in use (the order to try when connecting)."""
        with self._lock:
            return [*self.all[self._index :], *self.all[: self._index]]

    def on_first_reachable(self, use: Callable[[Endpoint], None], attempt: Callable[[], T]) -> T:
        """`attempt()` on the endpoint in use, or else on the next one that can be reached, each tried once
        in order (`use(endpoint)` points the caller's connection at it first). An endpoint that cannot be
        reached is left for the next (`failed`); any other error is the caller's. None reachable: one
        error naming them all, itself a connection failure (retried later with back-off, see retry.py)."""
        last: ClickHouseError | None = None
        for endpoint in self.order_from_current():
            use(endpoint)
            try:
                return attempt()
            except ClickHouseError as error:
                if not (error.connection_failed and self.several):
                    raise
                last = error
                self.failed(endpoint, str(error))
        assert last is not None
        raise none_answers(self, last)


_shared: dict[tuple[object, ...], Endpoints] = {}
_shared_lock = threading.Lock()


def endpoints_for(
    first: Endpoint, alternatives: Sequence[Endpoint], *, user: str, database: str
) -> Endpoints:
    """`first` alone, or with its alternatives the process-wide shared choice (one per run)."""
    others = [endpoint for endpoint in alternatives if endpoint != first]
    if not others:
        return Endpoints([first])
    return shared_endpoints([first, *others], user=user, database=database)


def none_answers(endpoints: Endpoints, last: Exception) -> ClickHouseError:
    """Every endpoint was tried and none could be reached (retried later with back-off, see retry.py)."""
    tried = ", ".join(f"{host}:{port}" for host, port in endpoints.all)
    return ClickHouseError(
        f"none of the ClickHouse endpoints answers ({tried}; `host` and `alt_hosts`); the last: {last}",
        connection_failed=True,
    )


def shared_endpoints(endpoints: Sequence[Endpoint], *, user: str, database: str) -> Endpoints:
    """The process-wide `Endpoints` for these endpoints (one choice per run, whichever connection asks)."""
    key = (tuple(endpoints), user, database)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Endpoints(endpoints)
        return _shared[key]
