"""A replicated ClickHouse cluster on loopback: one ZooKeeper and two clickhouse-server 18.16 nodes.

Both nodes define two clusters over the same two servers:

* `agile`: 1 shard x 2 replicas (macros `{shard}` = 01, `{replica}` = r1 | r2; `{cluster}` = agile, as
  Managed ClickHouse defines it for its own cluster);
* `agile_sharded`: 2 shards x 1 replica (macro `{sharded_shard}` = 01 | 02): point `replication_path` at
  `{sharded_shard}` to use it (`SHARDED_PATH`); with the default `{shard}` both shards would share a path,
  which the target refuses.

Every process runs from files under one directory (configs rendered here, nothing read from /etc), on free
loopback ports. Nodes can be stopped, killed (-9) and started again with their data. `scripts/install-
clickhouse.sh` installs the Debian packages (clickhouse-server, zookeeper, a JRE) when missing.
"""

from __future__ import annotations

import atexit
import contextlib
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import (
    NO_RETRY,
    ClickHouseError,
    Connection,
    connect,
    quote_identifier,
)
from tests.support.clickhouse import (
    SERVER_BINARY,
    ZOOKEEPER_JAR,
    ClickHouseServer,
    ensure_installed,
    free_ports,
)

REPLICATED = "agile"
SHARDED = "agile_sharded"
SHARDED_PATH = "/clickhouse/tables/{sharded_shard}/{database}/{table}"

_ZOO_CFG = """tickTime=2000
initLimit=10
syncLimit=5
dataDir={data}
clientPort={port}
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr,mntr
"""

_NODE_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><log>{dir}/server.log</log><errorlog>{dir}/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp}</tcp_port>
  <http_port>{http}</http_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_concurrent_queries>64</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/data/tmp/</tmp_path>
  <user_files_path>{dir}/data/user_files/</user_files_path>
  <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <max_table_size_to_drop>0</max_table_size_to_drop>
  <max_partition_size_to_drop>0</max_partition_size_to_drop>
  <remote_servers>
    <agile>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>{tcp1}</port></replica>
        <replica><host>127.0.0.1</host><port>{tcp2}</port></replica>
      </shard>
    </agile>
    <agile_sharded>
      <shard><internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>{tcp1}</port></replica></shard>
      <shard><internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>{tcp2}</port></replica></shard>
    </agile_sharded>
  </remote_servers>
  <zookeeper>
    <node index="1"><host>127.0.0.1</host><port>{zk}</port></node>
    <session_timeout_ms>30000</session_timeout_ms>
    <operation_timeout_ms>10000</operation_timeout_ms>
  </zookeeper>
  <macros><shard>01</shard><replica>{replica}</replica><sharded_shard>{sharded_shard}</sharded_shard>
    <cluster>agile</cluster></macros>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
    <cleanup_delay_period>60</cleanup_delay_period>
    <task_max_lifetime>86400</task_max_lifetime>
    <max_tasks_in_queue>1000</max_tasks_in_queue>
  </distributed_ddl>
