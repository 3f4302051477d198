"""``TapYandexTracker``: settings, validation and the stream list."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities

from tap_yandex_tracker.client import TrackerAuthenticator
from tap_yandex_tracker.failures import ExplainedError, explain, read_state_file
from tap_yandex_tracker.metric_totals import child_metric_totals
from tap_yandex_tracker.output import TrackerMessageWriter
from tap_yandex_tracker.prefetch import ChangelogPrefetcher
from tap_yandex_tracker.redact import install_redactor, secret_values
from tap_yandex_tracker.settings import CONFIG_SCHEMA, check_settings
from tap_yandex_tracker.stats import RunStats
from tap_yandex_tracker.streams import STREAM_TYPES, IssueChangelogStream
from tap_yandex_tracker.transport import RequestGate


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        config = kwargs.get("config")
        if isinstance(config, dict):  # before the SDK validates (and possibly quotes) the config
            install_redactor(secret_values(config))
        super().__init__(*args, **kwargs)
        install_redactor(secret_values(self.config))  # values that came from the environment
        errors = check_settings(self.config, self.logger)
        if errors and kwargs.get("validate_config", True):
            raise ConfigValidationError("Config validation failed", errors=errors)
        self.stats = RunStats()

    # -- shared run objects --------------------------------------------------------------------------
    @cached_property
    def gate(self) -> RequestGate:
        return RequestGate(int(self.config.get("max_concurrent_requests") or 4), self.stats)

    @cached_property
    def authenticator(self) -> TrackerAuthenticator:
        # Whitespace around a token is never part of it (a copied token often ends with a newline, which
        # `requests` then refused, quoting the whole header).
        token, iam_token = (str(self.config.get(name) or "").strip() for name in ("token", "iam_token"))
        return TrackerAuthenticator(token=token or None, iam_token=iam_token or None)

    @cached_property
    def prefetcher(self) -> ChangelogPrefetcher:
        changelog = self.streams["issue_changelog"]
        assert isinstance(changelog, IssueChangelogStream)
        return ChangelogPrefetcher(
            changelog.fetch_entries, int(self.config.get("max_concurrent_requests") or 4), self.logger
        )

    @property
    def auth_setting(self) -> str:
        return "token" if self.config.get("token") else "iam_token"

    @property
    def org_setting(self) -> str:
        return "org_id" if self.config.get("org_id") else "cloud_org_id"

    @property
    def org_header(self) -> tuple[str, str]:
        if self.config.get("org_id"):
            return "X-Org-ID", str(self.config["org_id"])
        return "X-Cloud-Org-ID", str(self.config.get("cloud_org_id") or "")

    def abort(self) -> None:
        """After a fatal error: drop queued changelog fetches and make in-flight retries give up."""
        self.prefetcher.close(cancel=True)

    def finish_run(self) -> None:
        """End of a sync (called once all streams are done): stop the pool, log the one-line summary."""
        if "prefetcher" in self.__dict__:
            self.prefetcher.close(cancel=True)
        self.stats.log_summary_once(self.logger)

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """The console entry point: a fatal error the tap can explain is printed as one line and exits 1
        (the SDK would print a long traceback); the traceback stays available at DEBUG level."""
        try:
            if kwargs.get("state") is not None:
                kwargs["state"] = io.StringIO(json.dumps(read_state_file(kwargs["state"])))
            super().invoke(*args, **kwargs)
        except ExplainedError as failure:
            cls._exit_with(failure)

    @classmethod
    def cb_test(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """``--test`` (Meltano's ``config test``): same one-line errors as a sync."""
        try:
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
            message = explain(error, self.config)
            if message is None:
                raise
            raise ExplainedError(message) from error

    def sync_all(self) -> None:
        """The SDK's sync, with the changelog's per-issue METRIC lines summed into one per metric."""
        with self._explained_failures(), child_metric_totals(frozenset({IssueChangelogStream.name})):
            super().sync_all()

    def run_connection_test(self) -> bool:
        with self._explained_failures():
            return super().run_connection_test()

    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def load_streams(self) -> list[Stream]:
        """The SDK sorts streams by name; keep ours in :data:`STREAM_TYPES` order (reference data first,
        so a target that classifies statuses has them before the first issue arrives)."""
        order = {stream_type: index for index, stream_type in enumerate(STREAM_TYPES)}
        return sorted(super().load_streams(), key=lambda stream: order.get(type(stream), len(order)))


if __name__ == "__main__":
    TapYandexTracker.cli()
