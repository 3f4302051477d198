"""The HTTP(S) transport (`protocol: http`): the same tables, results and STATEs as the native protocol.

Every run here goes through the real CLIs into the session's clickhouse-server 18.16: its HTTP port, and
its HTTPS port with a certificate verified against the test CA.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import NO_RETRY, ClickHouseError, connect
from tests.support import tables
from tests.support.clickhouse import ClickHouseServer, NativeDatabase, fresh_database
from tests.support.configs import password_target_config, tap_config, target_config
from tests.support.pipeline import PipelineResult, run_pipeline, run_target
from tests.support.singer import STATUSES, record, schema_message, to_lines
from tracker_simulator import TrackerSimulator


def http_settings(db: NativeDatabase, server: ClickHouseServer, *, https: bool = False) -> dict[str, Any]:
    if https:
        port, extra = server.https_port, {"secure": True, "ca_certs": str(server.ca_cert_path)}
    else:
        port, extra = server.http_port, {}
    return password_target_config(db, protocol="http", port=port, **extra)


def load(sim: TrackerSimulator, settings: dict[str, Any], workdir: Path, state: Any = None) -> PipelineResult:
    return run_pipeline(tap_config(sim), target_config(settings), workdir=workdir, state=state).check()


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_http_gives_the_tables_and_states_of_the_native_protocol(
    clickhouse_server: ClickHouseServer, sim_factory: Any, tmp_path: Path, https: bool
) -> None:
    """One simulated organisation loaded over both transports: a full sync, a day of changes, then an
    incremental sync from each transport's own STATE."""
    sim = sim_factory(issues=60, seed=51)
    with fresh_database(clickhouse_server, "nat") as native, fresh_database(clickhouse_server, "web") as web:
        native_settings = password_target_config(native)
        web_settings = http_settings(web, clickhouse_server, https=https)
        native_runs = [load(sim, native_settings, tmp_path / "native-full")]
        web_runs = [load(sim, web_settings, tmp_path / "web-full")]
        sim.advance(minutes=24 * 60, mutate=20, create=8)
        native_runs.append(load(sim, native_settings, tmp_path / "native-incr", native_runs[0].last_state))
        web_runs.append(load(sim, web_settings, tmp_path / "web-incr", web_runs[0].last_state))

        assert [run.states for run in web_runs] == [run.states for run in native_runs]
        # Both databases read over the native protocol: the stored rows are the same.
        assert tables.diff(tables.snapshot(web.settings), tables.snapshot(native.settings)) == []
        assert tables.timeline_mismatches(web.settings, sim.ground_truth()) == []
        assert tables.duplicate_keys(web.settings) == dict.fromkeys(tables.DATA_KEYS, 0)
        # And read over HTTP, the values come back as the native driver returns them.
        over_http = http_settings(native, clickhouse_server, https=https)
        assert tables.snapshot(over_http) == tables.snapshot(native.settings)


def test_http_failures_name_the_cause_and_the_setting(
    clickhouse_native: NativeDatabase, clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    base = http_settings(clickhouse_native, clickhouse_server)
    cases = [
        ({"password": "not-the-password"}, "wrong user or password for user 'agile'"),
        ({"port": clickhouse_server.port}, "is this ClickHouse's HTTP port (8123, 8443 with `secure`)?"),
        ({"port": clickhouse_server.https_port}, "If it expects HTTPS, set `secure: true`"),
        (
            {"port": clickhouse_server.https_port, "secure": True},
            "TLS certificate of ClickHouse at 127.0.0.1:",
        ),
    ]
    for overrides, expected in cases:
        with pytest.raises(ClickHouseError) as refused:
            connect({**base, **overrides}, retry=NO_RETRY)
        assert expected in str(refused.value), overrides
        assert "not-the-password" not in str(refused.value)


def test_bad_transport_settings_are_refused_before_anything_is_written(
    clickhouse_native: NativeDatabase, clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    lines = to_lines([schema_message("statuses"), record("statuses", STATUSES[0])])
    for overrides, expected in [
        ({"protocol": "grpc"}, "protocol"),
        ({"serverless_proxy_id": "akfd3bhqk3"}, "serverless_proxy_id is set but protocol is not http"),
    ]:
        done = run_target({**clickhouse_native.settings, **overrides}, lines, workdir=tmp_path)
        assert done.returncode == 1
        assert expected in done.stderr
    with connect(clickhouse_server.settings(database="default"), retry=NO_RETRY) as admin:
        rows = admin.query(
            f"SELECT count() AS n FROM system.tables WHERE database = '{clickhouse_native.database}'"
        )
    assert rows[0]["n"] == 0


class BodyLimitProxy:
    """A reverse proxy in front of ClickHouse's HTTP port that refuses a request body over `limit` bytes with
    413, as nginx's `client_max_body_size` does (from the Content-Length header; the body is read and
    discarded, as nginx's lingering close does), and forwards every other request."""

    def __init__(self, upstream_port: int, limit: int) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if length > limit:
                    proxy.refused += 1
                    self._answer(
                        413, {"Content-Type": "text/html"}, b"<html>413 Request Entity Too Large</html>"
                    )
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    upstream.request("POST", self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    hop = {"connection", "keep-alive", "transfer-encoding", "content-length"}
                    kept = {k: v for k, v in answer.getheaders() if k.lower() not in hop}
                    self._answer(answer.status, kept, answer.read())
                finally:
                    upstream.close()

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.refused = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_an_insert_larger_than_a_proxy_admits_names_the_limit_and_batch_size_rows(
    clickhouse_native: NativeDatabase, clickhouse_server: ClickHouseServer, sim_factory: Any, tmp_path: Path
) -> None:
    """Behind nginx's default 1 MB (here 256 KiB) a full batch is refused with 413: the target stops with
    no STATE beyond what it stored and says which setting makes the INSERTs fit; with it lowered the same
    proxy passes."""
    sim = sim_factory(issues=60, seed=52)
    proxy = BodyLimitProxy(clickhouse_server.http_port, limit=256 * 1024)
    try:
        settings = {**http_settings(clickhouse_native, clickhouse_server), "port": proxy.port}
        refused = run_pipeline(tap_config(sim), target_config(settings), workdir=tmp_path / "refused")
        assert refused.target.returncode == 1, refused.describe()
        assert proxy.refused > 0, refused.describe()
        message = refused.target.error_lines[-1]
        assert "HTTP 413" in message
        assert "client_max_body_size" in message
        assert "batch_size_rows" in message
        assert tables.covered_but_not_stored(clickhouse_native.settings, refused.states, sim) == []
        fits = run_pipeline(
            tap_config(sim), target_config({**settings, "batch_size_rows": 20}), workdir=tmp_path / "fits"
        )
        assert fits.ok, fits.describe()
        assert tables.timeline_mismatches(clickhouse_native.settings, sim.ground_truth()) == []
    finally:
        proxy.close()
