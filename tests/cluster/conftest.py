"""The replicated ClickHouse cluster (ZooKeeper + two nodes) for the tests of this folder."""

from tests.support.cluster import clickhouse_cluster  # noqa: F401 - the session fixture
