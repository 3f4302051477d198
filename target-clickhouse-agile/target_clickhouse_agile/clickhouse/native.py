"""A ClickHouse server over the native protocol (clickhouse-driver).

One `NativeConnection` wraps one `clickhouse_driver.Client`, which is not thread-safe: create one per sink or
thread. Every operation first makes sure the socket is up (a ping, and a reconnect if it fails, e.g. after a
server restart); failures in that phase are retried on the same host (see `retry.py`), because no statement
or INSERT data can have reached the server yet.

A connection that finished an exchange less than `FRESH_SECONDS` ago is taken as up without a ping, for
statements that may run twice (reads, and INSERTs into ReplacingMergeTree tables; see `_call`). The driver
pings before every statement, and this class pinged once more before that: two round trips per statement,
~400 in a first load of 2,000 issues (about 210 statements, 80 of them the schema's), which a server 10
ms away (a managed ClickHouse in another zone) turned into 4 s of waiting. Should such a socket have died
after all, the statement fails (possibly after the server ran it, with the answer lost) and runs once more
on a new connection, which is the only other case where a statement is run again on the same host. DDL,
mutations, the migration lock's statements and INSERTs into a keyless stream's plain MergeTree ping first,
as before, and are never run twice there.

With `alt_hosts` (see `endpoints.py`) a host that cannot be reached, or that dies during an operation, is
left for the next endpoint, and the operation runs again there, whatever it is. A replicated table may
already have the statement from the dead host: IF NOT EXISTS DDL and ReplacingMergeTree inserts absorb that;
a mutation or the migration lock's DROP that the dead host had run would run twice, which failover does not
prevent (it did so before the statements above stopped pinging, too).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.endpoints import Endpoint, Endpoints, endpoints_for
from target_clickhouse_agile.clickhouse.errors import (
    AUTH_ERROR_CODES,
    UNKNOWN_DATABASE,
    ClickHouseError,
    first_line,
    scrub,
    shorten_sql,
)
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier, validate_identifier
from target_clickhouse_agile.clickhouse.retry import RetryPolicy
from target_clickhouse_agile.clickhouse.settings import DEFAULT_DATABASE, DEFAULT_PORT, DEFAULT_SECURE_PORT
from target_clickhouse_agile.metrics.utc import UTC

T = TypeVar("T")

#: How long after a completed exchange a connection is taken as up without a ping (see the docstring). Long
#: enough to cover the statements of one checkpoint, which follow each other within milliseconds; the first
#: statement after a pause (between checkpoints, or while the tap waits for the API) pings as before.
FRESH_SECONDS = 1.0

logger = logging.getLogger("target_clickhouse_agile.clickhouse")


# `INSERT INTO t [(cols)] VALUES ...` / `... FORMAT ...`: data inside the statement text.
_INLINE_INSERT = re.compile(
    r"^\s*INSERT\s+INTO\s+(?:TABLE\s+)?[^\s(]+\s*(?:\([^)]*\))?\s*(?:VALUES|FORMAT)\b", re.IGNORECASE
)


def compression_available() -> bool:
    """The driver's LZ4 compression needs two optional packages; we use it only when both are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("lz4", "clickhouse_cityhash"))


