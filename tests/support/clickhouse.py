"""pytest fixtures for both ClickHouse engines: a throwaway `clickhouse-server` and embedded chdb.

`clickhouse_server` (session): the Debian `clickhouse-server` (18.16) started as an ordinary process on free
loopback ports with a temporary data directory, plus a TLS port
(a throwaway CA and server certificate) and a password user (`agile` / `agile-secret`). Tests may `stop()`
and `start()`/`restart()` it (same ports, same data). It is stopped at session end (and killed at exit).

`clickhouse_native` (function): a fresh database on that server, with target-style settings; dropped after.
`chdb_settings` / `chdb_connection` (function): an embedded data directory under `tmp_path`.

Registered for the whole suite by one import line in tests/conftest.py.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import NO_RETRY, Connection, RetryPolicy, connect, quote_identifier

REPO = Path(__file__).resolve().parents[2]
SERVER_BINARY = "/usr/sbin/clickhouse-server"
SERVER_CONFIG = "/etc/clickhouse-server/config.xml"
PASSWORD_USER = "agile"
PASSWORD = "agile-secret"
START_TIMEOUT_S = 30.0
ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"

_USERS_XML = f"""<?xml version="1.0"?>
<yandex>
  <profiles>
    <!-- poll_interval: idle connections notice a shutdown within 1 s (default 10 s delays every stop) -->
    <!-- distributed_ddl_task_timeout: an ON CLUSTER statement with a replica down gives up after 60 s
         (set here: clickhouse-driver sends Int64 settings wrongly to 18.16) -->
    <default><max_memory_usage>4000000000</max_memory_usage><poll_interval>1</poll_interval>
      <distributed_ddl_task_timeout>60</distributed_ddl_task_timeout></default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </default>
    <{PASSWORD_USER}>
      <password>{PASSWORD}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </{PASSWORD_USER}>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
"""


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (held open together while choosing, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=120)


def ensure_installed() -> None:
    """Install the server, ZooKeeper and openssl with the repository's scripts when missing (`make test`
    does it too)."""
    server = Path(SERVER_BINARY).exists() or shutil.which("clickhouse-server") is not None
    zookeeper = Path(ZOOKEEPER_JAR).exists() and shutil.which("java") is not None
    if not (server and zookeeper):
        _run("bash", "scripts/install-clickhouse.sh", cwd=REPO)
    if shutil.which("openssl") is None:
        _run("bash", "scripts/install-openssl.sh", cwd=REPO)


def make_certificates(directory: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for IP 127.0.0.1 signed by it, and quick DSA-style DH params."""
    paths = {
        name: directory / name for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    }
    paths["ext"] = directory / "san.cnf"
    paths["dh"] = directory / "dh.pem"
    paths["ext"].write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    days = "2"
    _run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        days,
        "-subj",
        "/CN=target-clickhouse-agile test CA",
        cwd=directory,
    )
    _run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
        cwd=directory,
    )
    _run(
        "openssl",
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        days,
        "-extfile",
        "san.cnf",
        cwd=directory,
    )
    _run("openssl", "dhparam", "-dsaparam", "-out", "dh.pem", "1024", cwd=directory)
    return paths


