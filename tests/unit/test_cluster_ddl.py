"""cluster.py without a server: single-server DDL rewritten for a cluster, and the checks of the replication
settings, on hand-written statements and hand-written expectations."""

from __future__ import annotations

import pytest

from target_clickhouse_agile.clickhouse import ClickHouseError, ConnectionSettings
from target_clickhouse_agile.clickhouse.cluster import ClusterLayout, Node, Planned, check_layout
from target_clickhouse_agile.clickhouse.settings import parse_endpoint
from target_clickhouse_agile.settings import cluster_setting_errors

PATH = "/clickhouse/tables/{shard}/{database}/{table}"
REPLICAS = (Node("a", 9000, 1, 1), Node("b", 9000, 1, 2))
SHARDS = (Node("a", 9000, 1, 1), Node("b", 9000, 2, 1))

replicated = ClusterLayout("prod", "agile", REPLICAS, PATH, "{replica}")
sharded = ClusterLayout("prod", "agile", SHARDS, PATH, "{replica}", shard_macros=frozenset({"shard"}))


def sqls(planned: list[Planned]) -> list[str]:
    return [p.sql for p in planned]


def test_a_mergetree_table_becomes_replicated_on_cluster() -> None:
    ddl = (
        "CREATE TABLE IF NOT EXISTS statuses (key String, _version UInt64) "
        "ENGINE = ReplacingMergeTree(_version) ORDER BY key"
    )
    assert sqls(replicated.rewrite(ddl)) == [
        "CREATE TABLE IF NOT EXISTS `agile`.`statuses` ON CLUSTER `prod` (key String, _version UInt64) "
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/statuses', '{replica}', "
        "_version) ORDER BY key"
    ]


def test_an_engine_without_arguments_gets_only_path_and_replica() -> None:
    ddl = "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x"
    (planned,) = replicated.rewrite(ddl)
    assert "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/agile/t', '{replica}') ORDER BY x" in (
        planned.sql
    )


def test_string_literals_are_never_rewritten() -> None:
    # A comment that reads like an engine clause, and a column comment that says TRUNCATE.
    ddl = (
        "CREATE TABLE t (x UInt8 COMMENT 'ENGINE = MergeTree; TRUNCATE t') "
        "ENGINE = MergeTree ORDER BY x COMMENT 'ON CLUSTER x'"
    )
    (planned,) = replicated.rewrite(ddl)
    assert "COMMENT 'ENGINE = MergeTree; TRUNCATE t'" in planned.sql
    assert planned.sql.count("ReplicatedMergeTree") == 1


def test_column_comments_are_left_out_for_old_servers_only() -> None:
    ddl = "CREATE TABLE t (x UInt8 COMMENT 'why') ENGINE = MergeTree ORDER BY x"
    assert "COMMENT 'why'" in replicated.rewrite(ddl)[0].sql
    assert "COMMENT" not in replicated.rewrite(ddl, column_comments=False)[0].sql
    alter = "ALTER TABLE t ADD COLUMN y String COMMENT 'new'"
    assert sqls(replicated.rewrite(alter, column_comments=False)) == [
        "ALTER TABLE `agile`.`t` ON CLUSTER `prod` ADD COLUMN y String"
    ]


def test_views_are_planned_for_every_node() -> None:
    view = "CREATE VIEW IF NOT EXISTS v AS SELECT issue_id FROM issues"
    assert replicated.rewrite(view) == [Planned(view, every_node=True)]


def test_drop_and_database_run_on_cluster_with_qualified_names() -> None:
    assert sqls(replicated.rewrite("DROP TABLE IF EXISTS t")) == [
        "DROP TABLE IF EXISTS `agile`.`t` ON CLUSTER `prod`"
    ]
    assert sqls(replicated.rewrite("CREATE DATABASE IF NOT EXISTS agile")) == [
        "CREATE DATABASE IF NOT EXISTS agile ON CLUSTER `prod`"
    ]


