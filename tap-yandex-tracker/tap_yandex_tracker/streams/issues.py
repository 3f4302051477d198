"""``issues``: scroll search sorted by ``updatedAt``, incremental and resumable.

Scroll mode has no 10 000-result ceiling. The body is fixed for one scroll; continuation requests carry the
newest ``X-Scroll-Id`` (+ token); the scroll ends when a response has no ``X-Scroll-Id``, and is released
with ``_clear``. If a continuation is refused (TTL expired), the search restarts at the last emitted
``updatedAt`` and skips the ids already emitted at exactly that millisecond - nothing is skipped, nothing
before it is re-read. So it does when a continuation's answer is lost (a timeout, a broken connection, a
5xx, a cut body): the API may have moved the scroll on already, and the same scroll id sent again would
answer with the page after the lost one (`_continuation`).
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError
from datetime import datetime, timedelta
from typing import Any

import requests
from singer_sdk.exceptions import FatalAPIError

from tap_yandex_tracker import schemas
from tap_yandex_tracker.client import RETRIED_ERRORS, TrackerStream, prune
from tap_yandex_tracker.errors import (
    ScrollLostError,
    TrackerForbiddenError,
    TrackerNotFoundError,
    first_line,
    generic_message,
)
from tap_yandex_tracker.pagination import ScrollPaginator, ScrollToken
from tap_yandex_tracker.set_aside import MAX_IN_A_ROW, SetAsideIssues, concerns_one_issue
from tap_yandex_tracker.timestamps import (
    EPOCH,
    format_utc,
    normalise_timestamps,
    numbers_from_strings,
    numeric_fields,
    to_datetime,
    to_tracker_filter_ts,
    to_tracker_query_ts,
)
from tap_yandex_tracker.transport import PAUSING_STATUS, bind_first_in_line

#: A refused scroll continuation means "start a new scroll" for every 4xx but these: the status of an
#: expired or unknown scroll id is not documented (404, 400, 410, 422 ... are all plausible), while these
#: say something about the credentials or the request rate that a new scroll would not change.
NOT_A_LOST_SCROLL = (401, 403, 429)
#: Search pages read ahead of the one whose records go out (their changelogs are fetched meanwhile; see
#: `prefetch.PAGES_KEPT`). Two, so a record output that lags one page behind the workers never stalls them.
SEARCH_PAGES_AHEAD = 2
_LAST_PAGE = object()
MAX_RESTARTS_WITHOUT_PROGRESS = 5
#: The query language reads a date-time without an offset in the user's time zone (tracker-api.md 2.1; not
#: documented precisely) and takes none: a bound written in UTC would start a search up to 12 h late for a
#: user west of UTC (UTC-12 at most). So the bound goes that much earlier, and the issues below the exact
#: bound are skipped here, before their changelogs are fetched.
QUERY_ZONE_MARGIN = timedelta(hours=12)
#: A restart resumes after the last issue read, which is only complete when the API returns the search in
#: order; once it has not (the bookmark guard pinned the bookmark), older issues may still be unread.
_LOST_WHILE_PINNED = (
    "issue search scroll was lost ({}) after the API had returned issues out of order: a restart after the "
    "last issue read could skip older ones not read yet, so the run stops here; the bookmark stays at {} "
    "(the STATE written says so) and the next run reads the search again from there"
)
_HAS_OR = re.compile(r"\bor\b", re.IGNORECASE)
ISSUE_NUMBERS = numeric_fields(schemas.ISSUES)


class IssuesStream(TrackerStream):
    """``POST /issues/_search`` in scroll mode, ``order: +updatedAt``."""

    name = "issues"
    path = "/issues/_search"
    http_method = "POST"
    primary_keys = ("id",)
    replication_key = "updatedAt"
    is_sorted = True
    # The look-back deliberately re-reads records older than the bookmark: the SDK's sortedness check
    # would call that an error.
    check_sorted = False
    schema = schemas.ISSUES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._body: dict[str, Any] = {}
        self._paginator: ScrollPaginator | None = None
        self._skip_before: str | None = None
        self._skip_ids: set[str] = set()
        self._last_ts: str | None = None
        self._ids_at_last_ts: set[str] = set()
        self._retrying = False
        # The bookmark guard (see `_guard_order`).
        self._start_bookmark: Any = None
        self._newest_seen: str | None = None
        self._pinned = False

    # -- request building ----------------------------------------------------------------------------
    def search_body(self, lower_bound: datetime | None) -> dict[str, Any]:
        """``filter`` form (exact, millisecond bound), or ``query`` form when the user gave a query."""
        queues, query = list(self.settings.queues), self.settings.query
        if query:
            parts = []
            if queues:
                parts.append("Queue: " + ", ".join(queues))
            # Parentheses only when needed: an OR in the user's query must not swallow our bound.
            parts.append(f"({query})" if _HAS_OR.search(query) else query)
            if lower_bound is not None:
                zoneless = to_tracker_query_ts(lower_bound - QUERY_ZONE_MARGIN)
                parts.append(f'Updated: >= "{zoneless}"')
            return {"query": " AND ".join(parts) + ' "Sort by": Updated ASC'}
        search_filter: dict[str, Any] = {"updatedAt": {"from": to_tracker_filter_ts(lower_bound or EPOCH)}}
        if queues:
            search_filter["queue"] = queues
        return {"filter": search_filter, "order": "+updatedAt"}

    def get_new_paginator(self) -> ScrollPaginator:  # type: ignore[override]
        self._paginator = ScrollPaginator()
        return self._paginator

    def get_url_params(self, context: dict | None, next_page_token: ScrollToken | None) -> dict[str, Any]:
        ttl = self.settings.scroll_ttl_ms
        if next_page_token is None:
            return {
                "scrollType": "sorted",
                "perScroll": self.settings.page_size,
                "scrollTTLMillis": ttl,
            }
        params: dict[str, Any] = {"scrollId": next_page_token.scroll_id, "scrollTTLMillis": ttl}
        if next_page_token.scroll_token:
            params["scrollToken"] = next_page_token.scroll_token
        return params

    def get_http_request(self, *, page: Any) -> Any:
        return super(TrackerStream, self).get_http_request(page=page)  # never follow Link here

    def prepare_request_payload(self, context: dict | None, next_page_token: Any) -> dict[str, Any]:
        return self._body  # the same body on every scroll request

    def validate_response(self, response: requests.Response) -> None:
        try:
            super().validate_response(response)
        except FatalAPIError as exc:
            continuation = "scrollId=" in (response.request.url or "") if response.request else False
            lost = 400 <= response.status_code < 500 and response.status_code not in NOT_A_LOST_SCROLL
            if continuation and lost:
                raise ScrollLostError(generic_message(response)) from exc
            raise

    # -- records -------------------------------------------------------------------------------------
    @staticmethod
    def normalised(raw: dict) -> dict:
        """An issue as the API sent it, in the tap's canonical form."""
        record = prune(normalise_timestamps(raw), schemas.ISSUE_FIELD_NAMES, schemas.ISSUE_CATCH_ALL)
        return numbers_from_strings(record, ISSUE_NUMBERS)

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """Normalise one page, drop what a restarted scroll already emitted, start its changelog fetches."""
        page = []
        for raw in super().parse_response(response):
            record = self.normalised(raw)
            if self._skip_before is not None:
                updated = record.get("updatedAt") or ""
                if updated < self._skip_before or (
                    updated == self._skip_before and record.get("id") in self._skip_ids
                ):
                    continue
            page.append(record)
        if self._prefetch_enabled():
            self.run.prefetcher.submit_page(
                self._changelog.fetch_entries, (self.get_child_context(r, None) for r in page)
            )
        yield from page

    def request_records(self, context: dict | None) -> Iterator[dict]:
        """The SDK's paging loop, run ahead in a thread of its own. The search thread requests page k+1
        as soon as page k has arrived (and its changelog fetches are started), up to
        `SEARCH_PAGES_AHEAD` pages beyond the one whose records go out: so the changelog workers never
        run dry at a page boundary, not even while the record output lags behind them, and the search's
        own round trips are hidden. Errors surface where the SDK's loop would raise them: when the page
        after the last good one is taken."""
        pages: queue.Queue[Any] = queue.Queue(maxsize=SEARCH_PAGES_AHEAD)
        stop = threading.Event()
        searcher = threading.Thread(
            target=self._search_pages, args=(context, pages, stop), name="tracker-search", daemon=True
        )
        searcher.start()
        try:
            while (page := pages.get()) is not _LAST_PAGE:
                if isinstance(page, BaseException):
                    raise page
                yield from page
        finally:
            stop.set()
            with contextlib.suppress(queue.Empty):  # unblock a searcher waiting to hand over a page
                while True:
                    pages.get_nowait()

    def _search_pages(self, context: dict | None, pages: queue.Queue[Any], stop: threading.Event) -> None:
        """The search thread: every page's records into `pages`, then `_LAST_PAGE` (or the error)."""

        def hand_over(item: Any) -> bool:
            while not stop.is_set():
                with contextlib.suppress(queue.Full):
                    pages.put(item, timeout=0.1)
                    return True
            return False

        bind_first_in_line(True)
        paginator = self.get_new_paginator()
        first_page = self.request_decorator(self._request)
        next_page = self.request_decorator(self._continuation)
        try:
            with self.get_http_request_counter() as request_counter:
                request_counter.with_context(context)
                while not paginator.finished and not stop.is_set():
                    prepared = self._prepare_request(context=context, page=paginator)
                    send = first_page if paginator.current_value is None else next_page
                    response = send(prepared, context)
                    records = list(self.parse_response(response))
                    request_counter.increment()
                    self.update_sync_costs(prepared, response, context)
                    if not records and not paginator.continue_if_empty(response):
                        break
                    paginator.advance(response)
                    if records and not hand_over(records):
                        return
        except BaseException as error:  # handed to the consumer, raised where the SDK's loop would raise
            hand_over(error)
            return
        hand_over(_LAST_PAGE)

    def _continuation(self, prepared: requests.PreparedRequest, context: dict | None) -> requests.Response:
        """One scroll continuation, never sent twice with the same scroll id.

        Scroll cursors of this kind move on when the server produces a page, not when the client has it,
        and the documentation does not say otherwise: after a timeout, a broken connection, a 5xx or a cut
        body, the page may be gone from the scroll, and asking again would return the next one, losing a
        page's issues without an error (and the bookmark would move past them). Such a failure ends the
        scroll instead (`ScrollLostError`): the search restarts after the last issue emitted, which costs a
        page or two read again. A 429 is retried in place: the API refused it before reading it."""
        try:
            return self._request(prepared, context)
        except RETRIED_ERRORS as error:
            response = getattr(error, "response", None)
            if response is not None and response.status_code == PAUSING_STATUS:
                raise
            msg = f"the answer to a scroll page was lost ({first_line(error)}); the scroll may have moved on"
            raise ScrollLostError(msg) from error

    def _prefetch_enabled(self) -> bool:
        return any(child.selected for child in self.child_streams)

    @property
    def _changelog(self) -> Any:
        """The ``issue_changelog`` child (its ``fetch_entries`` runs in the prefetch workers)."""
        return next(child for child in self.child_streams if child.name == "issue_changelog")

    def get_child_context(self, record: dict, context: dict | None) -> dict:
        return {"issue_id": record["id"], "issue_key": record.get("key")}

    def _sync_children(self, child_context: dict | None) -> None:
        """Each issue's changelog through `IssueChangelogStream.sync_issue` rather than the SDK's whole
        child-stream sync (its per-issue cost was as large as reading the changelog); the SDK's way
        whenever that does not apply."""
        changelog = self._changelog
        if child_context is not None and self.child_streams == [changelog] and changelog.syncs_issue_directly:
            changelog.sync_issue(child_context)
        else:
            super()._sync_children(child_context)

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        return row  # already normalised in parse_response

    def get_records(self, context: dict | None) -> Iterator[dict]:
        self._check_queues()
        if not self.selected and self._prefetch_enabled():
            self.run.logger.warning(
                "issues: only issue_changelog is selected; the SDK keeps no bookmark for an unselected "
                "stream, so every run reads every issue's changelog again: select `issues` too for "
                "incremental runs"
            )
        if self._prefetch_enabled():
            self.run.prefetcher.start()
        start = self.get_starting_timestamp(context)
        lookback = timedelta(minutes=self.settings.lookback_minutes)
        lower_bound = start - lookback if start is not None else None
        self._body = self.search_body(lower_bound)
        self._skip_before, self._skip_ids = None, set()
        if self.settings.query and lower_bound is not None:  # the bound went earlier: see QUERY_ZONE_MARGIN
            self._skip_before = format_utc(lower_bound)
        self._last_ts, self._ids_at_last_ts = None, set()
        state = self.get_context_state(context)
        self._start_bookmark = state.get("replication_key_value")
        self._newest_seen, self._pinned = None, False
        self.run.set_aside = SetAsideIssues.from_state(state)
        self.logger.info(
            "issues: searching from %s (bookmark/start_date %s minus %s min look-back)",
            to_tracker_filter_ts(lower_bound) if lower_bound else "the beginning",
            start.isoformat() if start else "none",
            lookback.total_seconds() / 60,
        )
        restarts_without_progress = 0
        try:
            yield from self._retry_set_aside(context)
            while True:
                emitted_before = self.run.stats.issues
                try:
                    yield from self._scroll(context)
                    self._unpin(context)
                    self.run.set_aside.save(self.get_context_state(context))
                    break
                except ScrollLostError as exc:
                    self._clear_scrolls()
                    if self._pinned:
                        where = self._start_bookmark or "the beginning"
                        raise FatalAPIError(_LOST_WHILE_PINNED.format(exc, where)) from exc
                    progressed = self.run.stats.issues > emitted_before
                    restarts_without_progress = 0 if progressed else restarts_without_progress + 1
                    if restarts_without_progress >= MAX_RESTARTS_WITHOUT_PROGRESS:
                        msg = f"issue search scroll keeps failing without progress: {exc}"
                        raise FatalAPIError(msg) from exc
                    self._restart_after_last_record(exc)
        except BaseException:
            self.run.abort()
            raise
        finally:
            self._clear_scrolls()

    def _scroll(self, context: dict | None) -> Iterator[dict]:
        for record in self.request_records(context):
            updated = record["updatedAt"]
            self._guard_order(context, updated)
            if self._changelog_keeps_failing(record, context):
                continue
            if updated != self._last_ts:
                self._last_ts, self._ids_at_last_ts = updated, set()
            self._ids_at_last_ts.add(record["id"])
            self.run.stats.add("issues")
            self.run.stats.maybe_log_progress(self.run.logger)
            yield record

    # -- the bookmark guard ----------------------------------------------------------------------------
    def _guard_order(self, context: dict | None, updated: str) -> None:
        """Advance the bookmark only over what is provably complete.

        The search asks for ascending ``updatedAt``; while the API honours that, the bookmark follows the
        records and a resumed run misses nothing. If a record ever comes back older than one before it,
        the bookmark could claim issues that were not read yet: it goes back to where this run started (a
        STATE says so before the record is processed) and stays there until the search has been read to
        the end, when the newest ``updatedAt`` seen becomes the bookmark.
        """
        if not self._pinned and self._newest_seen is not None and updated < self._newest_seen:
            self._pin(context, updated)
        if self._newest_seen is None or updated > self._newest_seen:
            self._newest_seen = updated

    def _increment_stream_state(self, latest_record: dict, *, context: dict | None = None) -> None:
        # Pinned: the bookmark waits for the end of the search (`_guard_order`). A set-aside issue retried
        # before the search is older than the bookmark: it must not pull the bookmark back.
        if not self._pinned and not self._retrying:
            super()._increment_stream_state(latest_record, context=context)

    # -- issues set aside (see set_aside.py) ------------------------------------------------------------
    def _changelog_keeps_failing(self, record: dict, context: dict | None) -> bool:
        """Wait for the issue's prefetched changelog; if the API kept failing for this issue alone, set the
        issue aside (not emitted) and go on. Whatever else went wrong surfaces in the child, as before."""
        future = self.run.prefetcher.peek(record["id"]) if self._prefetch_enabled() else None
        try:
            error = future.exception() if future is not None else None
        except CancelledError:
            error = None
        issue_id = str(record["id"])
        if error is None or not concerns_one_issue(error):
            self.run.set_aside.in_a_row = 0
            if issue_id in self.run.set_aside.entries and error is None:
                self.run.set_aside.resolve(issue_id, "recovered", record.get("key"))
                self._save_set_aside(context)
            return False
        self.run.set_aside.in_a_row += 1
        if self.run.set_aside.in_a_row >= MAX_IN_A_ROW:
            return False  # the API is failing, not one issue: the child raises the error and the run stops
        self.run.prefetcher.take(issue_id)
        reason = first_line(error)
        self.run.set_aside.add(record, reason)
        self._save_set_aside(context)
        self.run.stats.add("set_aside")
        self.run.logger.warning(
            "issue %s (%s) SET ASIDE: its changelog could not be read (%s); the rest of the sync goes on, "
            "and the issue is retried at the start of every later run until it loads (see the "
            "skipped_issues table)",
            record.get("key"),
            issue_id,
            reason,
        )
        return True

    def _retry_set_aside(self, context: dict | None) -> Iterator[dict]:
        """The issues set aside by earlier runs, first: each that loads now is emitted and recovered."""
        if not self.run.set_aside.entries or not self._prefetch_enabled():
            return
        self.run.logger.info("issues: retrying %d issues set aside earlier", len(self.run.set_aside.entries))
        changelog = self._changelog
        for issue_id in list(self.run.set_aside.entries):
            try:
                record = self.normalised(self.payload(self.send_request("GET", f"/issues/{issue_id}")))
                entries = changelog.fetch_entries(self.get_child_context(record, context))
            except TrackerNotFoundError:
                self.run.set_aside.resolve(issue_id, "deleted")
                self._save_set_aside(context)
                self.run.logger.warning("issue %s set aside earlier no longer exists (HTTP 404)", issue_id)
                continue
            except TrackerForbiddenError:
                # Moved where the token cannot read it, or every request refused (a wrong org_id, which the
                # search then stops the run on): either way it stays set aside, and the run goes on.
                key = self.run.set_aside.still_failing(issue_id, "HTTP 403: the token cannot read it")
                self._save_set_aside(context)
                self.run.stats.add("set_aside")
                self.run.logger.warning("issue %s set aside earlier cannot be read now (HTTP 403)", key)
                continue
            except Exception as error:
                if not concerns_one_issue(error):
                    raise
                key = self.run.set_aside.still_failing(issue_id, str(error).splitlines()[0])
                self._save_set_aside(context)
                self.run.stats.add("set_aside")
                self.run.logger.warning("issue %s is still set aside: %s", key, error)
                continue
            self.run.prefetcher.put(issue_id, entries)
            self._retrying = True
            try:
                yield record
            finally:
                self._retrying = False
            # Only now, with the issue and its changelog written: the issue lies behind the bookmark, so a
            # STATE without it in `set_aside` before that (the changelog's own STATE comes first) would
            # let a run stopped in between never read it again.
            self.run.set_aside.resolve(issue_id, "recovered", record.get("key"))
            self._save_set_aside(context)
            self.run.logger.info("issue %s set aside earlier loads now", record.get("key"))

    def _save_set_aside(self, context: dict | None) -> None:
        self.run.set_aside.save(self.get_context_state(context))
        self.state_manager.is_flushed = False

    def _pin(self, context: dict | None, updated: str) -> None:
        self._pinned = True
        self.run.logger.warning(
            "issues: the API returned an issue updated at %s after one updated at %s, although the search "
            "is sorted by updatedAt; the bookmark stays at %s until the search completes (a run stopped "
            "before then starts over from there)",
            updated,
            self._newest_seen,
            self._start_bookmark or "the beginning",
        )
        state = self.get_context_state(context)
        if self._start_bookmark is None:
            state.pop("replication_key_value", None)
        else:
            state["replication_key_value"] = self._start_bookmark
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _unpin(self, context: dict | None) -> None:
        """The search was read to the end: everything up to the newest ``updatedAt`` seen is loaded."""
        if self._pinned and self._newest_seen is not None:
            state = self.get_context_state(context)
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = self._newest_seen
            self.state_manager.is_flushed = False

    def _restart_after_last_record(self, exc: Exception) -> None:
        self.run.stats.add("scroll_restarts")
        if self._last_ts is not None:
            self._skip_before, self._skip_ids = self._last_ts, set(self._ids_at_last_ts)
            self._body = self.search_body(to_datetime(self._last_ts))
        self.run.logger.warning(
            "issue search scroll was lost (%s); restarting the search from updatedAt >= %s",
            exc,
            self._last_ts or "the original bound",
        )

    def _clear_scrolls(self) -> None:
        """Release server-side scroll contexts (best effort: they expire anyway)."""
        paginator, self._paginator = self._paginator, None
        if paginator is None or not paginator.seen:
            return
        try:
            self.send_request("POST", "/system/search/scroll/_clear", json_body=paginator.seen, retry=False)
        except Exception as exc:
            self.logger.debug("scroll _clear failed: %s", exc)

    def _check_queues(self) -> None:
        """Fail early and clearly on a queue that does not exist or that the token cannot see."""
        for queue_key in self.settings.queues:
            try:
                self.send_request("GET", f"/queues/{queue_key}")
            except TrackerNotFoundError as exc:
                msg = (
                    f"queue {queue_key} does not exist or is not visible to this token "
                    f"(GET /queues/{queue_key} returned 404); check the `queues` setting"
                )
                raise FatalAPIError(msg) from exc
