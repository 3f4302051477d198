"""Dialect rewrites, identifier rules, statement splitting and the retry rule: no server needed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from target_clickhouse_agile.clickhouse import ClickHouseError, Dialect, RetryPolicy, adapt_ddl
from target_clickhouse_agile.clickhouse.dialect import parse_version
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier, validate_identifier
from target_clickhouse_agile.clickhouse.migrations import default_directory, discover, split_statements

OLD, MID, NEW = (18, 16, 1), (22, 8), (26, 9, 2, 1)
DDL = (
    "CREATE TABLE t (a DateTime64(3, 'UTC') COMMENT 'DateTime64(3) LowCardinality(x) now64(3)', "
    "b Nullable(DateTime64(3,'UTC')), c LowCardinality(String), d LowCardinality(Nullable(String)), "
    "e Array(LowCardinality(String)), f DateTime64(3, 'UTC') DEFAULT now64(3), _version UInt64, "
    "_is_deleted UInt8) ENGINE = ReplacingMergeTree(_version, _is_deleted) ORDER BY a"
)


def test_old_server_gets_every_rewrite_and_comments_stay_verbatim() -> None:
    dialect = Dialect(OLD)
    assert dialect.adapt_ddl(DDL) == (
        "CREATE TABLE t (a DateTime('UTC') COMMENT 'DateTime64(3) LowCardinality(x) now64(3)', "
        "b Nullable(DateTime('UTC')), c String, d Nullable(String), "
        "e Array(String), f DateTime('UTC') DEFAULT now(), _version UInt64, "
        "_is_deleted UInt8) ENGINE = ReplacingMergeTree(_version) ORDER BY a"
    )
    assert dialect.applied == ["datetime64", "now64", "low_cardinality", "is_deleted"]


def test_middle_server_only_loses_is_deleted() -> None:
    dialect = Dialect(MID)
    adapted = dialect.adapt_ddl(DDL)
    assert "ReplacingMergeTree(_version) " in adapted
    assert adapted.replace("ReplacingMergeTree(_version)", "ReplacingMergeTree(_version, _is_deleted)") == DDL
    assert dialect.applied == ["is_deleted"]


def test_modern_server_runs_ddl_as_written() -> None:
    assert adapt_ddl(DDL, NEW) == DDL
    assert Dialect(NEW).adaptations == ()


def test_flags_by_version() -> None:
    old, mid, new = Dialect(OLD), Dialect(MID), Dialect(NEW)
    assert not old.supports_datetime64
    assert mid.supports_datetime64
    assert new.supports_datetime64
    assert not old.supports_is_deleted
    assert not mid.supports_is_deleted
    assert new.supports_is_deleted
    assert not old.supports_window_functions
    assert mid.supports_window_functions
    assert new.supports("window_functions")
    assert not old.supports("window_functions")
    assert not new.supports("time_travel")  # unknown features are unsupported


def test_each_adaptation_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    dialect = Dialect(OLD)
    with caplog.at_level(logging.INFO, logger="target_clickhouse_agile.clickhouse"):
        dialect.adapt_ddl(DDL)
        dialect.adapt_ddl(DDL)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 4
    assert sum("DateTime64(3, 'UTC') -> DateTime('UTC')" in message for message in messages) == 1
    assert all("18.16.1" in message for message in messages)


def test_for_version_is_shared_per_version() -> None:
    assert Dialect.for_version((18, 16, 1)) is Dialect.for_version((18, 16, 1))


def test_datetime_values_follow_server_precision() -> None:
    moscow = timezone(timedelta(hours=3))
    value = datetime(2024, 1, 5, 13, 20, 30, 123456, tzinfo=moscow)
    assert Dialect(NEW).datetime_value(value) == datetime(2024, 1, 5, 10, 20, 30, 123000, tzinfo=timezone.utc)
    assert Dialect(OLD).datetime_value(value) == datetime(2024, 1, 5, 10, 20, 30, tzinfo=timezone.utc)
    assert Dialect(OLD).datetime_value(datetime(2024, 1, 5, 10, 0, 0, 999000)).tzinfo is timezone.utc
    assert Dialect(OLD).datetime_value(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("18.16.1", (18, 16, 1)), ("26.9.2.1", (26, 9, 2, 1)), ("24.3.1-testing", (24, 3, 1))],
)
def test_parse_version(text: str, expected: tuple[int, ...]) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("name", ["agile", "agile_test", "_x", "my-db", "A1"])
def test_safe_database_names_pass(name: str) -> None:
    assert validate_identifier(name) == name


@pytest.mark.parametrize(
    "name", ["", "agile`; DROP DATABASE default; --", "a b", "../etc", "1abc", "x" * 64, "база", "a.b", "a'b"]
)
def test_hostile_database_names_are_rejected(name: str) -> None:
    with pytest.raises(ClickHouseError, match="invalid database name"):
        validate_identifier(name)


def test_quote_identifier_escapes_backticks_and_backslashes() -> None:
    assert quote_identifier("order") == "`order`"
    assert quote_identifier("a`b\\c") == "`a\\`b\\\\c`"
    with pytest.raises(ClickHouseError):
        quote_identifier("")


def test_split_statements_on_line_end_semicolons_with_requires() -> None:
    text = """-- header comment
