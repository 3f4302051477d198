"""The project's one rule for instants: inside Python every datetime is aware and in UTC; a naive one is
UTC by convention. Every module that takes a datetime from outside (the SDK, a driver, a user) passes it
through :func:`as_utc`."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC: a naive datetime is taken to be UTC, an aware one is converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
