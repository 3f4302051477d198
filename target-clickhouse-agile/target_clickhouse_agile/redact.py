"""Secret settings never reach a log line or an error message, in any form and through any handler.

Config errors of the SDK quote the offending value (`12345 is not of type 'string'` for a numeric
password), drivers quote connection strings, exceptions quote URLs. Every log record is scrubbed when it
is created (a log record factory), so a handler of a custom logging config (`SINGER_SDK_LOG_CONFIG`) on
any logger only receives masked text; each secret is masked as is and in its escaped and URL-encoded forms.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

#: Settings whose values must never appear in a message (`agile-pipeline` adds the tap's tokens).
SECRET_SETTINGS = ("password", "token", "iam_token", "sentry_dsn")
MASK = "***"

_known: set[str] = set()
_lock = threading.Lock()


def secret_texts(config: Mapping[str, Any]) -> set[str]:
    """Each secret setting of `config` in every form it can take in text (at least 4 characters); a URL's
    user and password count on their own too (the keys of `sentry_dsn`)."""
    texts: set[str] = set()
    for name in SECRET_SETTINGS:
        value = config.get(name)
        if value is None or value == "":
            continue
        raw = str(value)
        forms = (
            raw,
            raw.strip(),
            repr(raw)[1:-1],
            json.dumps(raw)[1:-1],
            quote(raw, safe=""),
            quote_plus(raw),
            *_credentials(raw),
        )
        texts.update(form for form in forms if len(form) >= 4)
    return texts


def _credentials(raw: str) -> tuple[str, ...]:
    try:
        url = urlsplit(raw.strip())
    except ValueError:  # not a URL after all
        return ()
    return tuple(part for part in (url.username, url.password) if part)


def mask(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every secret (default: all registered so far) replaced by `***`, longest first."""
    for secret in sorted(_known if secrets is None else set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _scrubbed(record: logging.LogRecord) -> logging.LogRecord:
    """Secrets masked; a record without one is left as it is (filters read the arguments of some)."""
    if not _known:
        return record
    try:
        text = record.getMessage()
    except Exception:  # a broken format string must not hide the record
        text = str(record.msg)
    if mask(text) != text:
        record.msg, record.args = mask(text), None
    if record.exc_info:
        trace = logging.Formatter().formatException(record.exc_info)
        if mask(trace) != trace:
            record.exc_text, record.exc_info = mask(trace), None
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    return record


def protect(config: Mapping[str, Any]) -> None:
    """Register the secrets of `config` and scrub every log record created from now on."""
    with _lock:
        first = not _known and not getattr(logging.getLogRecordFactory(), "_agile_scrubber", False)
        _known.update(secret_texts(config))
        if first:
            base = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                return _scrubbed(base(*args, **kwargs))

            factory._agile_scrubber = True  # type: ignore[attr-defined]
            logging.setLogRecordFactory(factory)
