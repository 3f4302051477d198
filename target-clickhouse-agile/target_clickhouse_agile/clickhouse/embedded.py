"""Embedded ClickHouse (chdb) in a local data directory: the demo / single-machine path.

chdb is an optional ~550 MB dependency, imported only when an embedded connection is opened. Rows go in as
`INSERT ... FORMAT JSONEachRow` and come back as `JSONCompactEachRowWithNamesAndTypes`, converted to the same
Python values the native driver returns (aware UTC datetimes, dates, ints, floats, lists, None), so callers
do not care which engine they talk to.

chdb allows one data directory per process at a time: several connections to the same path are fine (one per
sink/thread, as with the native driver), but every connection must be closed before another path is opened.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.dialect import parse_version
from target_clickhouse_agile.clickhouse.errors import ClickHouseError, error_code_in, first_line, shorten_sql
from target_clickhouse_agile.clickhouse.identifiers import (
    quote_identifier,
    quote_literal,
    validate_identifier,
)
from target_clickhouse_agile.clickhouse.json_rows import json_lines, python_value
from target_clickhouse_agile.clickhouse.settings import DEFAULT_DATABASE, DEFAULT_EMBEDDED_PATH

# Session settings: 64-bit integers as JSON numbers, and DateTime without an explicit zone read as UTC.
_SESSION_SETTINGS = (
    "SET output_format_json_quote_64bit_integers = 0",
    "SET output_format_json_quote_decimals = 0",
    "SET session_timezone = 'UTC'",
)


def _import_session() -> Any:
    try:
        from chdb import session
    except ImportError as error:
        raise ClickHouseError(
            "embedded ClickHouse needs the chdb package, which is not installed: run "
            "`pip install 'target-clickhouse-agile[embedded]'`, or set `host` to use a ClickHouse server"
        ) from error
    return session


class EmbeddedConnection(Connection):
    """chdb session on `path`, bound to `database` (created if missing)."""

    one_process_only = True

    def __init__(self, *, path: str | Path = DEFAULT_EMBEDDED_PATH, database: str = DEFAULT_DATABASE) -> None:
        self.database = validate_identifier(database)
        self.path = str(Path(path).expanduser())
        session = _import_session()
        try:
            Path(self.path).mkdir(parents=True, exist_ok=True)
            self._session = session.Session(self.path)
        except (OSError, RuntimeError) as error:
            raise ClickHouseError(
                f"cannot open embedded ClickHouse at {self.path!r} ({first_line(str(error))}): check that "
                "the directory is writable and that no other process (nor another `embedded_path` in this "
                "process) has an embedded ClickHouse open"
            ) from None
        self._closed = False
        for statement in _SESSION_SETTINGS:
            self.execute(statement)
        self.execute(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.database)}")
        self.execute(f"USE {quote_identifier(self.database)}")
        self._server_version = parse_version(self.query("SELECT version() AS v")[0]["v"])

    @property
    def server_version(self) -> tuple[int, ...]:
        return self._server_version

    def _run(self, sql: str, fmt: str = "CSV") -> str:
        if self._closed:
            raise ClickHouseError(f"embedded ClickHouse at {self.path!r} is closed")
        try:
            result = self._session.query(sql, fmt)
        except RuntimeError as error:
            message = first_line(str(error))
            raise ClickHouseError(
                f"embedded ClickHouse rejected `{shorten_sql(sql)}`: {message}", code=error_code_in(message)
            ) from None
        except TypeError:  # the binding cannot pass the text on: a lone surrogate is not UTF-8
            raise ClickHouseError(
                f"embedded ClickHouse cannot take `{shorten_sql(sql)}`: it holds text that is not valid "
                "Unicode (a lone surrogate)"
            ) from None
        return result.bytes().decode("utf-8") if result is not None else ""

    def execute(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[dict[str, Any]]:
        lines = [line for line in self._run(sql, "JSONCompactEachRowWithNamesAndTypes").splitlines() if line]
        if len(lines) < 2:
            return []
        names, types = json.loads(lines[0]), json.loads(lines[1])
        return [
            {
                name: python_value(value, ch_type)
                for name, ch_type, value in zip(names, types, json.loads(line), strict=True)
            }
            for line in lines[2:]
        ]

    def insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, repeatable: bool = True
    ) -> int:
        """Rows as JSON lines in a temporary file, loaded with `INSERT ... FROM INFILE`: the engine reads
        the file as a stream, while a query text holding the rows was copied several times on its way in
        (a 50 MB description peaked at 1.3 GB that way, 0.6 GB this way)."""
        columns = list(columns)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".jsonl", delete=False) as handle:
            path = Path(handle.name)
        try:
            with path.open("w", encoding="utf-8") as handle:
                count = _write_json_lines(handle, table, columns, rows)
            if count:
                column_list = ", ".join(map(quote_identifier, columns))
                into = f"INSERT INTO {quote_identifier(table)} ({column_list})"
                self._run(f"{into} FROM INFILE {quote_literal(str(path))} FORMAT JSONEachRow")
            return count
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._session.close()


def _write_json_lines(handle: IO[str], table: str, columns: list[str], rows: Iterable[Sequence[Any]]) -> int:
    """One JSON object per row; returns the number of rows."""
    count = 0
    for line in json_lines(table, columns, rows):
        try:
            handle.write(line)
        except UnicodeEncodeError:
            raise ClickHouseError(
                f"embedded ClickHouse cannot take row {count} for {table!r}: it holds text that is not valid "
                "Unicode (a lone surrogate)"
            ) from None
        count += 1
    return count
