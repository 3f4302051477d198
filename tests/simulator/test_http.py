"""Transport details: HTTP/1.1 keep-alive, exact Content-Length, TCP_NODELAY on accepted sockets."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.support.simulators import SimulatorFactory
from tracker_simulator import TrackerSimulator


def test_keep_alive_and_content_length(sim: TrackerSimulator) -> None:
    connection = http.client.HTTPConnection(sim.host, sim.port, timeout=10)
    try:
        for path, body in (("/v3/statuses", None), ("/v2/issues/_count", b"{}"), ("/v3/myself", None)):
            method = "POST" if body is not None else "GET"
            connection.request(method, path, body=body, headers=sim.headers())
            response = connection.getresponse()
            payload = response.read()
            assert response.version == 11
            assert response.status == 200
            assert int(response.headers["Content-Length"]) == len(payload)
            assert response.headers.get("Connection", "").lower() != "close"
            json.loads(payload)
        assert sim.stats.total == 3
        # all three requests travelled over one TCP connection
        with sim._server.connections_lock:  # type: ignore[union-attr]
            sockets = list(sim._server.connections)  # type: ignore[union-attr]
        assert len(sockets) == 1
        assert sockets[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        connection.close()


def test_stop_closes_idle_keep_alive_connections(sim_factory: SimulatorFactory) -> None:
    sim = sim_factory(issues=10)
    connection = http.client.HTTPConnection(sim.host, sim.port, timeout=10)
    connection.request("GET", "/v3/myself", headers=sim.headers())
    connection.getresponse().read()
    sim.stop()

    def request_again() -> http.client.HTTPResponse:
        connection.request("GET", "/v3/myself", headers=sim.headers())
        return connection.getresponse()

    try:
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            request_again()
    finally:
        connection.close()
