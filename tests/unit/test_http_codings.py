"""The pure parts of keepalive.py: repeated header lines and content codings."""

from __future__ import annotations

import gzip
import zlib

import pytest

from tap_yandex_tracker.keepalive import decoded, joined_headers

FIRST = '<https://api.tracker.yandex.net/v2/issues/SCR-8/changelog?perPage=50>; rel="first"'
NEXT = '<https://api.tracker.yandex.net/v2/issues/SCR-8/changelog?id=5b9a&perPage=50>; rel="next"'


def test_repeated_lines_are_joined_in_order_and_names_stay_case_insensitive() -> None:
    headers = joined_headers([("Link", FIRST), ("X-Total-Count", "3"), ("link", NEXT)])
    assert headers["LINK"] == f"{FIRST}, {NEXT}"
    assert headers["x-total-count"] == "3"


def test_gzip_deflate_and_raw_deflate_are_undone() -> None:
    body = b'[{"id": "1"}]' * 50
    assert decoded(gzip.compress(body), "gzip") == body
    assert decoded(zlib.compress(body), "deflate") == body
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decoded(raw.compress(body) + raw.flush(), "Deflate") == body
    assert decoded(body, "") == decoded(body, "identity") == body


def test_an_empty_body_stays_empty_whatever_its_coding_says() -> None:
    assert decoded(b"", "gzip") == b""  # HEAD, 204 and 304 answers


def test_every_member_of_a_gzip_stream_is_read() -> None:
    assert decoded(gzip.compress(b"part1") + gzip.compress(b"part2"), "gzip") == b"part1part2"
    with pytest.raises(zlib.error):
        decoded(gzip.compress(b"part1") + b"trailing", "gzip")
    with pytest.raises(zlib.error):
        decoded(gzip.compress(b"x" * 1000)[:-12], "gzip")


def test_codings_applied_in_order_are_undone_in_reverse() -> None:
    body = b"x" * 1000
    assert decoded(gzip.compress(zlib.compress(body)), "deflate, gzip") == body


@pytest.mark.parametrize(("body", "coding"), [(b"hello", "gzip"), (b"[]", "br"), (b"[]", "zstd")])
def test_what_cannot_be_undone_is_an_error(body: bytes, coding: str) -> None:
    with pytest.raises(zlib.error):
        decoded(body, coding)
