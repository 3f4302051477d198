"""The target's record validator (validation.py): compiled once per stream, liberal where it can be."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord

from target_clickhouse_agile.validation import CompiledSchemaValidator

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "updatedAt": {"type": ["string", "null"], "format": "date-time"},
        "votes": {"type": ["integer", "null"]},
    },
    "required": ["id"],
}


def test_records_are_checked_by_type_and_date_time_format() -> None:
    validator = CompiledSchemaValidator(SCHEMA)
    validator.validate({"id": "1", "updatedAt": "2017-06-11T05:16:01.339+0000", "votes": 2})
    validator.validate({"id": "1", "updatedAt": "2024-01-05T10:20:30Z", "undeclared": {"kept": True}})
    with pytest.raises(InvalidRecord, match="votes"):
        validator.validate({"id": "1", "votes": "two"})
    with pytest.raises(InvalidRecord, match="updatedAt"):
        validator.validate({"id": "1", "updatedAt": "yesterday"})
    with pytest.raises(InvalidRecord):
        validator.validate({"votes": 1})


@pytest.mark.parametrize(
    "broken",
    [
        {"type": "object", "properties": {"a": {"type": "strng"}}},
        {"type": "object", "properties": {"a": {"type": "string", "maxLength": "x"}}},
        {"type": "object", "required": "a"},
    ],
)
def test_a_schema_that_does_not_compile_is_refused_with_the_sdks_error(broken: dict) -> None:
    with pytest.raises(InvalidJSONSchema):
        CompiledSchemaValidator(broken)
