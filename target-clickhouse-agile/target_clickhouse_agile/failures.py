"""The errors the target knows how to explain, and their one-line form for the command line.

The SDK's CLI prints a full traceback for every exception except `ConfigValidationError`. For the errors
below the message already names the cause and the fix (a setting, a stream, a field), so the console entry
point prints that one line instead; the traceback is still logged at DEBUG level for bug reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from singer_sdk.exceptions import (
    InvalidInputLine,
    InvalidJSONSchema,
    InvalidRecord,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)

from target_clickhouse_agile.clickhouse import ClickHouseError, CoercionError, first_line
from target_clickhouse_agile.redact import mask, secret_texts
from target_clickhouse_agile.rows import RecordError


class SetupError(Exception):
    """A setting the installation cannot serve (`sentry_dsn` without the `[sentry]` extra)."""


WELL_KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    SetupError,
    ClickHouseError,
    RecordError,
    CoercionError,
    InvalidRecord,
    InvalidInputLine,
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)


def one_line(error: BaseException) -> str:
    """`<kind>: <message>` on one line (engine stack traces and line breaks removed)."""
    kind = "ClickHouse" if isinstance(error, ClickHouseError) else "Bad input"
    if isinstance(error, SetupError):
        kind = "Settings"
    return f"{kind}: {first_line(str(error)) or type(error).__name__}"


def quiet_driver_logs() -> None:
    """clickhouse-driver logs every failed connection attempt with a traceback at WARNING; our retry
    policy already logs one line per attempt that says what to check, so keep only the driver's errors."""
    logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)


def mask_secrets(message: str, config: Mapping[str, Any]) -> str:
    """`message` with every form of every secret setting replaced by `***` (the SDK's config errors quote
    the offending value, e.g. `12345 is not of type 'string'` for a numeric password)."""
    return mask(message, secret_texts(config))


def schema_problem(error: BaseException) -> str:
    """What is wrong in an invalid JSON schema, in one line (the SDK quotes the whole metaschema)."""
    cause = error.__cause__
    message = getattr(cause, "message", None)
    if message is None:
        return first_line(str(error))
    where = "".join(f"[{part!r}]" for part in getattr(cause, "path", ()) or ())
    return f"{message} (at schema{where})" if where else str(message)
