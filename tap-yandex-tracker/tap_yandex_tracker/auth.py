"""``Authorization`` for Tracker: an OAuth token or a Yandex Cloud IAM token, never shown in a repr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from singer_sdk.authenticators import APIAuthenticatorBase

if TYPE_CHECKING:
    import requests


class TrackerAuthenticator(APIAuthenticatorBase):
    """``Authorization: OAuth <token>`` or ``Authorization: Bearer <iam_token>``."""

    def __init__(self, *, token: str | None, iam_token: str | None) -> None:
        super().__init__()
        if token:
            self.auth_headers["Authorization"] = f"OAuth {token}"
        elif iam_token:
            self.auth_headers["Authorization"] = f"Bearer {iam_token}"

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """The header only. The SDK also rebuilds the URL to add query parameters (split, parse, encode,
        join), even when there are none: Tracker's auth has none, and the SDK authenticates every request
        twice (when preparing it and when sending it)."""
        if self.auth_params:
            return super().authenticate_request(request)
        request.headers.update(self.auth_headers)
        return request

    def __repr__(self) -> str:  # never show the header value
        return "TrackerAuthenticator(<redacted>)"
