"""A ClickHouse server over its HTTP(S) interface: plain `requests`, rows as `JSONEachRow`.

Why not a client library: the official HTTP client (clickhouse-connect) from 1.7 on cannot talk to servers
as old as 18.16 (it reads a column `system.settings` lacks), and older releases of it lack what modern
servers need. The HTTP interface itself is stable across every version: statements in the request body,
settings as URL parameters, `INSERT ... FORMAT JSONEachRow` with the rows as the body (gzip when
`compression` is on), results as `JSONCompact` with their column types, which `json_rows.py` turns into the
same Python values the native driver returns. `requests` is already a core dependency.

HTTP is what Yandex Cloud's serverless DB proxy speaks (HTTPS, port 8443): with `serverless_proxy_id`
the proxy's connection id is sent where the interface expects the database, and the password is the
function's IAM token (see examples/serverless/).

Failover works as on the native protocol (`endpoints.py`): a host that cannot be reached, or that drops
the connection during a request, is left for the next endpoint and the request is sent again there.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from http import HTTPStatus
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.dialect import parse_version
from target_clickhouse_agile.clickhouse.endpoints import Endpoint, Endpoints, endpoints_for
from target_clickhouse_agile.clickhouse.errors import (
    AUTH_ERROR_CODES,
    UNKNOWN_DATABASE,
    ClickHouseError,
    error_code_in,
    first_line,
    scrub,
    shorten_sql,
)
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier, validate_identifier
from target_clickhouse_agile.clickhouse.json_rows import json_lines, python_value
from target_clickhouse_agile.clickhouse.retry import RetryPolicy
from target_clickhouse_agile.clickhouse.settings import (
    DEFAULT_DATABASE,
    DEFAULT_HTTP_PORT,
    DEFAULT_HTTPS_PORT,
)
from target_clickhouse_agile.metrics.utc import UTC

T = TypeVar("T")

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

#: URL parameters of every request: 64-bit integers as JSON numbers; a SELECT's error arrives as an HTTP
#: error instead of being appended to a half-sent 200 response.
_QUERY_PARAMETERS = {"output_format_json_quote_64bit_integers": "0", "wait_end_of_query": "1"}


class _LostMidwayError(Exception):
    """The host dropped the connection, or stopped answering, after the request was sent."""

    def __init__(self, error: ClickHouseError, reason: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.reason = reason


class HttpConnection(Connection):
    """A connection to a server's HTTP(S) interface; `database` is created if missing. Not thread-safe
    (one `requests.Session` each), like every connection: one per sink or thread."""

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
        compression: bool = False,
        connect_timeout: float = 10,
        send_receive_timeout: float = 300,
        retry: RetryPolicy | None = None,
        alt_endpoints: Sequence[Endpoint] = (),
        server_settings: dict[str, Any] | None = None,
        serverless_proxy_id: str = "",
    ) -> None:
        self.database = validate_identifier(database)
        self.user = user or "default"
        self.secure = secure
        first = (host, int(port) if port else (DEFAULT_HTTPS_PORT if secure else DEFAULT_HTTP_PORT))
        self._endpoints = endpoints_for(first, alt_endpoints, user=self.user, database=self.database)
        self.host, self.port = self._endpoints.current
        self._password = password or ""
        self._retry = retry or RetryPolicy()
        self._compression = bool(compression)
        self._timeout = (connect_timeout, send_receive_timeout)
        self._url_database = serverless_proxy_id or self.database
        self._settings = {key: str(value) for key, value in (server_settings or {}).items()}
        self._session = requests.Session()
        # Passed with every request: a session-level `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self._verify: bool | str = ca_certs or verify
        # Headers, as Yandex's proxy documents; every server version since 2017 reads them too.
        self._session.headers.update(
            {
                "X-ClickHouse-User": self.user,
                "X-ClickHouse-Key": self._password,
                "User-Agent": "target-clickhouse-agile",
            }
        )
        try:
            version, zone = self._probe()
        except ClickHouseError as error:
            if error.code != UNKNOWN_DATABASE or serverless_proxy_id:
                self.close()
                raise
            self._call(
                "CREATE DATABASE",
                lambda: self._post(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.database)}", {}),
            )
            version, zone = self._probe()
        self._server_version = version
        self._server_zone = zone

    @property
    def server_version(self) -> tuple[int, ...]:
        return self._server_version

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def endpoints(self) -> Endpoints:
        return self._endpoints

    def _probe(self) -> tuple[tuple[int, ...], tzinfo]:
        (row,) = self._select("SELECT version() AS v, timezone() AS tz", UTC)
        try:
            zone: tzinfo = ZoneInfo(str(row["tz"]))
        except (ValueError, KeyError):
            zone = UTC
        return parse_version(str(row["v"])), zone

    # -- the Connection interface --------------------------------------------------------------------

    def execute(self, sql: str) -> None:
        self._call(sql, lambda: self._post(sql, self._database_parameter()))

    def query(self, sql: str) -> list[dict[str, Any]]:
        return self._select(sql, self._server_zone)

    def insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, repeatable: bool = True
    ) -> int:
        columns = list(columns)
        fraction = self.dialect.supports_datetime64  # older servers' DateTime cannot parse one
        buffer = io.BytesIO()  # one growing buffer: a list of lines, joined, then encoded held three copies
        try:
            for line in json_lines(table, columns, rows, fraction=fraction):
                buffer.write(line.encode("utf-8"))
        except UnicodeEncodeError:
            raise ClickHouseError(
                f"cannot send rows for {table!r}: they hold text that is not valid Unicode (a lone surrogate)"
            ) from None
        body = buffer.getvalue()
        buffer.close()
        if not body:
            return 0
        column_list = ", ".join(quote_identifier(column) for column in columns)
        sql = f"INSERT INTO {quote_identifier(table)} ({column_list}) FORMAT JSONEachRow"
        parameters = {**self._database_parameter(), "query": sql}
        self._call(sql, lambda: self._post(body, parameters))
        return body.count(b"\n")

    def close(self) -> None:
        self._session.close()

    # -- requests ------------------------------------------------------------------------------------

    def _database_parameter(self) -> dict[str, str]:
        return {"database": self._url_database}

    def _select(self, sql: str, zone: tzinfo) -> list[dict[str, Any]]:
        statement = f"{sql.rstrip().rstrip(';')}\nFORMAT JSONCompact"
        text = self._call(sql, lambda: self._post(statement, self._database_parameter()))
        result = json.loads(text)
        names = [column["name"] for column in result["meta"]]
        types = [column["type"] for column in result["meta"]]
        return [
            {
                name: python_value(value, ch_type, zone)
                for name, ch_type, value in zip(names, types, row, strict=True)
            }
            for row in result["data"]
        ]

    def _post(self, body: str | bytes, parameters: dict[str, str]) -> str:
        """One request to the endpoint in use: its response text, or ClickHouseError / _LostMidwayError."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = {}
        if self._compression:
            data, headers = gzip.compress(data, compresslevel=3), {"Content-Encoding": "gzip"}
        scheme = "https" if self.secure else "http"
        sql = parameters.get("query") or (body if isinstance(body, str) else "")
        try:
            response = self._session.post(
                f"{scheme}://{self.address}/",
                params={**_QUERY_PARAMETERS, **self._settings, **parameters},
                data=data,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify,
            )
        except requests.exceptions.SSLError as error:
            raise ClickHouseError(self._tls_failure(self._raw(error))) from None
        except requests.exceptions.RequestException as error:
            raw = self._raw(error)
            if _could_not_connect(error):
                raise ClickHouseError(self._unreachable(raw), connection_failed=True) from None
            timed_out = isinstance(error, requests.exceptions.ReadTimeout)
            what = f"no answer within send_receive_timeout={self._timeout[1]:g} s" if timed_out else raw
            lost = ClickHouseError(
                f"lost the connection to ClickHouse at {self.address} during `{shorten_sql(sql)}` ({what}); "
                "the statement may have been partly applied" + ("" if timed_out else self._port_hint())
            )
            raise _LostMidwayError(lost, what) from None
        if response.status_code != 200:
            raise self._server_error(response, sql)
        return response.content.decode("utf-8", "replace")

    def _call(self, sql: str, request: Callable[[], T]) -> T:
        """`request` on the endpoint in use, or the next one that answers (connection failures retried
        with back-off); a host lost during the request is left and the request sent again elsewhere."""
        endpoints = self._endpoints
        for attempt in range(len(endpoints.all)):
            try:
                return self._retry.run(lambda: self._endpoints.on_first_reachable(self._switch_to, request))
            except _LostMidwayError as lost:
                if not (endpoints.several and attempt < len(endpoints.all) - 1):
                    raise lost.error from None
                endpoints.failed((self.host, self.port), lost.reason)
        raise AssertionError("unreachable")  # pragma: no cover

    def _switch_to(self, endpoint: Endpoint) -> None:
        if (self.host, self.port) != endpoint:
            self.host, self.port = endpoint
            logger.info("using ClickHouse at %s", self.address)

    # -- messages ------------------------------------------------------------------------------------

    def _raw(self, error: BaseException) -> str:
        return scrub(first_line(str(error)), self._password)

    def _server_error(self, response: requests.Response, sql: str) -> ClickHouseError:
        raw = scrub(first_line(response.content.decode("utf-8", "replace")), self._password)
        header = response.headers.get("X-ClickHouse-Exception-Code", "")
        code = int(header) if header.isdigit() else error_code_in(raw)
        if code in AUTH_ERROR_CODES or (code is None and response.status_code in (401, 403)):
            message = (
                f"wrong user or password for user {self.user!r} at {self.address}: check the `user` and "
                "`password` settings (through the serverless proxy: the IAM token)"
            )
        elif code == UNKNOWN_DATABASE:
            message = f"database {self._url_database!r} does not exist on {self.address}: {raw}"
        elif code is None and response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            sent = response.request.headers.get("Content-Length", "?") if response.request else "?"
            remedy = "" if self._compression else ", or set `compression: true` (bodies are then gzipped)"
            message = (
                f"{self.address} refused `{shorten_sql(sql)}` as too large (HTTP 413, {sent} bytes"
                f"{' gzipped' if self._compression else ''}): a proxy in front of ClickHouse limits the size "
                "of a request (nginx: client_max_body_size, 1 MB by default). Raise that limit, or lower "
                f"`batch_size_rows` so that each INSERT is smaller{remedy}"
            )
        elif code is None:
            message = (
                f"{self.address} answered HTTP {response.status_code} to `{shorten_sql(sql)}`: {raw[:300]}; "
                "is this ClickHouse's HTTP port (8123, 8443 with `secure`)?"
            )
        else:
            message = f"ClickHouse at {self.address} rejected `{shorten_sql(sql)}`: {raw}"
        return ClickHouseError(scrub(message, self._password), code=code)

    def _port_hint(self) -> str:
        if self.secure:
            return f"; is this the server's HTTPS port (usually {DEFAULT_HTTPS_PORT})?"
        return (
            f"; is this the server's HTTP port (usually {DEFAULT_HTTP_PORT})? If it expects HTTPS, set "
            "`secure: true`"
        )

    def _unreachable(self, raw: str) -> str:
        hint = "" if self.secure else "; if this port expects HTTPS, set `secure: true`"
        return (
            f"cannot reach ClickHouse at {self.address} over HTTP{'S' if self.secure else ''} ({raw}): is "
            f"the server running, is the host/port right (HTTP: 8123, HTTPS: 8443)?{hint}"
        )

    def _tls_failure(self, raw: str) -> str:
        if "CERTIFICATE_VERIFY_FAILED" in raw or "certificate verify failed" in raw:
            return (
                f"TLS certificate of ClickHouse at {self.address} could not be verified ({raw}): set "
                "`ca_certs` to the CA file that signed the server certificate, or `verify: false` to skip "
                "verification"
            )
        return (
            f"TLS handshake with ClickHouse at {self.address} failed ({raw}): is this the server's HTTPS "
            f"port (usually {DEFAULT_HTTPS_PORT})? Use `secure: false` for a plain port"
        )


def _could_not_connect(error: requests.exceptions.RequestException) -> bool:
    """No connection was made, so nothing reached the server (the one case safe to retry on any table)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
