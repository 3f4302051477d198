"""``TrackerStream``: what every Tracker endpoint shares.

Auth and organisation headers, ``Accept-Language: en`` (the API defaults to Russian display names),
response validation with actionable messages, and one retry policy (``Retry-After`` first, else
exponential backoff with jitter) that applies identically in the main thread and in the changelog workers.
"""

from __future__ import annotations

import random
import typing as t
from collections.abc import Generator, Iterable, Iterator
from functools import cached_property
from typing import Any

import backoff
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams.rest import RESTStream

from tap_yandex_tracker import error_reporting
from tap_yandex_tracker.auth import TrackerAuthenticator
from tap_yandex_tracker.errors import (
    InvalidBodyError,
    TrackerForbiddenError,
    TrackerNotFoundError,
    auth_failed_message,
    describe_request,
    forbidden_message,
    generic_message,
    retry_after_seconds,
)
from tap_yandex_tracker.json_codec import response_json
from tap_yandex_tracker.pagination import TrackerLinkPaginator
from tap_yandex_tracker.run_context import TapRun
from tap_yandex_tracker.settings import TapSettings
from tap_yandex_tracker.singer_writer import FlushedSync
from tap_yandex_tracker.timestamps import normalise_timestamps

if t.TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.tap_base import Tap

