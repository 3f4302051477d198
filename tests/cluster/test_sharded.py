"""Loading a 2-shard cluster: per-issue tables are sharded by issue behind Distributed tables, the small
ones are on every node, and every node answers exactly what one server answers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import repository
from tests.support import tables
from tests.support.clickhouse import NativeDatabase
from tests.support.cluster import SHARDED, Cluster, cluster_database
from tests.support.configs import tap_config, target_config
from tests.support.metrics_case import (
    GHOSTS,
    TWO_KEYS_A_STATEMENT,
    add_five_ghosts,
    assert_each_deletion_waited_for,
    derived_rows,
    record_mutation_waits,
    three_issues,
)
from tests.support.pipeline import PipelineResult, run_pipeline
from tests.support.singer import run_target
from tracker_simulator import TrackerSimulator

#: Analytics views compared between every node of the sharded cluster and one server.
VIEWS = (
    "issue_flow_facts_view",
    "time_in_status_view",
    "time_in_status_by_assignee_view",
    "flow_efficiency_view",
    "aging_wip_view",
    "issue_assignee_intervals_view",
    "people_view",
)


def load(sim: TrackerSimulator, settings: dict[str, Any], workdir: Path, **kwargs: Any) -> PipelineResult:
    return run_pipeline(tap_config(sim), target_config(settings), workdir=workdir, **kwargs).check()


#: Columns measured against now(): two queries a second apart differ by a second.
NOW_DEPENDENT = frozenset({"age_s", "status_age_s"})


def view_rows(settings: dict[str, Any], view: str) -> list[str]:
    rows = tables.query(settings, f"SELECT * FROM {view}")
    dropped = tables.SNAPSHOT_VOLATILE | NOW_DEPENDENT
    return sorted(repr({k: v for k, v in row.items() if k not in dropped}) for row in rows)


def test_sharded_sync_equals_one_server_on_every_node(
    clickhouse_cluster: Cluster, clickhouse_native: NativeDatabase, sim_factory: Any, tmp_path: Path
) -> None:
    cluster = clickhouse_cluster
    sim = sim_factory(issues=90, seed=51)
    single = clickhouse_native.settings
    with cluster_database(cluster, "s") as database:
        settings = cluster.settings(0, cluster=SHARDED, database=database)
        first = load(sim, settings, tmp_path / "full")
        first_single = load(sim, single, tmp_path / "single-full")
        sim.advance(minutes=24 * 60, mutate=25, create=10)
        load(sim, settings, tmp_path / "incremental", state=first.last_state)
        load(sim, single, tmp_path / "single-incremental", state=first_single.last_state)

        expected = tables.snapshot(single)
        for node in (0, 1):
            on_node = cluster.on_node(node, settings)
            assert tables.timeline_mismatches(on_node, sim.ground_truth()) == []
            assert tables.diff(tables.snapshot(on_node), expected) == []
            for view in VIEWS:
                assert view_rows(on_node, view) == view_rows(single, view), view

        # The rows of one issue live on one shard, and both shards hold some.
        placed: dict[str, set[int]] = {}
        for node in (0, 1):
            with cluster.connect(node, database) as conn:
                for table in ("issues_local", "issue_changelog_local", "issue_flow_local"):
                    for row in conn.query(f"SELECT DISTINCT issue_id FROM {table}"):
                        placed.setdefault(row["issue_id"], set()).add(node)
        assert {len(nodes) for nodes in placed.values()} == {1}
        assert {next(iter(nodes)) for nodes in placed.values()} == {0, 1}
        # Small tables are on every node in full.
        statuses = [tables.count(cluster.on_node(node, settings), "statuses") for node in (0, 1)]
        assert statuses[0] == statuses[1] == tables.count(single, "statuses")


def test_retired_rows_are_deleted_on_every_shard(
    clickhouse_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a sharded cluster of servers before 23.2 retired rows are deleted by `ALTER ... DELETE ON
    CLUSTER` on the local tables: every node is waited for until it lists the new deletion, done, so none
    is left on either shard when the step returns."""
    cluster = clickhouse_cluster
    with cluster_database(cluster, "s") as database:
        settings = cluster.settings(0, cluster=SHARDED, database=database)
        run_target(settings, three_issues())
        expected = derived_rows(settings)
        add_five_ghosts(settings)  # through the Distributed table, which forwards them in the background
        deadline = time.monotonic() + 30
        while tables.query(settings, GHOSTS.format(table="issue_status_intervals"))[0]["n"] < 5:
            assert time.monotonic() < deadline, "the Distributed table never forwarded the ghost rows"
            time.sleep(0.1)
        monkeypatch.setattr(repository, "DELETE_STATEMENT_BYTES", TWO_KEYS_A_STATEMENT)
        waits = record_mutation_waits(monkeypatch)
        run_target(settings, three_issues())
        assert_each_deletion_waited_for(waits, servers=2, deletions=3)
        for node in (0, 1):  # each shard's own rows, deleted from the parts themselves
            with cluster.connect(node, database) as conn:
                assert conn.query(GHOSTS.format(table="issue_status_intervals_local")) == [{"n": 0}], node
        assert derived_rows(settings) == expected
