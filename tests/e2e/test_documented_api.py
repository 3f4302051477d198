"""Yandex's own documented example responses, served over HTTP, through `tap | target` into both engines.

Every example of every endpoint the tap calls (tests/fixtures/real_api, verbatim) is served in some
scenario (see `documented_api.py`); after each scenario's load: both programs exit 0, every served item is
a row (its key under FINAL), and no field is lost: each field the API sent is in the row's `raw` JSON
with the same value (timestamps compared as instants, numbers sent as strings as numbers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.documented_api import CORPUS, ENDPOINTS, KEY, DocumentedApi, build_scenarios
from tests.support.clickhouse import NativeDatabase
from tests.support.configs import tap_config, target_config
from tests.support.pipeline import run_pipeline
from tests.support.tables import run_queries

TABLE = {"issues": "issues", "issue_changelog": "issue_changelog"}
KEY_COLUMN = {"issues": "issue_id", "issue_changelog": "event_id", "users": "uid"}
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


@pytest.fixture(scope="module")
def api() -> Iterator[DocumentedApi]:
    with DocumentedApi() as server:
        yield server


@pytest.fixture(params=["server-18.16", "chdb"])
def fresh_database(request: pytest.FixtureRequest) -> Iterator[Callable[[str], dict[str, Any]]]:
    """`fresh_database(name)` -> settings of a new, empty database (one per scenario: the examples of two
    scenarios are versions of the same issues, and the newer one would rightly win in a shared table)."""
    if request.param == "chdb":
        base = request.getfixturevalue("chdb_settings")
        yield lambda name: {**base, "embedded_path": f"{base['embedded_path']}-{name}"}
        return
    native: NativeDatabase = request.getfixturevalue("clickhouse_native")
    made: list[str] = []

    def make(name: str) -> dict[str, Any]:
        made.append(f"{native.settings['database']}_{name.replace('-', '_')}")
        return {**native.settings, "database": made[-1]}

    yield make
    for database in made:
        native.conn.execute(f"DROP DATABASE IF EXISTS {database}")


def test_every_documented_example_is_served() -> None:
    served = {e.file for s in build_scenarios() for ex in s.examples.values() for e in ex}
    served |= {e.file for s in build_scenarios() for e in s.changelog_of.values()}
    index = json.loads((CORPUS / "index.json").read_text())
    called = {endpoint for endpoints in ENDPOINTS.values() for endpoint in endpoints}
    wanted = {entry["file"] for entry in index if entry["endpoint"] in called}
    assert wanted, "the corpus is empty"
    assert served == wanted


def test_documented_responses_load_completely(
    api: DocumentedApi, fresh_database: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    for scenario in build_scenarios():
        api.scenario = scenario
        settings = fresh_database(scenario.name)
        config = tap_config(api, token="documented-token", org_id="documented-org")  # type: ignore[arg-type]
        result = run_pipeline(config, target_config(settings), workdir=tmp_path / scenario.name)
        result.check()
        assert "Traceback" not in result.tap.stderr + result.target.stderr
        stored = _stored(settings)
        for stream in ENDPOINTS:
            assert set(stored[stream]) == scenario.keys(stream), f"{scenario.name} {stream}: one row per item"
            for item in scenario.items(stream):
                key = str(item[KEY.get(stream, "id")])
                _assert_kept(f"{scenario.name} {stream} {key}", item, stored[stream][key])


def _stored(settings: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per stream: key -> the row's `raw` JSON (changelog: the first row of each entry carries it)."""
    queries = {}
    for stream in ENDPOINTS:
        key = KEY_COLUMN.get(stream, "id")
        where = " WHERE raw != ''" if stream == "issue_changelog" else ""
        queries[stream] = f"SELECT {key} AS key, raw FROM {TABLE.get(stream, stream)} FINAL{where}"
    rows = run_queries(settings, queries)
    return {stream: {str(r["key"]): json.loads(r["raw"]) for r in found} for stream, found in rows.items()}


def _assert_kept(where: str, served: dict[str, Any], stored: dict[str, Any]) -> None:
    stored = {**stored, **(stored.get("custom_fields") or {})}  # fields the tap does not declare
    for name, value in served.items():
        assert name in stored, f"{where}: field {name!r} was lost"
        assert _same(value, stored[name]), f"{where}: {name!r} served {value!r}, stored {stored[name]!r}"


def _same(served: Any, stored: Any) -> bool:
    if isinstance(served, dict):
        return (
            isinstance(stored, dict)
            and served.keys() <= stored.keys()
            and all(_same(v, stored[k]) for k, v in served.items())
        )
    if isinstance(served, list):
        return isinstance(stored, list) and len(served) == len(stored) and all(map(_same, served, stored))
    if (
        isinstance(served, str)
        and isinstance(stored, str)
        and _INSTANT.match(served)
        and _INSTANT.match(stored)
    ):
        return _instant(served) == _instant(stored)
    if isinstance(served, str) and isinstance(stored, (int, float)) and not isinstance(stored, bool):
        return float(served) == float(stored)  # a number sent as a string, read as a number
    return served == stored


def _instant(text: str) -> datetime:
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


def test_the_scenarios_hold_what_the_documentation_shows() -> None:
    """The shapes this test exists for are really in the served data."""
    scenarios = build_scenarios()
    boards = [b for s in scenarios for b in s.items("boards")]
    assert any(isinstance(b.get("country"), dict) for b in boards)
    users = [u for s in scenarios for u in s.items("users")]
    assert users
    assert all("id" not in u for u in users), "users have no id, they are keyed by uid"
    issues = [i for s in scenarios for i in s.items("issues")]
    assert any(isinstance(i.get("checklistDone"), str) for i in issues)
    assert not any("statusType" in i for i in issues)
    entries = [e for s in scenarios for e in s.items("issue_changelog")]
    assert any("transport" not in e for e in entries)
    assert any(not str(e["updatedBy"]["id"]).isdigit() for e in entries), "a login as updatedBy.id"
    changelog_headers = [h for s in scenarios for e in s.changelog_of.values() for h in e.headers]
    assert sum(1 for name, _ in changelog_headers if name == "Link") >= 4, "separate Link lines"