def test_row_removals_replicate_by_themselves_and_truncate_is_refused() -> None:
    delete = "ALTER TABLE issue_flow DELETE WHERE issue_id IN ('1')"
    assert sqls(replicated.rewrite(delete)) == [delete]
    with pytest.raises(ClickHouseError, match="TRUNCATE is not used on a cluster"):
        replicated.rewrite("TRUNCATE TABLE issue_flow")


def test_a_per_issue_table_on_two_shards_is_local_plus_distributed() -> None:
    ddl = "CREATE TABLE IF NOT EXISTS issues (issue_id String) ENGINE = ReplacingMergeTree ORDER BY issue_id"
    assert sqls(sharded.rewrite(ddl)) == [
        "CREATE TABLE IF NOT EXISTS `agile`.`issues_local` ON CLUSTER `prod` (issue_id String) "
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issues_local', '{replica}') "
        "ORDER BY issue_id",
        "CREATE TABLE IF NOT EXISTS `agile`.`issues` ON CLUSTER `prod` AS `agile`.`issues_local` "
        "ENGINE = Distributed(`prod`, `agile`, `issues_local`, cityHash64(issue_id))",
    ]


def test_reference_tables_on_two_shards_are_held_in_full_by_every_node() -> None:
    ddl = "CREATE TABLE statuses (key String) ENGINE = ReplacingMergeTree ORDER BY key"
    (planned,) = sharded.rewrite(ddl)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/agile/statuses', '{replica}')" in planned.sql
    assert "`agile`.`statuses` ON CLUSTER" in planned.sql


def test_sharded_mutations_and_column_changes_go_to_the_local_tables() -> None:
    assert sqls(sharded.rewrite("ALTER TABLE issues DELETE WHERE issue_id = '1'")) == [
        "ALTER TABLE `agile`.`issues_local` ON CLUSTER `prod` DELETE WHERE issue_id = '1'"
    ]
    assert sharded.rewrite("ALTER TABLE issues ADD COLUMN x String") == [
        Planned("ALTER TABLE `agile`.`issues_local` ON CLUSTER `prod` ADD COLUMN x String"),
        Planned("ALTER TABLE `issues` ADD COLUMN x String", every_node=True),
    ]
    assert sqls(sharded.rewrite("DROP TABLE IF EXISTS issues")) == [
        "DROP TABLE IF EXISTS `agile`.`issues` ON CLUSTER `prod`",
        "DROP TABLE IF EXISTS `agile`.`issues_local` ON CLUSTER `prod`",
    ]


def test_subqueries_and_joins_become_global_on_shards_only() -> None:
    select = (
        "SELECT * FROM issue_flow WHERE issue_id IN (SELECT issue_id FROM issues) "
        "AND queue NOT IN (SELECT key FROM queues) AND x IN ('a', 'b') AND note = 'x IN (SELECT 1)'"
    )
    assert replicated.distributed_select(select) == select
    assert sharded.distributed_select(select) == (
        "SELECT * FROM issue_flow WHERE issue_id GLOBAL IN (SELECT issue_id FROM issues) "
        "AND queue GLOBAL NOT IN (SELECT key FROM queues) AND x IN ('a', 'b') AND note = 'x IN (SELECT 1)'"
    )
    join = "SELECT 1 FROM a ANY LEFT JOIN b USING issue_id"
    assert sharded.distributed_select(join) == "SELECT 1 FROM a GLOBAL ANY LEFT JOIN b USING issue_id"
    assert sharded.distributed_select(sharded.distributed_select(join)) == sharded.distributed_select(join)


def macros(shard: str, replica: str) -> dict[str, str]:
    return {"shard": shard, "replica": replica}


def test_a_good_two_replica_layout_has_no_shard_macros() -> None:
    node_macros = {REPLICAS[0]: macros("01", "r1"), REPLICAS[1]: macros("01", "r2")}
    assert check_layout("prod", "agile", PATH, "{replica}", node_macros) == frozenset()


