"""The tap behind an HTTP proxy named by the environment (`HTTP_PROXY`/`NO_PROXY`), as requests users
expect. The sessions read the environment once per run (transport.EnvironmentSettings), not per request:
these tests prove the answer is still the one requests itself would give."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from tests.support.configs import tap_config
from tests.support.tap_runs import run_cli
from tracker_simulator import TrackerSimulator

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "proxy-authorization"}


class ForwardProxy(ThreadingHTTPServer):
    """A plain-HTTP forward proxy: absolute-form requests in, the same request to the origin out."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.forwarded: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ForwardProxy

    def _forward(self) -> None:
        target = urlsplit(self.path)
        if not target.scheme:  # origin-form: not a proxy request
            self.send_error(400, "not an absolute-form (proxy) request")
            return
        with self.server.lock:
            self.server.forwarded.append(f"{self.command} {target.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        origin = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            origin.request(self.command, path, body=body or None, headers=headers)
            answer = origin.getresponse()
            payload = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP | {"content-length"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            origin.close()

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _sync_with_proxy(sim: TrackerSimulator, proxy: ForwardProxy, no_proxy: str) -> None:
    """A sync with HTTP_PROXY naming the proxy and every other proxy variable cleared."""
    env = dict.fromkeys(("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "no_proxy"), "")
    env.update(HTTP_PROXY=proxy.url, http_proxy=proxy.url, NO_PROXY=no_proxy)
    out = run_cli(tap_config(sim), env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(out.records["issues"]) == 150


def test_every_request_goes_through_the_proxy_the_environment_names(
    small_sim: TrackerSimulator, proxy: ForwardProxy
) -> None:
    _sync_with_proxy(small_sim, proxy, no_proxy="")
    served = small_sim.stats.total
    assert served > 150, "one changelog request per issue at least"
    assert len(proxy.forwarded) == served, "every request the API served came through the proxy"


def test_no_proxy_sends_the_api_host_around_the_proxy(
    small_sim: TrackerSimulator, proxy: ForwardProxy
) -> None:
    _sync_with_proxy(small_sim, proxy, no_proxy="127.0.0.1")
    assert proxy.forwarded == []
