"""One exception type for everything that goes wrong talking to ClickHouse, with messages a user can act on.

Driver and engine errors are long (18.x servers append a C++ stack trace) and name neither the cause nor the
fix in the user's terms (settings). Every failure is re-raised as `ClickHouseError` whose message says what
happened and which setting to look at. Passwords never appear in a message: callers pass the password to
`scrub()` so that even an unexpected echo from a driver is masked.
"""

from __future__ import annotations

import re

# Server error codes (ClickHouse src/Common/ErrorCodes.cpp) that mean "wrong credentials".
AUTH_ERROR_CODES = frozenset(
    {192, 193, 194, 516}
)  # UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTH_FAILED
UNKNOWN_DATABASE = 81
TABLE_ALREADY_EXISTS = 57
UNKNOWN_TABLE = 60

_STACK_TRACE = re.compile(r"\s*Stack trace:.*", re.DOTALL)
_ERROR_CODE = re.compile(r"Code:\s*(\d+)")


class ClickHouseError(Exception):
    """A ClickHouse operation failed; the message names the cause and the fix.

    `code` is the server's error code when there is one. `connection_failed` is True only when the
    connection could not be established, i.e. no statement (and no INSERT data) reached the server, which is
    the one case where retrying an INSERT cannot duplicate rows.
    """

    def __init__(self, message: str, *, code: int | None = None, connection_failed: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.connection_failed = connection_failed


def first_line(message: str) -> str:
    """The useful part of an engine message: no stack trace, no blank lines, one line."""
    text = _STACK_TRACE.sub("", message).strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def error_code_in(message: str) -> int | None:
    """The server's error code as its messages spell it (`Code: 60. DB::Exception: ...`), if there is one."""
    found = _ERROR_CODE.search(message)
    return int(found.group(1)) if found else None


def scrub(message: str, secret: str | None) -> str:
    """Mask `secret` wherever it occurs in `message` (a no-op for empty secrets)."""
    if secret:
        message = message.replace(secret, "***")
    return message


def shorten_sql(sql: str, limit: int = 160) -> str:
    """A one-line prefix of a statement for error messages (INSERT data and long DDL are cut)."""
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
