"""keepalive.py, the tap's HTTP transport, against real servers: the simulator over HTTP and over HTTPS
(a throwaway CA), answering with gzip in chunks, closing idle connections; and a raw socket server for
answers that are cut short or do not decompress."""

from __future__ import annotations

import functools
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tap_yandex_tracker import read_ahead
from tap_yandex_tracker.keepalive import KeepAliveAdapter
from tap_yandex_tracker.run_stats import RunStats
from tap_yandex_tracker.transport import GatedAdapter, RequestGate
from tests.support.clickhouse import REPO, make_certificates
from tests.support.configs import tap_config
from tests.support.tap_runs import SyncOutput, run_cli
from tests.support.truth import expected_changelog, expected_issues
from tracker_simulator import TrackerSimulator


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it."""
    if shutil.which("openssl") is None:
        subprocess.run(["bash", "scripts/install-openssl.sh"], cwd=REPO, check=True, capture_output=True)
    return make_certificates(tmp_path_factory.mktemp("tls"))


def server_context(certificates: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates["server.crt"], certificates["server.key"])
    return context


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session on the adapter alone (no gate), as the tap mounts it."""
    with requests.Session() as session:
        session.trust_env = False
        adapter = KeepAliveAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        yield session


def assert_exact(sim: TrackerSimulator, out: SyncOutput) -> None:
    assert out.returncode == 0, out.stderr[-2000:]
    assert {r["id"]: r["updatedAt"] for r in out.records["issues"]} == expected_issues(sim.org)
    assert set(out.id_counts("issue_changelog")) == set(expected_changelog(sim.org))


def test_a_sync_over_https_trusts_the_ca_bundle_it_is_given(
    sim_factory: Any, certificates: dict[str, Path]
) -> None:
    sim = sim_factory(issues=40, seed=71, tls=server_context(certificates))
    assert sim.url.startswith("https://")
    out = run_cli(tap_config(sim), env={"REQUESTS_CA_BUNDLE": str(certificates["ca.crt"])})
    assert_exact(sim, out)


def test_a_certificate_nobody_vouches_for_ends_the_run_with_the_fix(
    sim_factory: Any, certificates: dict[str, Path]
) -> None:
    sim = sim_factory(issues=5, seed=72, tls=server_context(certificates))
    out = run_cli(tap_config(sim))
    assert out.returncode != 0
    assert not out.records.get("issues")
    assert "certificate verify failed" in out.stderr
    assert "REQUESTS_CA_BUNDLE" in out.stderr
    assert sim.stats.total == 0  # the handshake failed: no request reached the API