CREATE TABLE a (x String COMMENT 'a; b') ENGINE = TinyLog;

-- requires: window_functions, datetime64
CREATE VIEW v AS
SELECT 1;
-- trailing comment
SELECT 2
"""
    statements = split_statements(text)
    assert [s.sql for s in statements] == [
        "CREATE TABLE a (x String COMMENT 'a; b') ENGINE = TinyLog",
        "CREATE VIEW v AS\nSELECT 1",
        "SELECT 2",
    ]
    assert [s.requires for s in statements] == [(), ("window_functions", "datetime64"), ()]


def _golang_migrate_chunks(text: str) -> list[str]:
    """What golang-migrate's `x-multi-statement` mode sends: every `;`-separated chunk that is not blank."""
    return [chunk.strip() for chunk in text.split(";") if chunk.strip()]


def _without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if line.strip() and not line.strip().startswith("--"))


def test_bundled_migrations_split_the_same_way_as_golang_migrate() -> None:
    """No `;` inside literals or comments, no comment-only chunk: `migrate` runs exactly our statements."""
    migrations = discover(default_directory())
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        for path in (migration.path, migration.path.with_name(migration.path.name.replace(".up.", ".down."))):
            assert path.exists(), f"{path.name} is missing"
            text = path.read_text()
            ours = [s.sql for s in split_statements(text)]
            theirs = [_without_comments(chunk) for chunk in _golang_migrate_chunks(text)]
            assert ours == theirs, path.name
            assert all(_without_comments(chunk) for chunk in _golang_migrate_chunks(text)), path.name


def test_default_directory_is_the_repository_copy() -> None:
    repo_copy = Path(__file__).resolve().parents[2] / "migrations" / "clickhouse"
    assert default_directory() == repo_copy


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "000001_a.up.sql").write_text("SELECT 1;")
    (tmp_path / "1_b.up.sql").write_text("SELECT 1;")
    with pytest.raises(ClickHouseError, match="two migrations have version 1"):
        discover(tmp_path)


def _refused(connection_failed: bool, log: list[str]) -> None:
    log.append("try")
    raise ClickHouseError("boom", connection_failed=connection_failed)


def test_retry_only_when_the_connection_was_never_established() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.0)
    tries: list[str] = []
    with pytest.raises(ClickHouseError):
        policy.run(lambda: _refused(True, tries), sleep=sleeps.append)
    assert tries == ["try"] * 4
    assert sleeps == [0.5, 1.0, 1.0]

    tries.clear()
    with pytest.raises(ClickHouseError):
        policy.run(lambda: _refused(False, tries), sleep=sleeps.append)
    assert tries == ["try"]  # data may have been sent: never retried

    outcomes = iter([ClickHouseError("down", connection_failed=True), "ok"])

    def flaky() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.run(flaky, sleep=lambda _: None) == "ok"