def test_a_good_two_shard_layout_names_its_shard_macro() -> None:
    node_macros = {SHARDS[0]: macros("01", "r1"), SHARDS[1]: macros("02", "r1")}
    assert check_layout("prod", "agile", PATH, "{replica}", node_macros) == frozenset({"shard"})


@pytest.mark.parametrize(
    ("nodes", "node_macros", "path", "replica", "expected"),
    [
        (REPLICAS, [macros("01", "r1"), macros("01", "r2")], "/ch/{database}", "{replica}", "has no {table}"),
        (REPLICAS, [macros("01", "r1"), macros("01", "r2")], PATH, "r", "replica_name 'r' has no {macro}"),
        (REPLICAS, [macros("01", "r1"), {"shard": "01"}], PATH, "{replica}", "b:9000 (shard 1, replica 2) "
         "defines no macro {replica}"),
        (REPLICAS, [macros("01", "r1"), macros("01", "r1")], PATH, "{replica}", "gives 'r1' on both a:9000 "
         "and b:9000"),
        (REPLICAS, [macros("01", "r1"), macros("02", "r2")], PATH, "{replica}", "differs between the "
         "replicas of shard 1"),
        (SHARDS, [macros("01", "r1"), macros("01", "r2")], PATH, "{replica}", "is the same on different "
         "shards"),
    ],
    ids=["no-table", "fixed-name", "missing-macro", "same-name", "split-shard", "shared-path"],
)  # fmt: skip
def test_bad_layouts_are_one_error_naming_the_setting(
    nodes: tuple[Node, ...], node_macros: list[dict[str, str]], path: str, replica: str, expected: str
) -> None:
    with pytest.raises(ClickHouseError) as refused:
        check_layout("prod", "agile", path, replica, dict(zip(nodes, node_macros, strict=True)))
    message = str(refused.value)
    assert message.startswith("cluster 'prod': ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("b", ("b", 9440)),
        ("b:9000", ("b", 9000)),
        ("[::1]:9001", ("::1", 9001)),
        ("[::1]", ("::1", 9440)),
        ("fe80::1", ("fe80::1", 9440)),
    ],
)
def test_alt_hosts_entries(entry: str, expected: tuple[str, int]) -> None:
    assert parse_endpoint(entry, 9440) == expected


@pytest.mark.parametrize("entry", ["", ":9000", "b:x", "b:0", "b:70000", "a:b:c"])
def test_bad_alt_hosts_entries(entry: str) -> None:
    with pytest.raises(ClickHouseError, match="is not `host` or `host:port`"):
        parse_endpoint(entry, 9000)


def test_alt_hosts_from_a_list_or_an_environment_string_and_deduplicated() -> None:
    listed = ConnectionSettings.from_config({"host": "a", "alt_hosts": ["b", "c:9001", "a:9000"]})
    from_env = ConnectionSettings.from_config({"host": "a", "alt_hosts": "b, c:9001,a"})
    assert listed.endpoints == from_env.endpoints == (("a", 9000), ("b", 9000), ("c", 9001))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"host": "a", "alt_hosts": ["b:x"]}, ["alt_hosts: 'b:x' is not `host` or `host:port`"]),
        ({"cluster": "prod"}, ["cluster is set but host is empty"]),
        ({"host": "a", "cluster": "prod", "replica_name": "one"}, ["replica_name 'one' has no {macro}"]),
        ({"host": "a", "replication_path": "/no/table"}, []),  # no cluster: not used, not checked
        ({"host": "a", "cluster": "prod"}, []),
    ],
)
def test_cluster_settings_are_checked_with_the_other_settings(
    config: dict[str, object], expected: list[str]
) -> None:
    errors = cluster_setting_errors(config)
    assert len(errors) == len(expected)
    for error, start in zip(errors, expected, strict=True):
        assert start in error
