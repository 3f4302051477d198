"""history.py: timestamp parsing, value normalisation and changelog → events."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from target_clickhouse_agile.metrics import (
    FieldChange,
    events_from_changelog,
    events_from_field_rows,
    normalise_value,
    parse_timestamp,
)
from target_clickhouse_agile.metrics.history import METRIC_FIELDS, is_mapping

# -- parse_timestamp ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The Tracker API form: +0000 without a colon.
        ("2017-06-11T05:16:01.339+0000", datetime(2017, 6, 11, 5, 16, 1, 339000, tzinfo=timezone.utc)),
        # The tap's canonical form.
        ("2024-01-05T10:20:30.123Z", datetime(2024, 1, 5, 10, 20, 30, 123000, tzinfo=timezone.utc)),
        # +03:00 → subtract 3 h: 12:00 local is 09:00 UTC.
        ("2024-01-05T12:00:00.000+03:00", datetime(2024, 1, 5, 9, 0, tzinfo=timezone.utc)),
        # +0300 without colon, same instant.
        ("2024-01-05T12:00:00.000+0300", datetime(2024, 1, 5, 9, 0, tzinfo=timezone.utc)),
        # Negative offset crossing midnight: 22:30 at -05:30 is 04:00 UTC next day.
        ("2024-01-05T22:30:00-0530", datetime(2024, 1, 6, 4, 0, tzinfo=timezone.utc)),
        # Hours-only offset.
        ("2024-01-05T12:00:00+03", datetime(2024, 1, 5, 9, 0, tzinfo=timezone.utc)),
        # No fraction, no seconds.
        ("2024-01-05T10:20Z", datetime(2024, 1, 5, 10, 20, tzinfo=timezone.utc)),
        # Nanoseconds are truncated to microseconds (not rounded: .1234569 → .123456).
        ("2024-01-05T10:20:30.1234569Z", datetime(2024, 1, 5, 10, 20, 30, 123456, tzinfo=timezone.utc)),
        # No offset: UTC by convention; a space separator as ClickHouse prints it.
        ("2024-01-05 10:20:30.5", datetime(2024, 1, 5, 10, 20, 30, 500000, tzinfo=timezone.utc)),
        # What the target's validator also lets through (validation.py): a lowercase `t`, and a space
        # before the zone.
        ("2024-01-05t10:20:30.000Z", datetime(2024, 1, 5, 10, 20, 30, tzinfo=timezone.utc)),
        ("2024-01-05 10:20:30.123 +03:00", datetime(2024, 1, 5, 7, 20, 30, 123000, tzinfo=timezone.utc)),
    ],
)
def test_parse_timestamp_formats(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_parse_timestamp_datetimes() -> None:
    # A naive datetime (ClickHouse DateTime64 'UTC' read back) is UTC; an aware one is converted.
    assert parse_timestamp(datetime(2024, 1, 5, 10)) == datetime(2024, 1, 5, 10, tzinfo=timezone.utc)
    plus3 = timezone(timedelta(hours=3))
    converted = parse_timestamp(datetime(2024, 1, 5, 10, tzinfo=plus3))
    assert converted.tzinfo == timezone.utc
    assert converted.hour == 7


@pytest.mark.parametrize(
    "bad",
    [
        *(
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-05T25:00:00Z",
            "2024-01-05T10:20:30+3",
            "20240105",
        ),
        # The canonical form's shape with something wrong inside: the fast path must not accept it.
        *("2024-02-30T10:20:30.123Z", "2024-01-05T10:20:30.12aZ", "2024-01-05T10:2x:30.123Z"),
    ],
)
def test_parse_timestamp_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="Unrecognised timestamp"):
        parse_timestamp(bad)


# -- normalise_value --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ({"self": "...", "id": "3", "key": "inProgress", "display": "In progress"}, "inProgress"),
        ({"self": "...", "id": "71234", "display": "Full Name"}, "71234"),  # users: no key → id
        ({"id": 5}, "5"),
        ([{"id": "1", "key": "a"}, {"id": "2"}], '["a","2"]'),
        (["New tag", "Другой"], '["New tag","Другой"]'),  # non-ASCII kept readable
        ([], "[]"),
        ([None, "x"], '[null,"x"]'),
        ("2022-06-28T07:29:45.753+0000", "2022-06-28T07:29:45.753+0000"),  # strings unchanged
        (3, "3"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_normalise_value(value: object, expected: str | None) -> None:
    assert normalise_value(value) == expected


def test_normalise_reference_without_key_or_id_is_stable_json() -> None:
    # Sorted keys: two dicts with the same content in another order normalise identically.
    assert normalise_value({"b": 1, "a": "x"}) == normalise_value({"a": "x", "b": 1}) == '{"a":"x","b":1}'


# -- events_from_changelog ---------------------------------------------------------------------------------


def _ref(key: str, ident: str) -> dict[str, str]:
    return {"self": f".../statuses/{ident}", "id": ident, "key": key, "display": key.title()}


def _field(field_id: str, old: object, new: object) -> dict[str, object]:
    return {
        "field": {"self": f".../fields/{field_id}", "id": field_id, "display": field_id},
        "from": old,
        "to": new,
    }


DOC_EXAMPLE = [
    {
        "id": "e1",
        "updatedAt": "2021-02-22T18:35:50.157+0000",
        "type": "IssueCreated",
        "transport": "front",
        "fields": [_field("status", None, _ref("open", "1"))],
    },
    {
        "id": "e2",
        "updatedAt": "2021-02-22T18:36:00.000+0000",
        "type": "IssueUpdated",
        "fields": [_field("followers", None, [{"id": "71", "display": "Full Name"}])],
    },
    {
        "id": "e3",
        "updatedAt": "2022-06-28T08:00:44.155+0000",
        "type": "IssueWorkflow",
        "fields": [
            _field("status", _ref("inProgress", "3"), _ref("needInfo", "2")),
            _field("statusStartTime", "2022-06-28T07:29:45.753+0000", "2022-06-28T08:00:44.156+0000"),
            _field("followers", [{"id": "1"}], [{"id": "1"}, {"id": "2"}]),
        ],
        "comments": {"added": [{"id": "10"}]},
    },
    {
        "id": "e4",
        "updatedAt": "2022-07-01T09:00:00.000Z",
        "type": "IssueMoved",
        "fields": [
            _field("key", "TEST-1", "NEW-1"),
            _field("queue", {"id": "3", "key": "TEST"}, {"id": "5", "key": "NEW"}),
        ],
    },
    {"id": "e5", "updatedAt": "2022-07-02T09:00:00.000Z", "type": "IssueCommentAdded"},  # no fields at all
]


def test_events_from_doc_example_keep_only_metric_fields() -> None:
    events = events_from_changelog(DOC_EXAMPLE)
    # e2 (followers only) and e5 (no fields) cannot affect metrics and are dropped.
    assert [e.event_id for e in events] == ["e1", "e3", "e4"]
    created, workflow, moved = events
    assert created.event_type == "IssueCreated"
    assert created.at == datetime(2021, 2, 22, 18, 35, 50, 157000, tzinfo=timezone.utc)
    assert created.changes == {"status": FieldChange(None, "open")}
    assert workflow.changes == {
        "status": FieldChange("inProgress", "needInfo"),
        "statusStartTime": FieldChange("2022-06-28T07:29:45.753+0000", "2022-06-28T08:00:44.156+0000"),
    }
    assert moved.changes == {"key": FieldChange("TEST-1", "NEW-1"), "queue": FieldChange("TEST", "NEW")}
    assert all(set(e.changes) <= METRIC_FIELDS for e in events)


def test_events_from_changelog_field_order_and_bare_field_ids() -> None:
    # statusStartTime listed before status, and `field` given as a bare id string (a flattened tap record).
    entry = {
        "id": "x",
        "updatedAt": "2024-01-05T12:00:00.000+03:00",
        "type": "IssueWorkflow",
        "fields": [
            {"field": "statusStartTime", "from": None, "to": "2024-01-05T09:00:00.001Z"},
            {"field": "status", "from": {"key": "open"}, "to": {"key": "inProgress"}},
        ],
    }
    (only,) = events_from_changelog([entry])
    assert only.at == datetime(2024, 1, 5, 9, 0, tzinfo=timezone.utc)
    assert only.changes["status"] == FieldChange("open", "inProgress")
    assert only.changes["statusStartTime"].to_value == "2024-01-05T09:00:00.001Z"


def test_events_from_field_rows_group_by_event() -> None:
    rows = [
        {"event_id": "a", "event_time": "2024-01-05T09:00:00.000Z", "event_type": "IssueMoved",
         "field_id": "queue", "from_value": "TEST", "to_value": "NEW"},
        {"event_id": "b", "event_time": datetime(2024, 1, 6, 9), "event_type": "IssueUpdated",
         "field_id": "tags", "from_value": None, "to_value": '["x"]'},
        {"event_id": "a", "event_time": "2024-01-05T09:00:00.000Z", "event_type": "IssueMoved",
         "field_id": "status", "from_value": "inProgress", "to_value": "open"},
        {"event_id": "c", "event_time": datetime(2024, 1, 7, 9), "event_type": "IssueWorkflow",
         "field_id": "status", "from_value": "open", "to_value": "inProgress"},
    ]  # fmt: skip
    events = events_from_field_rows(rows)
    assert [e.event_id for e in events] == ["a", "c"]  # "b" only touched tags
    assert events[0].changes == {
        "queue": FieldChange("TEST", "NEW"),
        "status": FieldChange("inProgress", "open"),
    }
    assert events[1].at == datetime(2024, 1, 7, 9, tzinfo=timezone.utc)


def test_is_mapping_agrees_with_the_abc() -> None:
    """The fast test must give the ABC's answer for every kind of JSON value and for other mappings."""
    values: list[Any] = [{}, {"id": "1"}, OrderedDict(a=1), MappingProxyType({"a": 1}), "", "x", 0, 1.5, True]
    values += [None, [], [{"id": "1"}], ("a",), b"bytes"]
    for value in values:
        assert is_mapping(value) is isinstance(value, Mapping), repr(value)
