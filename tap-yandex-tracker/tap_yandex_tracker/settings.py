"""Settings schema (names and defaults are the public contract) and the checks JSON Schema cannot express.

The cross-field rules (exactly one credential, exactly one organisation id) are deliberately *not* written
as ``oneOf`` in the schema: a failing ``oneOf`` makes the validator quote the whole config - tokens
included - in its error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
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
        "query", th.StringType, description="Extra Tracker query-language filter, combined with the bound"
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
        default=4,
        minimum=1,
        maximum=64,
        description="Upper bound on requests in flight (changelog fetches run in parallel)",
    ),
    th.Property("request_timeout", th.NumberType, default=60, minimum=1, description="Seconds per request"),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        minimum=0,
        description="Retries for 429, 5xx, broken connections and truncated bodies (honours Retry-After)",
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
).to_dict()


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
    if config.get("api_version", "v3") not in ("v2", "v3"):
        errors.append("`api_version` must be `v2` or `v3`")
    page_size = config.get("page_size", 100)
    if not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        errors.append("`page_size` must be an integer from 1 to 1000")
    api_url = str(config.get("api_url") or DEFAULT_API_URL)
    if not api_url.startswith(("http://", "https://")):
        errors.append("`api_url` must start with http:// or https://")
    if _present(config, "start_date"):
        try:
            to_datetime(str(config["start_date"]))
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
