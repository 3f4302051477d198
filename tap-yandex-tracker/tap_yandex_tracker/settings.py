"""Settings: the schema (names and defaults are the public contract), the checks JSON Schema cannot
express, and :class:`TapSettings`, the typed and frozen object the rest of the tap reads.

Every default is written once, in the schema that ``--about`` prints; :meth:`TapSettings.from_config`
fills what a config leaves out from there, so no module repeats a default.

The cross-field rules (exactly one credential, exactly one organisation id) are deliberately *not* written
as ``oneOf`` in the schema: a failing ``oneOf`` makes the validator quote the whole config - tokens
included - in its error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from singer_sdk import typing as th

from tap_yandex_tracker.timestamps import to_datetime

DEFAULT_API_URL = "https://api.tracker.yandex.net"
#: A sort clause of Tracker's query language: `"Sort by": Created DESC` (or its Russian form).
SORT_CLAUSE = re.compile(r"""["']?\s*(sort\s+by|сортир\w*)\s*["']?\s*:""", re.IGNORECASE)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property("api_url", th.StringType, default=DEFAULT_API_URL, description="Base URL of the Tracker API"),
    th.Property(
        "api_version", th.StringType, default="v3", allowed_values=["v2", "v3"], description="Path prefix"
    ),
    th.Property(
        "token",
        th.StringType,
        secret=True,
        sensitive=True,
        description="OAuth token (`Authorization: OAuth ...`); exactly one of `token`, `iam_token`",
    ),
    th.Property(
        "iam_token",
        th.StringType,
        secret=True,
        sensitive=True,
        description="IAM token (`Authorization: Bearer ...`), Yandex Cloud organisations only",
    ),
    th.Property("org_id", th.StringType, description="Yandex 360 organisation id (X-Org-ID)"),
    th.Property("cloud_org_id", th.StringType, description="Yandex Cloud organisation id (X-Cloud-Org-ID)"),
    th.Property("start_date", th.DateTimeType, description="Lower bound on `updatedAt` for the first sync"),
    th.Property("queues", th.ArrayType(th.StringType), description="Only issues of these queues (keys)"),
    th.Property(
        "query",
        th.StringType,
        description=(
            "Extra Tracker query-language filter, combined with the bound (written 12 h early, as the "
            "language reads it in the user's time zone; issues below the bound are skipped)"
        ),
    ),
    th.Property(
        "lookback_minutes", th.IntegerType, default=5, minimum=0, description="Re-read window below bookmark"
    ),
    th.Property(
        "page_size", th.IntegerType, default=100, minimum=1, maximum=1000, description="perScroll / perPage"
    ),
    th.Property(
        "max_concurrent_requests",
        th.IntegerType,
        default=16,
        minimum=1,
        maximum=64,
        description="Ceiling on requests in flight (changelog fetches run in parallel); the tap finds the "
        "level the API admits below it (see adaptive_concurrency)",
    ),
    th.Property(
        "adaptive_concurrency",
        th.BooleanType,
        default=True,
        description="Start at 8 requests in flight, grow while answers are healthy, back off on 429/503 "
        "(halve, or return to the last level that worked); false pins the level at max_concurrent_requests",
    ),
    th.Property("request_timeout", th.NumberType, default=60, minimum=1, description="Seconds per request"),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        minimum=0,
        description=(
            "Retries for 429, 5xx, broken connections and truncated bodies (honours Retry-After); a lost "
            "page of the issue search restarts the search after the last issue read instead"
        ),
    ),
    th.Property(
        "backoff_base_seconds",
        th.NumberType,
        default=1.0,
        minimum=0,
        description="First exponential backoff step when the server gives no Retry-After",
    ),
    th.Property("backoff_max_seconds", th.NumberType, default=60.0, minimum=0, description="Backoff cap"),
    th.Property(
        "scroll_ttl_ms",
        th.IntegerType,
        default=60000,
        minimum=100,
        description="scrollTTLMillis of the issue search; an expired scroll is restarted transparently",
    ),
    th.Property(
        "state_interval_seconds",
        th.NumberType,
        default=0.5,
        minimum=0,
        description="Shortest time between two STATE messages while records flow (every stream and the "
        "run still end with one); 0 = a STATE after every issue, as plain singer-sdk taps do",
    ),
    th.Property(
        "batch_scheduling",
        th.BooleanType,
        default=True,
        description="Run the console script's sync under Linux's SCHED_BATCH scheduling policy: a CPU-bound "
        "batch job whose wakeups do not preempt other programs (the target among them); its CPU share is "
        "unchanged. false keeps the default policy; a tap started under another policy keeps that one; "
        "ignored where the policy does not exist and when the tap runs inside another program",
    ),
    th.Property(
        "sentry_dsn",
        th.StringType,
        secret=True,
        sensitive=True,
        description="Sentry DSN: fatal errors and unhandled exceptions are reported there "
        "(needs the `[sentry]` extra)",
    ),
).to_dict()

#: Setting name -> default, as the schema declares it.
DEFAULTS: dict[str, Any] = {
    name: spec["default"] for name, spec in CONFIG_SCHEMA["properties"].items() if "default" in spec
}
#: The settings whose values are credentials (masked everywhere, see redact.py).
SECRET_SETTINGS = tuple(name for name, spec in CONFIG_SCHEMA["properties"].items() if spec.get("secret"))


def _present(config: Mapping[str, Any], name: str) -> bool:
    value = config.get(name)
    return value is not None and str(value).strip() != ""


