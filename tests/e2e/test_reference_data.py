"""Reference tables keyed as the API keys them, and an organisation whose unused fields drift.

* Every reference table holds one row per item the API served (distinct keys under FINAL == items served),
  on both engines: `users` by `uid` (the API has no user `id`; keyed by a column nobody filled, 61 users
  once collapsed into one row).
* The simulator's `drift` mode serves fields the product does not rely on in other shapes (strings as
  objects, objects as strings, numbers as arrays, nulls, new keys). Such an organisation loads exactly
  like the plain one: metrics equal the ground truth, every item is a row, the drifted values are kept in
  `raw`, and each drifted typed field is reported once and counted in the summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.clickhouse import NativeDatabase
from tests.support.configs import tap_config, target_config
from tests.support.pipeline import run_pipeline
from tests.support.simulators import assert_no_internal_errors, running_simulator
from tests.support.tables import read_tables, run_queries
from tests.support.truth import compare_with_truth, expected_from_simulator
from tracker_simulator import TrackerSimulator, generate_organisation
from tracker_simulator.catalog import ISSUE_TYPES, PRIORITIES, RESOLUTIONS, STATUSES

ISSUES = 150
REFERENCE_KEYS = {
    "statuses": "id",
    "issue_types": "id",
    "priorities": "id",
    "resolutions": "id",
    "queues": "id",
    "users": "uid",
    "boards": "id",
    "sprints": "id",
}


def served_counts(sim: TrackerSimulator) -> dict[str, int]:
    catalog = sim.org.catalog
    return {
        "statuses": len(STATUSES),
        "issue_types": len(ISSUE_TYPES),
        "priorities": len(PRIORITIES),
        "resolutions": len(RESOLUTIONS),
        "queues": len(catalog.queues),
        "users": len(catalog.users),
        "boards": len(catalog.boards),
        "sprints": len(catalog.sprints),
    }


def distinct_keys(settings: dict[str, Any]) -> dict[str, int]:
    queries = {
        table: f"SELECT uniqExact({key}) AS n, count() AS rows FROM {table} FINAL"
        for table, key in REFERENCE_KEYS.items()
    }
    found = run_queries(settings, queries)
    for table, (row,) in found.items():
        assert int(row["n"]) == int(row["rows"]), f"{table}: one row per key under FINAL"
    return {table: int(row["n"]) for table, (row,) in found.items()}


@pytest.fixture(params=["server-18.16", "chdb"])
def engine(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "chdb":
        return request.getfixturevalue("chdb_settings")
    native: NativeDatabase = request.getfixturevalue("clickhouse_native")
    return native.settings


@pytest.fixture(scope="module")
def plain_sim() -> Iterator[TrackerSimulator]:
    with running_simulator(generate_organisation(ISSUES, seed=21)) as simulator:
        yield simulator
        assert_no_internal_errors(simulator)


@pytest.fixture(scope="module")
def drifting_sim() -> Iterator[TrackerSimulator]:
    with running_simulator(generate_organisation(ISSUES, seed=21), drift=True) as simulator:
        yield simulator
        assert_no_internal_errors(simulator)


def test_reference_tables_hold_one_row_per_served_item(
    plain_sim: TrackerSimulator, engine: dict[str, Any], tmp_path: Path
) -> None:
    run_pipeline(tap_config(plain_sim), target_config(engine), workdir=tmp_path).check()
    counts = served_counts(plain_sim)
    assert counts["users"] > 1
    assert distinct_keys(engine) == counts


def test_a_drifting_organisation_loads_exactly(
    drifting_sim: TrackerSimulator, engine: dict[str, Any], tmp_path: Path
) -> None:
    result = run_pipeline(tap_config(drifting_sim), target_config(engine), workdir=tmp_path).check()
    assert "Traceback" not in result.target.stderr + result.tap.stderr

    seconds_only = bool(engine.get("host"))  # 18.16 keeps seconds only
    problems = compare_with_truth(
        read_tables(engine), expected_from_simulator(drifting_sim), seconds_only=seconds_only
    )
    assert not problems, "\n".join(problems[:10])
    assert distinct_keys(engine) == served_counts(drifting_sim)

    # The drifted typed fields: one warning each (with the record that showed it first), counted.
    warnings = [line for line in result.target.stderr.splitlines() if "has an unexpected shape" in line]
    reported = sorted(line.split("field '", 1)[1].split("'", 1)[0] for line in warnings)
    fields = {"users": ["dismissed", "external"], "sprints": ["archived"], "issues": ["deadline"]}
    fields["issue_changelog"] = ["transport"]
    assert reported == sorted(f for names in fields.values() for f in names)
    summary = next(line for line in result.target.stderr.splitlines() if "Summary:" in line)
    counted = json.loads(summary.split("kept in raw ", 1)[1])
    assert set(counted) == {f"{stream}.{name}" for stream, names in fields.items() for name in names}

    # ... and their values are in `raw` (dismissed drifted to "no" for about every second user).
    rows = run_queries(engine, {"u": "SELECT uid, dismissed, raw FROM users FINAL"})["u"]
    drifted = [r for r in rows if json.loads(r["raw"]).get("dismissed") == "no"]
    assert drifted
    assert all(r["dismissed"] == 0 for r in drifted)
    issues = run_queries(engine, {"i": "SELECT raw FROM issues FINAL"})["i"]
    raws = [json.loads(r["raw"]) for r in issues]
    assert any(isinstance(r.get("deadline"), dict) for r in raws)
    assert any("x-sim-experimental" in (r.get("custom_fields") or {}) for r in raws)
