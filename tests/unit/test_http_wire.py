"""http_wire.py: the request's bytes, and answers read from a real socket (one end of a socket pair, the
other end playing the server byte for byte)."""

from __future__ import annotations

import http.client
import socket
import struct
import threading
from collections.abc import Iterator, Sequence

import pytest

from tap_yandex_tracker.http_wire import (
    READ_SIZE,
    Answer,
    BadAnswerError,
    host_header,
    read_answer,
    request_bytes,
)


def test_a_request_is_the_request_line_host_first_then_every_header_and_the_body() -> None:
    sent = request_bytes(
        "POST",
        "/v3/issues/_search?scrollType=sorted",
        "api.tracker.yandex.net",
        [("Authorization", "OAuth t"), (b"X-Org-ID", b"42"), ("Content-Length", "2")],
        b"{}",
    )
    assert sent == (
        b"POST /v3/issues/_search?scrollType=sorted HTTP/1.1\r\n"
        b"Host: api.tracker.yandex.net\r\n"
        b"Authorization: OAuth t\r\n"
        b"X-Org-ID: 42\r\n"
        b"Content-Length: 2\r\n"
        b"\r\n{}"
    )


def test_a_request_without_a_body_ends_with_the_blank_line() -> None:
    assert request_bytes("GET", "/v3/statuses", "h:8080", [], None) == (
        b"GET /v3/statuses HTTP/1.1\r\nHost: h:8080\r\n\r\n"
    )


def test_a_host_given_is_kept_and_a_body_without_framing_gets_its_length() -> None:
    sent = request_bytes("POST", "/", "h", [("host", "other:81")], b"[1]")
    assert sent == b"POST / HTTP/1.1\r\nhost: other:81\r\nContent-Length: 3\r\n\r\n[1]"
    assert b"Content-Length" not in request_bytes("POST", "/", "h", [("Transfer-Encoding", "chunked")], b"")


def test_a_space_or_control_byte_in_the_target_is_refused() -> None:
    for target in ("/a b", "/a\x00", "/a\x7f"):
        with pytest.raises(ValueError, match="request target"):
            request_bytes("GET", target, "h", [], None)


def test_header_text_is_latin_1_as_in_http_client() -> None:
    assert b"X-Name: caf\xe9\r\n" in request_bytes("GET", "/", "h", [("X-Name", "café")], None)


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/", [("Authorization", "OAuth t\r\nX-Evil: 1")]),
        ("/", [("Authorization", "OAuth t\nX-Evil: 1")]),
        ("/", [("X-Evil\r\nA", "1")]),
        ("/", [("Cookie", "a\rb")]),
    ],
    ids=["crlf-in-value", "lf-in-value", "crlf-in-name", "cr-in-value"],
)
def test_a_line_break_that_would_start_a_header_of_its_own_is_refused(
    target: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValueError, match="line break"):
        request_bytes("GET", target, "h", headers, None)


@pytest.mark.parametrize(
    ("host", "port", "default", "expected"),
    [
        ("api.tracker.yandex.net", 443, 443, "api.tracker.yandex.net"),
        ("127.0.0.1", 8080, 80, "127.0.0.1:8080"),
        ("::1", 8443, 443, "[::1]:8443"),
        ("::1", 80, 80, "[::1]"),
        ("трекер.рф", 443, 443, "xn--e1aaowdh.xn--p1ai"),
    ],
)
def test_the_host_header_is_written_as_http_client_writes_it(
    host: str, port: int, default: int, expected: str
) -> None:
    assert host_header(host, port, default) == expected


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    client.settimeout(5)
    yield client, server
    client.close()
    server.close()


