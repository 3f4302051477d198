"""Checkpoints that fall between an issue's changelog and its issue record (the tap emits the changelog
first): the metrics step must skip the issue until its record arrives, not fail the load."""

from __future__ import annotations

import io
import json
import os
import signal
from contextlib import redirect_stdout
from typing import Any

import clickhouse_driver
import pytest
from singer_sdk import target_base

from target_clickhouse_agile import recompute, sinks
from target_clickhouse_agile import target as target_module
from target_clickhouse_agile.clickhouse import ClickHouseError, load_state
from target_clickhouse_agile.clickhouse.native import NativeConnection
from target_clickhouse_agile.target import TargetClickhouseAgile
from tests.support.clickhouse import NativeDatabase
from tests.support.metrics_case import THREE_ISSUE_IDS, three_issues
from tests.support.singer import issue, record, run_target, schema_message, state, to_lines
from tests.target.test_target_metrics import ISSUE_ID, dev1_messages, query, target_settings  # noqa: F401


def test_changelog_without_its_issue_yet_checkpoints(target_settings: dict[str, Any]) -> None:  # noqa: F811
    messages = dev1_messages()
    changelog_only = [m for m in messages if m.get("stream") != "issues" and m["type"] != "STATE"]
    first = run_target(target_settings, [*changelog_only, state({"step": 1})])
    assert first == [{"step": 1}]
    assert query(target_settings, "SELECT count() AS n FROM issue_flow")[0]["n"] == 0

    issue_record = next(m for m in messages if m.get("stream") == "issues" and m["type"] == "RECORD")
    run_target(target_settings, [schema_message("issues"), record("issues", issue_record["record"])])
    rows = query(target_settings, "SELECT seq FROM issue_status_intervals_view ORDER BY seq")
    assert [r["seq"] for r in rows] == [1, 2, 3]


@pytest.mark.parametrize(("interval", "every_state"), [(0.0, True), (3600.0, False)])
def test_a_full_sink_makes_a_checkpoint_unless_the_last_is_recent(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, interval: float, every_state: bool
) -> None:
    """With every record filling its sink (`batch_size_rows: 1`), each one makes a checkpoint - rows,
    metrics, the STATE received before it - when the last checkpoint is `FULL_CHECKPOINT_SECONDS` old;
    within that time only the sink's rows are inserted and the STATE waits for the end."""
    monkeypatch.setattr(target_module, "FULL_CHECKPOINT_SECONDS", interval)
    messages: list[dict[str, Any]] = []
    steps = []
    for message in (m for m in dev1_messages() if m["type"] != "STATE"):
        messages.append(message)
        if message["type"] == "RECORD":
            steps.append({"step": len(steps) + 1})
            messages.append(state(steps[-1]))
    written = run_target({**clickhouse_native.settings, "batch_size_rows": 1}, messages)
    assert written == (steps if every_state else steps[-1:])
    flow = query(clickhouse_native.settings, "SELECT issue_id FROM issue_flow FINAL")
    assert [row["issue_id"] for row in flow] == [ISSUE_ID]


@pytest.mark.parametrize("streams", [{"statuses"}, None], ids=["one-stream", "every-stream"])
def test_checkpoints_drain_on_the_targets_own_threads(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, streams: set[str] | None
) -> None:
    """The SDK's parallel drain (joblib, which the target's import leaves out: sdk_import.py) is never used,
    whether a checkpoint drains one sink or many: one sink is drained in the main thread, many in the
    target's own threads."""

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the SDK's joblib drain was used")

    monkeypatch.setattr(target_base, "Parallel", refused)
    monkeypatch.setattr(target_base, "parallel_config", refused)
    messages = [m for m in dev1_messages() if m["type"] != "STATE"]
    if streams is not None:
        messages = [m for m in messages if m.get("stream") in streams]
    written = run_target(clickhouse_native.settings, [*messages, state({"step": 1})])
    assert written == [{"step": 1}]
    counts = query(clickhouse_native.settings, "SELECT count() AS n FROM statuses")
    assert counts[0]["n"] == sum(
        1 for m in messages if m.get("stream") == "statuses" and m["type"] == "RECORD"
    )


