"""HTTP/1.1 on one connected socket: a request's bytes out, one answer in, read with httptools.

Why not the standard library's `http.client`: at low latency the tap is CPU-bound, and `http.client` spent
~130 us of CPU per changelog request (the request built header by header, the answer's headers parsed by
the `email` package), where writing the request in one piece and reading the answer with httptools (Python
bindings of llhttp, the parser of Node.js, as used by uvicorn) takes ~60 us (`benchmarks/cpu_versus.py`).

What it reads is what `http.client` reads: a status line, headers, then a body framed by `Content-Length`,
by chunks, or by the server closing the connection; interim `1xx` answers are skipped, trailers after the
chunks are dropped, and whatever follows a complete answer ends the connection without spoiling the answer.
Like `http.client` it caps the headers (100 lines of at most 64 KiB), so a broken server cannot make the tap
hold an endless head. The parser is told to forgive what `http.client` forgives (`LENIENCIES`); two
things remain that `http.client` reads and this refuses (llhttp has no leniency for them, and nginx, in
front of Tracker, sends neither): a repeated `Content-Length` header, even with the same value, and a
chunked body whose last chunk is followed by the server closing instead of the final blank line.

Failures are raised as `http.client` raises them, so the adapter (keepalive.py) maps them to requests'
exceptions in one place: nothing before the answer began -> `RemoteDisconnected`, bytes that are not an
HTTP answer -> `BadAnswerError` (an `HTTPException`), an answer whose body was cut short or broken ->
`IncompleteRead`, no bytes within the socket's timeout -> `TimeoutError`.
"""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httptools

#: Bytes asked of the socket per read.
READ_SIZE = 16 * 1024
#: `http.client`'s caps on an answer's head: header lines, and bytes in one of them.
MAX_HEADERS = 100
MAX_HEADER_BYTES = 64 * 1024

#: What the parser forgives that `http.client` accepts too: control bytes in header values, a bare LF for
#: CRLF, an HTTP version other than 1.0/1.1, both `Transfer-Encoding: chunked` and `Content-Length` (the
#: chunks win, as in `http.client`), spaces after a chunk size, a chunk without its CRLF. The tap reads the
#: answers of the server it asked; it forwards nothing, so no other party can read them differently.
LENIENCIES = {
    "lenient_headers": True,
    "lenient_optional_cr_before_lf": True,
    "lenient_version": True,
    "lenient_chunked_length": True,
    "lenient_spaces_after_chunk_size": True,
    "lenient_optional_crlf_after_chunk": True,
}

#: Bytes `http.client` refuses in a request target (a space would end it early, a control byte is no URL).
_NOT_IN_TARGET = re.compile("[\x00-\x20\x7f]")


class BadAnswerError(http.client.HTTPException):
    """Bytes that are not an HTTP/1.x answer, or a head beyond `http.client`'s caps."""


