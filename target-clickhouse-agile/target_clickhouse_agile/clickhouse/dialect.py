"""What the connected server supports, and how our DDL is rewritten for servers that lack a feature.

The migrations are written for modern ClickHouse (production, chdb, `golang-migrate` users) and are the single
source of truth. Old servers (the Debian 18.16 package used by the tests for the native protocol, TLS and
restarts) lack `DateTime64`, `now64`, plain `LowCardinality` and `ReplacingMergeTree(ver, is_deleted)`; the
rewrite here keeps one schema text for both. Each rewrite is logged once per dialect (one dialect per server
version and process, see `Dialect.for_version`) so that a user can see why a column is `DateTime`.

String literals (column comments) are never rewritten: they are masked before the rules run.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from target_clickhouse_agile.clickhouse.identifiers import mask_literals
from target_clickhouse_agile.metrics.utc import as_utc

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

Version = tuple[int, ...]

# First server versions with each feature.
DATETIME64_SINCE: Version = (20, 1)
LOW_CARDINALITY_SINCE: Version = (20, 1)  # GA earlier, but design.md ties it to the DateTime64 boundary
IS_DELETED_SINCE: Version = (23, 2)
WINDOW_FUNCTIONS_SINCE: Version = (21, 9)  # no longer experimental from 21.9
PARAMETERIZED_VIEWS_SINCE: Version = (23, 1)  # CREATE VIEW ... {name:Type}
# `ADD COLUMN IF NOT EXISTS` / `DROP COLUMN IF EXISTS` and `DROP VIEW` (19.x; tied to the 20.1 boundary like
# the types: the plain forms are equivalent under the migration lock, which lets one target at a time apply a
# migration, and `DROP TABLE` drops a view on every version).
COLUMN_IF_EXISTS_SINCE: Version = (20, 1)
DROP_VIEW_SINCE: Version = (20, 1)
# Column comments on a replicated table: 18.16 registers a structure in ZooKeeper that its own check then
# calls "too different" (Code 122). Tied to the 20.1 boundary like the rest.
REPLICATED_COLUMN_COMMENTS_SINCE: Version = (20, 1)

_DATETIME64 = re.compile(r"\bDateTime64\s*\(\s*\d+\s*(?:,\s*(\x00\d+\x00)\s*)?\)")
_NOW64 = re.compile(r"\bnow64\s*\(\s*(?:\d+\s*(?:,\s*\x00\d+\x00\s*)?)?\)")
_LOW_CARDINALITY = re.compile(r"\bLowCardinality\s*\(")
_IS_DELETED = re.compile(r"\bReplacingMergeTree\s*\(\s*([A-Za-z_]\w*)\s*,\s*[A-Za-z_]\w*\s*\)")


def _datetime64(sql: str) -> str:
    return _DATETIME64.sub(lambda m: f"DateTime({m.group(1)})" if m.group(1) else "DateTime", sql)


def _now64(sql: str) -> str:
    return _NOW64.sub("now()", sql)


def _low_cardinality(sql: str) -> str:
    """Unwrap `LowCardinality(T)` to `T`, with balanced parentheses (`LowCardinality(Nullable(String))`)."""
    while match := _LOW_CARDINALITY.search(sql):
        depth, end = 1, match.end()
        while depth and end < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        if depth:  # unbalanced: leave the statement for the server to reject with its own message
            return sql
        sql = sql[: match.start()] + sql[match.end() : end - 1] + sql[end:]
    return sql


_COLUMN_IF_EXISTS = re.compile(r"\b(ADD|DROP)(\s+COLUMN)\s+IF\s+(?:NOT\s+)?EXISTS\b", re.IGNORECASE)


def _column_if_exists(sql: str) -> str:
    return _COLUMN_IF_EXISTS.sub(r"\1\2", sql)


_DROP_VIEW = re.compile(r"\bDROP\s+VIEW\b", re.IGNORECASE)


def _drop_view(sql: str) -> str:
    return _DROP_VIEW.sub("DROP TABLE", sql)


def _is_deleted(sql: str) -> str:
    return _IS_DELETED.sub(r"ReplacingMergeTree(\1)", sql)


def parse_version(text: str) -> tuple[int, ...]:
    """`'18.16.1'` -> `(18, 16, 1)`; non-numeric parts (e.g. `-testing`) end the tuple."""
    parts: list[int] = []
    for piece in text.strip().split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@dataclass(frozen=True)
class Adaptation:
    """One DDL rewrite, needed on servers older than `since`."""

    name: str
    since: Version
    description: str
    rewrite: Callable[[str], str]


ADAPTATIONS: tuple[Adaptation, ...] = (
    Adaptation(
        "datetime64",
        DATETIME64_SINCE,
        "DateTime64(3, 'UTC') -> DateTime('UTC'): milliseconds are dropped",
        _datetime64,
    ),
    Adaptation("now64", DATETIME64_SINCE, "now64(3) -> now()", _now64),
    Adaptation(
        "low_cardinality", LOW_CARDINALITY_SINCE, "LowCardinality(T) -> T (plain storage)", _low_cardinality
    ),
    Adaptation(
        "is_deleted",
        IS_DELETED_SINCE,
        "ReplacingMergeTree(_version, _is_deleted) -> ReplacingMergeTree(_version): FINAL does not hide "
        "tombstones; the *_view views and the target's DELETE mutations do",
        _is_deleted,
    ),
    Adaptation(
        "column_if_exists",
        COLUMN_IF_EXISTS_SINCE,
        "ADD COLUMN IF NOT EXISTS / DROP COLUMN IF EXISTS -> without IF (the migration lock serialises them)",
        _column_if_exists,
    ),
    Adaptation("drop_view", DROP_VIEW_SINCE, "DROP VIEW -> DROP TABLE", _drop_view),
)


@dataclass
class Dialect:
    """Feature flags and DDL/value adaptation for one server version."""

    version: Version
    adaptations: tuple[Adaptation, ...] = field(init=False)
    applied: list[str] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.version = tuple(self.version)
        self.adaptations = tuple(a for a in ADAPTATIONS if self.version < a.since)

    @staticmethod
    @cache
    def for_version(version: Version) -> Dialect:
        """The dialect of a server version, shared so that each adaptation is logged once per process."""
        return Dialect(tuple(version))

    @property
    def supports_datetime64(self) -> bool:
        return self.version >= DATETIME64_SINCE

    @property
    def supports_low_cardinality(self) -> bool:
        return self.version >= LOW_CARDINALITY_SINCE

    @property
    def supports_is_deleted(self) -> bool:
        return self.version >= IS_DELETED_SINCE

    @property
    def supports_column_if_exists(self) -> bool:
        return self.version >= COLUMN_IF_EXISTS_SINCE

    @property
    def supports_replicated_column_comments(self) -> bool:
        return self.version >= REPLICATED_COLUMN_COMMENTS_SINCE

    @property
    def supports_window_functions(self) -> bool:
        return self.version >= WINDOW_FUNCTIONS_SINCE

    @property
    def supports_parameterized_views(self) -> bool:
        return self.version >= PARAMETERIZED_VIEWS_SINCE

    def supports(self, feature: str) -> bool:
        """Feature by name (`datetime64`, `low_cardinality`, `is_deleted`, `window_functions`,
        `parameterized_views`), for the
        `-- requires:` lines of migrations. Unknown features are reported as unsupported."""
        return bool(getattr(self, f"supports_{feature}", False))

    def adapt_ddl(self, sql: str) -> str:
        """Rewrite `sql` for this server; string literals are left untouched."""
        if not self.adaptations:
            return sql
        text, restore = mask_literals(sql)
        for adaptation in self.adaptations:
            rewritten = adaptation.rewrite(text)
            if rewritten != text:
                self._note(adaptation)
                text = rewritten
        return restore(text)

    def _note(self, adaptation: Adaptation) -> None:
        with self._lock:
            if adaptation.name in self.applied:
                return
            self.applied.append(adaptation.name)
        logger.info(
            "ClickHouse %s lacks a feature (needs >= %s); adapting DDL: %s",
            ".".join(map(str, self.version)),
            ".".join(map(str, adaptation.since)),
            adaptation.description,
        )

    def datetime_value(self, value: datetime | None) -> datetime | None:
        """A datetime as this server stores it: UTC, milliseconds (DateTime64(3)) or whole seconds (DateTime).

        Naive datetimes are taken to be UTC (the project's rule: everything inside Python is UTC).
        """
        if value is None:
            return None
        value = as_utc(value)
        if self.supports_datetime64:
            return value.replace(microsecond=value.microsecond // 1000 * 1000)
        return value.replace(microsecond=0)


def adapt_ddl(sql: str, server_version: Version) -> str:
    """`Dialect.for_version(server_version).adapt_ddl(sql)` (the form design.md names)."""
    return Dialect.for_version(tuple(server_version)).adapt_ddl(sql)
