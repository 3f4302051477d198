"""Fixtures: the hand-made data set loaded by the real target into each engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse.connection import Connection, connect
from tests.analytics import dataset
from tests.support.singer import run_target


@pytest.fixture(params=["chdb", "server-18.16"])
def engine_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Target settings for a fresh database on chdb (26.x) or the Debian 18.16 server."""
    if request.param == "chdb":
        return request.getfixturevalue("chdb_settings")
    return request.getfixturevalue("clickhouse_native").settings


@pytest.fixture
def loaded(engine_settings: dict[str, Any]) -> Iterator[Connection]:
    """The six-issue history loaded with the default map (status categories are the stages)."""
    run_target({**engine_settings, "timezone": dataset.TZ}, dataset.messages())
    with connect(engine_settings) as conn:
        yield conn
