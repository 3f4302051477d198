"""Record validation against the stream's JSON schema, compiled once per sink.

The SDK's default validator (jsonschema, interpreted) spent more than half of the target's CPU on the
tap's issue and changelog schemas; `fastjsonschema` compiles the schema to Python code and checks the
same rules about 20 times faster. `date-time` and `date` formats are checked (a timestamp that does not
parse is caught here, with the field's name); `additionalProperties: false` is not enforced: a field
nobody declared is kept in `raw`, never a reason to refuse a record (see `drift.py`).
"""

from __future__ import annotations

import copy
from typing import Any

import fastjsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator


class CompiledSchemaValidator(BaseJSONSchemaValidator):
    """Validates with a compiled schema. A schema that does not compile is reported by the SDK's own
    validator (its `InvalidJSONSchema` says what is wrong); one that compiles is not checked against the
    meta-schema as well: that check cost more than the compilation itself, at every start. What the
    meta-schema alone would refuse is then met per record, liberally: a `format` that is not a string is
    ignored, and a field under an impossible rule (`maxLength: -1`) is set aside and reported as drift
    (sinks.py), failing the record only when the field is required."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema)
        try:
            self._check = fastjsonschema.compile(
                _open(copy.deepcopy(schema)), use_default=False, use_formats=True, formats=_FORMATS
            )
        except Exception:
            JSONSchemaValidator(schema)  # raises the SDK's InvalidJSONSchema, naming the problem
            raise

    def validate(self, record: dict[str, Any]) -> None:
        try:
            self._check(record)
        except fastjsonschema.JsonSchemaValueException as error:
            raise InvalidRecord(error.message, record) from error


_UNCHECKED_FORMATS = (
    *("email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri"),
    *("iri-reference", "uri-template", "json-pointer", "relative-json-pointer", "regex", "time"),
    *("duration", "uuid"),
)

#: Formats worth checking: a value the metrics would parse. The date-time grammar is the tap's and
#: Tracker's (`Z`, `+0000`, `+03:00`, any fraction); other formats are documentation only.
_FORMATS = {
    "date-time": (
        r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
    ),
    "date": r"^\d{4}-\d{2}-\d{2}",
    **dict.fromkeys(_UNCHECKED_FORMATS, lambda _value: True),
}


def _open(schema: Any) -> Any:
    """The schema with every `additionalProperties: false` lifted (recursively)."""
    if isinstance(schema, dict):
        if schema.get("additionalProperties") is False:
            schema["additionalProperties"] = True
        for value in schema.values():
            _open(value)
    elif isinstance(schema, list):
        for item in schema:
            _open(item)
    return schema
