"""RECORD messages of plain streams go straight to their sink (record_path.py): the tables must hold exactly
what the SDK's own per-record path loads, and whatever makes a stream not plain (a stream map, record
metadata, flattening) must still take the SDK's path and be honoured."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

from target_clickhouse_agile import record_path
from target_clickhouse_agile import target as target_module
from target_clickhouse_agile.clickhouse.connection import connect
from target_clickhouse_agile.sinks import IssuesSink
from target_clickhouse_agile.target import TargetClickhouseAgile
from tests.support.clickhouse import ClickHouseServer, fresh_database
from tests.support.configs import tap_config
from tests.support.singer import run_target, schema_message
from tests.support.tap_runs import run_inprocess

#: Columns that say when a row was loaded, not what it holds.
LOAD_MOMENTS = {"_loaded_at", "_version", "sequence"}


def _tables(settings: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (without load moments), sorted: what a load left behind."""
    with connect(settings) as conn:
        tables = conn.query(
            f"SELECT name FROM system.tables WHERE database = '{conn.database}' AND engine != 'View'"
        )
        contents = {}
        for name in (t["name"] for t in tables):
            rows = conn.query(f"SELECT * FROM {name}")
            contents[name] = sorted(
                tuple(sorted((k, repr(v)) for k, v in row.items() if k not in LOAD_MOMENTS)) for row in rows
            )
        return contents


@pytest.fixture
def tap_messages(sim_factory: Any) -> list[dict[str, Any]]:
    """A real tap run's output: every stream the target knows, with the tap's own schemas."""
    sim = sim_factory(issues=60, seed=11)
    return run_inprocess(tap_config(sim, state_interval_seconds=0)).messages


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Records that went straight to their sink, per stream."""
    counts: Counter = Counter()
    load_record = record_path.load_record

    def counted(sink: Any, record: dict[str, Any]) -> None:
        counts[sink.stream_name] += 1
        load_record(sink, record)

    monkeypatch.setattr(target_module, "load_record", counted)
    return counts


def test_plain_streams_load_what_the_sdks_record_path_loads(
    clickhouse_server: ClickHouseServer,
    tap_messages: list[dict[str, Any]],
    loaded: Counter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fresh_database(clickhouse_server, "direct") as direct:
        direct_states = run_target(direct.settings, tap_messages)
        direct_tables = _tables(direct.settings)
    records = Counter(m["stream"] for m in tap_messages if m["type"] == "RECORD")
    assert loaded == records, "every record of this load is of a plain stream"

    monkeypatch.setattr(target_module, "plain_sink", lambda *_: None)
    loaded.clear()
    with fresh_database(clickhouse_server, "sdk") as through_sdk:
        sdk_states = run_target(through_sdk.settings, tap_messages)
        sdk_tables = _tables(through_sdk.settings)
    assert not loaded, "the SDK's path this time"

    assert direct_states == sdk_states
    assert direct_tables["issue_changelog"], "the load wrote rows"
    assert direct_tables == sdk_tables


def test_a_schema_changed_mid_stream_between_checkpoints_loses_nothing(
    clickhouse_server: ClickHouseServer,
    tap_messages: list[dict[str, Any]],
    loaded: Counter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SCHEMA that changes a stream's schema halfway replaces its sink (the SDK archives the old one and
    drops it at the next checkpoint): later records must go to the new sink, not the cached old one."""
    changelog_at = [
        n for n, m in enumerate(tap_messages) if m["type"] == "RECORD" and m["stream"] == "issue_changelog"
    ]
    schema = next(m for m in tap_messages if m["type"] == "SCHEMA" and m["stream"] == "issue_changelog")
    changed = copy.deepcopy(schema)
    changed["schema"]["properties"]["note"] = {"type": ["null", "string"]}
    middle = changelog_at[len(changelog_at) // 2]
    messages = [*tap_messages[:middle], changed, *tap_messages[middle:]]

    handled = Counter()
    handle_max_record_age = TargetClickhouseAgile._handle_max_record_age

    def checkpoint_every_50_records(target: TargetClickhouseAgile) -> None:
        handled["records"] += 1
        if handled["records"] % 50 == 0:
            target.drain_all()
        handle_max_record_age(target)

    monkeypatch.setattr(TargetClickhouseAgile, "_handle_max_record_age", checkpoint_every_50_records)
    with fresh_database(clickhouse_server, "direct") as direct:
        run_target(direct.settings, messages)
        direct_tables = _tables(direct.settings)
    assert loaded["issue_changelog"] == len(changelog_at)
    assert len(direct_tables["issue_changelog"]) >= len(changelog_at), "one row per entry and changed field"

    monkeypatch.setattr(target_module, "plain_sink", lambda *_: None)
    with fresh_database(clickhouse_server, "sdk") as through_sdk:
        run_target(through_sdk.settings, messages)
        assert direct_tables == _tables(through_sdk.settings)


def test_a_stream_map_still_applies(
    clickhouse_native: Any, tap_messages: list[dict[str, Any]], loaded: Counter
) -> None:
    config = {**clickhouse_native.settings, "stream_maps": {"issues": {"summary": "summary.upper()"}}}
    run_target(config, tap_messages)
    summaries = {
        m["record"]["id"]: m["record"]["summary"]
        for m in tap_messages
        if m["type"] == "RECORD" and m["stream"] == "issues"
    }
    with connect(clickhouse_native.settings) as conn:
        rows = conn.query("SELECT issue_id AS id, summary FROM issues FINAL")
    assert {r["id"]: r["summary"] for r in rows} == {k: v.upper() for k, v in summaries.items()}
    assert any(v != v.upper() for v in summaries.values()), "the map changes something"
    assert loaded["issues"] == 0, "the mapped stream takes the SDK's path"
    assert loaded["issue_changelog"] > 0, "the others do not"


@pytest.mark.parametrize(
    ("setting", "plain"),
    [
        ({}, True),
        ({"add_record_metadata": True}, False),
        ({"flattening_enabled": True, "flattening_max_depth": 1}, False),
        ({"stream_maps": {"issues": {"summary": "summary.upper()"}}}, False),
        ({"stream_maps": {"issues": {"__alias__": "tickets"}}}, False),
        ({"stream_maps": {"statuses": {"key": "key.upper()"}}}, True),
    ],
)
def test_what_makes_a_stream_not_plain(setting: dict[str, Any], plain: bool) -> None:
    target = TargetClickhouseAgile(config={"host": "127.0.0.1", **setting})
    schema = schema_message("issues")
    target.mapper.register_raw_stream_schema("issues", schema["schema"], schema["key_properties"])
    sink = IssuesSink(target, "issues", schema["schema"], schema["key_properties"])
    found = record_path.plain_sink(target.mapper.stream_maps, {"issues": sink}, "issues")
    assert (found is sink) is plain
    assert record_path.plain_sink(target.mapper.stream_maps, {}, "issues") is None, "no sink yet"
    assert record_path.plain_sink(target.mapper.stream_maps, {"issues": sink}, "statuses") is None, (
        "no schema"
    )