#: Statuses worth another try: rate limiting, conflicts the official client also retries, server errors.
RETRY_STATUSES = (409, 429)
#: The failures a request is sent again after: the SDK's own list (`RESTStream.request_decorator`), named
#: here so that a request which must not be sent twice can tell them apart (issues.py, scroll pages).
RETRIED_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class TrackerStream(FlushedSync, RESTStream):
    """Base class of all Tracker streams."""

    records_jsonpath = "$[*]"
    payload_as_json = True
    # Records are the API's own JSON, already normalised by `post_process` (timestamps, numbers the product
    # reads); conforming them to the schema cost CPU per record and changed nothing. It would also refuse
    # untyped (any JSON) properties, which the schemas use for every field the product does not read.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    extra_retry_statuses = RETRY_STATUSES
    _LOG_REQUEST_METRICS = False  # one line per request would drown the progress log; we count instead

    def __init__(self, tap: Tap, *, run: TapRun, **kwargs: Any) -> None:
        self.run = run
        super().__init__(tap, **kwargs)

    @property
    def settings(self) -> TapSettings:
        return self.run.settings

    def sync(self, context: dict | None = None) -> None:
        """The SDK's sync; an error escaping it is reported to Sentry with this stream's name."""
        with error_reporting.in_stream(self.name):
            super().sync(context)

    # -- requests ------------------------------------------------------------------------------------
    @property
    def url_base(self) -> str:
        return self.settings.base_url

    @property
    def http_headers(self) -> dict:
        name, value = self.settings.org_header
        return {"Accept-Language": "en", name: value, "User-Agent": "tap-yandex-tracker"}

    @property
    def authenticator(self) -> TrackerAuthenticator:
        return self.run.authenticator

    @property
    def requests_session(self) -> requests.Session:
        return self.run.gate.session()

    @property
    def timeout(self) -> float:
        return self.settings.request_timeout

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: a per-context ACTIVATE_VERSION would let a target wipe rows of untouched issues."""
        return False

    def get_new_paginator(self) -> TrackerLinkPaginator:
        return TrackerLinkPaginator()

    def get_url_params(self, context: dict | None, next_page_token: Any) -> dict[str, Any]:
        return {}

    def get_http_request(self, *, page: Any) -> Any:
        request = super().get_http_request(page=page)
        if page.next_page_token:  # follow the server's `next` link verbatim (it carries the cursor)
            request.url = page.next_page_token.geturl()
            request.params = {}
        return request

    def send_request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        retry: bool = True,
    ) -> requests.Response:
        """One request outside the SDK's paging loop, with the same headers, validation and retries."""
        prepared = self.build_prepared_request(
            method=method,
            url=self.url_base + path,
            params=params or {},
            headers=self.http_headers,
            json=json_body,
        )

        return self.send_retrying(prepared) if retry else self.send_once(prepared)

    def send_once(self, prepared: requests.PreparedRequest) -> requests.Response:
        """One prepared request sent and validated, as the SDK's `_request` does (without its metric log,
        which this tap turns off)."""
        response = self.requests_session.send(
            self.authenticator(prepared), timeout=self.timeout, allow_redirects=self.allow_redirects
        )
        self.validate_response(response)
        return response

    def request_decorator(self, func: t.Callable[..., Any]) -> t.Callable[..., Any]:
        """The SDK's retry decorator (same wait generator, tries, handler and logger) over
        `RETRIED_ERRORS`."""
        return backoff.on_exception(
            self.backoff_wait_generator,
            RETRIED_ERRORS,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=self.logger,
        )(func)

    @cached_property
    def send_retrying(self) -> t.Callable[[requests.PreparedRequest], requests.Response]:
        """`send_once` under the SDK's retry decorator, built once (the SDK builds one per paged request;
        the decorator keeps no state between calls, so threads share it)."""
        return self.request_decorator(self.send_once)

    # -- responses -----------------------------------------------------------------------------------
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status in self.extra_retry_statuses or status >= 500:
            # (A 429's Retry-After has paused every thread already: the gate did, transport.py.)
            raise RetriableAPIError(generic_message(response), response)
        if status == 401:
            raise FatalAPIError(auth_failed_message(response, self.settings.auth_setting))
        if status == 403:
            setting, (header, value) = self.settings.org_setting, self.settings.org_header
            raise TrackerForbiddenError(forbidden_message(response, setting, header, value), response)
        if status == 404:
            raise TrackerNotFoundError(generic_message(response), response)
        if status >= 400:
            raise FatalAPIError(generic_message(response))
        if self.expects_json_body and not _empty_body_expected(response):
            try:
                response_json(response)
            except ValueError as exc:
                msg = (
                    f"Tracker API returned HTTP {status} with a truncated or non-JSON body on "
                    f"{describe_request(response)} ({len(response.content)} bytes)"
                )
                raise InvalidBodyError(msg, response) from exc

    expects_json_body = True

    def response_error_message(self, response: requests.Response) -> str:
        return generic_message(response)

    @staticmethod
    def payload(response: requests.Response) -> Any:
        return response_json(response)

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        body = self.payload(response)
        if isinstance(body, list):
            yield from body
        elif isinstance(body, dict):  # tolerate {"items": [...]}-style wrappers
            items = body.get("items") or body.get("values")
            if isinstance(items, list):
                yield from items
            else:
                yield body

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        return normalise_timestamps(row)

    # -- records out ---------------------------------------------------------------------------------
    def _generate_record_messages(self, record: dict) -> Iterator[RecordMessage]:
        """The SDK's RECORD messages, minus its walk over every property of every record looking for
        deselected ones when the catalog deselects nothing (the default): that walk cost 8 % of the tap's
        CPU and removed nothing. Type conformance is off (`TYPE_CONFORMANCE_LEVEL`), so the SDK would pass
        the record on unchanged; stream maps apply as in the SDK. A catalog that deselects a property takes
        the SDK's own path."""
        if not self._selects_everything:
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    @cached_property
    def _selects_everything(self) -> bool:
        """Nothing deselected: a property missing from the mask inherits its parent's selection, so every
        entry being true means every property of every record is selected."""
        return self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE and all(self.mask.values())

    # -- retries -------------------------------------------------------------------------------------
    def backoff_max_tries(self) -> int:
        return self.settings.max_retries + 1

    def backoff_jitter(self, value: float) -> float:
        return value  # jitter is applied inside the wait generator, never to a server's Retry-After

    def backoff_wait_generator(self) -> Generator[float, Any, None]:  # type: ignore[override]
        base, cap = self.settings.backoff_base_seconds, self.settings.backoff_max_seconds
        attempt = 0
        exception = yield  # type: ignore[misc]
        while True:
            attempt += 1
            response = getattr(exception, "response", None)
            wait = retry_after_seconds(response) if response is not None else None
            if wait is None:
                ceiling = min(cap, base * (2 ** (attempt - 1)))
                wait = ceiling / 2 + random.uniform(0, ceiling / 2)
            exception = yield wait

    def backoff_handler(self, details: Details) -> None:
        self.run.stats.add("retries")
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        if response is not None:
            reason = f"HTTP {response.status_code}"
            retry_after = response.headers.get("Retry-After")
            if retry_after is not None:
                reason += f" (Retry-After: {retry_after})"
            if isinstance(exc, InvalidBodyError):
                reason = f"HTTP {response.status_code} with a truncated or non-JSON body"
            where = describe_request(response)
        else:
            reason = type(exc).__name__ if exc is not None else "unknown error"
            where = self.path or self.name
        self.run.logger.warning(
            "retrying %s in %.2f s (attempt %d of %d): %s",
            where,
            details.get("wait") or 0.0,
            details.get("tries", 0) + 1,
            self.backoff_max_tries(),
            reason,
        )

    def log_sync_costs(self) -> None:
        """Called by the SDK for every stream once all streams are synced: our end-of-run hook."""
        super().log_sync_costs()
        self.run.finish()


def _empty_body_expected(response: requests.Response) -> bool:
    """``_clear`` answers 200 with an empty body."""
    request = response.request
    return not response.content and request is not None and "/_clear" in (request.path_url or "")


def prune(record: dict, known: t.Collection[str], catch_all: str) -> dict:
    """Move keys not in ``known`` into ``record[catch_all]`` so that the SDK does not drop them."""
    extra = {key: record.pop(key) for key in list(record) if key not in known}
    if extra:
        record.setdefault(catch_all, {}).update(extra)
    return record
