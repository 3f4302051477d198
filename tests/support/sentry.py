"""A loopback stand-in for Sentry: records every envelope a plugin posts to the DSN it was given.

    with SentryEndpoint() as sentry:
        dsn = sentry.dsn                      # http://<random public key>@127.0.0.1:<port>/42
        ...run a plugin with `sentry_dsn: dsn`...
        sentry.events(wait=True)              # the `event` items received, parsed
        sentry.bodies()                       # every request body, decompressed (for the secret check)

Sentry SDK 2 POSTs envelopes to `/api/<project>/envelope/`, gzip-compressed: a JSON header line, then per
item a JSON item header line and its payload (`length` bytes when the header says so, else one line).
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT = "42"


@dataclass(frozen=True)
class Envelope:
    """One POST: its path, the (decompressed) body, and the items parsed from it."""

    path: str
    body: bytes
    header: dict[str, Any]
    items: list[tuple[dict[str, Any], bytes]]


def parse_envelope(path: str, body: bytes) -> Envelope:
    header_line, _, rest = body.partition(b"\n")
    items: list[tuple[dict[str, Any], bytes]] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        if "length" in item_header:
            payload, rest = rest[: item_header["length"]], rest[item_header["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item_header, payload))
    return Envelope(path, body, json.loads(header_line), items)


def _decompressed(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    assert encoding in ("", "identity"), f"unexpected Content-Encoding {encoding!r}"
    return body


class SentryEndpoint:
    """An HTTP server on 127.0.0.1 that answers 200 to every POST and keeps what it received."""

    def __init__(self) -> None:
        self.public_key = secrets.token_hex(16)
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = _decompressed(raw, self.headers.get("Content-Encoding", ""))
                with endpoint._lock:
                    endpoint.envelopes.append(parse_envelope(self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://{self.public_key}@127.0.0.1:{self._server.server_address[1]}/{PROJECT}"

    def __enter__(self) -> SentryEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [envelope.body for envelope in self.envelopes]

    def events(self, *, wait: bool = False, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The `event` items received (with `wait`, once at least one arrived, or after `timeout`)."""
        deadline = time.monotonic() + (timeout if wait else 0)
        while True:
            with self._lock:
                found = [
                    json.loads(payload)
                    for envelope in self.envelopes
                    for item_header, payload in envelope.items
                    if item_header.get("type") == "event"
                ]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)
