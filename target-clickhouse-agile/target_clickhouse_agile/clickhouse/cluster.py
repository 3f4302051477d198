"""ClickHouse clusters: the same schema, made replicated (and sharded) by rewriting each DDL statement.

The migrations are written for one server. With the `cluster` setting the target rewrites every statement
it runs (`ClusterLayout.rewrite`), so one schema text serves both:

* every `CREATE TABLE`/`DROP`/`ALTER ... COLUMN` runs `ON CLUSTER` (names qualified with the database:
  each node runs the statement in its own default database), so each node has every table; a view is
  created on every node in turn, because the tables its SELECT names must resolve in our database;
* a `*MergeTree` engine becomes `Replicated*MergeTree('<replication_path>', '<replica_name>', ...)`, with
  `{database}` and `{table}` filled in here and the other macros (`{shard}`, `{replica}`) by each server;
* on a cluster of several shards, the per-issue tables (`SHARDED_TABLES`) become `<table>_local` replicated
  tables plus a `Distributed` table under the public name, sharded by `cityHash64(issue_id)`: every row of
  an issue lands on one shard, so the metrics step and the views work per issue. The other tables are
  small (reference data, workflow map, STATE) and are replicated to every node instead, at the
  replication path with its per-shard macros replaced by `all`;
* `ALTER ... DELETE` on a replicated table replicates by itself; on a sharded table it runs `ON CLUSTER`
  against the local tables. `TRUNCATE` is refused: on 18.16 it hangs a replicated table (use
  `ALTER TABLE ... DELETE` or `DROP PARTITION`).

`load_layout` reads the cluster from `system.clusters` and checks the settings against every node
(ZooKeeper reachable, macros defined, one replication path per shard, distinct replica names) before
anything is written, and says which setting to fix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from target_clickhouse_agile.clickhouse.errors import ClickHouseError, first_line
from target_clickhouse_agile.clickhouse.identifiers import mask_literals, quote_identifier, quote_literal

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

#: Tables keyed by issue: sharded by `SHARDING_KEY` on a cluster of several shards.
SHARDED_TABLES = frozenset(
    {"issues", "issue_changelog", "issue_status_intervals", "issue_metrics", "issue_flow"}
)
SHARDING_KEY = "cityHash64(issue_id)"
LOCAL_SUFFIX = "_local"
#: Replaces the per-shard macros in the replication path of tables every node holds in full.
ALL_SHARDS = "all"

_NAME = r"(`[^`]+`|\w+)"
_CREATE_TABLE = re.compile(rf"^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*", re.IGNORECASE)
_CREATE_VIEW = re.compile(
    rf"^\s*CREATE\s+(MATERIALIZED\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*", re.IGNORECASE
)
_CREATE_DATABASE = re.compile(rf"^\s*CREATE\s+DATABASE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*", re.IGNORECASE)
_DROP = re.compile(rf"^\s*DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?{_NAME}\s*$", re.IGNORECASE)
_ALTER = re.compile(rf"^\s*ALTER\s+TABLE\s+{_NAME}\s+", re.IGNORECASE)
_MUTATION = re.compile(r"^(DELETE|UPDATE)\b", re.IGNORECASE)
_TRUNCATE = re.compile(r"^\s*TRUNCATE\b", re.IGNORECASE)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w+)(?:\s*\(([^()]*)\))?", re.IGNORECASE)
_MACRO = re.compile(r"\{(\w+)\}")
_COLUMN_COMMENT = re.compile(r"\s+COMMENT\s+\x00\d+\x00")
_SUBQUERY_IN = re.compile(r"(?<!GLOBAL )\b((?:NOT\s+)?IN\s*\(\s*SELECT)\b", re.IGNORECASE)
_JOIN = re.compile(
    r"(?<!GLOBAL )\b((?:ANY|ALL)\s+(?:INNER|LEFT|RIGHT|FULL)(?:\s+OUTER)?\s+JOIN)\b", re.IGNORECASE
)


class Connection(Protocol):
    """What this module needs of a connection (`base.Connection` has it; importing it would be circular)."""

    database: str

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Planned:
    """One statement to run: on the connection's host (`ON CLUSTER` reaches the others), or on every node
    one by one (what `ON CLUSTER` cannot do, e.g. altering a Distributed table)."""

    sql: str
    every_node: bool = False


@dataclass(frozen=True)
class Node:
    host: str
    port: int
    shard: int
    replica: int


def _bare(name: str) -> str:
    return name[1:-1] if name.startswith("`") else name


@dataclass(frozen=True)
class ClusterLayout:
    """A cluster as the target writes to it; `rewrite` turns single-server DDL into cluster DDL."""

    name: str
    database: str
    nodes: tuple[Node, ...]
    replication_path: str
    replica_name: str
    #: Macros of the replication path whose value differs between shards.
    shard_macros: frozenset[str] = frozenset()
    #: Opens a connection to one node (for statements `ON CLUSTER` cannot carry).
    open_node: Callable[[Node], AbstractContextManager[Connection]] | None = field(
        default=None, compare=False, repr=False
    )
    #: The nodes those statements go to: every node; over HTTP the configured endpoints (see `load_layout`).
    reachable: tuple[Node, ...] | None = None

    @property
    def sharded(self) -> bool:
        return len({node.shard for node in self.nodes}) > 1

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER {quote_identifier(self.name)}"

    def is_sharded_table(self, table: str) -> bool:
        return self.sharded and table in SHARDED_TABLES

    def storage_table(self, table: str) -> str:
        """Where the rows of `table` are stored on each node (`<table>_local` behind a Distributed table)."""
        return table + LOCAL_SUFFIX if self.is_sharded_table(table) else table

    def table_path(self, table: str) -> str:
        """The ZooKeeper path of `table`'s replicas; shard macros become `all` for tables every node holds."""
        path = self.replication_path.replace("{database}", self.database).replace("{table}", table)
        if self.sharded and not self.is_sharded_table(table.removesuffix(LOCAL_SUFFIX)):
            for macro in self.shard_macros:
                path = path.replace("{" + macro + "}", ALL_SHARDS)
        return path

    # -- the rewrite ------------------------------------------------------------------------------------
    def rewrite(self, sql: str, *, column_comments: bool = True) -> list[Planned]:
        """The statements that do on the cluster what `sql` does on one server. Without `column_comments`
        (servers before 20.1, where a commented column makes a replicated table's structure in ZooKeeper
        "too different" from its own) the column comments of CREATE and ALTER TABLE are left out."""
        masked, restore = mask_literals(sql)
        if not column_comments and (_CREATE_TABLE.match(masked) or _ALTER.match(masked)):
            masked = _COLUMN_COMMENT.sub("", masked)
        return [Planned(restore(p.sql), p.every_node) for p in self._rewrite_masked(masked)]

    def _rewrite_masked(self, sql: str) -> list[Planned]:
        if _TRUNCATE.match(sql):
            raise ClickHouseError(
                "TRUNCATE is not used on a cluster: it hangs replicated tables on older servers; delete "
                "rows with ALTER TABLE ... DELETE, or drop partitions"
            )
        if match := _CREATE_TABLE.match(sql):
            return self._create_table(sql, match)
        if _CREATE_VIEW.match(sql):
            return [Planned(self._global_subqueries(sql), every_node=True)]
        if match := _CREATE_DATABASE.match(sql):
            return [Planned(self._insert_on_cluster(sql, match.end()))]
        if match := _DROP.match(sql):
            table = _bare(match.group(3))
            kind, exists = match.group(1).upper(), match.group(2) or ""
            statements = [Planned(f"DROP {kind} {exists}{self.qualified(table)} {self.on_cluster}")]
            if kind == "TABLE" and self.is_sharded_table(table):
                statements.append(
                    Planned(f"DROP TABLE IF EXISTS {self.qualified(table + LOCAL_SUFFIX)} {self.on_cluster}")
                )
            return statements
        if match := _ALTER.match(sql):
            return self._alter(sql, match)
        return [Planned(sql)]

    def distributed_select(self, sql: str) -> str:
        """`sql` (a SELECT) as it must run on this cluster: on a sharded one, every IN-subquery and JOIN
        becomes GLOBAL (the subquery runs once, on the node asked, over all shards; plain IN/JOIN over two
        Distributed tables is refused by the server's default `distributed_product_mode`)."""
        if not self.sharded:
            return sql
        masked, restore = mask_literals(sql)
        return restore(self._global_subqueries(masked))

    def _global_subqueries(self, masked: str) -> str:
        if not self.sharded:
            return masked
        return _JOIN.sub(r"GLOBAL \1", _SUBQUERY_IN.sub(r"GLOBAL \1", masked))

    def qualified(self, table: str) -> str:
        return f"{quote_identifier(self.database)}.{quote_identifier(table)}"

    def _insert_on_cluster(self, sql: str, position: int) -> str:
        return f"{sql[:position].rstrip()} {self.on_cluster} {sql[position:]}".rstrip()

    def _create_table(self, sql: str, match: re.Match[str]) -> list[Planned]:
        table = _bare(match.group(2))
        storage = self.storage_table(table)
        head = f"CREATE TABLE {match.group(1) or ''}{self.qualified(storage)} {self.on_cluster} "
        body = self._replicated_engine(sql[match.end() :], storage)
        statements = [Planned(head + body)]
        if storage != table:
            exists = match.group(1) or ""
            statements.append(
                Planned(
                    f"CREATE TABLE {exists}{self.qualified(table)} {self.on_cluster} "
                    f"AS {self.qualified(storage)} ENGINE = Distributed("
                    f"{quote_identifier(self.name)}, {quote_identifier(self.database)}, "
                    f"{quote_identifier(storage)}, {SHARDING_KEY})"
                )
            )
        return statements

    def _replicated_engine(self, body: str, table: str) -> str:
        engine = _ENGINE.search(body)
        if (
            engine is None
            or not engine.group(1).endswith("MergeTree")
            or engine.group(1).startswith("Replicated")
        ):
            return body
        arguments = [quote_literal(self.table_path(table)), quote_literal(self.replica_name)]
        if engine.group(2) and engine.group(2).strip():
            arguments.append(engine.group(2).strip())
        replicated = f"ENGINE = Replicated{engine.group(1)}({', '.join(arguments)})"
        return body[: engine.start()] + replicated + body[engine.end() :]

    def _alter(self, sql: str, match: re.Match[str]) -> list[Planned]:
        table, action = _bare(match.group(1)), sql[match.end() :]
        if _MUTATION.match(action):
            if not self.is_sharded_table(table):
                return [Planned(sql)]  # a replicated table replicates its mutations
            local = self.qualified(table + LOCAL_SUFFIX)
            return [Planned(f"ALTER TABLE {local} {self.on_cluster} {action}")]
        storage = self.qualified(self.storage_table(table))
        statements = [Planned(f"ALTER TABLE {storage} {self.on_cluster} {action}")]
        if self.is_sharded_table(table):
            # A Distributed table cannot be altered ON CLUSTER when the shards replicate internally.
            statements.append(Planned(f"ALTER TABLE {quote_identifier(table)} {action}", every_node=True))
        return statements

    # -- statements on every node -------------------------------------------------------------------------
    def each_node(self) -> Iterator[tuple[Node, AbstractContextManager[Connection]]]:
        if self.open_node is None:
            raise ClickHouseError(f"cluster {self.name!r}: no way to reach its nodes one by one")
        for node in self.nodes if self.reachable is None else self.reachable:
            yield node, self.open_node(node)


