"""Every analytics view against the hand-computed values in tests/analytics/dataset.py, on both engines
(parameterized views run as views on chdb and as their inlined SELECT on 18.16)."""

from __future__ import annotations

from datetime import date
from typing import Any

from target_clickhouse_agile.clickhouse.connection import Connection, connect
from target_clickhouse_agile.report.queries import query_view
from tests.analytics import dataset
from tests.analytics.dataset import ASOF, MAP, TZ, issue_id
from tests.support.singer import run_target


def _facts(conn: Connection) -> dict[str, dict[str, Any]]:
    return {row["issue_key"]: row for row in conn.query("SELECT * FROM issue_flow_facts_view")}


def test_flow_facts_default_map(loaded: Connection) -> None:
    facts = _facts(loaded)
    assert set(facts) == {f"DEV-{n}" for n in range(1, 7)}
    columns = (
        "lead_time_s",
        "cycle_time_s",
        "cycle_time_restart_s",
        "cycle_time_in_process_s",
        "cycle_time_excluding_s",
        "reopen_count",
        "backward_moves",
    )
    got = {key: tuple(facts[key][c] for c in columns) for key in ("DEV-1", "DEV-2", "DEV-3")}
    assert got == {
        "DEV-1": (176400, 172800, 172800, 172800, 172800, 0, 0),
        "DEV-2": (259200, 255600, 255600, 183600, 255600, 1, 1),
        "DEV-3": (259200, 255600, 86400, 172800, 255600, 0, 1),
    }
    one = facts["DEV-1"]
    assert (one["active_s"], one["wait_s"], one["flow_efficiency"]) == (151200, 21600, 0.875)
    assert (one["business_cycle_time_s"], one["business_lead_time_s"]) == (64800, 68400)
    assert one["business_cycle_time_in_process_s"] == 64800
    for key in ("DEV-4", "DEV-5", "DEV-6"):
        assert facts[key]["done_at"] is None
        assert facts[key]["cycle_time_s"] is None
    assert [k for k, row in sorted(facts.items()) if row["is_wip"]] == ["DEV-4"]
    assert facts["DEV-5"]["current_category"] == "cancelled"
    assert facts["DEV-6"]["started_at"] is None
    # The default map agrees with the target's own issue_flow (category-based) where both define a value.
    for row in loaded.query("SELECT issue_key, lead_time_s, cycle_time_s, reopen_count FROM issue_flow_view"):
        fact = facts[row["issue_key"]]
        assert (fact["lead_time_s"], fact["cycle_time_s"], fact["reopen_count"]) == (
            row["lead_time_s"],
            row["cycle_time_s"],
            row["reopen_count"],
        )


def test_cfd_wip_throughput_as_of(loaded: Connection) -> None:
    params = {"tz": TZ, "asof": ASOF}
    wip = query_view(loaded, "wip_daily", params, order_by="day")
    assert [(str(r["day"]), r["wip"]) for r in wip] == [
        ("2024-03-04", 1),
        ("2024-03-05", 3),
        ("2024-03-06", 2),
        ("2024-03-07", 2),
        ("2024-03-08", 1),
    ]
    cfd = query_view(loaded, "daily_status", params)
    bands: dict[tuple[str, str], int] = {(str(r["day"]), r["stage"]): r["issues"] for r in cfd}
    assert bands == {
        ("2024-03-04", "active"): 1,
        ("2024-03-04", "done"): 1,
        ("2024-03-05", "active"): 3,
        ("2024-03-06", "active"): 2,
        ("2024-03-06", "done"): 1,
        ("2024-03-06", "todo"): 1,
        ("2024-03-07", "active"): 2,
        ("2024-03-07", "done"): 2,
        ("2024-03-07", "cancelled"): 1,
        ("2024-03-07", "todo"): 1,
        ("2024-03-08", "active"): 1,
        ("2024-03-08", "done"): 3,
        ("2024-03-08", "cancelled"): 1,
        ("2024-03-08", "todo"): 1,
    }
    # An earlier as-of sees only its own past: on Tuesday 10:00 UTC, DEV-2 and DEV-3 are in progress,
    # DEV-1 is waiting (needInfo is a wait status: in process too).
    tuesday = query_view(loaded, "wip_daily", {"tz": TZ, "asof": "2024-03-05T10:00:00Z"}, order_by="day")
    assert [(str(r["day"]), r["wip"]) for r in tuesday] == [("2024-03-04", 1), ("2024-03-05", 3)]
    daily = query_view(loaded, "throughput_daily", {"tz": TZ}, order_by="day")
    assert [(str(r["day"]), r["items"]) for r in daily] == [
        ("2024-03-06", 1),
        ("2024-03-07", 1),
        ("2024-03-08", 1),
    ]
    weekly = query_view(loaded, "throughput_weekly", {"tz": TZ})
    assert [(r["week"], r["items"]) for r in weekly] == [(date(2024, 3, 4), 3)]


