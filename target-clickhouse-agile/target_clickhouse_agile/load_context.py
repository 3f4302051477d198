"""`LoadContext`: what the sinks share with the rest of one load, instead of calling back into the target.

A sink translates its stream's records into rows and inserts them. Beyond its own stream it needs a few
things of the run: the settings, the status categories learnt so far, where to report a record's
unexpected shape, the StatsD client, which tables a migration defines, and where to say which issues
now need their metrics rebuilt. The target creates one context per run and drains what the sinks left
in it (dirty issues, skipped issues) at each checkpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Protocol

from target_clickhouse_agile.drift import ShapeDrift
from target_clickhouse_agile.insert_journal import InsertJournal
from target_clickhouse_agile.settings import TargetSettings
from target_clickhouse_agile.status_categories import CategoryResolver
from target_clickhouse_agile.telemetry import StatsdClient

if TYPE_CHECKING:
    from target_clickhouse_agile.clickhouse import Connection


class LoadContext:
    """Shared by every sink of one run; safe to use from the SDK's drain threads, except `main_connection`
    (the thread that reads the input only)."""

    def __init__(self, settings: TargetSettings, logger: logging.Logger) -> None:
        self.settings = settings
        self.categories = CategoryResolver(settings.status_categories, logger)
        self.drift = ShapeDrift(logger)
        self.statsd = StatsdClient(settings.statsd_host, settings.statsd_port, settings.statsd_prefix)
        #: Tables a migration defines (fixed columns); filled once the migrations ran.
        self.migrated_tables: frozenset[str] = frozenset()
        #: The target's own connection (migrations, the metrics step) once open; see `main_connection_in_use`.
        self.main_connection: Connection | None = None
        #: Holds SIGTERM / SIGINT back while it is in use (the target's `_termination_held`).
        self.termination_held: Callable[[], AbstractContextManager[None]] = nullcontext
        #: With several endpoints (`alt_hosts`), what the sinks inserted since the last STATE (see
        #: insert_journal.py); None when there is nothing to fail over to.
        connection = settings.connection
        self.journal = InsertJournal() if not connection.embedded and len(connection.endpoints) > 1 else None
        self._dirty: set[str] = set()
        self._skipped: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def main_connection_in_use(self) -> Iterator[Connection | None]:
        """The target's own connection (None before it is open), for statements of the thread that reads
        the input: a sink sets its table up through it while a SCHEMA message is read, and opens one of its
        own only to insert (the SDK's drain may do that from other threads). Termination signals wait
        meanwhile: the SDK's handler runs in this thread and would checkpoint through the same connection
        while its statement is under way, which clickhouse-driver refuses (the STATE would be lost)."""
        with self.termination_held():
            yield self.main_connection

    # -- issues whose metrics must be rebuilt ------------------------------------------------------------
    def mark_issues_dirty(self, issue_ids: Iterable[str]) -> None:
        """Rows of these issues are durable: their metrics are rebuilt before the next STATE."""
        with self._lock:
            self._dirty.update(issue_ids)

    def has_dirty_issues(self) -> bool:
        with self._lock:
            return bool(self._dirty)

    def take_dirty_issues(self) -> set[str]:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        return dirty

    def return_dirty_issues(self, issue_ids: set[str]) -> None:
        """A rebuild failed: keep the issues for the next checkpoint, if there is one."""
        with self._lock:
            self._dirty |= issue_ids

    # -- issues the tap set aside ------------------------------------------------------------------------
    def note_skipped_issue(self, status: str, issue_key: str) -> None:
        """An issue the tap set aside (or resolved) in this run, for the end-of-run summary."""
        with self._lock:
            self._skipped.setdefault(status, []).append(issue_key)

    def skipped_issues(self, status: str) -> list[str]:
        with self._lock:
            return list(self._skipped.get(status, []))


class HasLoadContext(Protocol):
    """What a sink needs of the target that creates it: the run's context, nothing else."""

    load_context: LoadContext