def macros_in(text: str) -> set[str]:
    return set(_MACRO.findall(text))


def render(text: str, macros: dict[str, str]) -> str:
    return _MACRO.sub(lambda m: macros.get(m.group(1), m.group(0)), text)


def replication_setting_problems(replication_path: str, replica_name: str) -> list[str]:
    """What is wrong with `replication_path` / `replica_name` whatever the servers (checked with the
    other settings, before any connection, and again by `check_layout`)."""
    problems = []
    if "{table}" not in replication_path:
        problems.append(
            f"replication_path {replication_path!r} has no {{table}}: every table would share one "
            "ZooKeeper path; keep {table} in it (default /clickhouse/tables/{shard}/{database}/{table})"
        )
    if not macros_in(replica_name):
        problems.append(
            f"replica_name {replica_name!r} has no {{macro}}: every replica would register under the same "
            "name; use {replica} (each server's own <macros><replica>)"
        )
    return problems


def check_layout(
    name: str,
    database: str,
    replication_path: str,
    replica_name: str,
    node_macros: dict[Node, dict[str, str]],
) -> frozenset[str]:
    """Every problem of the replication settings on this cluster, as one error; else the shard macros.

    `node_macros` holds the `<macros>` of every node that could be reached."""
    problems = replication_setting_problems(replication_path, replica_name)
    server_macros = (macros_in(replication_path) | macros_in(replica_name)) - {"database", "table"}
    for node, macros in sorted(node_macros.items(), key=lambda item: (item[0].shard, item[0].replica)):
        missing = sorted(server_macros - set(macros))
        if missing:
            listed = ", ".join(f"{{{m}}}" for m in missing)
            problems.append(
                f"{node.host}:{node.port} (shard {node.shard}, replica {node.replica}) defines no macro "
                f"{listed} used in replication_path / replica_name (its <macros>: "
                f"{', '.join(sorted(macros)) or 'none'})"
            )
    if problems:
        raise ClickHouseError(f"cluster {name!r}: " + "; ".join(problems))
    path = replication_path.replace("{database}", database)
    shards: dict[int, set[str]] = {}
    replicas: dict[int, dict[str, Node]] = {}
    for node, macros in node_macros.items():
        shards.setdefault(node.shard, set()).add(render(path, macros))
        replica = render(replica_name, macros)
        other = replicas.setdefault(node.shard, {}).get(replica)
        if other is not None:
            problems.append(
                f"replica_name {replica_name!r} gives {replica!r} on both {other.host}:{other.port} and "
                f"{node.host}:{node.port} of shard {node.shard}: each replica needs its own name"
            )
        replicas[node.shard][replica] = node
    for shard, paths in sorted(shards.items()):
        if len(paths) > 1:
            problems.append(
                f"replication_path {replication_path!r} differs between the replicas of shard {shard} "
                f"({', '.join(sorted(paths))}): replicas of one shard must share a path"
            )
    distinct = {next(iter(paths)) for paths in shards.values() if len(paths) == 1}
    if len(shards) > 1 and len(distinct) < len(shards):
        problems.append(
            f"replication_path {replication_path!r} is the same on different shards: their rows would "
            "replicate into each other; use a macro that differs per shard (e.g. {shard})"
        )
    if problems:
        raise ClickHouseError(f"cluster {name!r}: " + "; ".join(problems))
    shard_values: dict[str, set[str]] = {}
    for macros in node_macros.values():
        for macro in macros_in(path):
            shard_values.setdefault(macro, set()).add(macros.get(macro, ""))
    return frozenset(macro for macro, values in shard_values.items() if len(values) > 1)


