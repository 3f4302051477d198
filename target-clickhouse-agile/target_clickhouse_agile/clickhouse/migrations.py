"""Schema migrations, recorded exactly as golang-migrate's ClickHouse driver records them.

`migrations/clickhouse/NNNNNN_name.up.sql` at the repository root is the single source of truth (the wheel
ships a copy as `target_clickhouse_agile/migrations/`). Users may apply the same files with golang-migrate:
`migrate -path migrations/clickhouse -database 'clickhouse://host:9000?database=agile&x-multi-statement=true'
up` (the files hold several statements, hence `x-multi-statement`). Both tools read and write
`schema_migrations (version Int64, dirty UInt8, sequence UInt64) Engine=TinyLog` (the current version is
the row with the highest `sequence`; -1 means "nothing applied"), so they agree.

Files hold several statements separated by `;` at the end of a line. A comment line `-- requires: feature`
before a statement makes it run only on servers that have the feature (see `Dialect.supports`), which is how
newer-only objects (e.g. views with window functions) are skipped, with a log line, on old servers.

Concurrency: two targets may start at once on an empty database (or right after an upgrade). A migration
that drops and re-creates an object is not safe to run twice at the same time (one process drops the table
the other has just created and is filling), so applying migrations is exclusive. Within one process a lock
per server and database does it (enough for embedded chdb, whose data directory one process at a time can
open); across processes and the replicas of a cluster the table `schema_migrations_lock` does: `CREATE
TABLE` without `IF NOT EXISTS` succeeds for exactly one caller (on a cluster the ON CLUSTER queue in
ZooKeeper orders the creates), the others wait while the schema version moves and re-read it once they
hold the lock. The table's only column has its holder (host, pid, time and a random token) as its DEFAULT,
so every node can tell who holds it without an insert, and a process can tell its own lock (a statement
re-sent after a lost connection finds the table it created). A process killed while migrating leaves the
table behind (and, usually, a dirty version). A waiter on the same machine sees that the holder no longer
runs (the holder text carries the process's identity, lock_holder.py) and takes the lock over at once
(exclusively: see `_take_over_if_gone`); any other waiter that sees no progress for `LOCK_WAIT_SECONDS`
(longer on a cluster, where one statement may wait `distributed_ddl_task_timeout`) says which table to
drop. golang-migrate's ClickHouse driver and targets before this lock take no such lock: a dirty version
is still given `DIRTY_WAIT_SECONDS` to turn clean before it counts as a failed migration. TinyLog rejects
truly simultaneous inserts into `schema_migrations`, so a failed insert is retried.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.errors import TABLE_ALREADY_EXISTS, ClickHouseError
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier, quote_literal
from target_clickhouse_agile.clickhouse.lock_holder import holder_is_gone, host_name, identity_of

T = TypeVar("T")

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

MIGRATIONS_TABLE = "schema_migrations"
#: Exists only while a process applies migrations (see the module docstring).
LOCK_TABLE = "schema_migrations_lock"
#: How long a waiter for `LOCK_TABLE` accepts seeing no migration finish before it reports a stale lock; on
#: a cluster, where one ON CLUSTER statement may take `distributed_ddl_task_timeout` (180 s by default).
LOCK_WAIT_SECONDS = 60.0
CLUSTER_LOCK_WAIT_SECONDS = 240.0
_LOCK_POLL_SECONDS = 0.2
#: Made (without IF NOT EXISTS) by the one waiter that takes over a dead holder's lock, + its token.
TAKEOVER_PREFIX = "schema_migrations_lock_takeover_"
_TOKEN = re.compile(r"\(lock ([0-9a-f]+)")
NIL_VERSION = -1
_UP_FILE = re.compile(r"^(\d+)_(\w+)\.up\.sql$")
_REQUIRES = re.compile(r"^--\s*requires:\s*(.+)$", re.IGNORECASE)

_CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
    "(version Int64, dirty UInt8, sequence UInt64) Engine=TinyLog"
)
#: On a cluster the bookkeeping is replicated too, so that targets on different replicas agree on the version
#: (what golang-migrate's `x-cluster-name` + `x-migrations-table-engine` give; see README "Clusters").
_CREATE_REPLICATED_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
    "(version Int64, dirty UInt8, sequence UInt64) ENGINE = MergeTree ORDER BY sequence"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


@dataclass(frozen=True)
class Statement:
    sql: str
    requires: tuple[str, ...] = ()


def default_directory() -> Path:
    """The bundled copy inside an installed wheel, else `migrations/clickhouse` found above this file."""
    package = Path(__file__).resolve().parent.parent
    bundled = package / "migrations"
    if bundled.is_dir():
        return bundled
    for parent in package.parents:
        candidate = parent / "migrations" / "clickhouse"
        if candidate.is_dir():
            return candidate
    raise ClickHouseError(
        f"no migrations found: neither {bundled} nor a migrations/clickhouse above {package}"
    )


def discover(directory: Path | str) -> list[Migration]:
    """The `*.up.sql` files of `directory`, ordered by version; duplicate versions are an error."""
    found: dict[int, Migration] = {}
    for path in sorted(Path(directory).iterdir()):
        match = _UP_FILE.match(path.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise ClickHouseError(
                f"two migrations have version {version}: {found[version].path.name}, {path.name}"
            )
        found[version] = Migration(version, match.group(2), path)
    return [found[version] for version in sorted(found)]


_CREATES_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?", re.IGNORECASE)


def migration_tables(directory: Path | str | None = None) -> frozenset[str]:
    """Names of the tables the migrations create: their columns are owned by migrations, not by streams."""
    migrations = discover(directory or default_directory())
    return frozenset(
        match.group(1) for m in migrations for match in _CREATES_TABLE.finditer(m.path.read_text())
    )


def split_statements(text: str) -> list[Statement]:
    """Statements separated by `;` at a line end; comment-only and empty lines are dropped."""
    statements: list[Statement] = []
    lines: list[str] = []
    requires: list[str] = []

    def flush() -> None:
        sql = "\n".join(lines).strip().rstrip(";").strip()
        if sql:
            statements.append(Statement(sql, tuple(requires)))
        lines.clear()
        requires.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            if match := _REQUIRES.match(stripped):
                requires.extend(item.strip() for item in match.group(1).split(",") if item.strip())
            continue
        if not stripped:
            continue
        lines.append(line.rstrip())
        if stripped.endswith(";"):
            flush()
    flush()
    return statements


def current_version(conn: Connection) -> tuple[int, bool]:
    """`(version, dirty)` of the latest `schema_migrations` row; `(-1, False)` when nothing was applied."""
    ensure_migrations_table(conn)
    return _read_latest_version(conn)


def ensure_migrations_table(conn: Connection) -> None:
    """`schema_migrations` exists: TinyLog on one server; on a cluster a replicated table on every node,
    created (with the database, everywhere) only when missing, so that a start with a replica down does not
    wait for a cluster-wide statement."""
    if conn.layout is None:
        conn.execute(_CREATE_TABLE)
        return
    present = conn.query(
        "SELECT count() AS n FROM system.tables "
        f"WHERE database = currentDatabase() AND name = {quote_literal(MIGRATIONS_TABLE)}"
    )
    if not int(present[0]["n"]):
        conn.execute_ddl(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(conn.database)}")
        conn.execute_ddl(_CREATE_REPLICATED_TABLE)


def _read_latest_version(conn: Connection) -> tuple[int, bool]:
    """`current_version` of a table known to exist (what the waits poll, without a DDL every 0.2 s).
    TinyLog has no isolation between a reader and another process appending, and 18.16 then fails the
    read ("File not found: .../sequence.bin") until the write ends: retried."""
    sql = f"SELECT version, dirty FROM {MIGRATIONS_TABLE} ORDER BY sequence DESC LIMIT 1"
    rows = _retry_tinylog_race(lambda: conn.query(sql))
    if not rows:
        return NIL_VERSION, False
    return int(rows[0]["version"]), bool(rows[0]["dirty"])


def _retry_tinylog_race(operation: Callable[[], T]) -> T:
    """Run a read or append of `schema_migrations`, retried after a short random pause: two processes
    starting at once race on the TinyLog table, and the loser's statement fails while the other's runs."""
    for attempt in range(SET_VERSION_ATTEMPTS):
        try:
            return operation()
        except ClickHouseError:
            if attempt == SET_VERSION_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.3))
    raise AssertionError("unreachable")  # pragma: no cover


_last_sequence = 0
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
SET_VERSION_ATTEMPTS = 5
#: How long a dirty schema version may stay dirty before it counts as a failed migration.
DIRTY_WAIT_SECONDS = 10.0


def _lock_for(conn: Connection) -> threading.Lock:
    """One lock per (server or data directory, database) in this process."""
    where = str(getattr(conn, "address", None) or getattr(conn, "path", ""))
    with _locks_guard:
        return _locks.setdefault((where, conn.database), threading.Lock())


def set_version(conn: Connection, version: int, dirty: bool) -> None:
    """Append a `schema_migrations` row (golang-migrate's `SetVersion`); `sequence` = nanoseconds, increasing.

    Retried a few times: TinyLog refuses an insert that races another process's insert, and a duplicate row
    (same version and state) is harmless because only the newest row by `sequence` counts.
    """

    def append() -> None:
        global _last_sequence
        with _locks_guard:
            _last_sequence = max(time.time_ns(), _last_sequence + 1)
            sequence = _last_sequence
        conn.insert(MIGRATIONS_TABLE, ["version", "dirty", "sequence"], [(version, int(dirty), sequence)])

    _retry_tinylog_race(append)


def force_version(conn: Connection, version: int) -> None:
    """Mark `version` applied and clean (golang-migrate's `force`), after fixing a dirty migration."""
    ensure_migrations_table(conn)
    set_version(conn, version, dirty=False)


def apply_migrations(conn: Connection, directory: Path | str | None = None) -> list[int]:
    """Apply pending `*.up.sql` migrations in order; return the versions applied (empty: up to date)."""
    migrations = discover(directory or default_directory())
    known = migrations[-1].version if migrations else NIL_VERSION
    with _lock_for(conn):
        version, dirty = current_version(conn)
        if not dirty and version >= known:
            _warn_if_newer(conn, version, known)
            return []
        with _schema_lock(conn):
            # Re-read under the lock: another process may have applied everything while this one waited.
            version, dirty = _wait_while_dirty(conn)
            if dirty:
                raise _dirty_error(conn, version)
            _warn_if_newer(conn, version, known)
            applied: list[int] = []
            for migration in migrations:
                if migration.version > version:
                    _apply_one(conn, migration)
                    applied.append(migration.version)
            return applied


def _warn_if_newer(conn: Connection, version: int, known: int) -> None:
    if version > known:
        logger.warning(
            "database %r is at schema version %d, newer than this target knows (%d); not migrating",
            conn.database,
            version,
            known,
        )


def _wait_while_dirty(conn: Connection) -> tuple[int, bool]:
    """The latest version, but a dirty version is given `DIRTY_WAIT_SECONDS` to turn clean first.

    Under the lock, "dirty" means a migration failed halfway, unless something that takes no lock
    (golang-migrate, an older target) is applying it right now: golang-migrate's protocol writes the dirty
    row before a migration's statements and the clean row after.
    """
    version, dirty = _read_latest_version(conn)
    if not dirty:
        return version, dirty
    logger.info("schema version %d is dirty: waiting for another process that may be applying it", version)
    deadline = time.monotonic() + DIRTY_WAIT_SECONDS
    while dirty and time.monotonic() < deadline:
        time.sleep(0.2)
        version, dirty = _read_latest_version(conn)
    return version, dirty


def _dirty_error(conn: Connection, version: int) -> ClickHouseError:
    migrate = (
        f"migrate -path migrations/clickhouse -database 'clickhouse://HOST:PORT?database={conn.database}'"
    )
    return ClickHouseError(
        f"schema_migrations in database {conn.database!r} marks migration {version} as dirty: it failed "
        f"halfway on an earlier run. Check what it created, then either `{migrate} force {version - 1}` "
        f"to run it again (every migration is written to be safe to run again) or, if you finished it "
        f"by hand, `{migrate} force {version}` (from Python: `force_version(conn, N)`), and start the "
        "target again"
    )


@contextmanager
def _schema_lock(conn: Connection) -> Iterator[None]:
    """Hold `LOCK_TABLE` (see the module docstring) while migrating; wait for it while it is held and the
    schema version keeps moving, and report it as stale when it stops moving for `LOCK_WAIT_SECONDS`."""
    if conn.one_process_only:
        yield
        return
    token = uuid.uuid4().hex[:12]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    identity = identity_of(os.getpid())
    proof = f"; {identity.text()}" if identity else ""  # lets a waiter here see that this process is gone
    holder = f"{host_name()} pid {os.getpid()} since {stamp} (lock {token}{proof})"
    create = f"CREATE TABLE {LOCK_TABLE} (holder String DEFAULT {quote_literal(holder)}) ENGINE = Memory"
    patience = LOCK_WAIT_SECONDS if conn.layout is None else CLUSTER_LOCK_WAIT_SECONDS
    progress: tuple[int, bool] | None = None
    deadline = 0.0
    while not _take(conn, create, token):
        if _take_over_if_gone(conn, create, token):
            break
        seen = _read_latest_version(conn)
        if seen != progress:
            if progress is None:
                logger.info("waiting for another process to finish migrating: %s", _holder(conn) or "?")
            progress, deadline = seen, time.monotonic() + patience
        elif time.monotonic() > deadline:
            if _take(conn, create, token):  # let go just now
                break
            raise _stale_lock_error(conn, *seen, patience)
        time.sleep(_LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        _release(conn, token)


def _take(conn: Connection, create: str, token: str) -> bool:
    """Create the lock table: True if this process holds it now (`_create_owned`)."""
    return _create_owned(conn, LOCK_TABLE, create, token)


def _create_owned(conn: Connection, table: str, create: str, token: str) -> bool:
    """Create `table`, whose one column's DEFAULT names its creator by `token` (the lock, a takeover's
    table): True if this process made it. Looked up first, so that waiting on a cluster does not queue a
    failing ON CLUSTER statement behind the holder's every 0.2 s. A create that loses a race is refused
    with code 57 (or, where an engine gives no code, says "already exists"); one that fails otherwise may
    still have been made (a lost connection), so the creator is read back."""
    if _default_of(conn, table) is not None:
        return False
    try:
        conn.execute_ddl(create)
    except ClickHouseError as error:
        if token in (_default_of(conn, table) or ""):
            return True  # re-sent after a lost connection: the first attempt made it
        if error.code == TABLE_ALREADY_EXISTS or (error.code is None and "already exists" in str(error)):
            return False
        raise
    return True


def _take_over_if_gone(conn: Connection, create: str, token: str) -> bool:
    """Take the lock of a holder that provably no longer runs (killed on this machine, lock_holder.py):
    True if this process holds it now.

    Two waiters may see the dead holder at once, and a DROP can land late (a retried statement, an ON
    CLUSTER queue): an unconditional DROP by the slower one could remove the lock the faster one has just
    taken. So a takeover is itself exclusive: only the waiter that creates the table `TAKEOVER_PREFIX` +
    the dead holder's token may drop the lock, and only after reading, under that table, that the holder is
    still the dead one. A token never comes back, so a late waiter reads another holder and stands back.
    The takeover table names its taker, as the lock does, so a create whose answer was lost is known as
    this process's own; one left behind by a taker that died is named in the stale-lock error."""
    holder = _holder(conn)
    if holder is None or not holder_is_gone(holder):
        return False
    dead = _TOKEN.search(holder)
    if dead is None:
        return False
    marker = TAKEOVER_PREFIX + dead[1]
    taker = f"CREATE TABLE {marker} (taker String DEFAULT {quote_literal(token)}) ENGINE = Memory"
    try:
        if not _create_owned(conn, marker, taker, token):
            return False  # another waiter is taking it over, or has
    except ClickHouseError as error:
        logger.warning("could not take over %s (%s); waiting for it instead", LOCK_TABLE, error)
        return False
    try:
        if _holder(conn) != holder:
            return False  # taken over meanwhile: the new holder is alive
        logger.warning(
            "%s is held by a process that no longer runs on this machine (%s): taking the lock over",
            LOCK_TABLE,
            holder,
        )
        conn.execute_ddl(f"DROP TABLE IF EXISTS {LOCK_TABLE}")
        return _take(conn, create, token)
    except ClickHouseError as error:
        logger.warning("could not take over %s (%s); waiting for it instead", LOCK_TABLE, error)
        return token in (_holder(conn) or "")
    finally:
        try:
            conn.execute_ddl(f"DROP TABLE IF EXISTS {marker}")
        except ClickHouseError as error:
            logger.warning("could not drop %s after the takeover (%s); drop it by hand", marker, error)


def _release(conn: Connection, token: str) -> None:
    """Drop the lock if it is still this process's (someone may have dropped a lock they took for stale)."""
    try:
        if token in (_holder(conn) or ""):
            conn.execute_ddl(f"DROP TABLE IF EXISTS {LOCK_TABLE}")
    except ClickHouseError as error:
        # Raising here would hide why the migrations stopped (often the same lost connection).
        logger.error("could not drop %s after migrating (%s); drop it by hand", LOCK_TABLE, error)


def _holder(conn: Connection) -> str | None:
    """Who holds the lock, from its column's DEFAULT; None when nobody does."""
    return _default_of(conn, LOCK_TABLE)


def _default_of(conn: Connection, table: str) -> str | None:
    """The DEFAULT of a one-column table (the lock's holder, a takeover's taker); None if there is no such
    table."""
    rows = conn.query(
        "SELECT default_expression AS text FROM system.columns WHERE database = currentDatabase() "
        f"AND table = {quote_literal(table)}"
    )
    return str(rows[0]["text"]).strip("'") if rows else None


def _takeover_tables(conn: Connection) -> list[str]:
    """Takeover tables left by a taker that died on the way (see `_take_over_if_gone`)."""
    rows = conn.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        f"AND startsWith(name, {quote_literal(TAKEOVER_PREFIX)})"
    )
    return sorted(str(row["name"]) for row in rows)


def _stale_lock_error(conn: Connection, version: int, dirty: bool, patience: float) -> ClickHouseError:
    state = f"version {version}" + (" (dirty)" if dirty else "")
    holder = _holder(conn) or "?"
    message = (
        f"another process holds {LOCK_TABLE} in database {conn.database!r} ({holder}) and the schema has "
        f"stayed at {state} for {patience:.0f} s. If that process is no longer running (it was killed "
        f"while migrating), drop the lock: `DROP TABLE {conn.database}.{LOCK_TABLE}` (on a cluster add "
        "ON CLUSTER and its name), and start the target again"
    )
    leftovers = _takeover_tables(conn)
    if leftovers:
        drops = ", ".join(f"`DROP TABLE {conn.database}.{name}`" for name in leftovers)
        message += f"; a takeover of a killed holder's lock was cut short too: drop its table ({drops})"
    if dirty:
        message += f"; the dirty version needs a fix first: {_dirty_error(conn, version)}"
    return ClickHouseError(message)


def _apply_one(conn: Connection, migration: Migration) -> None:
    statements = split_statements(migration.path.read_text(encoding="utf-8"))
    dialect = conn.dialect
    set_version(conn, migration.version, dirty=True)
    for number, statement in enumerate(statements, start=1):
        missing = [feature for feature in statement.requires if not dialect.supports(feature)]
        if missing:
            logger.info(
                "migration %s: skipping statement %d on ClickHouse %s (needs %s): %s",
                migration.path.name,
                number,
                ".".join(map(str, conn.server_version)),
                ", ".join(missing),
                statement.sql.splitlines()[0],
            )
            continue
        if _column_change_already_made(conn, statement.sql):
            continue
        try:
            conn.execute_ddl(statement.sql)
        except ClickHouseError as error:
            if _column_change_already_made(conn, statement.sql):
                # Another target (on another replica of a cluster) made the same change a moment earlier:
                # the statement is `IF [NOT] EXISTS` by intent, and its effect is there.
                continue
            raise ClickHouseError(
                f"migration {migration.path.name} failed at statement {number} ({error}); "
                f"schema_migrations now marks version {migration.version} dirty",
                code=error.code,
            ) from error
    set_version(conn, migration.version, dirty=False)
    logger.info("applied migration %s (%d statements)", migration.path.name, len(statements))


_COLUMN_IF = re.compile(
    r"^\s*ALTER\s+TABLE\s+`?(\w+)`?\s+(ADD|DROP)\s+COLUMN\s+IF\s+(?:NOT\s+)?EXISTS\s+`?(\w+)`?", re.IGNORECASE
)


def _column_change_already_made(conn: Connection, sql: str) -> bool:
    """`ADD COLUMN IF NOT EXISTS` / `DROP COLUMN IF EXISTS` on a server without that syntax (the dialect
    drops the `IF`): answered here from the table's columns, so a migration can run again."""
    match = _COLUMN_IF.match(sql)
    if match is None or conn.dialect.supports_column_if_exists:
        return False
    table, action, column = match.groups()
    rows = conn.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() "
        f"AND table = {quote_literal(table)} AND name = {quote_literal(column)}"
    )
    return bool(rows) == (action.upper() == "ADD")
