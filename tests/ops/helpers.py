"""What the operations tests share: plugin settings for a simulator and a ClickHouse, and row counts."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from target_clickhouse_agile.clickhouse import connect
from tests.simulator import TrackerSimulator

BIN = Path(sys.executable).parent
CHANGELOG_ROUTE = "GET /{v}/issues/{key}/changelog"


def tap_settings(sim: TrackerSimulator, **overrides: Any) -> dict[str, Any]:
    """Tap settings for a simulator with its default credentials."""
    return {"api_url": sim.url, "token": "sim-token", "org_id": "sim-org", **overrides}


def write_json(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload))
    return path


def query(settings: dict[str, Any], sql: str) -> list[dict[str, Any]]:
    """Read back through a new connection (closed at once: chdb allows one open data directory)."""
    with contextlib.closing(connect(settings)) as conn:
        return conn.query(sql)


def count(settings: dict[str, Any], table: str) -> int:
    return int(query(settings, f"SELECT count() AS n FROM {table} FINAL")[0]["n"])


def issues_bookmark(state: dict[str, Any] | None) -> str | None:
    """The tap's `issues` bookmark inside a STATE (the value Meltano or the target keeps)."""
    if not state:
        return None
    state = state.get("singer_state", state)
    return state.get("bookmarks", {}).get("issues", {}).get("replication_key_value")


def load_module_from_file(path: Path, name: str) -> ModuleType:
    """Import a script that is not part of a package (examples/, scripts/) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while a class is created
    spec.loader.exec_module(module)
    return module
