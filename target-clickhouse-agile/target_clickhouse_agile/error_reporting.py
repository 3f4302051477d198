"""Optional error reporting to Sentry (`sentry_dsn`), as the old exporter's EXPORTER_SENTRY_DSN did.

Why it is careful: an event leaves the machine, so it must carry nothing a log line would not. Every
string of every event and breadcrumb is masked by redact.py, which already guards the log records (each
secret setting in every form, the DSN and its keys included), and the trace header, which repeats the
DSN's public key, is dropped. Nothing is imported, and nothing costs, unless `sentry_dsn` is set. The
sink whose batch failed is carried by the error itself: sinks drain in worker threads, and the error
is reported from the main one.

The tap has the same module: the two packages are installed apart, so neither can import the other's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

from target_clickhouse_agile.failures import SetupError
from target_clickhouse_agile.redact import mask, protect
from target_clickhouse_agile.settings import DEFAULTS

PLUGIN = "target-clickhouse-agile"
#: How long a failing run waits for its event to leave before it exits.
FLUSH_SECONDS = 5.0
MAX_BREADCRUMBS = 50
_STREAM = "_reported_stream"  # attribute set on an error by `in_stream`
#: Tags of every event; empty while Sentry is off.
_tags: dict[str, str] = {}


def start(config: Mapping[str, Any]) -> None:
    """Report to `sentry_dsn` from now on; without it, do nothing."""
    dsn = str(config.get("sentry_dsn") or "").strip()
    if not dsn:
        return
    try:
        import sentry_sdk
        from sentry_sdk.integrations.logging import LoggingIntegration
        from sentry_sdk.utils import BadDsn
    except ImportError:
        msg = f"sentry_dsn is set but sentry-sdk is not installed: pip install '{PLUGIN}[sentry]'"
        raise SetupError(msg) from None
    protect(config)  # the masking knows the DSN before anything can be sent
    state_id = os.environ.get("MELTANO_STATE_ID") or str(config.get("state_id") or DEFAULTS["state_id"])
    _tags.update(plugin=PLUGIN, state_id=state_id)
    try:
        sentry_sdk.init(
            dsn=dsn,
            release=f"{PLUGIN}@{version(PLUGIN)}",
            send_default_pii=False,
            include_local_variables=False,
            max_breadcrumbs=MAX_BREADCRUMBS,
            before_send=_before_send,
            before_breadcrumb=lambda crumb, _hint: _masked(crumb),
            # Log lines are breadcrumbs; an error is sent once, by `reported`, not again as a log event.
            integrations=[LoggingIntegration(event_level=None)],
        )
    except BadDsn as error:
        _tags.clear()
        raise SetupError(f"sentry_dsn is not a Sentry DSN ({error})") from None
    logging.getLogger(PLUGIN).info("Errors are reported to Sentry at %s", urlsplit(dsn).hostname)


@contextmanager
def in_stream(name: str) -> Iterator[None]:
    """Errors escaping the block are reported with the tag `stream=<name>` (the innermost block wins)."""
    try:
        yield
    except BaseException as error:
        if _tags and not hasattr(error, _STREAM):
            with suppress(AttributeError):
                setattr(error, _STREAM, name)
        raise


@contextmanager
def reported() -> Iterator[None]:
    """Send the error that ends the run (waiting at most FLUSH_SECONDS for it to leave), then re-raise."""
    try:
        yield
    except Exception as error:
        if _tags:
            import sentry_sdk

            sentry_sdk.capture_exception(error)
            sentry_sdk.flush(timeout=FLUSH_SECONDS)
        raise


def _before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    stream = _stream_of((hint.get("exc_info") or (None, None, None))[1])
    event["tags"] = {**(event.get("tags") or {}), **_tags, **({"stream": stream} if stream else {})}
    (event.get("contexts") or {}).get("trace", {}).pop("dynamic_sampling_context", None)
    return _masked(event)


def _stream_of(error: BaseException | None) -> str | None:
    """The stream `error` escaped, found through the errors that wrap it (bounded, as a chain can loop)."""
    for _ in range(8):
        if error is None or hasattr(error, _STREAM):
            return getattr(error, _STREAM, None)
        error = error.__cause__ or error.__context__
    return None


def _masked(value: Any) -> Any:
    """`value` (an event, a breadcrumb, any part of one) with every secret replaced by `***`."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(item) for item in value]
    return value
