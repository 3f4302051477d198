"""The changelog's own request loop asks the API exactly what the SDK's `request_records` would."""

from __future__ import annotations

import pytest
from singer_sdk.streams.rest import PageContext

from tap_yandex_tracker.streams import IssueChangelogStream
from tap_yandex_tracker.tap import TapYandexTracker
from tests.support.configs import tap_config
from tests.support.truth import changelog_requests_needed
from tracker_simulator import TrackerSimulator

ROUTE = "GET /{v}/issues/{key}/changelog"


def _changelog_stream(sim: TrackerSimulator) -> IssueChangelogStream:
    tap = TapYandexTracker(config=tap_config(sim), parse_env_config=False)
    stream = tap.streams["issue_changelog"]
    assert isinstance(stream, IssueChangelogStream)
    return stream


def _contexts(sim: TrackerSimulator) -> list[dict]:
    with sim.org.lock:
        issues = [(r.id, r.key) for r in sim.org.records]
    return [{"issue_id": issue_id, "issue_key": key} for issue_id, key in issues]


def test_every_issue_gets_the_entries_and_requests_the_sdk_would(small_sim: TrackerSimulator) -> None:
    """Both ways over every issue, long histories (several `Link: next` pages) included."""
    stream, contexts = _changelog_stream(small_sim), _contexts(small_sim)
    before = small_sim.stats.count(ROUTE)
    ours = [stream.request_entries(context) for context in contexts]
    ours_requests = small_sim.stats.count(ROUTE) - before
    sdks = [list(stream.request_records(context)) for context in contexts]
    sdks_requests = small_sim.stats.count(ROUTE) - before - ours_requests

    assert ours == sdks
    assert ours_requests == sdks_requests == changelog_requests_needed(small_sim.org)
    assert ours_requests > len(contexts), "some histories take more than one page"


@pytest.mark.parametrize(
    "url",
    [
        "{base}/issues/665cd40805abb968b3000003/changelog?perPage=100",
        "{base}/issues/QUEUE-1/changelog?id=abc&perPage=100&type=IssueWorkflow",  # a `next` link
        "{base}/issues/a b/changelog?perPage=100&x=ж",  # what requests re-encodes
    ],
)
def test_a_request_is_prepared_as_the_sdk_prepares_it(small_sim: TrackerSimulator, url: str) -> None:
    stream = _changelog_stream(small_sim)
    url = url.format(base=stream.url_base)
    for _ in range(2):  # the first builds the copied request, the second is a copy
        ours = stream.prepared_get(url)
        sdks = stream.build_prepared_request(method="GET", url=url, headers=stream.http_headers)
        assert (ours.method, ours.url, ours.body) == (sdks.method, sdks.url, sdks.body)
        assert dict(ours.headers) == dict(sdks.headers)
        assert ours.headers["Authorization"] == "OAuth sim-token"


def test_the_first_page_is_the_request_the_sdk_prepares(small_sim: TrackerSimulator) -> None:
    """URL, parameters (encoded as the SDK encodes them) and headers of the SDK's own first request."""
    stream = _changelog_stream(small_sim)
    context = {"issue_id": "665cd40805abb968b3000003", "issue_key": "QUEUE-1"}
    page = stream.get_http_request(page=PageContext(context, None))
    ours = stream.prepared_get(page.url, page.encode_params())
    sdks = stream._prepare_request(context=context, page=stream.get_new_paginator())
    assert (ours.method, ours.url, ours.body, dict(ours.headers)) == (
        sdks.method,
        sdks.url,
        sdks.body,
        dict(sdks.headers),
    )
    assert ours.url.endswith("/issues/665cd40805abb968b3000003/changelog?perPage=100")


def test_a_session_holding_cookies_sends_them_with_every_request(small_sim: TrackerSimulator) -> None:
    stream = _changelog_stream(small_sim)
    url = f"{stream.url_base}/issues/QUEUE-1/changelog?perPage=100"
    stream.prepared_get(url)  # the copied request is made before any cookie exists
    stream.requests_session.cookies.set("session_id", "abc", domain="127.0.0.1", path="/")
    ours = stream.prepared_get(url)
    sdks = stream.build_prepared_request(method="GET", url=url, headers=stream.http_headers)
    assert ours.headers.get("Cookie") == sdks.headers.get("Cookie") == "session_id=abc"