def test_a_termination_signal_during_a_checkpoint_waits_for_its_state(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while a checkpoint rebuilds metrics: the SDK's handler would run a checkpoint of its own
    inside it (which has no STATE to write) and exit, leaving the rows of the outer one written and its
    STATE not. The signal is handled once the checkpoint is complete: its STATE, then exit 0."""
    monkeypatch.setattr(target_module, "FULL_CHECKPOINT_SECONDS", 0.0)
    messages: list[dict[str, Any]] = []
    for message in (m for m in dev1_messages() if m["type"] != "STATE"):
        messages.append(message)
        if message["type"] == "RECORD":
            messages.append(state({"step": sum(1 for m in messages if m["type"] == "RECORD")}))
    target = TargetClickhouseAgile(config={**clickhouse_native.settings, "batch_size_rows": 1})
    refresh = TargetClickhouseAgile._refresh_metrics
    checkpoints = []

    def signal_in_the_second_checkpoint(self: TargetClickhouseAgile) -> set[str]:
        checkpoints.append(1)
        if len(checkpoints) == 2:  # the first whose STATE (step 1) is pending
            self._handle_termination(signal.SIGTERM, None)
        return refresh(self)

    monkeypatch.setattr(TargetClickhouseAgile, "_refresh_metrics", signal_in_the_second_checkpoint)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as stopped:
        target.listen(io.StringIO(to_lines(messages)))
    assert stopped.value.code == 0
    written = [json.loads(line) for line in out.getvalue().splitlines()]
    assert written == [{"step": 1}], "the STATE of the checkpoint under way, once (the last repeats none)"
    rows = query(clickhouse_native.settings, "SELECT count() AS n FROM statuses")
    assert rows[0]["n"] == 2, "the two records the STATE covers are in ClickHouse"


def test_a_termination_signal_while_a_table_is_set_up_waits_for_the_statement(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while a stream's table is set up through the target's own connection (a SCHEMA read after a
    STATE): the SDK's handler runs in the same thread and checkpoints through that connection, which
    clickhouse-driver refuses while the statement is under way, so the STATE was neither saved nor written
    (and the exit still 0). The signal waits for the statement: the STATE, then exit 0."""
    settings = {**clickhouse_native.settings, "store_state": True}
    real_describe = sinks.describe

    def describe_with_a_signal(conn: Any, table: str) -> Any:
        if table == "events":  # the signal lands inside the driver, while it reads the DESCRIBE's answer
            driver = conn._client.connection
            real_receive = driver.receive_packet

            def receive() -> Any:
                driver.receive_packet = real_receive
                os.kill(os.getpid(), signal.SIGTERM)
                return real_receive()

            driver.receive_packet = receive
        return real_describe(conn, table)

    monkeypatch.setattr(sinks, "describe", describe_with_a_signal)
    table_schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    messages = [
        {"type": "SCHEMA", "stream": "projects", "key_properties": ["id"], "schema": table_schema},
        record("projects", {"id": 1}),
        state({"bookmark": 1}),
        {"type": "SCHEMA", "stream": "events", "key_properties": [], "schema": table_schema},
    ]
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as stopped:
        TargetClickhouseAgile(config=settings).listen(io.StringIO(to_lines(messages)))
    assert stopped.value.code == 0
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"bookmark": 1}]
    assert load_state(clickhouse_native.conn) == {"bookmark": 1}
    assert query(settings, "SELECT count() AS n FROM projects")[0]["n"] == 1


def _two_issues_filling_the_sink() -> list[dict[str, Any]]:
    """DEV-1, a STATE covering it, DEV-2: with `batch_size_rows: 2` the second record fills the sink."""
    moment = "2024-03-04T07:00:00.000Z"
    return [
        schema_message("issues"),
        record("issues", issue("1", "DEV-1", "open", moment, moment)),
        state({"step": 1}),
        record("issues", issue("2", "DEV-2", "open", moment, moment)),
    ]


