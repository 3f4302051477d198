"""Authentication and organisation headers, as Tracker checks them.

* ``Authorization: OAuth <token>`` or ``Bearer <IAM token>`` (scheme case-insensitive); anything else is
  401. IAM tokens only work for Yandex Cloud organisations, i.e. together with ``X-Cloud-Org-ID``.
* Organisation: ``X-Cloud-Org-ID`` is preferred, then ``X-Org-ID`` (header names are case-insensitive).
  ``X-Org-Id: not provided`` is what the official Python client sends when it has no org id, so it
  counts as absent. No usable org header is a 401 (the docs list a missing org under 401); an org the
  token does not belong to is a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .wire import ApiError


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str | None
    org_id: str | None
    cloud_org_id: str | None
    iam_token: str | None


def check(headers: Any, creds: Credentials) -> None:
    """Raise :class:`ApiError` (401/403) unless the request is authorised for the organisation."""
    scheme, _, secret = (headers.get("Authorization") or "").strip().partition(" ")
    secret = secret.strip()
    scheme = scheme.lower()
    if scheme == "oauth" and secret and secret == creds.token:
        iam = False
    elif scheme == "bearer" and secret and secret == creds.iam_token:
        iam = True
    else:
        raise ApiError(401, "Not authorized: missing or invalid OAuth/IAM token")
    cloud = (headers.get("X-Cloud-Org-ID") or "").strip()
    org = (headers.get("X-Org-ID") or "").strip()
    if org.lower() == "not provided":
        org = ""
    if cloud and creds.cloud_org_id and cloud == creds.cloud_org_id:
        return
    if org and not iam and creds.org_id and org == creds.org_id:
        return
    if not cloud and not org:
        raise ApiError(401, "Not authorized: an X-Org-ID or X-Cloud-Org-ID header is required")
    if iam and not cloud:
        raise ApiError(403, "IAM tokens require the X-Cloud-Org-ID header of a Yandex Cloud organization")
    raise ApiError(403, "Access denied: the token has no access to this organization")
