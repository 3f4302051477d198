"""rows.py: a timestamp the metrics cannot do without that does not parse fails naming the record."""

from __future__ import annotations

from typing import Any

import pytest

from target_clickhouse_agile.rows import RecordError, changelog_rows, issue_row
from tests.support.singer import entry, issue, ref


def _category(status: str, status_type: Any) -> str:
    return "todo"


@pytest.mark.parametrize("field", ["createdAt", "updatedAt"])
@pytest.mark.parametrize("value", ["the fourth of March", "0001-01-01T00:30:00+01:00"])  # (beyond year 1)
def test_an_issue_timestamp_that_does_not_parse_names_the_record_and_field(field: str, value: str) -> None:
    record = issue("1", "DEV-1", "open", "2024-03-04T07:00:00.000Z", "2024-03-04T07:00:00.000Z")
    record[field] = value
    with pytest.raises(RecordError, match=f"issues record DEV-1: field '{field}': "):
        issue_row(record, _category)


def test_a_changelog_timestamp_that_does_not_parse_names_the_record_and_field() -> None:
    created = ("status", None, ref("open"))
    record = entry("e1", "1", "DEV-1", "2024-03-04T07:00:00.000Z", "IssueCreated", created)
    record["updatedAt"] = "soon"
    with pytest.raises(RecordError, match="issue_changelog record e1: field 'updatedAt': Unrecognised"):
        list(changelog_rows(record))