@pytest.mark.parametrize("lands", ["before-the-insert", "after-the-insert"])
@pytest.mark.parametrize("path", ["plain", "sdk"])
def test_a_termination_signal_while_a_full_sink_inserts_alone_waits_for_its_rows(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, lands: str, path: str
) -> None:
    """SIGTERM while a full sink inserts its rows outside a checkpoint (the last one is recent): the
    handler's checkpoint found the batch taken from the sink but not inserted, or inserted but its issues
    not yet marked for the metrics, and wrote the STATE anyway: DEV-1, which it covers, was not in
    ClickHouse, or had no metrics. The signal waits for the insert: rows, metrics, the STATE, exit 0.
    Both record paths: the target's own, and the SDK's (taken with `add_record_metadata`)."""
    monkeypatch.setattr(target_module, "FULL_CHECKPOINT_SECONDS", 3600.0)
    real_insert = NativeConnection.insert
    signalled: list[str] = []

    def insert_with_a_signal(self: NativeConnection, table: str, *args: Any, **kwargs: Any) -> Any:
        if table == "issues" and not signalled:
            signalled.append(table)
            if lands == "before-the-insert":
                os.kill(os.getpid(), signal.SIGTERM)
                return real_insert(self, table, *args, **kwargs)
            done = real_insert(self, table, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)
            return done
        return real_insert(self, table, *args, **kwargs)

    monkeypatch.setattr(NativeConnection, "insert", insert_with_a_signal)
    out = io.StringIO()
    config = {**clickhouse_native.settings, "batch_size_rows": 2, "add_record_metadata": path == "sdk"}
    target = TargetClickhouseAgile(config=config)
    with redirect_stdout(out), pytest.raises(SystemExit) as stopped:
        target.listen(io.StringIO(to_lines(_two_issues_filling_the_sink())))
    assert signalled == ["issues"], "the signal landed in the full sink's own insert"
    assert stopped.value.code == 0
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"step": 1}]
    settings = clickhouse_native.settings
    issues = query(settings, "SELECT issue_key FROM issues FINAL ORDER BY issue_key")
    assert [row["issue_key"] for row in issues] == ["DEV-1", "DEV-2"]
    flow = query(settings, "SELECT issue_id FROM issue_flow FINAL ORDER BY issue_id")
    assert [row["issue_id"] for row in flow] == ["1", "2"], "the metrics of the issues the STATE covers"


