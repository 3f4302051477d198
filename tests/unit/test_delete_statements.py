"""The deletion of retired keys on servers without `_is_deleted`: statements of bounded size."""

from __future__ import annotations

import pytest

from target_clickhouse_agile.clickhouse import repository
from target_clickhouse_agile.clickhouse.repository import _delete_statements

KEYS = [("65e5700000000000000000b1", n) for n in range(1, 8)]


def test_every_key_once_in_statements_no_longer_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repository, "DELETE_STATEMENT_BYTES", 150)
    statements = list(_delete_statements("issue_status_intervals", ("issue_id", "seq"), KEYS))
    assert len(statements) > 1
    assert all(len(sql.encode()) <= 150 for sql in statements)
    head = "ALTER TABLE issue_status_intervals DELETE WHERE (issue_id, seq) IN ("
    assert all(sql.startswith(head) for sql in statements)
    everything = "".join(statements)
    assert [everything.count(f"('{issue_id}', {seq})") for issue_id, seq in KEYS] == [1] * len(KEYS)


def test_size_is_counted_in_bytes_and_a_key_too_long_still_gets_a_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cyrillic text is two bytes a letter in UTF-8, the size the server's `max_query_size` counts: by
    characters the first two keys would share a statement (62 + 1 + 2 x 17 = 97), by bytes not (109)."""
    monkeypatch.setattr(repository, "DELETE_STATEMENT_BYTES", 100)
    keys = [("x", "статус"), ("y", "статус"), ("z", "s" * 500)]
    statements = list(_delete_statements("issue_metrics", ("issue_id", "status"), keys))
    assert [sql.count("'статус'") for sql in statements] == [1, 1, 0]
    assert "s" * 500 in statements[2]


def test_default_limit_keeps_a_statement_below_the_servers_default_max_query_size() -> None:
    keys = [(f"{n:024x}", "inProgressWithALongStatusKey") for n in range(20_000)]
    statements = list(_delete_statements("issue_metrics", ("issue_id", "status"), keys))
    assert len(statements) > 1
    assert max(len(sql.encode()) for sql in statements) <= 256 * 1024 // 2
