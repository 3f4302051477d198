"""Record validation against the stream's JSON schema, compiled once per sink.

The SDK's default validator (jsonschema, interpreted) spent more than half of the target's CPU on the
tap's issue and changelog schemas; `fastjsonschema` compiles the schema to Python code and checks the
same rules about 20 times faster. Formats are not checked (the SDK's default too): timestamps are parsed
later with errors that name the field.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator


class CompiledSchemaValidator(BaseJSONSchemaValidator):
    """Validates with a compiled schema; an invalid schema is reported by the SDK's own validator."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema)
        JSONSchemaValidator(schema)  # raises the SDK's InvalidJSONSchema for a broken schema
        self._check = fastjsonschema.compile(schema, use_default=False, use_formats=False)

    def validate(self, record: dict[str, Any]) -> None:
        try:
            self._check(record)
        except fastjsonschema.JsonSchemaValueException as error:
            raise InvalidRecord(error.message, record) from error
