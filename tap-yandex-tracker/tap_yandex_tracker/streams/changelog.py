"""``issue_changelog``: the complete history of every issue the ``issues`` stream emits.

Full history on every emission (not only the entries after a bookmark): the target de-duplicates by
``id``, state stays tiny (``state_partitioning_keys = []``) and a resumed run can never miss an entry.
One request per issue with ``perPage=100``; longer histories follow ``Link: rel="next"`` (the ``id``
cursor).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

import requests
from singer_sdk import metrics
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from singer_sdk.streams.rest import PageContext

from tap_yandex_tracker import error_reporting, schemas
from tap_yandex_tracker.client import TrackerStream
from tap_yandex_tracker.errors import TrackerNotFoundError
from tap_yandex_tracker.streams.issues import IssuesStream
from tap_yandex_tracker.timestamps import normalise_timestamps

CHANGELOG_PAGE_SIZE = 100


class IssueChangelogStream(TrackerStream):
    """``GET /issues/{issue_id}/changelog`` - by id, which survives a move between queues."""

    name = "issue_changelog"
    path = "/issues/{issue_id}/changelog"
    parent_stream_type = IssuesStream
    primary_keys = ("id",)
    state_partitioning_keys: list[str] = []
    schema = schemas.CHANGELOG

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "Beginning sync of 'issue_changelog'" once per issue would drown the progress lines.
        self.logger.setLevel(logging.WARNING)
        self._schema_sent = False  # by `sync_issue`, once per run
        self._get_template: requests.PreparedRequest | None = None  # by `prepared_get`

    # -- the SDK's meters: summed over the issues, one METRIC line each at the end (sdk_metric_totals.py)
    def get_record_counter(self, **_: Any) -> metrics.Counter:
        return self.run.metric_totals.counter(metrics.Metric.RECORD_COUNT, self.name)

    def get_sync_timer(self) -> metrics.Timer:
        return self.run.metric_totals.timer(metrics.Metric.SYNC_DURATION, self.name)

    def get_http_request_counter(self) -> metrics.Counter:
        return self.run.metric_totals.counter(
            metrics.Metric.HTTP_REQUEST_COUNT, self.name, endpoint=self.path
        )

    def get_url_params(self, context: dict | None, next_page_token: Any) -> dict[str, Any]:
        return {} if next_page_token else {"perPage": CHANGELOG_PAGE_SIZE}

    # -- one issue's history, as the issues stream's child ---------------------------------------------
    @property
    def syncs_issue_directly(self) -> bool:
        """Whether `sync_issue` may stand in for the SDK's child sync: the stream is selected, replicated
        in full (as discovered) and nothing asks for what only the SDK's sync does (a bookmark, a dry
        run's record limit, BATCH messages)."""
        return (
            self.selected
            and self.replication_method == REPLICATION_FULL_TABLE  # a catalog may say otherwise
            and self.ABORT_AT_RECORD_COUNT is None
            and self.get_batch_config(self.config) is None
        )

    def sync_issue(self, context: dict) -> None:
        """The SDK's `sync` of this child stream for one issue, doing only what it does for this stream.

        The SDK runs its whole stream sync once per issue: a log call, a SCHEMA message built and dropped
        by the writer as a duplicate, the batch-config lookup, the replication-key signpost and starting
        value (none: full table), two meters, the state-partition lookups. That cost ~110 us per issue,
        as much as reading its changelog. Here: the SCHEMA once, then exactly the per-record steps of the
        SDK's `_sync_records` that act on this stream (post-process, RECORD through the stream maps; no
        bookmark to advance in full-table mode), its STATEs as the SDK writes them (every
        `STATE_MSG_FREQUENCY` records and at the end), and the same
        `record_count` / `sync_duration` totals (sdk_metric_totals.py). Errors are logged and reported
        as the SDK's sync reports them.
        """
        started = time.perf_counter()
        self.context = MappingProxyType(context)
        count = 0
        with error_reporting.in_stream(self.name):
            try:
                if not self._schema_sent:
                    self._write_schema_message()
                    self._schema_sent = True
                for entry in self.get_records(context):
                    record = self.post_process(entry, context)
                    if record is not None:
                        self._write_record_message(record)
                        count += 1
                        if count % self.STATE_MSG_FREQUENCY == 0:
                            self._write_state_message()
            except Exception:
                self.logger.error("An unhandled error occurred while syncing '%s'", self.name)
                raise
            finally:
                totals = self.run.metric_totals
                totals.add(self.name, metrics.Metric.RECORD_COUNT, "counter", count)
                totals.add(self.name, metrics.Metric.SYNC_DURATION, "timer", time.perf_counter() - started)
            self._write_state_message()

    def fetch_entries(self, context: dict) -> list[dict]:
        """All entries of one issue (runs in worker threads); ``[]`` if the issue vanished meanwhile."""
        try:
            return self.request_entries(context)
        except TrackerNotFoundError:
            self.run.stats.add("changelog_missing")
            self.run.logger.warning(
                "changelog of issue %s (%s) not found (HTTP 404): deleted or hidden since the search",
                context.get("issue_key"),
                context.get("issue_id"),
            )
            return []

    def request_entries(self, context: dict) -> list[dict]:
        """The SDK's `request_records` for one issue, without the per-request work that repeats itself.

        For each page the SDK builds a `requests.Request` and has the session prepare it (cookies, headers,
        parameters and hooks merged, the URL parsed and re-encoded, the request authenticated) and then
        builds its retry decorator anew: ~150 us of a ~560 us request, one request per issue. Here each
        page's request is the SDK's (`get_http_request`: URL, parameters encoded as the SDK encodes them),
        prepared as a copy of one prepared GET (`prepared_get`) and sent through the stream's one retrying
        send; paging (the `Link` header, with the paginator's loop check), validation, retries and the
        request count are the SDK's, and as in the SDK an empty page ends the paging. Left out: the SDK's
        `update_sync_costs` (nothing unless `calculate_sync_cost` is overridden; it is not) and the request
        counter's context (the totals carry none, sdk_metric_totals.py).
        """
        entries: list[dict] = []
        paginator = self.get_new_paginator()
        with self.get_http_request_counter() as requests_made:
            while True:
                page_request = self.get_http_request(page=PageContext(context, paginator.current_value))
                request = self.prepared_get(page_request.url, page_request.encode_params())
                response = self.send_retrying(request)
                requests_made.increment()
                page = list(self.parse_response(response))
                if not page:
                    break
                entries.extend(page)
                paginator.advance(response)
                if paginator.finished:
                    break
        return entries

    def prepared_get(self, url: str, params: str = "") -> requests.PreparedRequest:
        """A GET of `url` with the encoded query `params`, as the SDK prepares it
        (`build_prepared_request`), made from a copy of one.

        Between two GETs of this stream only the URL differs (every thread's session is set up alike,
        transport.py, and the headers are the stream's fixed `http_headers`), so the session's preparation
        is done once per stream and each request re-prepares only its URL. A session that holds cookies
        (Tracker sets none today) gets the full preparation every time: its `Cookie` header is made per
        request.
        """
        if self.requests_session.cookies:
            return self.build_prepared_request(
                method="GET", url=url, params=params, headers=self.http_headers
            )
        template = self._get_template
        if template is None:  # two workers may both build it: the same request either way
            template = self.build_prepared_request(method="GET", url=self.url_base, headers=self.http_headers)
            self._get_template = template
        request = template.copy()
        request.prepare_url(url, params)
        return request

    def get_records(self, context: dict | None) -> Iterable[dict]:
        assert context is not None, "issue_changelog is only synced as a child of issues"
        try:
            future = self.run.prefetcher.take(context["issue_id"])
            entries = self.fetch_entries(context) if future is None else future.result()
        except BaseException:
            self.run.abort()  # stop the workers before the error unwinds the sync
            raise
        yield from entries

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        row = normalise_timestamps(row)
        if context:
            row["issue_id"] = context["issue_id"]
            row["issue_key"] = context.get("issue_key")
        self.run.stats.add("changelog_entries")
        return row
