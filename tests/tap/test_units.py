"""Pure unit tests: timestamp canon, settings checks, redaction, Retry-After parsing, scroll paginator."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime, timezone

import pytest
import requests

from tap_yandex_tracker.auth import TrackerAuthenticator
from tap_yandex_tracker.errors import retry_after_seconds
from tap_yandex_tracker.pagination import ScrollPaginator
from tap_yandex_tracker.redact import Scrubber, representations, scrub_record
from tap_yandex_tracker.settings import check_settings
from tap_yandex_tracker.timestamps import (
    normalise_timestamps,
    to_tracker_filter_ts,
    to_tracker_query_ts,
    to_utc_iso,
)

LOG = logging.getLogger("test")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2017-06-11T05:16:01.339+0000", "2017-06-11T05:16:01.339Z"),
        ("2017-06-11T08:16:01.339+0300", "2017-06-11T05:16:01.339Z"),
        ("2017-06-11T05:16:01.339+03:00", "2017-06-11T02:16:01.339Z"),
        ("2017-06-11T05:16:01Z", "2017-06-11T05:16:01.000Z"),
        ("2017-06-11T05:16:01.123456789Z", "2017-06-11T05:16:01.123Z"),
        ("2017-06-11", "2017-06-11"),
        ("P3W", "P3W"),
        ("free text 2017-06-11T05:16:01Z", "free text 2017-06-11T05:16:01Z"),
        # An instant outside what a datetime holds once in UTC: kept as sent (it used to abort the sync).
        ("0001-01-01T00:00:00.000+0300", "0001-01-01T00:00:00.000+0300"),
        ("9999-12-31T23:59:59.000-0100", "9999-12-31T23:59:59.000-0100"),
    ],
)
def test_to_utc_iso(raw: str, expected: str) -> None:
    assert to_utc_iso(raw) == expected


def test_canonical_strings_sort_like_instants() -> None:
    values = ["2024-01-05T00:00:00.500+0000", "2024-01-05T00:00:00Z", "2024-01-05T03:00:00.100+0300"]
    canon = sorted(to_utc_iso(v) for v in values)
    assert canon == ["2024-01-05T00:00:00.000Z", "2024-01-05T00:00:00.100Z", "2024-01-05T00:00:00.500Z"]


def test_normalise_nested() -> None:
    record = {"fields": [{"from": "2022-06-28T07:29:45.753+0000", "to": None}], "deadline": "2024-01-01"}
    assert normalise_timestamps(record) == {
        "fields": [{"from": "2022-06-28T07:29:45.753Z", "to": None}],
        "deadline": "2024-01-01",
    }


def test_normalise_every_depth_and_container_kind() -> None:
    """Lists in lists, dict subclasses and strings at the top level take the same rewrite; what is not a
    zoned timestamp (a date, free text that starts like one, numbers, null) stays as it is."""
    record = {
        "a": [["2024-01-05T10:20:30.123+0300", "2024-01-05"]],
        "b": OrderedDict(c="2024-01-05 10:20:30+00:00", d="2024-01-05 standup notes"),
        "e": [1, None, True, {"f": "2024-01-05T10:20:30Z"}],
    }
    assert normalise_timestamps(record) == {
        "a": [["2024-01-05T07:20:30.123Z", "2024-01-05"]],
        "b": {"c": "2024-01-05T10:20:30.000Z", "d": "2024-01-05 standup notes"},
        "e": [1, None, True, {"f": "2024-01-05T10:20:30.000Z"}],
    }
    assert normalise_timestamps(OrderedDict(x="2024-01-05T10:20:30.123+0000")) == {
        "x": "2024-01-05T10:20:30.123Z"
    }
    assert normalise_timestamps("2024-01-05T10:20:30.123+0000") == "2024-01-05T10:20:30.123Z"


def test_tracker_bounds() -> None:
    moment = datetime(2024, 1, 5, 10, 20, 30, 123999, tzinfo=timezone.utc)
    assert to_tracker_filter_ts(moment) == "2024-01-05T10:20:30.123+0000"
    assert to_tracker_query_ts(moment) == "2024-01-05 10:20:30"


BASE = {"token": "t0ken-value", "org_id": "42"}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"org_id": "42"}, "exactly one of `token`"),
        ({**BASE, "iam_token": "iam-value"}, "both are set"),
        ({"token": "t0ken-value"}, "exactly one of `org_id`"),
        ({**BASE, "cloud_org_id": "c"}, "`org_id` (Yandex 360"),
        ({**BASE, "page_size": 0}, "`page_size`"),
        ({**BASE, "api_version": "v4"}, "`api_version`"),
        ({**BASE, "api_url": "ftp://x"}, "`api_url`"),
        ({**BASE, "start_date": "yesterday"}, "`start_date`"),
        ({**BASE, "start_date": "2025-01-01T00:00:00z"}, "`start_date`"),  # the SDK's reader refuses it
    ],
)
def test_check_settings_errors(config: dict, fragment: str) -> None:
    errors = check_settings(config, LOG)
    assert any(fragment in e for e in errors), errors
    assert not any("t0ken-value" in e or "iam-value" in e for e in errors)


def test_check_settings_ok_and_iam_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert check_settings(BASE, LOG) == []
    assert check_settings({"iam_token": "iam-value", "cloud_org_id": "c"}, LOG) == []
    with caplog.at_level(logging.WARNING):
        assert check_settings({"iam_token": "iam-value", "org_id": "42"}, LOG) == []
    assert "only work for organisations linked to Yandex Cloud" in caplog.text


def test_redactor_masks_message_args_and_traceback() -> None:
    scrubber = Scrubber()
    scrubber.add(representations("s3cr3t-token\n"))
    try:
        raise ValueError("boom b'OAuth s3cr3t-token\\n' and s3cr3t-token%0A")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "a %s b %r", ("s3cr3t-token", "s3cr3t-token\n"), sys.exc_info()
        )
    import tap_yandex_tracker.redact as redact

    original, redact.scrub = redact.scrub, scrubber
    try:
        scrub_record(record)
    finally:
        redact.scrub = original
    assert "s3cr3t" not in record.getMessage()
    assert "s3cr3t" not in (record.exc_text or "")
    assert record.exc_info is None, "formatters get the scrubbed text, never the live exception"
    assert scrubber("xx s3cr3t-token yy") == "xx *** yy"


def test_every_representation_of_a_secret_is_known() -> None:
    forms = representations("ab cd\n")
    assert {"ab cd\n", "ab cd", "ab cd\\n", "ab%20cd%0A", "ab+cd%0A"} <= forms
    assert representations("abc") == set(), "too short to mask without masking innocent text"


def _response(headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers.update(headers)
    return response


def test_retry_after_parsing() -> None:
    assert retry_after_seconds(_response({"Retry-After": "1"})) == 1.0
    assert retry_after_seconds(_response({"Retry-After": "0"})) == 0.0
    assert retry_after_seconds(_response({"Retry-After": "100000"})) == 120.0
    assert retry_after_seconds(_response({})) is None
    assert retry_after_seconds(_response({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    # A date with `-0000` (no zone information) is UTC too; not-a-number is no pause (the gate weighs it).
    assert retry_after_seconds(_response({"Retry-After": "Wed, 21 Oct 2015 07:28:00 -0000"})) == 0.0
    assert retry_after_seconds(_response({"Retry-After": "Fri, 01 Jan 2100 00:00:00 -0000"})) == 120.0
    assert retry_after_seconds(_response({"Retry-After": "nan"})) is None
    assert retry_after_seconds(_response({"Retry-After": "inf"})) is None


def test_scroll_paginator_tokens_distinct_even_if_id_repeats() -> None:
    paginator = ScrollPaginator()
    first = _response({"X-Scroll-Id": "abc", "X-Scroll-Token": "tok"})
    paginator.advance(first)
    token1 = paginator.current_value
    paginator.advance(first)  # same id again must not look like a pagination loop
    assert paginator.current_value != token1
    assert paginator.current_value.scroll_id == "abc"
    paginator.advance(_response({}))
    assert paginator.finished
    assert paginator.seen == {"abc": "tok"}


def test_unknown_issue_fields_go_to_custom_fields() -> None:
    from tap_yandex_tracker.client import prune
    from tap_yandex_tracker.schemas import ISSUE_CATCH_ALL, ISSUE_FIELD_NAMES, ISSUES

    record = {"id": "1", "updatedAt": "x", "qaEngineer": {"id": "7"}, "6063181a59590573909db929--branch": "b"}
    pruned = prune(dict(record), ISSUE_FIELD_NAMES, ISSUE_CATCH_ALL)
    assert pruned == {
        "id": "1",
        "updatedAt": "x",
        "custom_fields": {"qaEngineer": {"id": "7"}, "6063181a59590573909db929--branch": "b"},
    }
    assert set(pruned) <= set(ISSUES["properties"])


@pytest.mark.parametrize(
    ("token", "iam_token", "header"), [("t0k", None, "OAuth t0k"), (None, "iam1", "Bearer iam1")]
)
def test_authenticator_sets_the_header_and_leaves_the_url_alone(
    token: str | None, iam_token: str | None, header: str
) -> None:
    url = "https://api.tracker.yandex.net/v3/issues/a%2Fb/changelog?perPage=100&id=x%20y"
    request = requests.Request("GET", url, headers={"X-Org-ID": "1"}).prepare()
    authenticated = TrackerAuthenticator(token=token, iam_token=iam_token)(request)
    assert authenticated.url == url
    assert authenticated.headers["Authorization"] == header
    assert authenticated.headers["X-Org-ID"] == "1"


def test_authenticator_with_query_parameters_still_adds_them() -> None:
    auth = TrackerAuthenticator(token="t0k", iam_token=None)
    auth.auth_params["lang"] = "en"
    request = requests.Request("GET", "https://api.tracker.yandex.net/v3/myself?x=1").prepare()
    assert auth(request).url == "https://api.tracker.yandex.net/v3/myself?x=1&lang=en"
