"""Keep credentials out of every log line and error message, whoever writes it and wherever it goes.

The tap only ever *sends* tokens (in the ``Authorization`` header), but other code may still echo config
values: JSON-schema validation messages quote the offending value, ``requests`` quotes an invalid header as
``b'OAuth <token>\\n'``, exception texts quote URLs or bodies. So every log record is scrubbed when it is
*created* (a log record factory), before any handler sees it: a handler added by a custom logging config
(``SINGER_SDK_LOG_CONFIG``) on any logger, propagating or not, only ever receives scrubbed text. Each
secret is masked in every form it can take in text: as is, stripped, ``repr``/JSON-escaped, bytes-``repr``
and URL-encoded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from tap_yandex_tracker.settings import SECRET_SETTINGS

MASK = "***"
#: Shorter values would mask innocent text (and are no secret worth the name).
MIN_SECRET_LENGTH = 4


def representations(secret: str) -> set[str]:
    """The texts ``secret`` can appear as in a message; for a URL, its user and password on their own
    too (a Sentry DSN's keys travel without the rest of it)."""
    forms = {
        secret,
        secret.strip(),
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        *url_credentials(secret),
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def url_credentials(text: str) -> set[str]:
    """The user and password of ``text`` when it is a URL that has them (``http://<key>@host/1``)."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:  # not a URL (an unbalanced ``[``)
        return set()
    return {part for part in (parts.username, parts.password) if part}


def secret_values(config: Mapping[str, Any]) -> list[str]:
    """Every form of every configured secret (values of any JSON type, e.g. a numeric token)."""
    values: set[str] = set()
    for name in SECRET_SETTINGS:
        value = config.get(name)
        if value is not None and value != "":
            values |= representations(str(value))
    return sorted(values, key=len, reverse=True)


class Scrubber:
    """The secrets known so far, replaced longest first (so no fragment of a longer form survives)."""

    def __init__(self) -> None:
        self._secrets: list[str] = []
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = sorted(set(self._secrets) | set(secrets), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __bool__(self) -> bool:
        return bool(self._secrets)


scrub = Scrubber()


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with every secret masked in its message, traceback and stack. A record without one is
    left as it is (filters such as the SDK's metric filters read its arguments)."""
    if not scrub:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not hide the record
        message = str(record.msg)
    if scrub(message) != message:
        record.msg, record.args = scrub(message), None
    if record.exc_info:
        text = logging.Formatter().formatException(record.exc_info)
        if scrub(text) != text:  # formatters print exc_text; none gets the live exception to format
            record.exc_text, record.exc_info = scrub(text), None
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


_installed = threading.Lock()
_factory_installed = False


def install_redactor(secrets: Iterable[str]) -> None:
    """Scrub ``secrets`` (and those added before) from every log record from now on."""
    global _factory_installed
    scrub.add(s for s in secrets if s)
    with _installed:
        if _factory_installed:
            return
        base = logging.getLogRecordFactory()

        def scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return scrub_record(base(*args, **kwargs))

        logging.setLogRecordFactory(scrubbing_factory)
        _factory_installed = True
