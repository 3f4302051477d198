"""Turning HTTP failures into messages a user can act on (and that never contain a token)."""

from __future__ import annotations

import json
import math
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlparse

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_yandex_tracker.timestamps import utc_now

RETRY_AFTER_CAP_S = 120.0


class TrackerNotFoundError(FatalAPIError):
    """HTTP 404; streams decide whether that is fatal (a queue) or skippable (a deleted issue)."""

    def __init__(self, message: str, response: requests.Response) -> None:
        super().__init__(message)
        self.response = response


class TrackerForbiddenError(FatalAPIError):
    """HTTP 403: the credentials or the organisation are refused, or (for one issue) the token may no longer
    read it; fatal, except where a stream can tell the two apart (an issue set aside earlier)."""

    def __init__(self, message: str, response: requests.Response) -> None:
        super().__init__(message)
        self.response = response


class ScrollLostError(FatalAPIError):
    """A scroll continuation was refused (expired TTL or unknown id) or its answer lost: restart from the
    last record."""


class InvalidBodyError(RetriableAPIError):
    """HTTP 2xx whose body is not complete JSON (truncated transfer, proxy error page)."""


def first_line(error: BaseException) -> str:
    """An error's first line for a log or a reason, or its type's name when it has no message."""
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def api_messages(response: requests.Response) -> str:
    """``errorMessages`` and ``errors`` of a Tracker error body, or a short excerpt of the raw body."""
    try:
        body: Any = json.loads(response.content or b"null")
    except ValueError:
        text = (response.text or "").strip().replace("\n", " ")
        return text[:200]
    if not isinstance(body, dict):
        return ""
    parts = [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts.extend(f"{k}: {v}" for k, v in errors.items())
    return "; ".join(parts)


def describe_request(response: requests.Response) -> str:
    """``METHOD /path`` without query string (the query may contain scroll ids, never secrets)."""
    request = response.request
    method = request.method if request is not None else "GET"
    path = urlparse(response.url or (request.url if request is not None else "") or "").path
    return f"{method} {path}"


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """``Retry-After`` as seconds (delta or HTTP-date), capped; ``None`` when absent or unparseable."""
    if response is None:
        return None
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:  # `-0000` ("no zone information"): the date is in UTC all the same
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - utc_now()).total_seconds()
    if not math.isfinite(seconds):  # `nan`, `inf`: not a pause anyone meant
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def auth_failed_message(response: requests.Response, auth_setting: str) -> str:
    detail = api_messages(response)
    return (
        f"Tracker API authentication failed (HTTP 401 on {describe_request(response)}): check `token`/"
        f"`iam_token` (configured: `{auth_setting}`). An OAuth token is sent as `Authorization: OAuth "
        "<token>`, an IAM token as `Authorization: Bearer <token>`; make sure the value is of that kind, "
        "not expired, and issued for the organisation you configured."
        + (f" API said: {detail}" if detail else "")
    )


def forbidden_message(response: requests.Response, org_setting: str, org_header: str, org_value: str) -> str:
    detail = api_messages(response)
    return (
        f"Tracker API refused access (HTTP 403 on {describe_request(response)}). The organisation is sent "
        f"from `{org_setting}` as header {org_header}: {org_value!r}. Use `org_id` (X-Org-ID) for a "
        "Yandex 360 organisation and `cloud_org_id` (X-Cloud-Org-ID) for a Yandex Cloud organisation, "
        "check the id, and check that the token's user may read this data (the API applies the same "
        "permissions as the UI)." + (f" API said: {detail}" if detail else "")
    )


def generic_message(response: requests.Response) -> str:
    detail = api_messages(response)
    return (
        f"Tracker API error HTTP {response.status_code} {response.reason or ''} on "
        f"{describe_request(response)}" + (f": {detail}" if detail else "")
    ).strip()
