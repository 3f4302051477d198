"""A requests transport adapter for the tap: one kept-alive connection per host in each thread, the whole
answer read at once, the HTTP itself spoken by http_wire.py.

Why not requests' own `HTTPAdapter`: at low latency the tap is CPU-bound, and that adapter with urllib3
under it spent about twice the CPU per request of this one (a pool lookup and TLS-context check per
request, cookie parsing twice per answer, the body read in 10 KB pieces through two stream layers): the
tap's CPU fell by a fifth with this adapter (`benchmarks/cpu_versus.py`). What the tap asks of HTTP is
small: GET and POST with a bytes body to one API host, keep-alive, gzip, certificate checks and
timeouts; every thread has its own session (transport.py), so nothing here is shared between threads.
What it does not do is handed to requests' adapter, unchanged: a request through a proxy, a streamed
request or answer, a body that is not bytes, a HEAD request.

Failures are raised as the exceptions requests raises for them (the SDK retries those, failures.py
explains them): no connection -> `ConnectionError` (`ConnectTimeout`, `SSLError`), no answer in time ->
`ReadTimeout`, an answer cut short -> `ChunkedEncodingError`, a body that does not decompress ->
`ContentDecodingError`. A kept-alive connection that the server closed while it was idle is noticed (and
replaced) before it is used, as urllib3 notices it.
"""

from __future__ import annotations

import http.client
import io
import os
import select
import socket
import ssl
import time
import typing as t
import zlib
from collections.abc import Iterable
from email.message import Message
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests import exceptions as rex
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers, select_proxy

from tap_yandex_tracker.http_wire import READ_SIZE, Answer, host_header, read_answer, request_bytes

#: Content codings this adapter decodes; asked for instead of whatever requests would advertise.
ACCEPT_ENCODING = "gzip, deflate"
DEFAULT_PORTS = {"http": 80, "https": 443}

#: (scheme, host, port, TLS settings): a connection verified one way is never reused for another.
Key = tuple[str, str, int, tuple[Any, Any]]


