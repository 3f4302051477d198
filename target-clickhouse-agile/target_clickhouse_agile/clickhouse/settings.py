"""`ConnectionSettings`: where the target's ClickHouse is and how to talk to it, with its defaults.

The defaults are written here once; the target's settings schema (what `--about` prints) takes them from
this class. The same object is accepted by `connect()` from any caller: the target, the report command,
the runners, tests and benchmarks pass the target's settings mapping and get the same defaults.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from target_clickhouse_agile.clickhouse.errors import ClickHouseError

DEFAULT_DATABASE = "agile"
DEFAULT_EMBEDDED_PATH = "./agile_clickhouse"
#: Native protocol ports of a server, plain and TLS (used when `port` is not set).
DEFAULT_PORT = 9000
DEFAULT_SECURE_PORT = 9440
#: The HTTP interface's ports, plain and TLS.
DEFAULT_HTTP_PORT = 8123
DEFAULT_HTTPS_PORT = 8443
#: How the target talks to a server: the native protocol (clickhouse-driver) or the HTTP interface.
PROTOCOLS = ("native", "http")
#: Where the replicas of one table meet in ZooKeeper; `{database}` and `{table}` are filled in by the target,
#: every other `{macro}` by the server (from its `<macros>`).
DEFAULT_REPLICATION_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
DEFAULT_REPLICA_NAME = "{replica}"


@dataclass(frozen=True)
class ConnectionSettings:
    """A native server (`host` set) or embedded ClickHouse at `embedded_path` (`host` empty)."""

    host: str = ""
    port: int | None = None
    protocol: str = "native"
    user: str = "default"
    password: str = field(default="", repr=False)
    database: str = DEFAULT_DATABASE
    secure: bool = False
    verify: bool = True
    ca_certs: str | None = None
    compression: bool = False
    embedded_path: str = DEFAULT_EMBEDDED_PATH
    connect_timeout: float = 10
    send_receive_timeout: float = 300
    #: A cluster of `remote_servers`: DDL runs ON CLUSTER, tables are Replicated (see cluster.py).
    cluster: str = ""
    #: More endpoints of the same data, `host` or `host:port`, tried in order after `host`.
    alt_hosts: tuple[str, ...] = ()
    replication_path: str = DEFAULT_REPLICATION_PATH
    replica_name: str = DEFAULT_REPLICA_NAME
    #: Yandex Cloud's serverless DB proxy: its connection id goes where the HTTP interface expects the
    #: database (`?database=`); the proxy then opens `database` on the cluster.
    serverless_proxy_id: str = ""

    @property
    def embedded(self) -> bool:
        return not self.host

    @property
    def endpoints(self) -> tuple[tuple[str, int], ...]:
        """`host:port` of `host`, then of every `alt_hosts` entry (a bare host takes `port`)."""
        listed = [(self.host, self.effective_port)]
        for entry in self.alt_hosts:
            host, port = parse_endpoint(entry, self.effective_port)
            if (host, port) not in listed:
                listed.append((host, port))
        return tuple(listed)

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        if self.protocol == "http":
            return DEFAULT_HTTPS_PORT if self.secure else DEFAULT_HTTP_PORT
        return DEFAULT_SECURE_PORT if self.secure else DEFAULT_PORT

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConnectionSettings:
        """The connection part of the target's settings; unknown keys are ignored, empty ones defaulted."""
        defaults = cls()

        def value(name: str) -> Any:
            raw = config.get(name)
            return getattr(defaults, name) if raw is None or raw == "" else raw

        return cls(
            host=str(value("host")).strip(),
            port=_number(config, "port", None, int),
            protocol=str(value("protocol")).strip().lower(),
            user=str(value("user")),
            password=str(value("password")),
            database=str(value("database")),
            secure=bool(value("secure")),
            verify=bool(value("verify")),
            ca_certs=str(value("ca_certs")) if value("ca_certs") else None,
            compression=bool(value("compression")),
            embedded_path=str(value("embedded_path")),
            connect_timeout=_number(config, "connect_timeout", defaults.connect_timeout, float),
            send_receive_timeout=_number(
                config, "send_receive_timeout", defaults.send_receive_timeout, float
            ),
            cluster=str(value("cluster")).strip(),
            alt_hosts=_alt_hosts(config.get("alt_hosts")),
            replication_path=str(value("replication_path")).strip(),
            replica_name=str(value("replica_name")).strip(),
            serverless_proxy_id=str(value("serverless_proxy_id")).strip(),
        )


def _number(config: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = config.get(key)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ClickHouseError(f"setting `{key}` must be a number, got {value!r}") from None


def parse_endpoint(entry: str, default_port: int) -> tuple[str, int]:
    """`host` or `host:port` (IPv6 as `[::1]:9000`) -> `(host, port)`; a clear error for anything else."""
    text = entry.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text and not _is_ipv6(text):
        host = ""  # neither host:port nor a bare IPv6 address
    if not host or (port_text and not port_text.isdigit()) or not 0 < int(port_text or default_port) < 65536:
        raise ClickHouseError(
            f"alt_hosts: {entry!r} is not `host` or `host:port` (e.g. replica2.example:9000)"
        )
    return host, int(port_text) if port_text else default_port


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _alt_hosts(raw: Any) -> tuple[str, ...]:
    """A list (the schema's form) or a comma-separated string (an environment variable's form)."""
    if raw is None or raw == "":
        return ()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(str(item).strip() for item in items if str(item).strip())
