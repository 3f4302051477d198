"""StatsD export from the target, received by a real UDP socket."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.runner import run_in_process
from target_clickhouse_agile.telemetry import StatsdClient
from tests.support.clickhouse import NativeDatabase, free_ports
from tests.support.configs import tap_config, write_json
from tests.support.pipeline import BIN
from tracker_simulator import TrackerSimulator


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[tuple[str, float, str]]:
    """Every datagram already delivered (the sender has finished): (name, value, type)."""
    sock.setblocking(False)
    lines = []
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            break
        lines.extend(data.decode().splitlines())
    metrics = []
    for line in lines:
        name, rest = line.split(":", 1)
        value, kind = rest.split("|", 1)
        metrics.append((name, float(value), kind))
    return metrics


def statsd_settings(sock: socket.socket, prefix: str = "agile_test") -> dict[str, Any]:
    return {"statsd_host": "127.0.0.1", "statsd_port": sock.getsockname()[1], "statsd_prefix": prefix}


def test_a_run_reports_rows_times_issues_status_and_timestamp(
    fresh_sim: TrackerSimulator, clickhouse_native: NativeDatabase, listener: socket.socket
) -> None:
    settings = {**clickhouse_native.settings, **statsd_settings(listener)}
    result = run_in_process(tap_config(fresh_sim), settings)
    assert result.completed
    metrics = received(listener)
    issues = len(fresh_sim.ground_truth())

    def total(name: str, kind: str) -> float:
        return sum(v for n, v, k in metrics if n == name and k == kind)

    def last(name: str) -> float:
        values = [v for n, v, k in metrics if n == name and k == "g"]
        assert values, f"no gauge {name} in {sorted({n for n, _, _ in metrics})}"
        return values[-1]

    assert total("agile_test.inserted_rows.issues", "c") == issues
    assert total("agile_test.inserted_rows.metrics", "c") > 2 * issues  # flow + intervals + statuses
    assert any(n == "agile_test.metrics_time" and k == "ms" for n, v, k in metrics)
    assert total("agile_test.inserted_rows.issue_changelog", "c") > issues
    assert any(n == "agile_test.insert_time.issues" and k == "ms" and v >= 0 for n, v, k in metrics)
    assert total("agile_test.issues_processed", "c") == issues
    assert last("agile_test.issues_without_metrics") == 0
    assert last("agile_test.upload_status") == 1
    stamp = last("agile_test.last_update_timestamp")
    assert stamp >= 1_700_000_000


def test_an_unreachable_clickhouse_reports_failure(listener: socket.socket, tmp_path: Path) -> None:
    (closed_port,) = free_ports(1)
    config = write_json(
        tmp_path / "target.json", {"host": "127.0.0.1", "port": closed_port, **statsd_settings(listener)}
    )
    messages = [
        {
            "type": "SCHEMA",
            "stream": "queues",
            "schema": {"properties": {"id": {"type": "string"}}},
            "key_properties": ["id"],
        },
        {"type": "RECORD", "stream": "queues", "record": {"id": "1"}},
    ]
    result = subprocess.run(
        [str(BIN / "target-clickhouse-agile"), "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    metrics = received(listener)
    assert ("agile_test.upload_status", 0.0, "g") in metrics
    assert not any(n == "agile_test.last_update_timestamp" for n, _, _ in metrics)


def test_no_host_sends_nothing_and_a_dead_host_never_raises(listener: socket.socket) -> None:
    StatsdClient(None).gauge("x", 1)
    StatsdClient("").incr("x")
    dead = StatsdClient("no-such-host.invalid", 8125, "p")
    dead.gauge("upload_status", 1)  # name resolution fails: logged, not raised
    assert received(listener) == []