class KeepAliveAdapter(BaseAdapter):
    """`send` for one thread's session; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._sockets: dict[Key, socket.socket] = {}
        self._tls: dict[tuple[Any, Any], ssl.SSLContext] = {}
        self._fallback: HTTPAdapter | None = None
        self._buffer = bytearray(READ_SIZE)
        #: Seconds the latest `send` spent opening a connection (0.0 on a kept-alive one, or when requests'
        #: own adapter carried the request): the gate leaves them out of the API's round trip.
        self.connecting_s = 0.0

    def send(  # type: ignore[override]
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        self.connecting_s = 0.0
        if (
            stream
            or not isinstance(request.body, (bytes, type(None)))
            or request.method == "HEAD"  # an answer whose headers announce a body it does not have
            or (proxies and select_proxy(request.url, proxies))
        ):
            return self.fallback.send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )
        connect_timeout, read_timeout = _timeouts(timeout)
        url = urlsplit(str(request.url))
        scheme, host = url.scheme.lower(), url.hostname or ""
        default_port = DEFAULT_PORTS.get(scheme, 80)
        port = url.port or default_port
        key = (scheme, host, port, _tls_key(verify, cert))
        # Ours replaces an `Accept-Encoding` of any spelling (requests' default asks for more than we decode).
        headers = [
            (name, value) for name, value in request.headers.items() if name.lower() != "accept-encoding"
        ]
        headers.append(("Accept-Encoding", ACCEPT_ENCODING))
        sock = self._sockets.get(key)
        if sock is not None and _closed_by_peer(sock):
            self._drop(key)  # the server closed it while it was idle: a new one, as urllib3 does
            sock = None
        if sock is None:
            started = time.monotonic()
            try:
                sock = self._connect(key, verify, cert, connect_timeout, request)
            finally:
                self.connecting_s = time.monotonic() - started
        try:
            sock.settimeout(read_timeout)
            target = url.path or "/"
            if url.query:
                target += "?" + url.query
            host_line = host_header(host, port, default_port)
            sock.sendall(request_bytes(str(request.method), target, host_line, headers, request.body))
            answer = read_answer(sock, self._buffer)
        except BaseException as error:
            self._drop(key)
            _raise_translated(error, request)
        if not answer.keep_alive:
            self._drop(key)
        return self._response(request, answer)

    @property
    def fallback(self) -> HTTPAdapter:
        """requests' own adapter, for what this one does not do (see the module docstring)."""
        if self._fallback is None:
            self._fallback = HTTPAdapter()
        return self._fallback

    def close(self) -> None:
        for key in list(self._sockets):
            self._drop(key)
        if self._fallback is not None:
            self._fallback.close()

    # -- connections ---------------------------------------------------------------------------------
    def _connect(
        self, key: Key, verify: bool | str, cert: Any, timeout: float | None, request: PreparedRequest
    ) -> socket.socket:
        """A new connection for `key` (TLS for https, the certificate checked as `verify` says), kept."""
        scheme, host, port, _tls = key
        if scheme not in DEFAULT_PORTS:
            raise rex.InvalidSchema(f"No connection adapters were found for {request.url!r}")
        context = self._tls_context(verify, cert, request) if scheme == "https" else None
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as error:
            raise rex.ConnectTimeout(error, request=request) from error
        except OSError as error:  # refused, unreachable, unknown name
            raise rex.ConnectionError(error, request=request) from error
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=host)
        except BaseException as error:
            sock.close()
            if isinstance(error, TimeoutError):
                raise rex.ConnectTimeout(error, request=request) from error
            if isinstance(error, ssl.SSLError):  # includes a certificate that does not verify
                raise rex.SSLError(error, request=request) from error
            if isinstance(error, OSError):
                raise rex.ConnectionError(error, request=request) from error
            raise
        self._sockets[key] = sock
        return sock

    def _drop(self, key: Key) -> None:
        sock = self._sockets.pop(key, None)
        if sock is not None:
            sock.close()

    def _tls_context(self, verify: bool | str, cert: Any, request: PreparedRequest) -> ssl.SSLContext:
        """requests' meaning of `verify` (True: certifi's bundle, a path: that bundle or directory,
        False: no check) and `cert` (a client certificate: one file, or certificate and key)."""
        cache_key = _tls_key(verify, cert)
        context = self._tls.get(cache_key)
        if context is not None:
            return context
        try:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                bundle = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
                if os.path.isdir(bundle):
                    context = ssl.create_default_context(capath=bundle)
                else:
                    context = ssl.create_default_context(cafile=bundle)
            if cert:
                certfile, keyfile = (cert[0], cert[1]) if isinstance(cert, (list, tuple)) else (cert, None)
                context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as error:
            # Not a requests exception: a missing or unreadable file is not worth a retry (as in requests).
            msg = f"cannot use the TLS settings (CA bundle {verify!r}, client certificate {cert!r}): {error}"
            raise OSError(msg) from error
        self._tls[cache_key] = context
        return context

    # -- answers -------------------------------------------------------------------------------------
    def _response(self, request: PreparedRequest, answer: Answer) -> Response:
        response = Response()
        response.status_code = answer.status
        response.headers = joined_headers(answer.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = answer.reason
        response.url = str(request.url)
        response.request = request
        response.connection = self
        try:
            raw = io.BytesIO(decoded(answer.body, response.headers.get("Content-Encoding", "")))
        except zlib.error as error:
            raise rex.ContentDecodingError(
                f"the answer's body does not decode as {response.headers['Content-Encoding']}: {error}",
                request=request,
                response=response,
            ) from error
        response.raw = raw
        if "Set-Cookie" in response.headers:  # what requests reads cookies from (the session keeps them)
            raw._original_response = _cookie_source(answer.headers)  # type: ignore[attr-defined]
            extract_cookies_to_jar(response.cookies, request, raw)
        return response


def _cookie_source(headers: Iterable[tuple[str, str]]) -> SimpleNamespace:
    """What requests' cookie code reads from an `http.client` answer: its headers as a `Message`."""
    message = Message()
    for name, value in headers:
        message[name] = value
    return SimpleNamespace(msg=message)


def joined_headers(pairs: Iterable[tuple[str, str]]) -> CaseInsensitiveDict[str]:
    """Repeated header lines joined with ", ", as urllib3 does: Tracker sends `Link: first` and
    `Link: next` as two lines, and the paginator reads both from one value."""
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in pairs:
        present = headers.get(name)
        headers[name] = value if present is None else f"{present}, {value}"
    return headers


def decoded(body: bytes, content_encoding: str) -> bytes:
    """The body without its content codings (gzip, deflate; applied in order, so undone in reverse). An
    empty body stays empty (HEAD, 204 and 304 answers carry the coding of a body they do not send)."""
    if not body:
        return body
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            body = _gunzip(body)
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:  # servers that send raw deflate without the zlib header
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif coding != "identity":
            raise zlib.error(f"unsupported content coding {coding!r}")
    return body


def _gunzip(body: bytes) -> bytes:
    """Every gzip member of `body` (a stream may hold several, one after the other); bytes after the last
    member that are not another one are an error, as they are to urllib3."""
    pieces = []
    while body:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pieces.append(inflater.decompress(body))
        if not inflater.eof:
            raise zlib.error("gzip stream cut short")
        body = inflater.unused_data
        if body and not body.startswith(b"\x1f\x8b"):
            raise zlib.error("bytes after the gzip stream")
    return b"".join(pieces)


def _tls_key(verify: bool | str, cert: Any) -> tuple[Any, Any]:
    return (verify, tuple(cert) if isinstance(cert, (list, tuple)) else cert)


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle kept-alive connection with something to read has been closed by the server (or holds
    bytes nobody asked for): either way it cannot carry the next request."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    """requests' `timeout`: one number for both phases, or (connect, read)."""
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return timeout, timeout


def _raise_translated(error: BaseException, request: PreparedRequest) -> t.NoReturn:
    """Raise the requests exception for a failure once connected (see the module docstring); requests'
    own exceptions and anything unexpected go on unchanged."""
    translated: BaseException | None = None
    if isinstance(error, rex.RequestException):
        pass
    elif isinstance(error, TimeoutError):
        translated = rex.ReadTimeout(error, request=request)
    elif isinstance(error, ssl.SSLError):
        translated = rex.SSLError(error, request=request)
    elif isinstance(error, http.client.IncompleteRead):
        translated = rex.ChunkedEncodingError(error, request=request)
    elif isinstance(error, (OSError, http.client.HTTPException)):
        translated = rex.ConnectionError(error, request=request)
    if translated is None:
        raise error
    raise translated from error
