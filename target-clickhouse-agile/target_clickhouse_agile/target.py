"""target-clickhouse-agile: lands Yandex Tracker streams in ClickHouse and computes flow metrics.

The one rule this class exists to keep: a STATE message is written only after every record before it
is durably in ClickHouse *and* the metrics of every issue those records touched have been rebuilt.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import cached_property
from types import FrameType
from typing import IO, Any, cast

from singer_sdk.exceptions import ConfigValidationError, InvalidInputLine, InvalidJSONSchema
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target

from target_clickhouse_agile import error_reporting, idle_input
from target_clickhouse_agile.clickhouse import (
    ClickHouseError,
    Connection,
    MetricsRepository,
    apply_migrations,
    connect,
    describe,
    migration_tables,
    save_state,
    save_workflow_map,
)
from target_clickhouse_agile.failures import (
    WELL_KNOWN_ERRORS,
    mask_secrets,
    one_line,
    quiet_driver_logs,
    schema_problem,
)
from target_clickhouse_agile.garbage_collection import resume_after_the_imports, tune_for_a_load
from target_clickhouse_agile.load_context import LoadContext
from target_clickhouse_agile.recompute import MetricsRefresher
from target_clickhouse_agile.record_path import load_record, plain_sink
from target_clickhouse_agile.redact import protect
from target_clickhouse_agile.settings import CONFIG_SCHEMA, TargetSettings
from target_clickhouse_agile.singer_reader import SingerInputReader, excerpt
from target_clickhouse_agile.sinks import (
    ChangelogSink,
    ClickHouseSink,
    IssuesSink,
    SkippedIssuesSink,
    StatusesSink,
    TableSink,
)

SINK_CLASSES: dict[str, type[Sink]] = {
    "issues": IssuesSink,
    "issue_changelog": ChangelogSink,
    "statuses": StatusesSink,
    "skipped_issues": SkippedIssuesSink,
}


DRAIN_PARALLELISM = 2
#: While the input waits for the tap, a checkpoint at most this often (ClickHouse prefers a few large
#: INSERTs to many small ones; a pause of the tap is usually a fraction of a second).
IDLE_CHECKPOINT_SECONDS = 5.0
#: A sink that fills up makes a checkpoint when the last one ended at least this long ago (else that sink's
#: rows alone are inserted, as the SDK does): while the input never pauses, metrics and STATE keep pace
#: with the rows instead of waiting for `checkpoint_seconds`, and a small `batch_size_rows` does not turn
#: every batch into a checkpoint.
FULL_CHECKPOINT_SECONDS = 1.0


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
            _ = self.settings  # every problem the schema cannot see, reported now, all at once
        # The SDK drains up to 8 sinks at once, each on its own connection (2 MiB of driver buffers).
        # Only issues and changelog batches are large; the reference streams' handful of rows gain
        # nothing from a thread each, and ten connections at the final drain were the target's peak.
        self.max_parallelism = DRAIN_PARALLELISM
        self._conn: Connection | None = None
        self._refresher: MetricsRefresher | None = None
        self._started = time.monotonic()
        self._issues_refreshed = 0
        self._state_written: dict | None = None
        self._checkpoint_done_at = time.monotonic()
        self._termination_holds = 0  # checkpoints, table setups, a full sink's insert (`_termination_held`)
        self._termination: int | None = None  # a signal received during one, handled after it
        #: Per stream: its sink when its records go in as they come (record_path.py), else None.
        self._plain_sinks: dict[str, ClickHouseSink | None] = {}

    @cached_property
    def settings(self) -> TargetSettings:
        """The validated, typed settings (built on first use: the SDK reads the config first)."""
        return TargetSettings.from_config(self.config)

    @cached_property
    def load_context(self) -> LoadContext:
        """What the sinks share with the rest of the run (see `HasLoadContext`)."""
        return LoadContext(self.settings, self.logger)

    @property
    def _MAX_RECORD_AGE_IN_MINUTES(self) -> float:  # type: ignore[override]  # noqa: N802 - the SDK's name
        """The SDK drains (and checkpoints) once a record is older than this: the `checkpoint_seconds`."""
        return self.settings.checkpoint_seconds / 60

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """The console entry point: errors whose message already says what to fix are printed as one
        line and exit 1 (the SDK would print a long traceback); anything else keeps its traceback. Every
        error that ends the run goes to Sentry first, when configured. The garbage collector is set for a
        load (garbage_collection.py)."""
        quiet_driver_logs()
        tune_for_a_load()
        try:
            with error_reporting.reported():
                super().invoke(*args, **kwargs)
        except WELL_KNOWN_ERRORS as error:
            cls.logger.debug("Traceback of the error below", exc_info=error)
            cls.logger.error("%s", one_line(error))
            sys.exit(1)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check of the settings, with secret values masked in its messages. Sentry (with
        `sentry_dsn`) starts first, once the settings are read: a settings error is reported too."""
        error_reporting.start(self._config)
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
        load = self.load_context
        try:
            conn = connect(self.settings.connection)
        except Exception:
            load.statsd.upload_status(ok=False)
            raise
        self.logger.info(
            "Loading into ClickHouse %s at %s, database %s%s",
            ".".join(map(str, conn.server_version)),
            conn.address,
            conn.database,
            f", cluster {conn.layout.name}" if conn.layout is not None else "",
        )
        applied = apply_migrations(conn)
        if applied:
            self.logger.info("Applied migrations %s", applied)
        # Only the tables a migration defines have a fixed column set; a table that an earlier run made
        # from a stream's schema must keep growing with that schema.
        load.migrated_tables = frozenset(migration_tables())
        save_workflow_map(conn, self.settings.workflow)
        self._refresher = MetricsRefresher(conn, self.settings.calendar, load.categories, self.logger)
        if describe(conn, "statuses") is not None:
            load.categories.learn_types(MetricsRepository(conn).status_types())
        load.main_connection, load.termination_held = conn, self._termination_held
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
        self._plain_sinks.clear()  # a SCHEMA may replace a stream's sink and maps
        try:
            super()._process_schema_message(message_dict)
        except InvalidJSONSchema as error:
            raise InvalidInputLine(
                f"input line {self.message_reader.line_number}: SCHEMA of stream {stream!r} is not a valid "
                f"JSON schema: {schema_problem(error)}"
            ) from None

    def _process_record_message(self, message_dict: dict) -> None:
        """A record of a stream loaded as it comes goes straight to its sink (record_path.py: ~1/6 of the
        target's CPU per record went to SDK steps that changed nothing), and a full sink may make a
        checkpoint (`_drain_full`); any other record takes the SDK's path (a full sink: its rows alone,
        with a termination signal held as in `_drain_full`), which also reports every malformed message."""
        stream, record = message_dict.get("stream"), message_dict.get("record")
        if not isinstance(stream, str) or not isinstance(record, dict):
            super()._process_record_message(message_dict)
            return
        if stream not in self._plain_sinks:  # (only a SCHEMA replaces a sink or maps: it clears them all)
            self._plain_sinks[stream] = plain_sink(self.mapper.stream_maps, self._sinks_active, stream)
        sink = self._plain_sinks[stream]
        if sink is None:
            with self._termination_held():
                super()._process_record_message(message_dict)
            return
        load_record(sink, record)
        if sink.is_full:
            self._drain_full(sink)
        self._handle_max_record_age()

    def _drain_full(self, sink: ClickHouseSink) -> None:
        """A full sink: a checkpoint (every sink, metrics, STATE) if the last one is
        `FULL_CHECKPOINT_SECONDS` old, else that sink's rows alone, with a termination signal held until
        they are in (see `_termination_held`)."""
        checkpoint = time.monotonic() - self._checkpoint_done_at >= FULL_CHECKPOINT_SECONDS
        self.logger.info(
            "Target sink for '%s' is full (%d records): %s",
            sink.stream_name,
            sink.current_size,
            "checkpoint" if checkpoint else "inserting its rows",
        )
        if checkpoint:
            self.drain_all()
        else:
            with self._termination_held():
                self.drain_one(sink)

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

    def listen(self, file_input: IO[str] | None = None) -> None:
        """Read Singer messages until EOF. On failure every ClickHouse connection is closed before the
        error propagates: an in-process caller (the serverless handler, a test) must be able to open
        embedded ClickHouse again, and chdb serves one data directory per process."""
        try:
            super().listen(file_input if file_input is not None else self._stdin_lines())
        except BaseException:
            self._close_connections()
            raise

    def _stdin_lines(self) -> IO[str]:
        """stdin, read so that a pause of the tap can be used for a checkpoint (idle_input.py); stdin as
        it is when it has no file descriptor (a caller's in-memory stream)."""
        stdin = sys.stdin
        try:
            fd = stdin.fileno()
        except (AttributeError, OSError, ValueError):
            return stdin
        encoding, errors = stdin.encoding or "utf-8", stdin.errors or "strict"
        return cast(IO[str], idle_input.lines(fd, self._checkpoint_if_due, encoding=encoding, errors=errors))

    def _checkpoint_if_due(self) -> None:
        """The tap has nothing more for now: a checkpoint (rows, metrics, STATE) if there is anything to
        write and the last one is `IDLE_CHECKPOINT_SECONDS` old (or `checkpoint_seconds`, if shorter).
        Behind a slow API the metrics then keep pace with the rows and the STATE with the tap, and
        little is left to do once the tap ends; a pipeline the target has to catch up with never waits."""
        interval = min(IDLE_CHECKPOINT_SECONDS, self.settings.checkpoint_seconds)
        if time.monotonic() - self._checkpoint_done_at < interval:  # the clock `_drain_full` reads too
            return
        rows_pending = any(sink.current_size for sink in self._sinks_active.values())
        state_pending = self._not_yet_written(self._latest_state)
        if rows_pending or state_pending or self.load_context.has_dirty_issues():
            self.logger.debug("input paused: checkpoint")
            self.drain_all()

    def _close_connections(self) -> None:
        for sink in [*self._sinks_active.values(), *self._sinks_to_clear]:
            if isinstance(sink, ClickHouseSink):
                sink.close_connection()
        self._close_own_connection()

    def _close_own_connection(self) -> None:
        conn, self._conn = self._conn, None  # taken first: whoever closes it, closes it once
        if conn is not None:
            self.load_context.main_connection = None
            conn.close()

    def _drain_all(self, sink_list: Iterable[Sink], parallelism: int) -> None:
        """Drain the sinks in parallel, and let every drain end before an error propagates. The SDK's
        parallel drain (joblib threads) raises the first error while other drains still run; the target
        then closes every connection, including ones a drain is still inserting through, and that drain's
        driver error (`'NoneType' object has no attribute 'close'`) could replace the real cause. One sink, or
        no parallelism, is drained in this thread (the SDK's sequential drain: joblib is never needed)."""
        sinks = list(sink_list)
        if parallelism == 1 or len(sinks) <= 1:
            super()._drain_all(sinks, 1)
            return
        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="target-drain") as pool:
            futures = [pool.submit(self.drain_one, sink) for sink in sinks]
            wait(futures)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error

    def drain_all(self, *, is_endofpipe: bool = False) -> None:
        """A checkpoint (`_checkpoint`), with a termination signal held until it is complete: the SDK's
        handler would start a checkpoint of its own inside this one (which writes no STATE, the outer one
        holds it) and exit, so the rows of this one would be written, its STATE not."""
        with self._termination_held():
            try:
                self._checkpoint(is_endofpipe=is_endofpipe)
            finally:
                self._checkpoint_done_at = time.monotonic()

    @contextmanager
    def _termination_held(self) -> Iterator[None]:
        """While the target's own connection is in a statement (a checkpoint, a stream's table being set
        up), SIGTERM / SIGINT wait for it: the SDK's handler runs in this same thread and checkpoints
        through that connection, and clickhouse-driver refuses a second statement on a connection whose
        first has not returned (the STATE would be neither saved nor written, and the exit still 0).
        So they do while a full sink inserts its rows outside a checkpoint: the handler's checkpoint
        would find that batch taken from the sink but not inserted yet, and write a STATE covering rows
        that are not in ClickHouse (and the metrics of their issues not rebuilt). The signal is handled
        once the outermost hold ends, unless that ends with an error. Held in the main thread only (the
        signal handler's thread); a checkpoint's drain threads run inside its hold."""
        self._termination_holds += 1
        try:
            yield
        finally:
            self._termination_holds -= 1
        if self._termination is not None and not self._termination_holds:
            signum, self._termination = self._termination, None
            self._handle_termination(signum, None)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM / SIGINT: a last checkpoint, then exit 0, after the checkpoint, table setup or insert
        under way if there is one (see `_termination_held`). If that last checkpoint fails, its error
        ends the run (exit 1, the cause named), with no STATE past it: the SDK's handler exits 0 whatever
        happened (`sys.exit` in a `finally`), and a scheduler would have recorded a failed load as done."""
        if self._termination_holds:
            self.logger.info(
                "Received termination signal %d: stopping once the statement under way is done", signum
            )
            self._termination = signum
            return
        self.logger.info("Received termination signal %d, draining all sinks...", signum)
        self.drain_all(is_endofpipe=True)
        self.logger.info("Gracefully shutting down...")
        sys.exit(0)

    def _checkpoint(self, *, is_endofpipe: bool) -> None:
        """Rows → metrics → STATE. The SDK would write the state right after the rows; hold it back
        until the metrics of the touched issues are rebuilt, so a checkpoint never covers an issue
        whose metrics are stale."""
        pending_state = self._latest_state
        self._latest_state = None
        saving = self.settings.store_state and self._not_yet_written(pending_state)
        to_save = pending_state if saving else None
        try:
            super().drain_all(is_endofpipe=is_endofpipe)
            self._metrics_on_one_host(to_save)
        except Exception:
            self.load_context.statsd.upload_status(ok=False)
            raise
        finally:
            self._latest_state = pending_state
        if is_endofpipe:
            self._log_summary()
        # A STATE already written is not written again: the rows of this checkpoint are past it, so the
        # insert journal must keep them until a newer STATE covers them (insert_journal.py).
        if self._not_yet_written(pending_state):
            written = copy.deepcopy(pending_state)  # neither the message nor the comparison changes it
            self._write_state_message(written)
            self._state_written = written
            if self.load_context.journal is not None:
                self.load_context.journal.clear()
        if pending_state or is_endofpipe:
            self.load_context.statsd.upload_status(ok=True)
        if is_endofpipe:
            self._close_own_connection()

    def _not_yet_written(self, state: dict | None) -> bool:
        """Whether `state` is a STATE this target has not written yet (the last one written is kept)."""
        return bool(state) and state != self._state_written

    def _metrics_on_one_host(self, state: dict | None) -> None:
        """The journal's batches replayed where they may be missing, the metrics step, and `state` saved
        (`store_state`), all on one host: a connection that fails over meanwhile (a replica lost with
        `alt_hosts`) has read part of the histories from a host that may lack batches of this window, and
        written derived rows to one that may never pass them on. Then the journal goes to the new host and
        every issue of the step is rebuilt there, until a step (re-send included) passes without a move
        (at most once per endpoint; beyond that no STATE is written and the run fails). `state` is saved
        only after a step that stayed on its host, and saved again if the save itself fails over."""
        rebuilt: set[str] = set()
        for _attempt in range(self._endpoint_count()):
            moves, began_at = self._failovers(), self._address()
            self._replay_after_failover()
            rebuilt |= self._refresh_metrics()
            if self._failovers() == moves and state is not None and self._conn is not None:
                save_state(self._conn, self.settings.state_id, state)  # saved again if this fails over
            if self._failovers() == moves:
                return
            self.logger.warning(
                "the connection to ClickHouse failed over during the metrics step (from %s, now at %s): "
                "rebuilding the metrics of its %d issues there",
                began_at,
                self._address(),
                len(rebuilt),
            )
            self.load_context.mark_issues_dirty(rebuilt)
        msg = (
            f"ClickHouse failed over during each of {self._endpoint_count()} metrics steps of one checkpoint "
            f"(now at {self._address()}): no STATE was written; is the cluster healthy?"
        )
        raise ClickHouseError(msg)

    def _address(self) -> str | None:
        return self._conn.address if self._conn is not None else None

    def _failovers(self) -> int:
        """Moves of the connection's endpoints so far (shared by every connection of the run; only the
        target's own runs during the metrics step). A move and one back end at the same host: counted."""
        endpoints = self._endpoints()
        return endpoints.failovers if endpoints is not None else 0

    def _endpoint_count(self) -> int:
        endpoints = self._endpoints()
        return max(1, len(endpoints.all)) if endpoints is not None else 1

    def _endpoints(self) -> Any:
        """The connection's `Endpoints` (native and HTTP connections have them), else None."""
        return getattr(self._conn, "endpoints", None)

    def _replay_after_failover(self) -> None:
        """After a failover, batches an earlier host took may not have reached the host in use: insert them
        here again and rebuild their issues, so the metrics never read a partial history (see
        insert_journal.py)."""
        journal = self.load_context.journal
        if journal is None or not journal.batches or self._conn is None:
            return
        self._conn.query("SELECT 1")  # on the endpoint in use now (this fails over too, if need be)
        here = self._conn.address
        batches = rows = 0
        for batch in journal.batches_not_on(here):
            self._conn.insert(batch.table, batch.columns, batch.rows)
            self.load_context.mark_issues_dirty(batch.issue_ids)
            batches, rows = batches + 1, rows + len(batch.rows)
        if batches:
            self.logger.warning(
                "re-sent %d rows (%d batches) to ClickHouse at %s that another host took earlier in this "
                "checkpoint, in case they had not replicated before it failed; duplicates collapse",
                rows,
                batches,
                self._conn.address,  # where they went (`here`, unless the re-send itself failed over)
            )

    def _refresh_metrics(self) -> set[str]:
        """The metrics of every issue marked since the last step, rebuilt; returns those issues."""
        dirty = self.load_context.take_dirty_issues()
        if not dirty or self._refresher is None:
            return set()
        try:
            summary = self._refresher.refresh(dirty)
        except Exception:
            self.load_context.return_dirty_issues(dirty)  # for a retry at the next drain, if there is one
            raise
        self._issues_refreshed += summary.issues
        self.load_context.statsd.metrics_rebuilt(
            summary.issues, summary.skipped, summary.rows, summary.seconds
        )
        return dirty

    def _log_summary(self) -> None:
        written = {name: sink._total_records_written for name, sink in self._sinks_active.items()}
        drift = self.load_context.drift.summary()
        set_aside = self.load_context.skipped_issues("set_aside")
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


resume_after_the_imports()  # the console script's imports end here (garbage_collection.py)

if __name__ == "__main__":
    TargetClickhouseAgile.cli()