def _utc(value: Any) -> Any:
    """Aware datetimes become UTC ones (the driver returns pytz zones); recurses into arrays."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, list):
        return [_utc(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_utc(item) for item in value)
    return value


class NativeConnection(Connection):
    """A connection to a ClickHouse server; `database` is created if missing. Not thread-safe."""

    takes_unix_time = True  # the driver passes integers through, and converts every datetime itself

    def __init__(
        self,
        *,
        host: str,
        port: int | None = None,
        user: str = "default",
        password: str = "",
        database: str = DEFAULT_DATABASE,
        secure: bool = False,
        verify: bool = True,
        ca_certs: str | None = None,
        compression: bool | None = None,
        connect_timeout: float = 10,
        send_receive_timeout: float = 300,
        retry: RetryPolicy | None = None,
        alt_endpoints: Sequence[Endpoint] = (),
        server_settings: dict[str, Any] | None = None,
    ) -> None:
        self.database = validate_identifier(database)
        self.user = user or "default"
        first = (host, int(port) if port else (DEFAULT_SECURE_PORT if secure else DEFAULT_PORT))
        self._endpoints = endpoints_for(first, alt_endpoints, user=self.user, database=self.database)
        self.host, self.port = self._endpoints.current
        self.secure = secure
        self.verify = verify
        self._password = password or ""
        self._retry = retry or RetryPolicy()
        #: Until when (monotonic) the socket is taken as up; whether this operation's was (no ping proved it).
        self._fresh_until = 0.0
        self._unproven = False
        use_compression = compression_available() if compression is None else compression
        self._client_kwargs: dict[str, Any] = {
            "user": self.user,
            "password": self._password,
            "secure": secure,
            "verify": verify,
            "ca_certs": ca_certs,
            "compression": bool(use_compression),
            "connect_timeout": connect_timeout,
            "send_receive_timeout": send_receive_timeout,
            "client_name": "target-clickhouse-agile",
            "settings": dict(server_settings or {}),
        }
        self._client = self._new_client(self.database)
        try:
            version = self._select_version()
        except ClickHouseError as error:
            if error.code != UNKNOWN_DATABASE:
                self.close()
                raise
            version = self._create_database()
        self._server_version = version

    @property
    def server_version(self) -> tuple[int, ...]:
        return self._server_version

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoints(self) -> Endpoints:
        """The endpoints this connection may use, and the one in use (shared with its siblings)."""
        return self._endpoints

    def _new_client(self, database: str) -> Client:
        client = Client(self.host, port=self.port, database=database, **self._client_kwargs)
        # The driver pings before each statement (`Connection.force_connect`) and has no setting to stop
        # it. Every statement runs through `_call`, whose `_connect_here` has just pinged, connected or
        # found the connection fresh; so the driver's ping answers for itself and ours is the real one.
        self._driver_ping = client.connection.ping
        client.connection.ping = lambda: True
        self._fresh_until = 0.0
        return client

    def _switch_to(self, endpoint: Endpoint) -> None:
        if (self.host, self.port) == endpoint:
            return
        self._client.disconnect()
        self.host, self.port = endpoint
        self._client = self._new_client(self.database)
        logger.info("using ClickHouse at %s", self.address)

    def _select_version(self) -> tuple[int, ...]:
        """(major, minor, patch) as the server's handshake gave them: a `SELECT version()` cost each of
        the ~20 connections of a run one more round trip (the build number it adds decides nothing here)."""
        self._retry.run(self._ensure_connected)
        return tuple(self._client.connection.server_info.version_tuple())

    def _create_database(self) -> tuple[int, ...]:
        """Connect without a database (the user's default), create ours, then reconnect bound to it."""
        self._client.disconnect()
        self._client = self._new_client("")
        sql = f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.database)}"
        self.execute(sql)
        self._client.disconnect()
        self._client = self._new_client(self.database)
        return self._select_version()

    # -- the Connection interface -------------------------------------------------------------------------

    def execute(self, sql: str) -> None:
        if _INLINE_INSERT.match(sql):
            # clickhouse-driver sends such a statement as a query and the server then waits for a data block
            # that never comes (a hang until `send_receive_timeout`), so refuse it up front.
            raise ClickHouseError(
                f"`{shorten_sql(sql)}` carries its rows inside the statement, which the native protocol "
                "client cannot send: use `Connection.insert(table, columns, rows)` instead"
            )
        self._call(sql, lambda: self._client.execute(sql), repeatable=False)

    def query(self, sql: str) -> list[dict[str, Any]]:
        rows, types = self._call(
            sql, lambda: self._client.execute(sql, with_column_types=True), repeatable=True
        )
        names = [name for name, _ in types]
        # Only a column whose type holds a DateTime can hold an aware datetime: the others are taken as
        # they are (a value-by-value check was most of the cost of reading a history back).
        timed = [n for n, (_, kind) in enumerate(types) if "DateTime" in kind]
        if not timed:
            return [dict(zip(names, row, strict=True)) for row in rows]
        result = []
        for row in rows:
            values = list(row)
            for n in timed:
                values[n] = _utc(values[n])
            result.append(dict(zip(names, values, strict=True)))
        return result

    def insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, repeatable: bool = True
    ) -> int:
        data = [tuple(row) for row in rows]
        if not data:
            return 0
        column_list = ", ".join(quote_identifier(column) for column in columns)
        sql = f"INSERT INTO {quote_identifier(table)} ({column_list}) VALUES"
        self._call(sql, lambda: self._client.execute(sql, data), repeatable=repeatable)
        return len(data)

    def close(self) -> None:
        self._client.disconnect()

    # -- error handling ----------------------------------------------------------------------------------

    def _call(self, sql: str, operation: Callable[[], T], *, repeatable: bool) -> T:
        """Connect (retrying only connection failures), then run `operation` with errors translated.

        `repeatable`: running the statement twice has the effect of running it once: reads, and INSERTs
        into ReplacingMergeTree tables keyed on the logical key (not a keyless stream's plain MergeTree,
        where a second copy would stay: its sink says so). Only such a statement is sent on a fresh
        connection without a ping, and run once more on a new socket if that one turns out dead. Others
        (DDL, mutations, the migration lock's tables) always ping first. A host lost during the operation
        is left for the next endpoint, where the operation runs again."""
        endpoints = self._endpoints
        failovers = 0
        rerun_on_a_new_socket = True
        while True:
            self._retry.run(lambda: self._ensure_connected(trust_fresh=repeatable))
            unproven = self._unproven
            try:
                result = operation()
            except ClickHouseError:
                self._fresh_until = 0.0
                raise
            except Exception as error:
                self._fresh_until = 0.0
                if _is_network(error) and not _timed_out(error) and unproven and rerun_on_a_new_socket:
                    rerun_on_a_new_socket = False
                    self._client.disconnect()
                    logger.info(
                        "the connection to ClickHouse at %s was gone (%s); running `%s` again on a new one",
                        self.address,
                        first_line(str(error)) or type(error).__name__,
                        shorten_sql(sql),
                    )
                    continue
                failure = self._translate(error, sql, connecting=False)
                if not (_is_network(error) and endpoints.several and failovers < len(endpoints.all) - 1):
                    raise failure from None
                self._client.disconnect()
                endpoints.failed((self.host, self.port), first_line(str(error)) or type(error).__name__)
                failovers += 1
                continue
            self._fresh_until = time.monotonic() + FRESH_SECONDS
            return result

    def _ensure_connected(self, *, trust_fresh: bool = False) -> None:
        """Connected to the endpoint in use; an unreachable one is left for the next (each tried once)."""
        self._endpoints.on_first_reachable(self._switch_to, lambda: self._connect_here(trust_fresh))

    def _connect_here(self, trust_fresh: bool) -> None:
        # What the driver's `force_connect` does, minus its "query in flight" flag (set until a query ends),
        # and without the ping while the connection is fresh (see FRESH_SECONDS) if `trust_fresh`.
        connection = self._client.connection
        self._unproven = trust_fresh and connection.connected and time.monotonic() < self._fresh_until
        if self._unproven:
            return
        try:
            if not connection.connected or not self._driver_ping():
                connection.connect()
        except Exception as error:
            self._client.disconnect()
            raise self._translate(error, "", connecting=True) from None
        self._fresh_until = time.monotonic() + FRESH_SECONDS  # it has just answered

    def _translate(self, error: Exception, sql: str, *, connecting: bool) -> ClickHouseError:
        """A `ClickHouseError` naming cause and fix; the password is scrubbed from every message."""
        raw = scrub(first_line(str(error)), self._password)
        code = getattr(error, "code", None)
        if isinstance(error, driver_errors.ServerException):
            if code in AUTH_ERROR_CODES:
                message = (
                    f"wrong user or password for user {self.user!r} at {self.address}: "
                    "check the `user` and `password` settings"
                )
            elif code == UNKNOWN_DATABASE:
                message = f"database {self.database!r} does not exist on {self.address}: {raw}"
            else:
                message = f"ClickHouse at {self.address} rejected `{shorten_sql(sql)}`: {raw}"
            return ClickHouseError(scrub(message, self._password), code=code)
        network = _is_network(error)
        if connecting and (network or isinstance(error, ssl.SSLError)):
            # An untrusted certificate stays untrusted: fail at once instead of retrying for seconds.
            return ClickHouseError(
                self._connect_failure(raw), code=code, connection_failed=not _certificate_rejected(raw)
            )
        if network:
            message = (
                f"lost the connection to ClickHouse at {self.address} during `{shorten_sql(sql)}` ({raw}); "
                "the statement may have been partly applied"
            )
            return ClickHouseError(message, code=code)
        return ClickHouseError(f"cannot run `{shorten_sql(sql)}` on {self.address}: {raw}", code=code)

    def _connect_failure(self, raw: str) -> str:
        if _certificate_rejected(raw):
            return (
                f"TLS certificate of ClickHouse at {self.address} could not be verified ({raw}): set "
                "`ca_certs` to the CA file that signed the server certificate, or `verify: false` to skip "
                "verification"
            )
        if self.secure and ("SSL" in raw or "EOF" in raw or "handshake" in raw.lower()):
            return (
                f"TLS handshake with ClickHouse at {self.address} failed ({raw}): is this the server's TLS "
                f"port (usually {DEFAULT_SECURE_PORT})? Use `secure: false` for a plain port"
            )
        hint = "" if self.secure else "; if this port expects TLS, set `secure: true`"
        return (
            f"cannot reach ClickHouse at {self.address} ({raw}): is the server running, "
            f"is the host/port right?{hint}"
        )


def _is_network(error: BaseException) -> bool:
    """The host is unreachable or went away (as opposed to a server that answered with an error)."""
    return isinstance(
        error, (driver_errors.NetworkError, driver_errors.SocketTimeoutError, OSError, EOFError)
    )


def _timed_out(error: BaseException) -> bool:
    """The server did not answer in time: it was there, so a new socket would only wait as long again."""
    return isinstance(error, (driver_errors.SocketTimeoutError, TimeoutError))


def _certificate_rejected(raw: str) -> bool:
    return "CERTIFICATE_VERIFY_FAILED" in raw or "certificate verify failed" in raw
