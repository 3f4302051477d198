"""A minimal StatsD client over plain UDP, so monitoring needs no extra dependency.

Why not a library: the target sends a handful of metrics per checkpoint; a UDP datagram per metric in the
plain StatsD line format (`name:value|type`) is all it takes, and it can never fail a load: sending is
fire-and-forget and every socket error is swallowed (logged once). Names are dotted,
`<prefix>.<metric>[.<table>]`, which every StatsD server (Etsy statsd, Telegraf, statsd_exporter) accepts.
"""

from __future__ import annotations

import logging
import socket
import time

DEFAULT_PORT = 8125
DEFAULT_PREFIX = "tracker_agile"


class StatsdClient:
    """Sends counters (`c`), gauges (`g`) and timings (`ms`); a no-op when `host` is empty."""

    def __init__(self, host: str | None, port: int = DEFAULT_PORT, prefix: str = DEFAULT_PREFIX) -> None:
        self.host = (host or "").strip()
        self.port = int(port or DEFAULT_PORT)
        self.prefix = (prefix or "").strip(".")
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def _send(self, name: str, value: float, kind: str) -> None:
        if not self.enabled:
            return
        metric = f"{self.prefix}.{name}" if self.prefix else name
        number = int(value) if float(value).is_integer() else round(float(value), 3)
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.sendto(f"{metric}:{number}|{kind}".encode(), (self.host, self.port))
        except OSError as exc:  # monitoring must never break a load
            if not self._warned:
                self._warned = True
                logging.getLogger(__name__).warning("StatsD %s:%s unreachable: %s", self.host, self.port, exc)

    def incr(self, name: str, value: float = 1) -> None:
        self._send(name, value, "c")

    def gauge(self, name: str, value: float) -> None:
        self._send(name, value, "g")

    def timing(self, name: str, seconds: float) -> None:
        self._send(name, seconds * 1000.0, "ms")

    # -- the target's metrics, named in one place -------------------------------------------------------

    def inserted(self, table: str, rows: int, seconds: float) -> None:
        """Rows inserted into a table and how long the INSERT took."""
        self.incr(f"inserted_rows.{table}", rows)
        self.timing(f"insert_time.{table}", seconds)

    def metrics_rebuilt(self, issues: int, without_metrics: int, rows: int, seconds: float) -> None:
        """Issues whose metrics were rebuilt, those still waiting for their issue record, and the rows
        the rebuild wrote (intervals, per-status metrics, flow) and how long it took."""
        self.incr("issues_processed", issues)
        self.gauge("issues_without_metrics", without_metrics)
        self.incr("inserted_rows.metrics", rows)
        self.timing("metrics_time", seconds)

    def upload_status(self, ok: bool) -> None:
        """1 after a successful checkpoint, 0 after a failure; plus the time of the last success."""
        self.gauge("upload_status", 1 if ok else 0)
        if ok:
            self.gauge("last_update_timestamp", int(time.time()))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
