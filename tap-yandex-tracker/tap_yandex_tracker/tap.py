"""``TapYandexTracker``: settings validation, the run context, the stream list and one-line fatal errors."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from types import FrameType
from typing import Any, ClassVar

from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities
from singer_sdk.streams.core import Stream
from singer_sdk.tap_base import Tap

from tap_yandex_tracker import error_reporting, termination
from tap_yandex_tracker.cpu_scheduling import run_as_batch_job
from tap_yandex_tracker.failures import ExplainedError, explain, read_state_file
from tap_yandex_tracker.garbage_collection import resume_after_the_imports, tune_for_a_sync
from tap_yandex_tracker.redact import install_redactor, secret_values
from tap_yandex_tracker.run_context import TapRun
from tap_yandex_tracker.settings import CONFIG_SCHEMA, TapSettings, check_settings
from tap_yandex_tracker.singer_writer import PacedStateWriter, TrackerMessageWriter
from tap_yandex_tracker.streams import STREAM_TYPES
from tap_yandex_tracker.streams.reference import read_ahead_references


class TapYandexTracker(Tap):
    """Singer tap for Yandex Tracker: issues, their full changelog and reference data."""

    name = "tap-yandex-tracker"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = TrackerMessageWriter
    #: No ``activate-version`` (would let targets wipe untouched issues' changelog) and no ``batch``.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]
    #: Whether this process is the console script's sync (set by `invoke`): only then is the process
    #: tuned for it (cpu_scheduling.py); a program running the tap inside its own process keeps its own.
    _console_sync: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        config = kwargs.get("config")
        if isinstance(config, dict):  # before the SDK validates (and possibly quotes) the config
            install_redactor(secret_values(config))
        super().__init__(*args, **kwargs)
        install_redactor(secret_values(self.config))  # values that came from the environment
        errors = check_settings(self.config, self.logger)
        if errors and kwargs.get("validate_config", True):
            raise ConfigValidationError("Config validation failed", errors=errors)
        if isinstance(self.message_writer, TrackerMessageWriter):  # see singer_writer.py
            self._state_writer = PacedStateWriter(self.message_writer)
            self.message_writer.state_interval_s = self.run.settings.state_interval_seconds

    @cached_property
    def run(self) -> TapRun:
        """What the streams share (they never call back into the tap). Built on first use: the SDK
        creates the streams inside ``Tap.__init__``, once the config is read and checked by the schema."""
        try:
            settings = TapSettings.from_config(self.config)
        except (TypeError, ValueError):  # only reachable unvalidated (`--discover`): describe the streams
            settings = TapSettings.from_config({})
        return TapRun(settings, self.logger)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Sentry (with ``sentry_dsn``) starts here, once the settings are read (files and environment) and
        before they are checked: a settings error is reported too."""
        error_reporting.start(self._config)
        return super()._validate_config(raise_errors=raise_errors)

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """The console entry point: a fatal error the tap can explain is printed as one line and exits 1
        (the SDK would print a long traceback); the traceback stays available at DEBUG level. Every
        error that ends the run goes to Sentry first, when configured. The garbage collector is set for
        a sync (garbage_collection.py), and the sync's threads are scheduled as a batch job
        (cpu_scheduling.py, unless `batch_scheduling` is false)."""
        tune_for_a_sync()
        cls._console_sync = True
        try:
            with error_reporting.reported():
                if kwargs.get("state") is not None:
                    kwargs["state"] = io.StringIO(json.dumps(read_state_file(kwargs["state"])))
                super().invoke(*args, **kwargs)
        except ExplainedError as failure:
            cls._exit_with(failure)

    @classmethod
    def cb_test(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """``--test`` (Meltano's ``config test``): same one-line errors (and reports) as a sync."""
        try:
            with error_reporting.reported():
                super().cb_test(*args, **kwargs)
        except ExplainedError as failure:
            cls._exit_with(failure)

    @classmethod
    def _exit_with(cls, failure: ExplainedError) -> None:
        cls.logger.debug("Traceback of the error below", exc_info=failure)
        cls.logger.error("%s", failure)
        sys.exit(1)

    @contextmanager
    def _explained_failures(self) -> Iterator[None]:
        """Re-raise every error :func:`explain` knows as a :class:`ExplainedError` with its one-line text."""
        try:
            yield
        except Exception as error:
            message = explain(error, self.run.settings)
            if message is None:
                raise
            raise ExplainedError(message) from error

    def sync_all(self) -> None:
        """The SDK's sync, with the reference collections requested together first (read_ahead.py) and
        the changelog's per-issue METRIC lines summed into one per metric."""
        if self._console_sync and self.run.settings.batch_scheduling:
            run_as_batch_job(self.logger)  # before the sync starts a thread: they inherit it
        try:
            with self._explained_failures():
                read_ahead_references(self.streams, self.run.read_ahead)
                super().sync_all()
                self._close_output()  # the run's output, its last STATE included, is on stdout
        except BaseException:
            with contextlib.suppress(OSError):  # what was written still reaches the target, if it can
                self._close_output()
            raise
        finally:
            self.run.read_ahead.close()
            self.run.metric_totals.log()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: as the SDK, write the latest STATE and exit 0, but never halfway through a
        write of ours (deferred to its end), with everything collected on stdout, the STATE last, and
        without unwinding the interrupted code (termination.py says why)."""
        writer = self.message_writer
        if not isinstance(writer, TrackerMessageWriter):
            super()._handle_termination(signum, frame)
            return
        termination.begin()
        if not writer.defer_while_writing(self._stop_after_termination):
            self._stop_after_termination()

    def _stop_after_termination(self) -> None:
        try:
            self.state_writer.write_state(self.state)
            self._close_output()
            self.run.metric_totals.log(wait=1.0)  # sync_all's `finally` does not run: the process ends here
        finally:
            termination.finish(self.logger)  # the SDK's log line and exit code

    def write_schemas(self) -> None:
        """``--test=schema``: the SCHEMA messages, on stdout when this returns."""
        try:
            super().write_schemas()
        finally:
            self._close_output()

    def _close_output(self) -> None:
        if isinstance(self.message_writer, TrackerMessageWriter):
            self.message_writer.close()

    def run_connection_test(self) -> bool:
        try:
            with self._explained_failures():
                return super().run_connection_test()
        finally:
            self._close_output()

    def discover_streams(self) -> list[Stream]:
        return [stream_type(self, run=self.run) for stream_type in STREAM_TYPES]

    def load_streams(self) -> list[Stream]:
        """The SDK sorts streams by name; keep ours in :data:`STREAM_TYPES` order (reference data first,
        so a target that classifies statuses has them before the first issue arrives)."""
        order = {stream_type: index for index, stream_type in enumerate(STREAM_TYPES)}
        return sorted(super().load_streams(), key=lambda stream: order.get(type(stream), len(order)))


resume_after_the_imports()  # the console script's imports end here (garbage_collection.py)

if __name__ == "__main__":
    TapYandexTracker.cli()