@dataclass(frozen=True)
class Answer:
    """One complete answer. `keep_alive`: the connection can carry the next request."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool


def request_bytes(
    method: str,
    target: str,
    host: str,
    headers: Iterable[tuple[str | bytes, str | bytes]],
    body: bytes | None,
) -> bytes:
    """The request as `http.client` sends it: the request line, `Host` first (unless the headers hold one),
    every header, `Content-Length` when there is a body and no framing was given, then the body. Text is
    Latin-1 as in `http.client`; a line break inside a name or value (it would start a header of its own)
    and a space or control byte in the target are refused."""
    if _NOT_IN_TARGET.search(target):
        raise ValueError(f"a space or control character in the request target {target!r}")
    lines = [f"{method} {target} HTTP/1.1"]
    given: set[str] = set()
    for name, value in headers:
        name = name.decode("latin-1") if isinstance(name, bytes) else name
        value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        given.add(name.lower())
        lines.append(f"{name}: {value}")
    if "host" not in given:
        lines.insert(1, f"Host: {host}")
    if body is not None and not given & {"content-length", "transfer-encoding"}:
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines)
    breaks = len(lines) - 1  # those between the lines
    if head.count("\n") != breaks or head.count("\r") != breaks:
        raise ValueError(f"a line break inside a header of {method} {target}")
    data = (head + "\r\n\r\n").encode("latin-1")
    return data + body if body else data


def host_header(host: str, port: int, default_port: int) -> str:
    """`Host` as `http.client` writes it: IPv6 in brackets, the port unless it is the scheme's default,
    a name that is not ASCII in its IDNA form."""
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host if port == default_port else f"{host}:{port}"


class _Reading:
    """The parser's callbacks for one answer (httptools calls them as bytes come in). Once the answer is
    complete, nothing that follows changes it."""

    __slots__ = (
        "body",
        "complete",
        "extra",
        "has_length",
        "headers",
        "headers_done",
        "keep_alive",
        "parser",
        "reason",
        "status",
        "transfer_codings",
    )

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.parser.set_dangerous_leniencies(**LENIENCIES)
        self.complete = self.extra = False
        self._begin()

    def _begin(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.headers_done = self.keep_alive = self.has_length = False
        self.transfer_codings: list[str] = []

    def on_message_begin(self) -> None:
        if self.complete:  # bytes after the answer: the connection cannot carry another request
            self.extra = True
        else:
            self._begin()

    def on_status(self, reason: bytes) -> None:
        if not self.complete:
            self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete or self.headers_done:  # trailers after the chunks are dropped, as http.client does
            return
        if len(self.headers) >= MAX_HEADERS or len(name) + len(value) > MAX_HEADER_BYTES:
            raise BadAnswerError(
                f"more than {MAX_HEADERS} header lines, or one over {MAX_HEADER_BYTES} bytes"
            )
        text = name.decode("latin-1")
        lowered = text.lower()
        if lowered == "content-length":
            self.has_length = True
        elif lowered == "transfer-encoding":
            self.transfer_codings += [c.strip().lower() for c in value.decode("latin-1").split(",")]
        self.headers.append((text, value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # (the parser forgets it once the answer is read)
        self.headers_done = True

    def on_body(self, data: bytes) -> None:
        if not self.complete:
            self.body.append(data)

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if 100 <= self.status < 200 and self.status != 101:
            self._begin()  # an interim answer: the real one follows on the same connection
        else:
            self.complete = True

    def ends_at_close(self) -> bool:
        """The body runs until the server closes the connection (RFC 9112 6.3): the last transfer coding
        is not `chunked`, or there is neither a transfer coding nor a length (answers without a body,
        such as 204 and 304, the parser has ended by then)."""
        if self.transfer_codings:
            return self.headers_done and self.transfer_codings[-1] != "chunked"
        return self.headers_done and not self.has_length

    def cut_short(self) -> http.client.IncompleteRead:
        """The error for a body that ended early or broke, with what had come of it."""
        return http.client.IncompleteRead(b"".join(self.body))

    def answer(self, *, closed: bool) -> Answer:
        keep_alive = self.keep_alive and not closed and not self.extra
        reason = self.reason.decode("latin-1")
        return Answer(self.status, reason, self.headers, b"".join(self.body), keep_alive)


def read_answer(sock: socket.socket, buffer: bytearray) -> Answer:
    """Read one answer from `sock` (its timeout applies to each read) into `buffer`'s memory."""
    reading = _Reading()
    try:
        return _read(sock, buffer, reading)
    finally:
        del reading.parser  # it holds the callbacks and they hold it: no cycle left for the collector
        reading.body = []


def _read(sock: socket.socket, buffer: bytearray, reading: _Reading) -> Answer:
    view = memoryview(buffer)
    parser = reading.parser
    while not reading.complete:
        try:
            count = sock.recv_into(buffer)
        except ConnectionError as error:
            if reading.headers_done:
                raise reading.cut_short() from error
            raise
        if not count:
            if reading.ends_at_close():
                return reading.answer(closed=True)
            if reading.headers_done:
                raise reading.cut_short()
            raise http.client.RemoteDisconnected("the server closed the connection without an answer")
        try:
            parser.feed_data(view[:count])
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as error:  # (no upgrade is asked for)
            if (
                reading.complete
            ):  # what followed the answer is not HTTP: the answer stands, the connection not
                reading.extra = True
                break
            if reading.headers_done:
                raise reading.cut_short() from error
            cause = error.__context__ if isinstance(error.__context__, BadAnswerError) else error
            raise BadAnswerError(f"not an HTTP answer: {cause}") from error
    return reading.answer(closed=False)
