"""Loading a 1-shard x 2-replica cluster: every replica holds every table and the same rows; the metrics
never depend on replication speed; a replica killed mid-load costs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import repository
from tests.support import tables
from tests.support.clickhouse import NativeDatabase
from tests.support.cluster import Cluster, cluster_database
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
from tests.support.pipeline import Fault, PipelineResult, run_pipeline
from tests.support.singer import run_target
from tracker_simulator import TrackerSimulator


def load(sim: TrackerSimulator, settings: dict[str, Any], workdir: Path, **kwargs: Any) -> PipelineResult:
    return run_pipeline(tap_config(sim), target_config(settings), workdir=workdir, **kwargs)


def replicated_engines(cluster: Cluster, node: int, database: str) -> dict[str, str]:
    with cluster.connect(node, database) as conn:
        rows = conn.query(
            "SELECT name, engine FROM system.tables "
            "WHERE database = currentDatabase() AND engine LIKE '%Tree'"
        )
    return {row["name"]: row["engine"] for row in rows}


def test_full_and_incremental_sync_read_back_on_replica_2(
    clickhouse_cluster: Cluster, clickhouse_native: NativeDatabase, sim_factory: Any, tmp_path: Path
) -> None:
    cluster = clickhouse_cluster
    sim = sim_factory(issues=80, seed=41)
    with cluster_database(cluster) as database:
        settings = cluster.settings(0, database=database)
        # The same two runs on one server, for "the same tables, the same results".
        single = clickhouse_native.settings
        first = load(sim, settings, tmp_path / "full").check()
        first_single = load(sim, single, tmp_path / "single-full").check()
        sim.advance(minutes=24 * 60, mutate=25, create=10)
        load(sim, settings, tmp_path / "incremental", state=first.last_state).check()
        load(sim, single, tmp_path / "single-incremental", state=first_single.last_state).check()

        cluster.sync_replicas(database)
        replica2 = cluster.on_node(1, settings)
        assert tables.timeline_mismatches(replica2, sim.ground_truth()) == []
        assert tables.duplicate_keys(replica2) == dict.fromkeys(tables.DATA_KEYS, 0)
        assert tables.diff(tables.snapshot(replica2), tables.snapshot(single)) == []
        assert tables.diff(tables.snapshot(cluster.on_node(0, settings)), tables.snapshot(replica2)) == []
        engines = replicated_engines(cluster, 1, database)
        assert set(engines) >= {"issues", "issue_changelog", "issue_flow", "schema_migrations", "statuses"}
        assert {name for name, engine in engines.items() if not engine.startswith("Replicated")} == set()


def test_metrics_read_what_was_just_written_while_replication_stalls(
    clickhouse_cluster: Cluster, sim_factory: Any, tmp_path: Path
) -> None:
    """Replica 2 fetches nothing during the load: the metrics, built from replica 1, are still exact."""
    cluster = clickhouse_cluster
    sim = sim_factory(issues=60, seed=42)
    with cluster_database(cluster) as database:
        settings = cluster.settings(0, database=database)
        first = load(sim, settings, tmp_path / "first").check()
        cluster.sync_replicas(database)
        with cluster.connect(1, database) as replica2:
            replica2.execute("SYSTEM STOP FETCHES")
            try:
                sim.advance(minutes=24 * 60, mutate=30, create=10)
                load(sim, settings, tmp_path / "second", state=first.last_state).check()
                stalled = tables.count(cluster.on_node(1, settings), "issues")
                assert stalled < len(sim.ground_truth())  # replica 2 really lags behind
                assert tables.timeline_mismatches(cluster.on_node(0, settings), sim.ground_truth()) == []
            finally:
                replica2.execute("SYSTEM START FETCHES")
        cluster.sync_replicas(database)
        assert tables.timeline_mismatches(cluster.on_node(1, settings), sim.ground_truth()) == []


def test_replica_1_killed_mid_load_the_run_finishes_on_replica_2(
    clickhouse_cluster: Cluster, sim_factory: Any, tmp_path: Path
) -> None:
    """Replica 2 fetches nothing while replica 1 takes the first batches and dies (-9): what replica 1
    acknowledged exists only there. The run goes on through `alt_hosts`, sends the checkpoint's batches
    again to replica 2, and replica 2 alone holds exact metrics; once replica 1 is back, nothing is lost
    or duplicated."""
    cluster = clickhouse_cluster
    sim = sim_factory(issues=30, seed=43)
    with cluster_database(cluster) as database:
        settings = cluster.settings(0, database=database, batch_size_rows=40)
        first = load(sim, settings, tmp_path / "first").check()
        cluster.sync_replicas(database)
        sim.advance(minutes=24 * 60, mutate=20, create=120)
        with cluster.connect(1, database) as conn:
            conn.execute("SYSTEM STOP FETCHES")
        killed = Fault(after_inserts=6, action=lambda tap, target: cluster.nodes[0].kill(), hold_states=True)
        run = load(sim, settings, tmp_path / "second", state=first.last_state, fault=killed)
        assert run.fault_fired
        assert run.ok, run.describe()
        assert "switching to" in run.target.stderr
        assert "re-sent" in run.target.stderr
        replica2 = cluster.on_node(1, settings)
        assert tables.timeline_mismatches(replica2, sim.ground_truth()) == []
        # Replica 1 comes back and replica 2 fetches again: nothing is lost or duplicated anywhere.
        cluster.nodes[0].start()
        with cluster.connect(1, database) as conn:
            conn.execute("SYSTEM START FETCHES")
        cluster.sync_replicas(database)
        replica1 = cluster.on_node(0, settings)
        for node in (replica1, replica2):
            assert tables.duplicate_keys(node) == dict.fromkeys(tables.DATA_KEYS, 0)
            assert tables.timeline_mismatches(node, sim.ground_truth()) == []
        assert tables.diff(tables.snapshot(replica1), tables.snapshot(replica2)) == []


def test_two_targets_on_the_two_replicas_at_once(
    clickhouse_cluster: Cluster, sim_factory: Any, tmp_path: Path
) -> None:
    """Both start on an empty database (the migrations race across replicas) and load half the queues
    each; together they give what one load of every queue gives."""
    import threading

    cluster = clickhouse_cluster
    sim = sim_factory(issues=120, seed=44)
    queues = sorted({truth.queue for truth in sim.ground_truth().values()})
    half = len(queues) // 2
    with cluster_database(cluster) as database:
        results: dict[int, PipelineResult] = {}

        def run(node: int, selected: list[str]) -> None:
            settings = cluster.settings(node, database=database)
            results[node] = run_pipeline(
                tap_config(sim, queues=selected),
                target_config(settings),
                workdir=tmp_path / f"node{node}",
                label=f"target on replica {node + 1}",
            )

        threads = [
            threading.Thread(target=run, args=(0, queues[:half])),
            threading.Thread(target=run, args=(1, queues[half:])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        for result in results.values():
            assert result.ok, result.describe()
        assert len(results) == 2
        cluster.sync_replicas(database)
        for node in (0, 1):
            on_node = cluster.on_node(node, cluster.settings(node, database=database))
            assert tables.timeline_mismatches(on_node, sim.ground_truth()) == []
            assert tables.duplicate_keys(on_node) == dict.fromkeys(tables.DATA_KEYS, 0)
        with cluster.connect(0, database) as conn:
            versions = conn.query(
                "SELECT version, dirty FROM schema_migrations ORDER BY sequence DESC LIMIT 1"
            )
        assert versions[0]["dirty"] == 0


def test_over_http_with_failover(clickhouse_cluster: Cluster, sim_factory: Any, tmp_path: Path) -> None:
    """`protocol: http` on the cluster: the per-node statements find each node's HTTP port, and a killed
    replica 1 is left for replica 2 as on the native protocol."""
    cluster = clickhouse_cluster
    sim = sim_factory(issues=80, seed=45)
    with cluster_database(cluster) as database:
        settings = cluster.settings(0, database=database, http=True, batch_size_rows=40)
        killed = Fault(after_inserts=6, action=lambda tap, target: cluster.nodes[0].kill(), hold_states=True)
        run = load(sim, settings, tmp_path / "load", fault=killed)
        assert run.fault_fired
        assert run.ok, run.describe()
        assert "switching to" in run.target.stderr
        replica2 = cluster.on_node(1, settings)
        assert tables.timeline_mismatches(replica2, sim.ground_truth()) == []
        cluster.nodes[0].start()
        cluster.sync_replicas(database)
        replica1 = cluster.on_node(0, settings)
        assert tables.diff(tables.snapshot(replica1), tables.snapshot(replica2)) == []
        assert tables.duplicate_keys(replica1) == dict.fromkeys(tables.DATA_KEYS, 0)


def test_retired_rows_are_gone_when_the_metrics_step_returns(
    clickhouse_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a replicated table of a server before 23.2 retired rows are deleted by `ALTER ... DELETE`, which
    a replica lists only once it has read it from ZooKeeper, after the ALTER has returned, and applies by
    itself: each deletion is waited for on both replicas until it is listed and done, so none is left on
    either when the step returns."""
    cluster = clickhouse_cluster
    with cluster_database(cluster) as database:
        settings = cluster.settings(0, database=database)
        run_target(settings, three_issues())
        replica_1 = cluster.on_node(0, settings)
        expected = derived_rows(replica_1)
        add_five_ghosts(replica_1)
        cluster.sync_replicas(database)  # both replicas hold the ghosts before the deletions start
        monkeypatch.setattr(repository, "DELETE_STATEMENT_BYTES", TWO_KEYS_A_STATEMENT)
        waits = record_mutation_waits(monkeypatch)
        run_target(settings, three_issues())
        assert_each_deletion_waited_for(waits, servers=2, deletions=3)
        for node in (0, 1):  # deleted from the parts themselves: no FINAL, no merge needed
            with cluster.connect(node, database) as conn:
                assert conn.query(GHOSTS.format(table="issue_status_intervals")) == [{"n": 0}], node
            assert derived_rows(cluster.on_node(node, settings)) == expected