def test_a_failed_last_checkpoint_after_a_termination_signal_is_an_error(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM, and the last checkpoint it makes fails (ClickHouse gone, the metrics step failing): the
    error ends the run, no STATE is written. The SDK's handler exited 0 whatever happened, and hid it."""
    real_state = TargetClickhouseAgile._process_state_message

    def state_then_a_signal(self: TargetClickhouseAgile, message_dict: dict) -> None:
        real_state(self, message_dict)
        os.kill(os.getpid(), signal.SIGTERM)  # handled here, between two messages: no hold is under way

    def failing_metrics(self: TargetClickhouseAgile) -> set[str]:
        raise RuntimeError("the metrics step failed (simulated)")

    monkeypatch.setattr(TargetClickhouseAgile, "_process_state_message", state_then_a_signal)
    monkeypatch.setattr(TargetClickhouseAgile, "_refresh_metrics", failing_metrics)
    out = io.StringIO()
    target = TargetClickhouseAgile(config=clickhouse_native.settings)
    with redirect_stdout(out), pytest.raises(RuntimeError, match="metrics step failed"):
        target.listen(io.StringIO(to_lines(_two_issues_filling_the_sink())))
    assert out.getvalue() == "", "no STATE past a checkpoint that failed"


@pytest.mark.parametrize("newer_state_at_the_end", [False, True])
def test_a_checkpoint_without_a_newer_state_writes_none_and_keeps_the_insert_journal(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, newer_state_at_the_end: bool
) -> None:
    """Checkpoints after the last STATE (every record fills its sink) insert rows that STATE does not cover:
    it is not written again, and the insert journal keeps those rows for a failover until a newer STATE
    covers them (insert_journal.py). `alt_hosts` names the same server a second way, so the journal is on."""
    monkeypatch.setattr(target_module, "FULL_CHECKPOINT_SECONDS", 0.0)
    records = [m for m in dev1_messages() if m["type"] != "STATE"]
    first_record = next(n for n, m in enumerate(records) if m["type"] == "RECORD")
    messages = [*records[: first_record + 1], state({"step": 1}), *records[first_record + 1 :]]
    if newer_state_at_the_end:
        messages.append(state({"step": 2}))
    settings = clickhouse_native.settings
    config = {**settings, "batch_size_rows": 1, "alt_hosts": [f"localhost:{settings['port']}"]}
    target = TargetClickhouseAgile(config=config)
    out = io.StringIO()
    with redirect_stdout(out):
        target.listen(io.StringIO(to_lines(messages)))
    written = [json.loads(line) for line in out.getvalue().splitlines()]
    journal = target.load_context.journal
    assert journal is not None
    if newer_state_at_the_end:
        assert written == [{"step": 1}, {"step": 2}]
        assert journal.batches == 0, "the newer STATE covers every row"
    else:
        assert written == [{"step": 1}]
        assert journal.batches > 1, "the inserts since the STATE, one batch per full sink"


def _metrics_steps(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The issues of every metrics step from now on, in order."""
    real_refresh = recompute.MetricsRefresher.refresh
    steps: list[set[str]] = []

    def refresh(self: recompute.MetricsRefresher, issue_ids: Any) -> Any:
        steps.append(set(issue_ids))
        return real_refresh(self, steps[-1])

    monkeypatch.setattr(recompute.MetricsRefresher, "refresh", refresh)
    return steps


def test_a_failover_during_the_metrics_step_rebuilds_its_issues_on_the_new_host(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host in use is lost while the metrics step reads the issues back (`alt_hosts`): the step went on
    at the next host, which may lack this window's batches (part of the histories read there, derived rows
    written to the lost host), and the STATE followed. Now the step runs again on the new host, for every
    issue it covered, and then the STATE. `alt_hosts` names the same server a second way."""
    settings = clickhouse_native.settings
    config = {**settings, "alt_hosts": [f"localhost:{settings['port']}"], "store_state": True}
    real_execute = clickhouse_driver.Client.execute
    lost_at: list[str] = []

    def execute(self: clickhouse_driver.Client, query: Any, *args: Any, **kwargs: Any) -> Any:
        host = self.connection.host
        if "FROM issues FINAL WHERE issue_id IN" in str(query) and host == settings["host"]:
            lost_at.append(host)
            raise ConnectionResetError("the replica went away (simulated)")
        return real_execute(self, query, *args, **kwargs)

    steps = _metrics_steps(monkeypatch)
    monkeypatch.setattr(clickhouse_driver.Client, "execute", execute)
    messages = [m for m in three_issues() if m["type"] != "STATE"]
    out = io.StringIO()
    with redirect_stdout(out):
        TargetClickhouseAgile(config=config).listen(io.StringIO(to_lines([*messages, state({"step": 1})])))
    assert lost_at, "precondition: the host was lost during the metrics step"
    assert steps == [set(THREE_ISSUE_IDS), set(THREE_ISSUE_IDS)], "the step again, for all its issues"
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"step": 1}]
    assert load_state(clickhouse_native.conn) == {"step": 1}
    flow = query(settings, "SELECT issue_id FROM issue_flow FINAL ORDER BY issue_id")
    assert [row["issue_id"] for row in flow] == sorted(THREE_ISSUE_IDS)