def serve(server: socket.socket, pieces: Sequence[bytes], *, close: bool = False) -> threading.Thread:
    """Send `pieces` one by one (each its own write, so the reader gets them apart), then maybe close."""

    def run() -> None:
        for piece in pieces:
            server.sendall(piece)
        if close:
            server.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def read(
    pair: tuple[socket.socket, socket.socket], pieces: Sequence[bytes], *, close: bool = False
) -> Answer:
    client, server = pair
    thread = serve(server, pieces, close=close)
    try:
        return read_answer(client, bytearray(READ_SIZE))
    finally:
        thread.join(5)


def test_an_answer_in_pieces_is_read_whole_and_the_connection_stays(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    answer = read(
        pair,
        [b"HTTP/1.1 200 OK\r\nContent-Ty", b"pe: application/json\r\nLink: <a>; rel=\"first\"\r\n",
         b"Link: <b>", b"; rel=\"next\"\r\nContent-Length: 6\r\n\r\n[1,", b" 2]"],
    )  # fmt: skip
    assert answer == Answer(
        status=200,
        reason="OK",
        headers=[
            ("Content-Type", "application/json"),
            ("Link", '<a>; rel="first"'),
            ("Link", '<b>; rel="next"'),
            ("Content-Length", "6"),
        ],
        body=b"[1, 2]",
        keep_alive=True,
    )


def test_a_chunked_answer_is_joined(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = read(
        pair,
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n", b"3\r\n 2]\r\n0\r\n\r\n"],
    )
    assert (answer.body, answer.keep_alive) == (b"[1, 2]", True)


def test_a_body_a_bigger_than_one_read_is_read_whole(pair: tuple[socket.socket, socket.socket]) -> None:
    body = bytes(range(256)) * (3 * READ_SIZE // 256 + 7)
    answer = read(pair, [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), body])
    assert answer.body == body


def test_connection_close_ends_the_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = read(pair, [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]"])
    assert (answer.body, answer.keep_alive) == (b"[]", False)


def test_http_1_0_without_keep_alive_ends_the_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = read(pair, [b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n[]"])
    assert (answer.status, answer.body, answer.keep_alive) == (200, b"[]", False)


def test_a_body_without_length_or_chunks_runs_until_the_server_closes(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    answer = read(pair, [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of", b" this"], close=True)
    assert (answer.body, answer.keep_alive) == (b"all of this", False)


def test_interim_answers_are_skipped(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = read(
        pair,
        [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
         b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"],
    )  # fmt: skip
    assert (answer.status, answer.reason, answer.headers, answer.body) == (
        201,
        "Created",
        [("Content-Length", "2")],
        b"{}",
    )


@pytest.mark.parametrize("status", [204, 304])
def test_answers_that_have_no_body_end_after_their_headers(
    pair: tuple[socket.socket, socket.socket], status: int
) -> None:
    # No Content-Length, and the server does not close: the answer must end at the blank line.
    answer = read(pair, [b"HTTP/1.1 %d Whatever\r\nContent-Encoding: gzip\r\n\r\n" % status])
    assert (answer.status, answer.body, answer.keep_alive) == (status, b"", True)


@pytest.mark.parametrize("after", [b"HTTP/1.1 500 Bad\r\nX-B: 1\r\n\r\n", b" ", b"\x00junk"])
def test_bytes_after_the_answer_end_the_connection_and_leave_the_answer_alone(
    pair: tuple[socket.socket, socket.socket], after: bytes
) -> None:
    answer = read(pair, [b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n[]" + after])
    assert answer == Answer(200, "OK", [("X-A", "1"), ("Content-Length", "2")], b"[]", keep_alive=False)


def test_trailers_after_the_chunks_are_dropped(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = read(
        pair,
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n"
         b"Link: <x>; rel=\"next\"\r\nSet-Cookie: k=v\r\n\r\n"],
    )  # fmt: skip
    assert (answer.headers, answer.body, answer.keep_alive) == (
        [("Transfer-Encoding", "chunked")],
        b"[]",
        True,
    )


def test_a_reason_in_pieces_is_joined(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = read(pair, [b"HTTP/1.1 404 Not ", b"Fou", b"nd\r\nContent-Length: 0\r\n\r\n"])
    assert (answer.status, answer.reason) == (404, "Not Found")


def test_a_transfer_coding_other_than_chunks_last_runs_until_the_close(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """RFC 9112 6.3: then the length does not count (http.client reads it the same way)."""
    answer = read(
        pair,
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n[1, 2]"],
        close=True,
    )
    assert (answer.body, answer.keep_alive) == (b"[1, 2]", False)


@pytest.mark.parametrize(
    "answer_bytes",
    [
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\n[]",
        b"HTTP/1.1 200 OK\r\nX-Odd: a\x01b\r\nContent-Length: 2\r\n\r\n[]",
        b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2  \r\n[]\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]0\r\n\r\n",
    ],
    ids=[
        "bare-lf",
        "control-byte-in-value",
        "http-1.2",
        "chunks-and-length",
        "space-after-size",
        "no-crlf-after-chunk",
    ],
)
def test_what_http_client_forgives_is_forgiven(
    pair: tuple[socket.socket, socket.socket], answer_bytes: bytes
) -> None:
    """Each is refused by the parser's strict defaults (one leniency each, in `LENIENCIES`)."""
    answer = read(pair, [answer_bytes])
    assert (answer.status, answer.body) == (200, b"[]")


def test_the_latin_1_of_a_header_value_is_kept(pair: tuple[socket.socket, socket.socket]) -> None:
    answer = read(pair, [b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n"])
    assert answer.headers == [("X-Name", "café"), ("Content-Length", "0")]


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (64 * 1024) + b"\r\n\r\n",
    ],
    ids=["101-lines", "64-KiB-line"],
)
def test_a_head_beyond_http_clients_caps_is_a_bad_answer(
    pair: tuple[socket.socket, socket.socket], head: bytes
) -> None:
    with pytest.raises(BadAnswerError, match="header lines"):
        read(pair, [head])


def test_a_close_before_any_answer_is_a_remote_disconnect(pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(http.client.RemoteDisconnected):
        read(pair, [], close=True)


@pytest.mark.parametrize(
    "pieces",
    [
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1, 2"],
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1, 2"],
        [b"HTTP/1.1 200 OK\r\nContent-Le"],
    ],
    ids=["length", "chunks", "headers"],
)
def test_an_answer_cut_short_is_an_incomplete_read_or_a_disconnect(
    pair: tuple[socket.socket, socket.socket], pieces: list[bytes]
) -> None:
    with pytest.raises((http.client.IncompleteRead, http.client.RemoteDisconnected)) as caught:
        read(pair, pieces, close=True)
    headers_read = b"\r\n\r\n" in pieces[0]
    assert isinstance(caught.value, http.client.IncompleteRead) == headers_read


def test_a_reset_in_the_middle_of_the_body_is_an_incomplete_read() -> None:
    """A TCP reset (the server closes with SO_LINGER 0), not a clean end: `recv` raises."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    with client, server:
        server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1, 2")
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reset = threading.Timer(0.2, server.close)
        reset.start()
        with pytest.raises(http.client.IncompleteRead) as caught:
            read_answer(client, bytearray(READ_SIZE))
        reset.join(5)
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert caught.value.partial == b"[1, 2"


def test_a_broken_chunk_is_an_incomplete_read(pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(http.client.IncompleteRead):
        read(pair, [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[1, 2]\r\n0\r\n\r\n"])


def test_bytes_that_are_not_http_are_a_bad_answer(pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(BadAnswerError, match="not an HTTP answer"):
        read(pair, [b"SSH-2.0-OpenSSH_9.6\r\n\r\n"])
    assert issubclass(BadAnswerError, http.client.HTTPException)


def test_silence_past_the_socket_timeout_is_a_timeout(pair: tuple[socket.socket, socket.socket]) -> None:
    client, _server = pair
    client.settimeout(0.05)
    with pytest.raises(TimeoutError):
        read_answer(client, bytearray(READ_SIZE))
