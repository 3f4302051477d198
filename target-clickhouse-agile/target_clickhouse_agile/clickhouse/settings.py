"""`ConnectionSettings`: where the target's ClickHouse is and how to talk to it, with its defaults.

The defaults are written here once; the target's settings schema (what `--about` prints) takes them from
this class. The same object is accepted by `connect()` from any caller: the target, the report command,
the runners, tests and benchmarks pass the target's settings mapping and get the same defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from target_clickhouse_agile.clickhouse.errors import ClickHouseError

DEFAULT_DATABASE = "agile"
DEFAULT_EMBEDDED_PATH = "./agile_clickhouse"
#: Native protocol ports of a server, plain and TLS (used when `port` is not set).
DEFAULT_PORT = 9000
DEFAULT_SECURE_PORT = 9440


@dataclass(frozen=True)
class ConnectionSettings:
    """A native server (`host` set) or embedded ClickHouse at `embedded_path` (`host` empty)."""

    host: str = ""
    port: int | None = None
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

    @property
    def embedded(self) -> bool:
        return not self.host

    @property
    def effective_port(self) -> int:
        return self.port or (DEFAULT_SECURE_PORT if self.secure else DEFAULT_PORT)

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
        )


def setting_defaults() -> dict[str, Any]:
    """Setting name -> default, for the settings schema (`None` defaults are left out)."""
    return {f.name: f.default for f in fields(ConnectionSettings) if f.default is not None}


def _number(config: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = config.get(key)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ClickHouseError(f"setting `{key}` must be a number, got {value!r}") from None