def test_a_metrics_step_that_fails_over_every_time_ends_the_run_without_a_state(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each metrics step of the checkpoint loses its host (one step per endpoint): no STATE, and an error
    that says so, rather than a STATE over histories read from hosts that may lack them."""
    settings = clickhouse_native.settings
    config = {**settings, "alt_hosts": [f"localhost:{settings['port']}"], "store_state": True}
    real_execute = clickhouse_driver.Client.execute
    losing = [settings["host"], "localhost"]  # the host each step loses, in turn
    answered_at: list[str] = []

    def execute(self: clickhouse_driver.Client, query: Any, *args: Any, **kwargs: Any) -> Any:
        if "FROM issues FINAL WHERE issue_id IN" in str(query) and losing:
            if self.connection.host == losing[0]:
                raise ConnectionResetError("the replica went away (simulated)")
            losing.pop(0)
            answered_at.append(self.connection.host)
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(clickhouse_driver.Client, "execute", execute)
    messages = [m for m in three_issues() if m["type"] != "STATE"]
    out = io.StringIO()
    target = TargetClickhouseAgile(config=config)
    with redirect_stdout(out), pytest.raises(ClickHouseError, match="failed over during each of 2 metrics"):
        target.listen(io.StringIO(to_lines([*messages, state({"step": 1})])))
    assert answered_at == ["localhost", settings["host"]], "each step failed over once"
    assert out.getvalue() == ""
    assert load_state(clickhouse_native.conn) is None


def test_a_failover_while_the_journal_is_re_sent_repeats_the_step(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first host is lost by a full sink's insert (the statuses' batches it took are in the journal),
    then the second while the checkpoint re-sends them, and the connection is back at the first: the step
    ends where it began, but the re-send went to a host that lacked what the other took. Any move during
    the step, the re-send included, repeats it."""
    monkeypatch.setattr(target_module, "FULL_CHECKPOINT_SECONDS", 3600.0)  # full sinks insert alone
    settings = clickhouse_native.settings
    config = {**settings, "alt_hosts": [f"localhost:{settings['port']}"], "batch_size_rows": 2}
    real_execute = clickhouse_driver.Client.execute
    real_replay = TargetClickhouseAgile._replay_after_failover
    replaying: list[bool] = []
    lost: list[str] = []  # the host a changelog insert lost, then the one the re-send lost
    moved_back: list[bool] = []

    def execute(self: clickhouse_driver.Client, query: Any, *args: Any, **kwargs: Any) -> Any:
        text, host = str(query), self.connection.host
        changelog = text.startswith("INSERT INTO `issue_changelog`")
        if len(lost) < 2 and changelog and not replaying and host == settings["host"]:
            lost[:1] = [host]  # every try on the first host, until the insert moves on
            raise ConnectionResetError("the replica went away (simulated)")
        if lost and replaying and text.startswith("INSERT") and host == "localhost" and not moved_back:
            lost[1:] = [host]  # every try of the re-send there, until it moves back
            raise ConnectionResetError("the replica went away (simulated)")
        if len(lost) == 2 and host == settings["host"]:
            moved_back.append(True)
        return real_execute(self, query, *args, **kwargs)

    def replay(self: TargetClickhouseAgile) -> None:
        replaying.append(True)
        try:
            real_replay(self)
        finally:
            replaying.clear()

    steps = _metrics_steps(monkeypatch)
    monkeypatch.setattr(clickhouse_driver.Client, "execute", execute)
    monkeypatch.setattr(TargetClickhouseAgile, "_replay_after_failover", replay)
    messages = [m for m in three_issues() if m["type"] != "STATE"]
    out = io.StringIO()
    with redirect_stdout(out):
        TargetClickhouseAgile(config=config).listen(io.StringIO(to_lines([*messages, state({"step": 1})])))
    assert lost == [settings["host"], "localhost"], "precondition: lost by an insert, then by the re-send"
    assert steps == [set(THREE_ISSUE_IDS), set(THREE_ISSUE_IDS)], "the step again after the re-send moved"
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"step": 1}]
