"""Request/response values shared by the router, the handlers and the HTTP server.

Handlers never touch sockets: they take a :class:`Request` and return a :class:`Response` (or raise
:class:`ApiError`). That keeps them testable and lets the server apply faults (truncation, drops)
uniformly. A response may carry a ``commit`` callback with the state change it implies (advancing a
scroll); the server runs it only if the response was delivered intact, so injected faults never corrupt
the simulator's state and a client retry sees the same page again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

JSON_TYPE = "application/json;charset=utf-8"


class ApiError(Exception):
    """An error in Tracker's shape: ``{"errors": {...}, "errorMessages": [...], "statusCode": N}``."""

    def __init__(
        self,
        status: int,
        *messages: str,
        errors: dict[str, str] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{status}: {'; '.join(messages)}")
        self.status = status
        self.messages = list(messages)
        self.errors = errors or {}
        self.headers = headers or []

    def response(self) -> Response:
        body = {"errors": self.errors, "errorMessages": self.messages, "statusCode": self.status}
        return Response.json(body, status=self.status, headers=self.headers)


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # email.message.Message: case-insensitive lookups
    body: bytes
    host: str
    scheme: str = "http"

    @classmethod
    def build(
        cls, method: str, target: str, headers: Any, body: bytes, default_host: str, scheme: str = "http"
    ) -> Request:
        path, _, query = target.partition("?")
        return cls(
            method,
            path,
            parse_qs(query, keep_blank_values=True),
            headers,
            body,
            headers.get("Host") or default_host,
            scheme,
        )

    @property
    def base(self) -> str:
        """Base URL of ``self`` links: the host the client addressed."""
        return f"{self.scheme}://{self.host}"

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_param(self, name: str, default: int) -> int:
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ApiError(
                400, f"Parameter {name} must be an integer", errors={name: "invalid value"}
            ) from None

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(422, "Request body is not valid JSON") from None


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    commit: Callable[[], None] | None = None

    @classmethod
    def json(
        cls,
        payload: Any,
        *,
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        commit: Callable[[], None] | None = None,
    ) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, [("Content-Type", JSON_TYPE), *(headers or [])], commit)