</yandex>
"""


@dataclass
class ZooKeeper:
    """A standalone ZooKeeper (Debian package, run with `java` directly)."""

    base_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        (self.base_dir / "data").mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_ports(1)[0]
        self.config = self.base_dir / "zoo.cfg"
        self.config.write_text(_ZOO_CFG.format(data=self.base_dir / "data", port=self.port))

    def start(self, timeout: float = 60.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        classpath = f"{self.base_dir}:{ZOOKEEPER_JAR}"
        if Path("/usr/share/java/slf4j-simple.jar").exists():
            classpath += ":/usr/share/java/slf4j-simple.jar"
        log = (self.base_dir / "zookeeper.log").open("ab")
        self.process = subprocess.Popen(
            [
                "java",
                "-Xms64m",
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-Djava.awt.headless=true",
                f"-Dzookeeper.log.dir={self.base_dir}",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                classpath,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                str(self.config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.base_dir,
        )
        log.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while not self._ruok():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.base_dir / "zookeeper.log").read_text(errors="replace")[-1500:]
                self.stop()
                raise RuntimeError(f"ZooKeeper did not start: {tail}")
            time.sleep(0.1)

    def _ruok(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"ruok")
                return sock.recv(16) == b"imok"
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self.process = None


@dataclass
class ClusterNode(ClickHouseServer):
    """One clickhouse-server of the cluster, configured entirely from its own directory."""

    replica: str = "r1"
    sharded_shard: str = "01"
    zookeeper_port: int = 0
    cluster_ports: tuple[int, int] = (0, 0)
    tls: bool = False

    def command(self) -> list[str]:
        config = self.base_dir / "config.xml"
        config.write_text(
            _NODE_CONFIG.format(
                dir=self.base_dir,
                tcp=self.port,
                http=self.http_port,
                interserver=self.interserver_port,
                tcp1=self.cluster_ports[0],
                tcp2=self.cluster_ports[1],
                zk=self.zookeeper_port,
                replica=self.replica,
                sharded_shard=self.sharded_shard,
            )
        )
        binary = SERVER_BINARY if Path(SERVER_BINARY).exists() else "clickhouse-server"
        return [binary, f"--config-file={config}"]

    def start(self, timeout: float = 60.0) -> None:
        """Start, then wait until the node's ZooKeeper session is up and its DDL queue exists: 18.16 crashes
        (a NULL ZooKeeper handle) on an ON CLUSTER statement that arrives before."""
        super().start(timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with connect({"host": self.host, "port": self.port}, retry=NO_RETRY) as conn:
                    queue = conn.query(
                        "SELECT name FROM system.zookeeper WHERE path = '/clickhouse/task_queue'"
                    )
                if any(row["name"] == "ddl" for row in queue):
                    return
            except ClickHouseError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"ClickHouse at {self.host}:{self.port} has no ZooKeeper session")
            time.sleep(0.1)


@dataclass
class Cluster:
    """ZooKeeper and two nodes; `settings(node)` gives target settings pointing at one node first."""

    base_dir: Path
    zookeeper: ZooKeeper = field(init=False)
    nodes: list[ClusterNode] = field(init=False)

    def __post_init__(self) -> None:
        self.zookeeper = ZooKeeper(self.base_dir / "zk")
        ports = free_ports(6)
        tcp = (ports[0], ports[3])
        self.nodes = [
            ClusterNode(
                self.base_dir / f"ch{n + 1}",
                port=ports[3 * n],
                http_port=ports[3 * n + 1],
                interserver_port=ports[3 * n + 2],
                replica=f"r{n + 1}",
                sharded_shard=f"0{n + 1}",
                zookeeper_port=self.zookeeper.port,
                cluster_ports=tcp,
            )
            for n in range(2)
        ]

    def start(self) -> None:
        self.zookeeper.start()
        for node in self.nodes:
            node.start(timeout=60)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.zookeeper.stop()

    def settings(
        self, node: int = 0, *, cluster: str = REPLICATED, http: bool = False, **overrides: Any
    ) -> dict[str, Any]:
        """Target settings: `host`/`port` of `node`, the other node in `alt_hosts`, the password user;
        with `http`, their HTTP ports and `protocol: http`."""
        first, other = self.nodes[node], self.nodes[1 - node]
        port, other_port = (first.http_port, other.http_port) if http else (first.port, other.port)
        return {
            "host": first.host,
            "port": port,
            "user": first.user,
            "password": first.password,
            "cluster": cluster,
            "alt_hosts": [f"{other.host}:{other_port}"],
            **({"protocol": "http"} if http else {}),
            **({"replication_path": SHARDED_PATH} if cluster == SHARDED else {}),
            **overrides,
        }

    def on_node(self, node: int, settings: dict[str, Any]) -> dict[str, Any]:
        """`settings` read back on one node only (no cluster, no failover): what a dashboard there sees."""
        dropped = ("cluster", "alt_hosts", "replication_path", "protocol")
        plain = {k: v for k, v in settings.items() if k not in dropped}
        return {**plain, "host": self.nodes[node].host, "port": self.nodes[node].port}

    def connect(self, node: int, database: str = "default") -> Connection:
        return connect(
            {"host": self.nodes[node].host, "port": self.nodes[node].port, "database": database},
            retry=NO_RETRY,
        )

    def sync_replicas(self, database: str) -> None:
        """Wait until each node has fetched every part of every replicated table (only when all are up)."""
        for node in range(len(self.nodes)):
            with self.connect(node, database) as conn:
                tables = conn.query(
                    "SELECT name FROM system.tables WHERE database = currentDatabase() "
                    "AND engine LIKE 'Replicated%'"
                )
                for row in tables:
                    conn.execute(f"SYSTEM SYNC REPLICA {quote_identifier(row['name'])}")


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's cluster, started on first use; stopped at session end."""
    ensure_installed()
    cluster = Cluster(tmp_path_factory.mktemp("clickhouse-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def cluster_database(cluster: Cluster, prefix: str = "c") -> Iterator[str]:
    """A fresh database name; its tables and ZooKeeper paths are dropped afterwards on every node."""
    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        yield database
    finally:
        for node in cluster.nodes:
            node.start()  # a test may have stopped or killed it
        for index in range(len(cluster.nodes)):
            with cluster.connect(index) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {quote_identifier(database)}")
