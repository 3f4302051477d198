"""The errors that end a run, said in one line that names the cause and the fix.

The SDK's command line prints a full Python traceback for every error but a settings error. An operator
who mistyped a token needs the sentence, not 40 lines of frames: so the console entry point prints one
line per fatal error it can explain (here) and exits 1; the traceback is still logged at DEBUG level
(``--log-level=debug`` or the SDK's logging config) for bug reports. Anything unexplained keeps its
traceback: that is a bug, and the traceback is the report.
"""

from __future__ import annotations

import errno
import json
from typing import IO, Any

import requests
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError

from tap_yandex_tracker.settings import TapSettings
from tap_yandex_tracker.singer_writer import OutputError


class ExplainedError(Exception):
    """A fatal error whose message already says what to check; printed as one line."""


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def explain(error: BaseException, settings: TapSettings) -> str | None:
    """The one-line explanation of ``error``, or ``None`` when it is not a known failure."""
    api_url, retries = settings.api_url, settings.max_retries
    if isinstance(error, ExplainedError):
        return str(error)
    if isinstance(error, requests.exceptions.Timeout):
        timeout = f"{settings.request_timeout:g}"
        return (
            f"the Tracker API at {api_url} did not answer within request_timeout={timeout} s "
            f"({retries} retries): raise the `request_timeout` setting, or check the network and the "
            "API's status"
        )
    if isinstance(error, requests.exceptions.SSLError):
        return (
            f"TLS with the Tracker API at {api_url} failed ({_tls_reason(error)}): if a proxy or gateway "
            "of your network signs the connection, point REQUESTS_CA_BUNDLE at its CA certificates "
            "(a PEM file); otherwise check the `api_url` setting and the system clock"
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = _connection_reason(error)
        return (
            f"cannot reach the Tracker API at {api_url} ({reason}, {retries} retries): check the "
            "`api_url` setting, DNS, proxies and the network"
        )
    if isinstance(error, RetriableAPIError):
        return (
            f"{_first_line(str(error))}; still failing after {retries} retries: the API is unavailable "
            "or overloaded, run again later (or raise `max_retries`)"
        )
    if isinstance(error, FatalAPIError):
        return _first_line(str(error))
    if isinstance(error, ConfigValidationError):
        return "invalid settings: " + "; ".join(error.errors or [str(error)])
    if isinstance(error, OutputError):
        if error.errno == errno.EPIPE:
            return (
                "the tap's output was closed: whatever reads its stdout (the target) stopped first, and "
                "its own log says why. No STATE was written after the lost records: fix that and run again"
            )
        return (
            f"cannot write the tap's output ({error.strerror}): check where stdout goes (a full disk?). "
            "No STATE was written after the lost records: run again once it is fixed"
        )
    return None


def _connection_reason(error: requests.exceptions.ConnectionError) -> str:
    """``connection refused`` / ``name or service not known`` ... without the pool's noise."""
    text = str(error)
    markers = ("Errno", "Name or service not known", "timed out", "Connection reset", "RemoteDisconnected")
    for marker in markers:
        position = text.find(marker)
        if position >= 0:
            tail = text[position:].split(")")[0].split("'")[0].strip(' ,"')
            return tail.replace("[", "").replace("]", "") or type(error).__name__
    return type(error).__name__


def _tls_reason(error: requests.exceptions.SSLError) -> str:
    """``certificate verify failed: self-signed certificate in certificate chain`` ... in one phrase."""
    text = str(error)
    start = text.find("certificate verify failed")
    if start < 0:
        return _first_line(text)[:200] or "SSLError"
    return text[start:].split(" (_ssl")[0].split("')")[0].strip(" ,\"'")


def read_state_file(handle: IO[str]) -> dict[str, Any]:
    """The ``--state`` file as a STATE object; an empty, cut or non-object file is refused by name
    (``tail -1 states.jsonl > state.json`` after a failed run writes an empty file)."""
    name = getattr(handle, "name", "the --state file")
    text = handle.read()
    if not text.strip():
        msg = (
            f"state file {name} is empty: pass the last complete STATE (a JSON object), or no --state "
            "for a full sync. An empty file is what redirecting the output of a failed run leaves behind"
        )
        raise ExplainedError(msg)
    try:
        state = json.loads(text)
    except ValueError as error:
        msg = (
            f"state file {name} is not valid JSON ({error}): it was probably cut short; restore the "
            "previous STATE, or run without --state for a full sync"
        )
        raise ExplainedError(msg) from None
    if not isinstance(state, dict):
        msg = f'state file {name} holds {type(state).__name__}, not a STATE object ({{"bookmarks": ...}})'
        raise ExplainedError(msg)
    return state
