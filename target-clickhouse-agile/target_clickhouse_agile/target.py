"""target-clickhouse-agile: lands Yandex Tracker streams in ClickHouse and computes flow metrics.

The one rule this class exists to keep: a STATE message is written only after every record before it
is durably in ClickHouse *and* the metrics of every issue those records touched have been rebuilt.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError, InvalidInputLine, InvalidJSONSchema
from singer_sdk.sinks import Sink

from target_clickhouse_agile.clickhouse.connection import Connection, connect
from target_clickhouse_agile.clickhouse.migrations import apply_migrations, migration_tables
from target_clickhouse_agile.clickhouse.state_store import save_state
from target_clickhouse_agile.clickhouse.tables import describe
from target_clickhouse_agile.drift import ShapeDrift
from target_clickhouse_agile.failures import (
    WELL_KNOWN_ERRORS,
    mask_secrets,
    one_line,
    quiet_driver_logs,
    schema_problem,
)
from target_clickhouse_agile.input import SingerInputReader, excerpt
from target_clickhouse_agile.recompute import CategoryResolver, MetricsRefresher
from target_clickhouse_agile.redact import protect
from target_clickhouse_agile.settings import CONFIG_SCHEMA, build_calendar, validate_semantics
from target_clickhouse_agile.sinks import (
    ChangelogSink,
    ClickHouseSink,
    IssuesSink,
    SkippedIssuesSink,
    StatusesSink,
    TableSink,
)
from target_clickhouse_agile.statsd import StatsdClient
from target_clickhouse_agile.workflow import sync_workflow_map, workflow_from_config

SINK_CLASSES: dict[str, type[Sink]] = {
    "issues": IssuesSink,
    "issue_changelog": ChangelogSink,
    "statuses": StatusesSink,
    "skipped_issues": SkippedIssuesSink,
}


DRAIN_PARALLELISM = 2


class TargetClickhouseAgile(Target):
    """Singer target for ClickHouse (native protocol or embedded chdb) with agile metrics."""

    name = "target-clickhouse-agile"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = TableSink
    message_reader_class = SingerInputReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        config = kwargs.get("config")
        if isinstance(config, dict):  # before the SDK validates (and may quote) the config
            protect(config)
        super().__init__(*args, **kwargs)
        protect(self.config)  # values that came from the environment or files
        if kwargs.get("validate_config", True):
            errors = validate_semantics(self.config)
            if errors:
                raise ConfigValidationError("Invalid target settings", errors=errors)
        # The SDK drains (and checkpoints) only when a record is older than this; make it a setting.
        self._MAX_RECORD_AGE_IN_MINUTES = float(self.config.get("checkpoint_seconds") or 300) / 60
        # The SDK drains up to 8 sinks at once, each on its own connection (2 MiB of driver buffers).
        # Only issues and changelog batches are large; the reference streams' handful of rows gain
        # nothing from a thread each, and ten connections at the final drain were the target's peak.
        self.max_parallelism = DRAIN_PARALLELISM
        self.categories = CategoryResolver(self.config.get("status_categories") or {}, self.logger)
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._conn: Connection | None = None
        self._refresher: MetricsRefresher | None = None
        self.migrated_tables: set[str] = set()
        self._started = time.monotonic()
        self._issues_refreshed = 0
        self.statsd = StatsdClient.from_settings(self.config)
        self.drift = ShapeDrift(self.logger)
        self._skipped: dict[str, list[str]] = {}

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """The console entry point: errors whose message already says what to fix are printed as one
        line and exit 1 (the SDK would print a long traceback); anything else keeps its traceback."""
        quiet_driver_logs()
        try:
            super().invoke(*args, **kwargs)
        except WELL_KNOWN_ERRORS as error:
            cls.logger.debug("Traceback of the error below", exc_info=error)
            cls.logger.error("%s", one_line(error))
            sys.exit(1)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check of the settings, with secret values masked in its messages."""
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as error:
            masked = [mask_secrets(e, self._config) for e in error.errors]
            raise ConfigValidationError(str(error), errors=masked, schema=error.schema) from None
        return [mask_secrets(e, self._config) for e in errors]

    # --- start-up -------------------------------------------------------------------------------

    def _ensure_ready(self) -> None:
        """Connect, apply pending migrations and prepare the metrics step (once, on first data)."""
        if self._conn is not None:
            return
        try:
            conn = connect(self.config)
        except Exception:
            self.statsd.upload_status(ok=False)
            raise
        applied = apply_migrations(conn)
        if applied:
            self.logger.info("Applied migrations %s", applied)
        # Only the tables a migration defines have a fixed column set; a table that an earlier run made
        # from a stream's schema must keep growing with that schema.
        self.migrated_tables = migration_tables()
        sync_workflow_map(conn, workflow_from_config(self.config)[0])
        calendar, errors = build_calendar(self.config)
        if calendar is None:  # validated in __init__; only reachable with validate_config=False
            raise ConfigValidationError("Invalid target settings", errors=errors)
        self._refresher = MetricsRefresher(conn, calendar, self.categories, self.logger)
        if describe(conn, "statuses") is not None:
            self.categories.learn_types(
                {r["key"]: r["type"] for r in conn.query("SELECT key, type FROM statuses FINAL")}
            )
        self._conn = conn

    # --- messages the target refuses ---------------------------------------------------------------

    def _process_schema_message(self, message_dict: dict) -> None:
        """A stream's key properties are fixed for a run (its rows were keyed by them), and a schema that is
        not valid JSON Schema is named by stream and line instead of a dump of the metaschema."""
        stream = message_dict.get("stream")
        existing = self._sinks_active.get(stream) if isinstance(stream, str) else None
        keys = list(message_dict.get("key_properties") or [])
        if existing is not None and list(existing.key_properties) != keys:
            msg = (
                f"input line {self.message_reader.line_number}: SCHEMA of stream {stream!r} changes its key "
                f"properties from {list(existing.key_properties)} to {keys} in the middle of the input; rows "
                "already keyed the old way would be merged or lost. Send one key per stream and run, or "
                "rename the stream (a stream map) to load the new key into its own table"
            )
            raise InvalidInputLine(msg)
        try:
            super()._process_schema_message(message_dict)
        except InvalidJSONSchema as error:
            raise InvalidInputLine(
                f"input line {self.message_reader.line_number}: SCHEMA of stream {stream!r} is not a valid "
                f"JSON schema: {schema_problem(error)}"
            ) from None

    def _process_state_message(self, message_dict: dict) -> None:
        """A STATE value must be an object: anything else would be stored and break the tap's next run."""
        self._assert_line_requires(message_dict, requires={"value"})
        value = message_dict["value"]
        if not isinstance(value, dict):
            msg = (
                f"input line {self.message_reader.line_number}: the value of a STATE message must be a JSON "
                f"object (a tap's bookmarks), got {type(value).__name__} {excerpt(json.dumps(value))}"
            )
            raise InvalidInputLine(msg)
        super()._process_state_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        """BATCH messages (records in files named by a manifest) are refused before any later STATE is
        written, and the files they name are never opened."""
        msg = (
            f"input line {self.message_reader.line_number}: BATCH message of stream "
            f"{message_dict.get('stream')!r}: this target loads RECORD messages only; run the tap without "
            "`batch_config` (its records then arrive as RECORD messages)"
        )
        raise InvalidInputLine(msg)

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        self._ensure_ready()
        return SINK_CLASSES.get(stream_name, self.default_sink_class)

    # --- the metrics step and checkpoints -------------------------------------------------------

    def note_skipped_issue(self, status: str, issue_key: str) -> None:
        """Called by the `skipped_issues` sink: an issue the tap set aside (or resolved) in this run."""
        self._skipped.setdefault(status, []).append(issue_key)

    def mark_issues_dirty(self, issue_ids: Iterable[str]) -> None:
        """Called by sinks (from drain threads) once rows of these issues are durable."""
        with self._dirty_lock:
            self._dirty.update(issue_ids)

    def listen(self, file_input: IO[str] | None = None) -> None:
        """Read Singer messages until EOF. On failure every ClickHouse connection is closed before the
        error propagates: an in-process caller (the serverless handler, a test) must be able to open
        embedded ClickHouse again, and chdb serves one data directory per process."""
        try:
            super().listen(file_input)
        except BaseException:
            self._close_connections()
            raise

    def _close_connections(self) -> None:
        for sink in [*self._sinks_active.values(), *self._sinks_to_clear]:
            if isinstance(sink, ClickHouseSink):
                sink.close_connection()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def drain_all(self, *, is_endofpipe: bool = False) -> None:
        """Rows → metrics → STATE. The SDK would write the state right after the rows; hold it back
        until the metrics of the touched issues are rebuilt, so a checkpoint never covers an issue
        whose metrics are stale."""
        pending_state = self._latest_state
        self._latest_state = None
        try:
            super().drain_all(is_endofpipe=is_endofpipe)
            self._refresh_metrics()
        except Exception:
            self.statsd.upload_status(ok=False)
            raise
        finally:
            self._latest_state = pending_state
        if is_endofpipe:
            self._log_summary()
        if pending_state:
            if self.config.get("store_state") and self._conn is not None:
                try:
                    save_state(self._conn, str(self.config.get("state_id") or "default"), pending_state)
                except Exception:
                    self.statsd.upload_status(ok=False)
                    raise
            self._write_state_message(copy.deepcopy(pending_state))
        if pending_state or is_endofpipe:
            self.statsd.upload_status(ok=True)
        if is_endofpipe and self._conn is not None:
            self._conn.close()
            self._conn = None

    def _refresh_metrics(self) -> None:
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        if not dirty or self._refresher is None:
            return
        try:
            summary = self._refresher.refresh(dirty)
        except Exception:
            with self._dirty_lock:  # keep them for a retry at the next drain, if there is one
                self._dirty |= dirty
            raise
        self._issues_refreshed += summary.issues
        self.statsd.metrics_rebuilt(summary.issues, summary.skipped, summary.rows, summary.seconds)

    def _log_summary(self) -> None:
        written = {name: sink._total_records_written for name, sink in self._sinks_active.items()}
        drift = self.drift.summary()
        set_aside = self._skipped.get("set_aside", [])
        if set_aside:
            self.logger.warning(
                "%d issues SET ASIDE by the tap (their changelog could not be read): %s; they are retried on "
                "every run (table skipped_issues)",
                len(set_aside),
                ", ".join(sorted(set_aside)),
            )
        self.logger.info(
            "Summary: %s records loaded %s, metrics rebuilt for %d issues, %.1fs%s",
            sum(written.values()),
            json.dumps(written, sort_keys=True),
            self._issues_refreshed,
            time.monotonic() - self._started,
            f"; {drift}" if drift else "",
        )


if __name__ == "__main__":
    TargetClickhouseAgile.cli()
