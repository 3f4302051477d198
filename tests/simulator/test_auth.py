"""Authentication and organisation headers: every failure mode, the real error body, the PYCLIENT quirk."""

from __future__ import annotations

import pytest
import requests

from tests.support.simulators import SimulatorFactory
from tracker_simulator import TrackerSimulator

OK_TOKEN = {"Authorization": "OAuth sim-token"}


@pytest.fixture
def cloud_sim(sim_factory: SimulatorFactory) -> TrackerSimulator:
    """Credentials for both org types: a Yandex 360 org id and a Cloud org id with an IAM token."""
    return sim_factory(issues=20, org_id="org-360", cloud_org_id="cloud-org", iam_token="iam-secret")


def _get(sim: TrackerSimulator, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{sim.url}/v3/myself", headers=headers)


def _assert_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    body = response.json()
    assert set(body) == {"errors", "errorMessages", "statusCode"}
    assert body["statusCode"] == status
    assert body["errors"] == {}
    assert body["errorMessages"]
    assert all(isinstance(m, str) for m in body["errorMessages"])


@pytest.mark.parametrize(
    "authorization",
    [None, "", "OAuth", "OAuth wrong-token", "sim-token", "Basic c2ltOnRva2Vu", "Bearer sim-token"],
)
def test_bad_or_missing_token_is_401(sim: TrackerSimulator, authorization: str | None) -> None:
    headers = {"X-Org-ID": "sim-org"}
    if authorization is not None:
        headers["Authorization"] = authorization
    _assert_error(_get(sim, headers), 401)


def test_missing_org_is_401_and_wrong_org_is_403(sim: TrackerSimulator) -> None:
    _assert_error(_get(sim, OK_TOKEN), 401)
    _assert_error(_get(sim, {**OK_TOKEN, "X-Org-ID": "other-org"}), 403)
    _assert_error(_get(sim, {**OK_TOKEN, "X-Cloud-Org-ID": "sim-org"}), 403)  # not a cloud org


def test_errors_precede_routing_and_cover_every_route(sim: TrackerSimulator) -> None:
    for method, path in (("POST", "/v2/issues/_search"), ("GET", "/v3/statuses"), ("GET", "/v3/nowhere")):
        _assert_error(requests.request(method, f"{sim.url}{path}", headers={"X-Org-ID": "sim-org"}), 401)


@pytest.mark.parametrize("name", ["X-Org-ID", "X-Org-Id", "x-org-id", "X-ORG-ID"])
def test_org_header_name_is_case_insensitive(sim: TrackerSimulator, name: str) -> None:
    response = _get(sim, {"authorization": "oauth sim-token", name: "sim-org"})
    assert response.status_code == 200
    assert response.json()["login"]


def test_oauth_with_either_org_header(cloud_sim: TrackerSimulator) -> None:
    assert _get(cloud_sim, {**OK_TOKEN, "X-Org-ID": "org-360"}).status_code == 200
    assert _get(cloud_sim, {**OK_TOKEN, "X-Cloud-Org-ID": "cloud-org"}).status_code == 200


def test_iam_token_needs_the_cloud_org(cloud_sim: TrackerSimulator) -> None:
    bearer = {"Authorization": "Bearer iam-secret"}
    assert _get(cloud_sim, {**bearer, "X-Cloud-Org-Id": "cloud-org"}).status_code == 200
    _assert_error(_get(cloud_sim, {**bearer, "X-Org-ID": "org-360"}), 403)
    _assert_error(_get(cloud_sim, {"Authorization": "Bearer wrong", "X-Cloud-Org-ID": "cloud-org"}), 401)
    _assert_error(_get(cloud_sim, {"Authorization": "OAuth iam-secret", "X-Cloud-Org-ID": "cloud-org"}), 401)


def test_python_client_not_provided_quirk(cloud_sim: TrackerSimulator) -> None:
    """yandex_tracker_client sends ``X-Org-Id: not provided`` plus ``X-Cloud-Org-Id`` for cloud orgs."""
    quirk = {"X-Org-Id": "not provided", "X-Cloud-Org-Id": "cloud-org"}
    assert _get(cloud_sim, {**OK_TOKEN, **quirk}).status_code == 200
    assert _get(cloud_sim, {"Authorization": "Bearer iam-secret", **quirk}).status_code == 200
    # "not provided" alone is no org at all
    _assert_error(_get(cloud_sim, {**OK_TOKEN, "X-Org-Id": "not provided"}), 401)
    # with a wrong cloud org the quirk header does not rescue the request
    _assert_error(_get(cloud_sim, {**OK_TOKEN, "X-Org-Id": "not provided", "X-Cloud-Org-Id": "nope"}), 403)


def test_helper_headers_work_for_both_org_types(cloud_sim: TrackerSimulator) -> None:
    assert _get(cloud_sim, cloud_sim.headers()).status_code == 200
    assert _get(cloud_sim, cloud_sim.headers(org_type="cloud")).status_code == 200


def test_unknown_resource_is_404_and_wrong_method_405(sim: TrackerSimulator) -> None:
    _assert_error(requests.get(f"{sim.url}/v3/nowhere", headers=sim.headers()), 404)
    _assert_error(requests.get(f"{sim.url}/v3/issues/NOPE-1", headers=sim.headers()), 404)
    _assert_error(requests.get(f"{sim.url}/v3/issues/_search", headers=sim.headers()), 404)
    _assert_error(requests.delete(f"{sim.url}/v3/statuses", headers=sim.headers()), 405)
