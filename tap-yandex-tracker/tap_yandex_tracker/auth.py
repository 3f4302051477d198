"""``Authorization`` for Tracker: an OAuth token or a Yandex Cloud IAM token, never shown in a repr."""

from __future__ import annotations

from singer_sdk.authenticators import APIAuthenticatorBase


class TrackerAuthenticator(APIAuthenticatorBase):
    """``Authorization: OAuth <token>`` or ``Authorization: Bearer <iam_token>``."""

    def __init__(self, *, token: str | None, iam_token: str | None) -> None:
        super().__init__()
        if token:
            self.auth_headers["Authorization"] = f"OAuth {token}"
        elif iam_token:
            self.auth_headers["Authorization"] = f"Bearer {iam_token}"

    def __repr__(self) -> str:  # never show the header value
        return "TrackerAuthenticator(<redacted>)"