def check_settings(config: Mapping[str, Any], logger: logging.Logger) -> list[str]:
    """Cross-field checks; returns error messages (never containing a secret value)."""
    errors: list[str] = []
    has_token, has_iam = _present(config, "token"), _present(config, "iam_token")
    if has_token == has_iam:
        errors.append(
            "set exactly one of `token` (OAuth) or `iam_token` (IAM)"
            + (": both are set" if has_token else ": neither is set")
        )
    has_org, has_cloud = _present(config, "org_id"), _present(config, "cloud_org_id")
    if has_org == has_cloud:
        errors.append(
            "set exactly one of `org_id` (Yandex 360, sent as X-Org-ID) or `cloud_org_id` (Yandex Cloud, "
            "sent as X-Cloud-Org-ID)" + (": both are set" if has_org else ": neither is set")
        )
    if has_iam and has_org and not has_cloud:
        # Not an error: an organisation linked to both Yandex 360 and Cloud is addressed with X-Org-ID,
        # and IAM tokens may work there. For a pure Yandex 360 organisation they will not.
        logger.warning(
            "`iam_token` is used with `org_id`: IAM tokens only work for organisations linked to Yandex "
            "Cloud. If the API answers 401/403, use `cloud_org_id`, or an OAuth `token` with `org_id`."
        )
    if config.get("api_version", DEFAULTS["api_version"]) not in ("v2", "v3"):
        errors.append("`api_version` must be `v2` or `v3`")
    page_size = config.get("page_size", DEFAULTS["page_size"])
    if not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        errors.append("`page_size` must be an integer from 1 to 1000")
    api_url = str(config.get("api_url") or DEFAULTS["api_url"])
    if not api_url.startswith(("http://", "https://")):
        errors.append("`api_url` must start with http:// or https://")
    if _present(config, "start_date"):
        try:
            to_datetime(str(config["start_date"]))
            datetime.fromisoformat(str(config["start_date"]))  # how the SDK reads it (a lowercase z fails)
        except ValueError:
            errors.append("`start_date` must be an ISO-8601 date-time, e.g. 2024-01-01T00:00:00Z")
    query = config.get("query")
    if isinstance(query, str) and SORT_CLAUSE.search(query):
        errors.append(
            '`query` has its own sort clause ("Sort by" ...): remove it. The tap sorts the search by '
            "Updated itself, and its bookmark relies on that order (another sort would skip issues)"
        )
    queues = config.get("queues")
    valid_queues = isinstance(queues, list) and all(isinstance(q, str) and q for q in queues)
    if queues is not None and not valid_queues:
        errors.append("`queues` must be a list of queue keys")
    return errors


def _text(config: Mapping[str, Any], name: str) -> str:
    """A string setting; whitespace around it is never part of it (a pasted token often ends in a newline)."""
    value = config.get(name)
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class TapSettings:
    """The settings of one run, typed, with every default applied. Built once, after validation."""

    api_url: str
    api_version: str
    token: str = field(repr=False)
    iam_token: str = field(repr=False)
    org_id: str
    cloud_org_id: str
    start_date: datetime | None
    queues: tuple[str, ...]
    query: str
    lookback_minutes: int
    page_size: int
    max_concurrent_requests: int
    adaptive_concurrency: bool
    request_timeout: float
    max_retries: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    scroll_ttl_ms: int
    state_interval_seconds: float
    batch_scheduling: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TapSettings:
        """The settings of ``config`` (already checked by the schema and :func:`check_settings`)."""
        merged = {**DEFAULTS, **{name: value for name, value in config.items() if value is not None}}
        start_date = _text(merged, "start_date")
        return cls(
            api_url=_text(merged, "api_url").rstrip("/"),
            api_version=_text(merged, "api_version"),
            token=_text(merged, "token"),
            iam_token=_text(merged, "iam_token"),
            org_id=_text(merged, "org_id"),
            cloud_org_id=_text(merged, "cloud_org_id"),
            start_date=to_datetime(start_date) if start_date else None,
            queues=tuple(str(queue) for queue in merged.get("queues") or ()),
            query=_text(merged, "query"),
            lookback_minutes=int(merged["lookback_minutes"]),
            page_size=int(merged["page_size"]),
            max_concurrent_requests=int(merged["max_concurrent_requests"]),
            adaptive_concurrency=bool(merged["adaptive_concurrency"]),
            request_timeout=float(merged["request_timeout"]),
            max_retries=int(merged["max_retries"]),
            backoff_base_seconds=float(merged["backoff_base_seconds"]),
            backoff_max_seconds=float(merged["backoff_max_seconds"]),
            scroll_ttl_ms=int(merged["scroll_ttl_ms"]),
            state_interval_seconds=float(merged["state_interval_seconds"]),
            batch_scheduling=bool(merged["batch_scheduling"]),
        )

    @property
    def base_url(self) -> str:
        """Every request's URL starts with this: ``https://api.tracker.yandex.net/v3``."""
        return f"{self.api_url}/{self.api_version}"

    @property
    def auth_setting(self) -> str:
        """The name of the credential in use, for messages that tell which setting to fix."""
        return "token" if self.token else "iam_token"

    @property
    def org_setting(self) -> str:
        """The name of the organisation setting in use, for messages."""
        return "org_id" if self.org_id else "cloud_org_id"

    @property
    def org_header(self) -> tuple[str, str]:
        """``X-Org-ID`` (Yandex 360) or ``X-Cloud-Org-ID`` (Yandex Cloud), with its value."""
        if self.org_id:
            return "X-Org-ID", self.org_id
        return "X-Cloud-Org-ID", self.cloud_org_id