@dataclass
class ClickHouseServer:
    """A throwaway clickhouse-server: fixed ports and data directory across stop/start."""

    base_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    http_port: int = 0
    interserver_port: int = 0
    tcp_port_secure: int = 0
    https_port: int = 0
    user: str = PASSWORD_USER
    password: str = PASSWORD
    certificates: dict[str, Path] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    #: A TLS port with a throwaway CA (the cluster's nodes go without).
    tls: bool = True

    def __post_init__(self) -> None:
        self.data_dir = self.base_dir / "data"
        (self.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.users_config = self.base_dir / "users.xml"
        self.users_config.write_text(_USERS_XML)
        if self.tls and not self.certificates:
            self.certificates = make_certificates(self.base_dir)
        if not self.port:
            ports = free_ports(5)
            self.port, self.http_port, self.interserver_port, self.tcp_port_secure, self.https_port = ports

    @property
    def ca_cert_path(self) -> Path:
        return self.certificates["ca.crt"]

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    @property
    def error_log_path(self) -> Path:
        return self.base_dir / "server.err.log"

    def command(self) -> list[str]:
        data, certs = self.data_dir, self.certificates
        return [
            SERVER_BINARY if Path(SERVER_BINARY).exists() else "clickhouse-server",
            f"--config-file={SERVER_CONFIG}",
            "--",
            f"--path={data}/",
            f"--tmp_path={data}/tmp/",
            f"--user_files_path={data}/user_files/",
            f"--format_schema_path={data}/format_schemas/",
            f"--users_config={self.users_config}",
            f"--tcp_port={self.port}",
            f"--http_port={self.http_port}",
            f"--interserver_http_port={self.interserver_port}",
            f"--tcp_port_secure={self.tcp_port_secure}",
            f"--https_port={self.https_port}",
            f"--listen_host={self.host}",
            f"--logger.log={self.log_path}",
            f"--logger.errorlog={self.error_log_path}",
            f"--openSSL.server.certificateFile={certs['server.crt']}",
            f"--openSSL.server.privateKeyFile={certs['server.key']}",
            f"--openSSL.server.dhParamsFile={certs['dh']}",
        ]

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start (no-op if running) and wait until the HTTP ping answers (all ports open together)."""
        if self.is_running:
            return
        stdout = (self.base_dir / "server.stdout").open("ab")
        # No PR_SET_PDEATHSIG here: it fires when the *thread* that started the server ends (tests restart
        # it from timer threads). An atexit hook kills it if pytest exits without running finalizers.
        self.process = subprocess.Popen(self.command(), stdout=stdout, stderr=subprocess.STDOUT)
        atexit.register(self.kill)
        stdout.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"clickhouse-server exited with {self.process.returncode}: {self._tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"clickhouse-server not ready after {timeout:.0f} s: {self._tail()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.http_port}/ping", timeout=1) as response:
                if response.read().strip() != b"Ok.":
                    return False
        except OSError:
            return False
        return True

    def _tail(self) -> str:
        for path in (self.error_log_path, self.base_dir / "server.stdout"):
            if path.exists() and path.stat().st_size:
                return path.read_text(errors="replace")[-2000:]
        return "(no log output)"

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL); data stays for a later `start()`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        self.process = None

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Target settings for this server (default user, no database); `overrides` win."""
        return {"host": self.host, "port": self.port, "user": "default", "password": "", **overrides}


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """The session's clickhouse-server (see the module docstring); killed at session end."""
    ensure_installed()
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class NativeDatabase:
    """A unique database on the session server; `settings` are what the target would be given."""

    server: ClickHouseServer
    database: str
    settings: dict[str, Any]
    _connections: list[Connection] = field(default_factory=list)

    def connect(self, *, retry: RetryPolicy = NO_RETRY, **overrides: Any) -> Connection:
        """A new connection to this database (closed at teardown); by default fails at once if the server is
        down (pass a `RetryPolicy` to wait for it instead)."""
        connection = connect({**self.settings, **overrides}, retry=retry)
        self._connections.append(connection)
        return connection

    @property
    def conn(self) -> Connection:
        """A shared connection for the test, opened on first use."""
        if not self._connections:
            self.connect()
        return self._connections[0]

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()


@contextlib.contextmanager
def fresh_database(server: ClickHouseServer, prefix: str = "t") -> Iterator[NativeDatabase]:
    """A new database `<prefix>_<hex>` on `server` with target-style settings; dropped afterwards (the
    server is restarted first if the test stopped it)."""
    server.start()  # a previous test may have stopped it
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    native = NativeDatabase(server, database, server.settings(database=database))
    try:
        yield native
    finally:
        native.close()
        server.start()
        with connect(server.settings(database="default"), retry=NO_RETRY) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {quote_identifier(database)}")


@pytest.fixture
def clickhouse_native(clickhouse_server: ClickHouseServer) -> Iterator[NativeDatabase]:
    """A fresh database `t_<hex>` on the session server; dropped afterwards."""
    with fresh_database(clickhouse_server, "t") as native:
        yield native


@pytest.fixture
def chdb_settings(tmp_path: Path) -> dict[str, Any]:
    """Target settings for the embedded engine in a fresh directory (no `host`).

    chdb is part of `make dev`; a missing chdb is an error of the environment, never a reason to skip.
    """
    return {"embedded_path": str(tmp_path / "chdb"), "database": "agile"}


@pytest.fixture
def chdb_connection(chdb_settings: dict[str, Any]) -> Iterator[Connection]:
    """An open embedded connection on `chdb_settings`; closed afterwards so another path can be opened."""
    connection = connect(chdb_settings)
    try:
        yield connection
    finally:
        connection.close()


ENGINES = ("server-18.16", "chdb")


@pytest.fixture(params=ENGINES)
def clickhouse_any(request: pytest.FixtureRequest) -> Connection:
    """An open connection to a fresh database on each engine in turn (the test runs once per engine)."""
    if request.param == "chdb":
        return request.getfixturevalue("chdb_connection")
    return request.getfixturevalue("clickhouse_native").conn


__all__ = [
    "ENGINES",
    "ClickHouseServer",
    "NativeDatabase",
    "chdb_connection",
    "chdb_settings",
    "clickhouse_any",
    "clickhouse_native",
    "clickhouse_server",
    "free_ports",
]
