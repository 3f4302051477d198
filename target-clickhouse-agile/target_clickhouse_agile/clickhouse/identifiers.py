"""Identifier and literal quoting, validation, and masking literals out of statements that get rewritten.

Database names come from user configuration and are spliced into DDL (`CREATE DATABASE IF NOT EXISTS ...`),
so they are validated against a conservative pattern *and* quoted. Table and column names come from our own
code and migrations; they are quoted so that names such as `order` (a keyword, and a Tracker field) work.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from target_clickhouse_agile.clickhouse.errors import ClickHouseError

_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")

# Letters, digits, `_` and `-` (Yandex Managed ClickHouse allows `-`), starting with a letter or `_`.
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,62}")


def validate_identifier(name: str, what: str = "database") -> str:
    """`name` unchanged if it is a safe identifier, else a `ClickHouseError` saying what is allowed."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise ClickHouseError(
            f"invalid {what} name {name!r}: use 1-63 characters from letters, digits, '_' and '-', "
            "starting with a letter or '_'"
        )
    return name


def quote_identifier(name: str) -> str:
    """Quote `name` with backticks, escaping backslashes and backticks (ClickHouse's identifier syntax)."""
    if not name or "\x00" in name:
        raise ClickHouseError(f"invalid identifier {name!r}: empty or contains a NUL byte")
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_literal(value: object) -> str:
    """A single-quoted SQL string literal for `value` (as `str`), escaping backslashes and quotes."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def mask_literals(sql: str) -> tuple[str, Callable[[str], str]]:
    """`sql` with every string literal replaced by a placeholder (`\\x00N\\x00`), and the function that puts
    them back: statement rewrites then never touch the text of a literal (a comment, a default value)."""
    literals: list[str] = []

    def mask(match: re.Match[str]) -> str:
        literals.append(match.group(0))
        return f"\x00{len(literals) - 1}\x00"

    def restore(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: literals[int(m.group(1))], text)

    return _LITERAL.sub(mask, sql), restore
