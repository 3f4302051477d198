"""Settings of the two plugins for tests: one builder per plugin (and the calendar every e2e run uses)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The calendar every e2e run uses (the target's defaults, spelled out so the checks below can use them).
CALENDAR = {
    "timezone": "Europe/Moscow",
    "work_hours_start": "09:00",
    "work_hours_end": "18:00",
    "work_days": [1, 2, 3, 4, 5],
    "holidays_country": "RU",
}


#: Fast retries: a real run backs off from 1 s up to 60 s.
FAST_RETRIES = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.1}
#: Retry harder for the storm tests (429 bursts, dropped connections): many small requests, many retries.
STORM_SETTINGS = {"page_size": 50, "request_timeout": 10, "backoff_max_seconds": 0.2, "max_retries": 12}


def tap_config(sim: Any, **overrides: Any) -> dict[str, Any]:
    """Tap settings for a simulator (anything with a ``url``): its default credentials, fast retries."""
    return {
        "api_url": sim.url,
        "token": "sim-token",
        "org_id": "sim-org",
        "max_concurrent_requests": 4,
        **FAST_RETRIES,
        **overrides,
    }


def target_config(settings: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """Target settings: the ClickHouse settings of a fixture plus the e2e calendar."""
    return {**settings, **CALENDAR, **overrides}


def write_json(path: Path, payload: Any) -> Path:
    """`payload` as a JSON file at `path` (parents made); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def password_target_config(db: Any, **overrides: Any) -> dict[str, Any]:
    """Target settings for a fixture's database as the server's password user (so a secret scan has a
    password to look for), with the RU holiday calendar."""
    from tests.support.clickhouse import PASSWORD, PASSWORD_USER

    return {**db.settings, "user": PASSWORD_USER, "password": PASSWORD, "holidays_country": "RU", **overrides}