def test_gzip_answers_in_chunks_give_the_same_records(sim_factory: Any, http: requests.Session) -> None:
    sim = sim_factory(issues=60, seed=73, compress=True)
    answer = http.get(f"{sim.url}/v3/statuses", headers=sim.headers())
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Transfer-Encoding"] == "chunked"
    plain = requests.get(f"{sim.url}/v3/statuses", headers={**sim.headers(), "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert answer.json() == plain.json() != []
    assert_exact(sim, run_cli(tap_config(sim)))


def test_connections_are_kept_alive(sim_factory: Any) -> None:
    """Each thread that sends requests keeps one connection: the two changelog workers, the main thread,
    the search and the reference read-ahead; without keep-alive there would be one per request."""
    sim = sim_factory(issues=150, seed=74)
    out = run_cli(tap_config(sim, max_concurrent_requests=2, adaptive_concurrency=False))
    assert_exact(sim, out)
    stats = sim.stats
    threads = 2 + 1 + 1 + read_ahead.WORKERS
    assert stats.total > 150 > 2 * threads
    assert stats.connections <= threads, stats.connections


def test_a_connection_the_server_closed_while_idle_is_replaced(
    sim_factory: Any, http: requests.Session
) -> None:
    sim = sim_factory(issues=5, seed=75, idle_timeout=1.0)  # the first two requests come well within it
    assert http.get(f"{sim.url}/v3/statuses", headers=sim.headers()).status_code == 200
    assert http.get(f"{sim.url}/v3/statuses", headers=sim.headers()).status_code == 200
    assert sim.stats.connections == 1
    time.sleep(2.0)  # the simulator has closed the idle connection
    assert http.get(f"{sim.url}/v3/statuses", headers=sim.headers()).status_code == 200
    assert sim.stats.connections == 2


def test_an_answer_later_than_the_timeout_is_a_read_timeout(sim_factory: Any, http: requests.Session) -> None:
    sim = sim_factory(issues=5, seed=76, latency_ms=500)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(f"{sim.url}/v3/statuses", headers=sim.headers(), timeout=(5, 0.1))
    sim.latency_ms = 0
    assert http.get(f"{sim.url}/v3/statuses", headers=sim.headers(), timeout=5).status_code == 200


def test_a_port_nobody_listens_on_is_a_connection_error(http: requests.Session) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(requests.exceptions.ConnectionError, match="Errno") as caught:
        http.get(f"http://127.0.0.1:{port}/v3/statuses", timeout=5)
    assert not isinstance(caught.value, requests.exceptions.Timeout)


class LoopbackServer:
    """A socket server on loopback that hands each accepted connection to `handle`, one at a time, until
    `close`: for answers the simulator would never give."""

    scheme = "http"

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"{self.scheme}://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            self.handle(raw)

    def handle(self, raw: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()


class CannedServer(LoopbackServer):
    """Answers every connection with the same bytes and closes it: answers no real server would send."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        super().__init__()

    def handle(self, raw: socket.socket) -> None:
        with raw as conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            conn.sendall(self.answer)


def test_answers_without_a_body_and_cookies_are_read_as_requests_reads_them(http: requests.Session) -> None:
    head = CannedServer(
        b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\nSet-Cookie: k=v; Path=/\r\n\r\n"
    )
    try:
        answer = http.get(f"{head.url}/v3/statuses", timeout=5)
    finally:
        head.close()
    assert (answer.status_code, answer.content) == (204, b"")
    assert answer.cookies.get("k") == http.cookies.get("k") == "v"


def test_a_ca_bundle_that_is_not_there_is_not_retried(
    sim_factory: Any, certificates: dict[str, Path]
) -> None:
    sim = sim_factory(issues=5, seed=77, tls=server_context(certificates))
    with requests.Session() as session:
        session.mount("https://", KeepAliveAdapter())
        with pytest.raises(OSError, match="CA bundle") as caught:
            session.get(
                f"{sim.url}/v3/statuses", headers=sim.headers(), verify="/nonexistent/ca.pem", timeout=5
            )
    assert not isinstance(caught.value, requests.exceptions.RequestException)  # the SDK would retry those


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1, 2, 3", requests.exceptions.ChunkedEncodingError),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1, 2",
            requests.exceptions.ChunkedEncodingError,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
            requests.exceptions.ContentDecodingError,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n[]",
            requests.exceptions.ContentDecodingError,
        ),
        (b"garbage\r\n\r\n", requests.exceptions.ConnectionError),
    ],
    ids=["cut-short", "cut-short-chunked", "not-gzip", "unasked-coding", "not-http"],
)
def test_broken_answers_raise_what_requests_raises(
    http: requests.Session, answer: bytes, expected: type[Exception]
) -> None:
    """The SDK retries these classes (and failures.py explains them) whichever adapter raised them."""
    server = CannedServer(answer)
    try:
        with pytest.raises(expected):
            http.get(f"{server.url}/v3/statuses", timeout=5)
    finally:
        server.close()


class SlowHandshakeServer(LoopbackServer):
    """HTTPS whose TLS handshake starts `delay` seconds after the connection is accepted; then every
    request on the connection gets `[]` at once (kept alive)."""

    scheme = "https"

    def __init__(self, context: ssl.SSLContext, delay: float) -> None:
        self.context, self.delay = context, delay
        super().__init__()

    def handle(self, raw: socket.socket) -> None:
        time.sleep(self.delay)
        with self.context.wrap_socket(raw, server_side=True) as conn:
            request = b""
            while chunk := conn.recv(4096):
                request += chunk
                while b"\r\n\r\n" in request:
                    _, request = request.split(b"\r\n\r\n", 1)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")


def test_the_round_trip_leaves_out_opening_the_connection(certificates: dict[str, Path]) -> None:
    """A TLS handshake costs two round trips more than a request on a kept-alive connection: counted
    in, the first answer of every thread would make the API look slower than it is, and the pause of a
    429 (weighed in round trips, concurrency.py) shorter."""
    server = SlowHandshakeServer(server_context(certificates), delay=0.4)
    gate = RequestGate(4, RunStats())
    adapter = GatedAdapter(gate)
    try:
        with requests.Session() as session:
            session.trust_env = False
            session.mount("https://", adapter)
            get = functools.partial(
                session.get, f"{server.url}/v3/statuses", verify=str(certificates["ca.crt"]), timeout=5
            )
            started = time.monotonic()
            assert get().json() == []
            took = time.monotonic() - started
            assert adapter.connecting_s >= 0.4  # the handshake waited for the server
            assert gate.round_trip_s is not None
            assert gate.round_trip_s <= took - adapter.connecting_s + 1e-3 < 0.4
            assert get().json() == []  # the same connection: nothing to leave out
            assert adapter.connecting_s == 0.0
    finally:
        server.close()
