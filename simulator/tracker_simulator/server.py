"""The HTTP server: a real socket, HTTP/1.1 keep-alive, one thread per connection; optionally HTTPS
(`tls`) and gzip-compressed, chunked answers (`compress`), as Yandex's API front ends send them.

``TCP_NODELAY`` is set on accepted sockets because small JSON responses would otherwise wait for the
client's delayed ACK (Nagle), adding ~40 ms per request and making benchmarks measure the kernel instead
of the client. Faults are applied here, around the (socket-free) :class:`App`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import App
from .auth import Credentials
from .faults import DROP, TRUNCATE, FaultPlan, Injected
from .model import IssueTruth
from .organisation import Organisation
from .router import UNMATCHED
from .stats import RequestStats, StatsSnapshot
from .wire import ApiError, Request, Response

_ERROR_TEXT = {
    429: "Too many requests",
    500: "Internal server error, try again in a few minutes",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], simulator: TrackerSimulator) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (or dropped on purpose) are normal here; do not print tracebacks."""

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TrackerSimulator/1.0"
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.simulator.idle_timeout  # idle keep-alive connections close after this
        super().setup()
        self.server.simulator._stats.connected()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in the connection's thread, not in the accept loop
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (benchmarks make hundreds of thousands of requests)."""

    def do_GET(self) -> None:
        self.server.simulator._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815


class TrackerSimulator:
    """A Yandex Tracker API stand-in serving ``org`` over HTTP on ``host:port`` (0 = a free port)."""

    def __init__(
        self,
        org: Organisation,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = "sim-token",  # noqa: S107 - the documented test credential
        org_id: str | None = "sim-org",
        cloud_org_id: str | None = None,
        iam_token: str | None = None,
        latency_ms: float = 0.0,
        faults: FaultPlan | None = None,
        drift: bool = False,
        capacity: int | None = None,
        capacity_retry_after: float = 1.0,
        load_latency_ms: float = 0.0,
        tls: ssl.SSLContext | None = None,
        compress: bool = False,
        idle_timeout: float = 120.0,
    ) -> None:
        self.org = org
        self.host = host
        self.port = port
        self.credentials = Credentials(token, org_id, cloud_org_id, iam_token)
        self.latency_ms = latency_ms
        #: An API with a capacity: a request arriving while `capacity` are being served is refused at once
        #: with 429 and `Retry-After: capacity_retry_after` (None = no limit). Each request in service
        #: also adds `load_latency_ms` to the others' latency (a server slowing down under load).
        self.capacity = capacity
        self.capacity_retry_after = capacity_retry_after
        self.load_latency_ms = load_latency_ms
        #: Serve HTTPS with this server-side context (the url becomes https://).
        self.tls = tls
        #: Answer a client that accepts gzip with a gzip-compressed, chunked body (nginx's way).
        self.compress = compress
        #: Seconds an idle kept-alive connection stays open.
        self.idle_timeout = idle_timeout
        self._admitted = 0
        self._admitted_lock = threading.Lock()
        self.faults = faults or FaultPlan()
        self.app = App(org, self.credentials, drift=drift)
        self._stats = RequestStats()
        #: Requests served before every further one is refused with 400 (a test's guard against clients
        #: that would loop forever: they fail fast instead of hanging); None = no limit.
        self.request_budget: int | None = None
        self._served = 0
        self._served_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> TrackerSimulator:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name=f"tracker-sim-{self.port}",
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TrackerSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    # -- conveniences for tests and benchmarks ---------------------------------------------------
    def headers(self, *, lang: str | None = "en", org_type: str = "org") -> dict[str, str]:
        """Working auth headers (OAuth + X-Org-ID, or IAM + X-Cloud-Org-ID with ``org_type="cloud"``)."""
        creds = self.credentials
        if org_type == "cloud":
            out = {"Authorization": f"Bearer {creds.iam_token}", "X-Cloud-Org-ID": str(creds.cloud_org_id)}
        else:
            out = {"Authorization": f"OAuth {creds.token}", "X-Org-ID": str(creds.org_id)}
        if lang:
            out["Accept-Language"] = lang
        return out

    @property
    def stats(self) -> StatsSnapshot:
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()
        with self._served_lock:
            self._served = 0

    @property
    def ignore_sort(self) -> bool:
        """Misbehave: serve sorted scrolls in a scrambled order (a client must not trust it blindly)."""
        return self.app.ignore_sort

    @ignore_sort.setter
    def ignore_sort(self, value: bool) -> None:
        self.app.ignore_sort = value

    @property
    def query_zone_minutes(self) -> int:
        """The user's offset from UTC in minutes (0 by default): the query language reads date-times without
        an offset in the user's zone, as the real API does."""
        return self.app.query_zone_minutes

    @query_zone_minutes.setter
    def query_zone_minutes(self, value: int) -> None:
        self.app.query_zone_minutes = value

    @property
    def lose_scrolls(self) -> bool:
        """Misbehave: refuse every scroll continuation as lost."""
        return self.app.scrolls.lose_all

    @lose_scrolls.setter
    def lose_scrolls(self, value: bool) -> None:
        self.app.scrolls.lose_all = value

    @property
    def scroll_lost_status(self) -> int:
        """The status of a continuation with an expired or unknown scroll id (undocumented; 404 here)."""
        return self.app.scrolls.lost_status

    @scroll_lost_status.setter
    def scroll_lost_status(self, status: int) -> None:
        self.app.scrolls.lost_status = status

    def advance(self, minutes: float = 10, mutate: int = 0, create: int = 0) -> list[str]:
        """Advance the simulated clock, change ``mutate`` issues and create ``create``; changed issue ids."""
        return self.org.advance(minutes=minutes, mutate=mutate, create=create)

    def ground_truth(self, ids: Iterable[str] | None = None) -> dict[str, IssueTruth]:
        """Per issue id, the generator's own record (see :class:`IssueTruth`); all issues by default."""
        return self.org.ground_truth(ids)

    # -- serving -----------------------------------------------------------------------------------
    def _serve(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        req = Request.build(
            handler.command, handler.path, handler.headers, body, f"{self.host}:{self.port}", self.scheme
        )
        route = self.app.router.match(req.method, req.path)
        template = route.template if route else UNMATCHED
        self._stats.begin(template)
        if not self._admit():
            refused = ApiError(
                429, _ERROR_TEXT[429], headers=[("Retry-After", _seconds(self.capacity_retry_after))]
            ).response()
            self._stats.end(429, "capacity")
            self._write(handler, refused)
            return
        ended = False
        injected: Injected | None = None
        try:
            injected = self.faults.decide(template, req.method, req.path)
            fault = str(injected.fault) if injected else None
            delay = self.latency_ms / 1000 + self.faults.delay_seconds() + self._load_delay()
            if delay:
                time.sleep(delay)
            if not self.faults.meet(template, req.method, req.path):
                injected = Injected(503)
            if injected is not None and injected.fault == DROP:
                if injected.served:
                    self._respond(req, route, None)  # served (within the request budget), then lost
                self._stats.end(None, fault)
                ended = True
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            response = self._respond(req, route, injected)
            # counted before the bytes leave, so a client that has its answer sees it in the stats
            self._stats.end(response.status, fault)
            ended = True
            gzipped = self.compress and "gzip" in (handler.headers.get("Accept-Encoding") or "")
            self._write(handler, response, gzipped=gzipped)
        finally:
            with self._admitted_lock:
                self._admitted -= 1
            if not ended:
                self._stats.end(500, str(injected.fault) if injected else None)

    def _admit(self) -> bool:
        """Take a place in service, unless the API is at capacity."""
        with self._admitted_lock:
            if self.capacity is not None and self._admitted >= self.capacity:
                return False
            self._admitted += 1
            return True

    def _load_delay(self) -> float:
        if not self.load_latency_ms:
            return 0.0
        with self._admitted_lock:
            others = self._admitted - 1
        return max(0, others) * self.load_latency_ms / 1000

    def _respond(self, req: Request, route: Any, injected: Injected | None) -> Response:
        with self._served_lock:
            self._served += 1
            over_budget = self.request_budget is not None and self._served > self.request_budget
        if over_budget:
            return ApiError(
                400, f"simulator request budget of {self.request_budget} requests exhausted"
            ).response()
        if injected is not None and isinstance(injected.fault, int):
            if injected.served:  # the work done, its answer replaced
                self.app.commit(self.app.handle(req, route))
            headers = (
                [("Retry-After", _seconds(injected.retry_after))] if injected.retry_after is not None else []
            )
            error = ApiError(
                injected.fault, _ERROR_TEXT.get(injected.fault, "Injected fault"), headers=headers
            )
            return error.response()
        response = self.app.handle(req, route)
        if injected is not None and injected.fault == TRUNCATE and response.status == 200:
            if injected.served:
                self.app.commit(response)
            return Response(200, _truncate(response.body), response.headers)  # not served: state unchanged
        self.app.commit(response)
        return response

    @staticmethod
    def _write(handler: _Handler, response: Response, *, gzipped: bool = False) -> None:
        """The answer as is (with Content-Length), or `gzipped` and sent in chunks of 8 KiB
        (Transfer-Encoding: chunked, no Content-Length)."""
        handler.send_response(response.status)
        for name, value in response.headers:
            handler.send_header(name, value)
        if not gzipped:
            handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            handler.wfile.write(response.body)
            return
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        body = gzip.compress(response.body, compresslevel=1)
        for start in range(0, len(body), 8192):
            piece = body[start : start + 8192]
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")


def _seconds(value: float | None) -> str:
    value = value or 0
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _truncate(body: bytes) -> bytes:
    """Half the body, shortened further until it is certainly not valid JSON."""
    cut = body[: len(body) // 2]
    while cut:
        try:
            json.loads(cut)
        except ValueError:
            return cut
        cut = cut[:-1]
    return cut
