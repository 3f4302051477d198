"""`agile-report` on the hand-made history: the figures it collects (both engines), and the page as
headless Chromium renders it (a real screenshot with the charts; the DOM's numbers equal the SQL's)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse.connection import Connection, connect
from target_clickhouse_agile.report.cli import main
from target_clickhouse_agile.report.data import ReportOptions, collect
from target_clickhouse_agile.report.queries import query_view
from tests.analytics import browser, dataset
from tests.analytics.dataset import ASOF, TZ
from tests.support.singer import run_target

OPTIONS = ReportOptions(
    tz=TZ,
    date_from=date(2024, 3, 1),
    asof=datetime(2024, 3, 8, 12, tzinfo=timezone.utc),
    history_days=7,
    trials=1000,
    seed=3,
)


@pytest.fixture(scope="module")
def chromium() -> str:
    return browser.ensure_chromium()


def test_report_figures_on_both_engines(loaded: Connection) -> None:
    data = collect(loaded, OPTIONS)
    assert data.days[0] == "2024-03-01"
    assert data.days[-1] == "2024-03-08"
    assert data.wip == [0, 0, 0, 1, 3, 2, 2, 1]
    assert data.cfd["series"]["done"] == [0, 0, 0, 1, 0, 1, 2, 3]
    assert data.throughput["daily"] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert data.throughput["weekly"] == [3]
    assert [(p["issue"], p["cycle_time_s"]) for p in data.scatter] == [
        ("DEV-1", 172800),
        ("DEV-2", 255600),
        ("DEV-3", 255600),
    ]
    assert (data.percentiles["items"], data.percentiles["p85_s"]) == (3, 255600)
    assert data.histogram == [{"days": 0, "items": 0}, {"days": 1, "items": 0}, {"days": 2, "items": 3}]
    assert [(a["issue"], a["age_s"]) for a in data.aging] == [("DEV-4", 180000)]
    assert data.flow_efficiency["active_s"] == 507600
    people = {row["assignee"] for row in data.by_assignee}
    assert "User u1" in people, "people by name, not by id"
    assert not people & {"u1", "u2"}
    # History 03-01..03-07 holds 2 finished items (03-06, 03-07): a forecast exists; 1 item (the WIP).
    assert data.forecast["history"] == [0, 0, 0, 0, 0, 1, 1]
    assert data.forecast["items"] == 1
    assert data.forecast["when"] is not None
    in_queue = collect(loaded, ReportOptions(**{**OPTIONS.__dict__, "queue": "OTHER"}))
    assert in_queue.scatter == []
    assert in_queue.wip == [0] * 8


def _sql_truth(settings: dict[str, Any]) -> dict[str, Any]:
    with connect(settings) as conn:
        pct = query_view(conn, "cycle_time_percentiles", {"asof": ASOF, "days": 8}, where="queue = '*'")[0]
        return {
            "wip": {str(r["day"]): r["wip"] for r in query_view(conn, "wip_daily", {"tz": TZ, "asof": ASOF})},
            "throughput": {
                str(r["day"]): r["items"] for r in query_view(conn, "throughput_daily", {"tz": TZ})
            },
            "scatter": {
                r["issue_key"]: r["cycle_time_s"]
                for r in conn.query("SELECT issue_key, cycle_time_s FROM issue_flow_facts_view")
                if r["cycle_time_s"] is not None
            },
            "percentiles": {k: pct[k] for k in ("items", "p50_s", "p85_s", "p95_s")},
            "aging": {r["issue_key"]: r["age_s"] for r in query_view(conn, "aging_wip", {"asof": ASOF})},
        }


def test_report_page_in_headless_chromium(
    chdb_settings: dict[str, Any], tmp_path: Path, chromium: str
) -> None:
    settings = {**chdb_settings, "timezone": TZ}
    run_target(settings, dataset.messages())
    truth = _sql_truth(settings)
    config = tmp_path / "target.json"
    config.write_text(json.dumps(settings))
    page = tmp_path / "report.html"
    argv = ["--config", str(config), "--from", "2024-03-01", "--asof", ASOF, "--history-days", "7"]
    assert main([*argv, "--output", str(page), "--trials", "1000", "--seed", "3"]) == 0
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # offline: nothing to fetch
    assert "https://" not in html

    dom = browser.run(chromium, page, tmp_path / "profile", "--dump-dom").stdout
    reader = browser.DomReader()
    reader.feed(dom)
    assert set(reader.scripts) >= {"cfd", "wip", "scatter", "histogram", "throughput", "aging", "forecast"}
    shown = {name: json.loads(text) for name, text in reader.scripts.items()}
    days = shown["cfd"]["days"]
    assert dict(zip(days, shown["wip"]["wip"], strict=True)) == {d: truth["wip"].get(d, 0) for d in days}
    assert dict(zip(days, shown["throughput"]["daily"], strict=True)) == {
        d: truth["throughput"].get(d, 0) for d in days
    }
    assert {p["issue"]: p["cycle_time_s"] for p in shown["scatter"]["points"]} == truth["scatter"]
    assert {k: shown["scatter"]["percentiles"][k] for k in truth["percentiles"]} == truth["percentiles"]
    assert {a["issue"]: a["age_s"] for a in shown["aging"]["items"]} == truth["aging"]
    # The drawn marks carry the same numbers.
    dots = [m for m in reader.marks if m["tag"] == "circle" and "data-item" in m]
    assert sorted(m["data-item"] for m in dots) == [
        "DEV-1",
        "DEV-2",
        "DEV-3",
        "DEV-4",
    ]  # 3 finished + 1 aging
    p85 = next(m for m in reader.marks if m.get("data-line") == "p85")
    assert float(p85["data-value"]) == pytest.approx(truth["percentiles"]["p85_s"] / 86400)
    summary = {k: json.loads(v) for k, v in reader.rows["summary"].items()}
    assert summary["p85_days"] == round(truth["percentiles"]["p85_s"] / 86400, 2)
    assert summary["wip_now"] == len(truth["aging"])
    assert summary["finished_in_range"] == len(truth["scatter"])
    forecast = {k: json.loads(v) for k, v in reader.rows["forecast-table"].items()}
    assert forecast["items"] == 1
    assert {"when_50", "when_85", "when_95", "how_many_85", "how_many_95"} <= set(forecast)
    # A second run with the same seed writes the same page.
    again = tmp_path / "again.html"
    assert main([*argv, "--output", str(again), "--trials", "1000", "--seed", "3"]) == 0
    assert again.read_text() == html

    shot = tmp_path / "report.png"
    browser.run(chromium, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,3000")
    assert shot.stat().st_size > 30_000
    width, height, rows = browser.png_pixels(shot, max_rows=1200)  # summary, CFD, WIP, scatter
    assert (width, height) == (1400, 3000)
    colours = {row[i : i + 3] for row in rows[::7] for i in range(0, len(row), 21)}
    chart_colours = {bytes.fromhex(c) for c in ("4e79a7", "f28e2b", "e15759", "59a14f")}
    assert len(colours) > 20
    assert chart_colours & colours, "none of the chart colours is on the screenshot"
