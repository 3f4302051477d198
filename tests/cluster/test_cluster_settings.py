"""Wrong cluster settings stop the target with one line naming the setting, before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.clickhouse import ClickHouseServer
from tests.support.cluster import SHARDED, Cluster, cluster_database
from tests.support.pipeline import run_target
from tests.support.singer import STATUSES, record, schema_message, to_lines

INPUT = to_lines([schema_message("statuses"), *(record("statuses", s) for s in STATUSES)])


def errors_of(stderr: str) -> list[str]:
    """The ERROR lines, less the SDK's closing "Config validation failed" after the settings' own."""
    lines = [line for line in stderr.splitlines() if "| ERROR" in line]
    return [line for line in lines if not line.endswith("Config validation failed")]


def tables_in(cluster: Cluster, node: int, database: str) -> list[str]:
    with cluster.connect(node) as conn:
        rows = conn.query(f"SELECT name FROM system.tables WHERE database = '{database}'")
    return [row["name"] for row in rows]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"cluster": "no_such_cluster"}, "cluster 'no_such_cluster' is not defined"),
        ({"cluster": "{no_such_macro}"}, "defines no macro {no_such_macro}"),
        ({"replica_name": "replica"}, "replica_name 'replica' has no {macro}"),
        ({"replication_path": "/clickhouse/tables/{shard}/{database}"}, "has no {table}"),
        ({"replication_path": "/clickhouse/{nowhere}/{table}"}, "defines no macro {nowhere}"),
        (
            {"cluster": SHARDED, "replication_path": "/clickhouse/tables/{shard}/{database}/{table}"},
            "is the same on different shards",
        ),
        (
            {"alt_hosts": ["127.0.0.1:notaport"]},
            "alt_hosts: '127.0.0.1:notaport' is not `host` or `host:port`",
        ),
    ],
    ids=[
        "unknown-cluster",
        "unknown-macro",
        "replica-name",
        "no-table",
        "undefined-macro",
        "shared-shard-path",
        "alt-host",
    ],
)
def test_bad_cluster_settings_are_named_before_any_write(
    clickhouse_cluster: Cluster, tmp_path: Path, overrides: dict[str, Any], expected: str
) -> None:
    with cluster_database(clickhouse_cluster, "bad") as database:
        settings = {**clickhouse_cluster.settings(0, database=database), **overrides}
        done = run_target(settings, INPUT, workdir=tmp_path)
        assert done.returncode == 1
        (error,) = errors_of(done.stderr)
        assert expected in error
        assert "Traceback" not in done.stderr
        for node in (0, 1):
            assert tables_in(clickhouse_cluster, node, database) == []


def test_a_server_without_zookeeper_is_named(clickhouse_server: ClickHouseServer, tmp_path: Path) -> None:
    """The Debian server's own config defines test clusters but no ZooKeeper: replicated tables are
    impossible there, and the target says so."""
    settings = clickhouse_server.settings(database="no_zookeeper", cluster="test_shard_localhost")
    done = run_target(settings, INPUT, workdir=tmp_path)
    assert done.returncode == 1
    (error,) = errors_of(done.stderr)
    assert "has no working ZooKeeper" in error
    assert "unset `cluster`" in error


def test_the_cluster_macro_names_the_cluster(clickhouse_cluster: Cluster, tmp_path: Path) -> None:
    """Managed ClickHouse documents `{cluster}` for its own cluster: the target asks the server for it."""
    with cluster_database(clickhouse_cluster, "macro") as database:
        settings = clickhouse_cluster.settings(0, database=database, cluster="{cluster}")
        done = run_target(settings, INPUT, workdir=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "cluster agile: 1 shard(s), 2 node(s)" in done.stderr
        for node in (0, 1):
            assert "statuses" in tables_in(clickhouse_cluster, node, database)