def test_aging_and_percentiles(loaded: Connection) -> None:
    (aging,) = query_view(loaded, "aging_wip", {"asof": ASOF})
    assert (aging["issue_key"], aging["status"], aging["age_s"], aging["status_age_s"]) == (
        "DEV-4",
        "inProgress",
        180000,
        180000,
    )
    (plain,) = loaded.query("SELECT issue_key, started_at FROM aging_wip_view")
    assert plain["issue_key"] == "DEV-4"
    rows = query_view(loaded, "cycle_time_percentiles", {"asof": ASOF, "days": 30}, order_by="queue")
    assert [(r["queue"], r["items"], r["p50_s"], r["p85_s"], r["p95_s"]) for r in rows] == [
        ("*", 3, 255600, 255600, 255600),
        ("DEV", 3, 255600, 255600, 255600),
    ]
    # Two days back from Fri 12:00 UTC: only DEV-2 and DEV-3 are inside the window.
    (recent,) = query_view(loaded, "cycle_time_percentiles", {"asof": ASOF, "days": 2}, where="queue = '*'")
    assert recent["items"] == 2
    rolling = query_view(
        loaded,
        "cycle_time_percentiles_rolling",
        {"tz": TZ, "asof": ASOF, "days": 1},
        where="queue = '*'",
        order_by="day",
    )
    assert [(str(r["day"]), r["items"], r["p50_s"]) for r in rolling] == [
        ("2024-03-06", 1, 172800),
        ("2024-03-07", 1, 255600),
        ("2024-03-08", 1, 255600),
    ]
    (all_time,) = loaded.query("SELECT * FROM cycle_time_percentiles_view")
    assert (all_time["items"], all_time["p50_s"]) == (3, 255600)


def test_time_in_status_assignees_and_efficiency(loaded: Connection) -> None:
    tis = {r["status"]: r for r in loaded.query("SELECT * FROM time_in_status_view WHERE queue = 'DEV'")}
    # inProgress visits: DEV-1 86400 + 64800, DEV-2 10800 + 172800, DEV-3 86400 + 86400
    assert (tis["inProgress"]["visits"], tis["inProgress"]["total_s"]) == (6, 507600)
    assert (tis["needInfo"]["visits"], tis["needInfo"]["total_s"], tis["needInfo"]["category"]) == (
        1,
        21600,
        "wait",
    )
    intervals = loaded.query(
        f"SELECT seq, assignee, valid_from, valid_to FROM issue_assignee_intervals_view "
        f"WHERE issue_id = '{issue_id(1)}' ORDER BY seq"
    )
    assert [(r["seq"], r["assignee"]) for r in intervals] == [(1, ""), (2, "u1"), (3, "u2")]
    assert intervals[-1]["valid_to"] is None
    by_assignee = {
        (r["assignee"], r["status"]): r["total_s"]
        for r in loaded.query("SELECT * FROM time_in_status_by_assignee_view WHERE assignee != ''")
    }
    assert by_assignee == {
        ("u1", "inProgress"): 86400 + 10800 + 172800,
        ("u1", "needInfo"): 21600,
        ("u2", "inProgress"): 64800,
        ("u1", "open"): 3600,
        ("u1", "resolved"): 72000 + 3600,
    }
    (fe,) = loaded.query("SELECT * FROM flow_efficiency_view")
    # done cohort: DEV-1 (151200 active, 21600 wait), DEV-2 (183600, 0), DEV-3 (172800, 0)
    assert (fe["items"], fe["active_total_s"], fe["wait_total_s"]) == (3, 507600, 21600)
    assert abs(fe["cohort_flow_efficiency"] - 507600 / 529200) < 1e-12


def test_workflow_map_setting_and_its_removal(engine_settings: dict[str, Any], tmp_path: Any) -> None:
    import yaml

    map_file = tmp_path / "workflow.yaml"
    map_file.write_text(yaml.safe_dump(MAP))
    run_target({**engine_settings, "timezone": TZ, "workflow_map_file": str(map_file)}, dataset.messages())
    with connect(engine_settings) as conn:
        one = _facts(conn)["DEV-1"]
        assert (one["cycle_time_s"], one["cycle_time_excluding_s"]) == (172800, 151200)
        assert (one["business_cycle_time_s"], one["business_cycle_time_excluding_s"]) == (64800, 43200)
        assert one["backward_moves"] == 1  # Waiting (3) -> In progress (2)
        stages = {r["stage"] for r in query_view(conn, "daily_status", {"tz": TZ, "asof": ASOF})}
        # DEV-1 waited only within Tuesday, so no end of day shows a "Waiting" band.
        assert stages == {"Backlog", "In progress", "Done", "Dropped"}
        scopes = conn.query("SELECT scope, start_order, done_order FROM workflow_scopes_view")
        assert scopes == [{"scope": "*", "start_order": 2, "done_order": 4}]
    # Without the setting the tables are emptied and the categories are the stages again.
    run_target({**engine_settings, "timezone": TZ}, dataset.messages())
    with connect(engine_settings) as conn:
        assert conn.query("SELECT count() AS n FROM workflow_map_view") == [{"n": 0}]
        assert _facts(conn)["DEV-1"]["backward_moves"] == 0
        stages = {r["stage"] for r in query_view(conn, "daily_status", {"tz": TZ, "asof": ASOF})}
        assert stages == {"todo", "active", "done", "cancelled"}