def load_layout(
    conn: Connection,
    *,
    name: str,
    replication_path: str,
    replica_name: str,
    open_node: Callable[[Node], AbstractContextManager[Connection]],
    open_system: Callable[[Node], AbstractContextManager[Connection]],
    locate: Callable[[str, tuple[Node, ...]], tuple[Node, ...]] | None = None,
) -> ClusterLayout:
    """The cluster `name` as the connected server defines it, checked on every node that answers.

    `system.clusters` names each node's native port. A transport that cannot use it (HTTP) passes `locate`:
    given the cluster's name and nodes, the nodes it can reach itself (as `Node`s with its own addresses),
    which then take the per-node checks and statements."""
    where = getattr(conn, "address", "the server")
    name = _resolve_macros(conn, name, str(where))
    rows = conn.query(
        "SELECT shard_num, replica_num, host_name, port FROM system.clusters "
        f"WHERE cluster = {quote_literal(name)} ORDER BY shard_num, replica_num"
    )
    if not rows:
        known = sorted({r["cluster"] for r in conn.query("SELECT DISTINCT cluster FROM system.clusters")})
        raise ClickHouseError(
            f"cluster {name!r} is not defined on ClickHouse at {where} (its remote_servers: "
            f"{', '.join(known) or 'none'}): check the `cluster` setting"
        )
    nodes = tuple(
        Node(str(r["host_name"]), int(r["port"]), int(r["shard_num"]), int(r["replica_num"])) for r in rows
    )
    _check_zookeeper(conn, str(where), name)
    reachable = locate(name, nodes) if locate is not None else None
    node_macros: dict[Node, dict[str, str]] = {}
    for node in nodes if reachable is None else reachable:
        try:
            with open_system(node) as node_conn:
                _check_zookeeper(node_conn, f"{node.host}:{node.port}", name)
                macros = node_conn.query("SELECT macro, substitution FROM system.macros")
        except ClickHouseError as error:
            if not error.connection_failed:
                raise
            logger.warning(
                "cluster %s: node %s:%d does not answer (%s); its settings are not checked",
                name,
                node.host,
                node.port,
                first_line(str(error)),
            )
            continue
        node_macros[node] = {str(r["macro"]): str(r["substitution"]) for r in macros}
    shard_macros = check_layout(name, conn.database, replication_path, replica_name, node_macros)
    layout = ClusterLayout(
        name,
        conn.database,
        nodes,
        replication_path,
        replica_name,
        shard_macros,
        open_node=open_node,
        reachable=reachable,
    )
    logger.info(
        "cluster %s: %d shard(s), %d node(s)%s",
        name,
        len({node.shard for node in nodes}),
        len(nodes),
        f"; per-issue tables sharded by {SHARDING_KEY}" if layout.sharded else "",
    )
    return layout


def _resolve_macros(conn: Connection, name: str, where: str) -> str:
    """`{cluster}` (Managed ClickHouse's macro for its own cluster) → the name the connected server gives."""
    if not macros_in(name):
        return name
    macros = {str(r["macro"]): str(r["substitution"]) for r in conn.query("SELECT * FROM system.macros")}
    missing = sorted(macros_in(name) - set(macros))
    if missing:
        listed = ", ".join("{" + macro + "}" for macro in missing)
        raise ClickHouseError(
            f"cluster {name!r}: ClickHouse at {where} defines no macro {listed} (its <macros>: "
            f"{', '.join(sorted(macros)) or 'none'}): set `cluster` to the cluster's name"
        )
    return render(name, macros)


def _check_zookeeper(conn: Connection, where: str, name: str) -> None:
    try:
        conn.query("SELECT count() AS n FROM system.zookeeper WHERE path = '/'")
    except ClickHouseError as error:
        if error.connection_failed:
            raise
        raise ClickHouseError(
            f"cluster {name!r}: ClickHouse at {where} has no working ZooKeeper ({first_line(str(error))}): "
            "replicated tables need one (<zookeeper> in the server config, or ClickHouse Keeper); unset "
            "`cluster` to load a single server"
        ) from None
