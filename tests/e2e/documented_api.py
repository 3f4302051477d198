"""An HTTP server that answers with the example responses of Yandex's Tracker API documentation.

The corpus (`tests/fixtures/real_api/`, see its SOURCES.md) holds each documented example verbatim. The
examples reuse the same ids (every page shows issue TREK-9844), so they are served as *scenarios*: in one
scenario no two served items of a stream share a key, and together the scenarios serve every example of
every endpoint the tap calls. What the server adds is only what a real server would: the documentation's
`{{ host }}` in `Link` headers becomes this server's address, a scroll is split into two pages (so the
documented scroll headers are followed), and requests for what the corpus does not document
(`users/_relative`, `boards/_paginate`, issue types, resolutions) get what the API gives where an endpoint
is missing or empty (404, `[]`).
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "real_api"
#: The streams the tap reads and the corpus endpoint of each (issues come from two kinds of page).
ENDPOINTS = {
    "issues": ("issues_search", "issue"),
    "issue_changelog": ("changelog",),
    "statuses": ("statuses",),
    "queues": ("queues",),
    "users": ("users",),
    "priorities": ("priorities",),
    "boards": ("boards",),
    "sprints": ("sprints",),
}
KEY = {"users": "uid"}
_HOST = re.compile(r"(?:https?://)?(?:\{\{ ?host ?\}\}|api\.tracker\.yandex\.net)")


@dataclass(frozen=True)
class Example:
    """One documented response: its items (a list even where the doc shows one object) and headers."""

    file: str
    items: tuple[dict[str, Any], ...]
    headers: tuple[tuple[str, str], ...]


def load_examples(endpoint: str) -> list[Example]:
    index = json.loads((CORPUS / "index.json").read_text())
    out = []
    for entry in index:
        if entry["endpoint"] != endpoint:
            continue
        body = json.loads((CORPUS / entry["file"]).read_text())
        items = tuple(body if isinstance(body, list) else [body])
        headers: list[tuple[str, str]] = []
        if entry.get("headers"):
            for line in (CORPUS / entry["headers"]).read_text().splitlines():
                name, _, value = line.partition(":")
                if value:
                    headers.append((name.strip(), value.strip()))
        out.append(Example(entry["file"], items, tuple(headers)))
    return out


@dataclass
class Scenario:
    """What one organisation serves: per stream the examples, per issue id its changelog example."""

    name: str
    examples: dict[str, list[Example]] = field(default_factory=lambda: defaultdict(list))
    changelog_of: dict[str, Example] = field(default_factory=dict)

    def items(self, stream: str) -> list[dict[str, Any]]:
        if stream == "issue_changelog":
            return [item for example in self.changelog_of.values() for item in example.items]
        return [item for example in self.examples[stream] for item in example.items]

    def keys(self, stream: str) -> set[str]:
        return {str(item[KEY.get(stream, "id")]) for item in self.items(stream)}


def _keys(example: Example, stream: str) -> set[str]:
    return {str(item[KEY.get(stream, "id")]) for item in example.items}


def build_scenarios() -> list[Scenario]:
    """Every example in some scenario; within one, no key of a stream twice (first fit)."""
    scenarios: list[Scenario] = []

    def place(stream: str, example: Example, taken: dict[tuple[int, str], set[str]]) -> None:
        keys = _keys(example, stream)
        for number in range(len(scenarios) + 1):
            if number == len(scenarios):
                scenarios.append(Scenario(f"scenario-{number + 1}"))
            if not keys & taken[(number, stream)]:
                scenarios[number].examples[stream].append(example)
                taken[(number, stream)] |= keys
                return

    taken: dict[tuple[int, str], set[str]] = defaultdict(set)
    for stream, endpoints in ENDPOINTS.items():
        if stream == "issue_changelog":
            continue
        for endpoint in endpoints:
            for example in load_examples(endpoint):
                place(stream, example, taken)
    # Changelog examples: one per issue, entry ids distinct within a scenario (en and ru pages share them).
    pending = load_examples("changelog")
    for scenario in scenarios:
        used: set[str] = set()
        for issue in scenario.items("issues"):
            fit = next((e for e in pending if not {i["id"] for i in e.items} & used), None)
            if fit is not None:
                scenario.changelog_of[issue["id"]] = fit
                used |= {i["id"] for i in fit.items}
                pending.remove(fit)
    assert not pending, f"changelog examples without an issue to serve them: {[e.file for e in pending]}"
    return scenarios


class DocumentedApi:
    """Serves one :class:`Scenario` at a time on a loopback port (any token and organisation)."""

    def __init__(self) -> None:
        self.scenario = Scenario("empty")
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DocumentedApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- routing -----------------------------------------------------------------------------------
    def answer(self, method: str, target: str) -> tuple[int, Any, list[tuple[str, str]]]:
        self.requests.append(f"{method} {target}")
        url = urlparse(target)
        path, query = url.path, parse_qs(url.query)
        parts = path.strip("/").split("/")[1:]  # without the version
        s = self.scenario
        if method == "POST" and parts == ["issues", "_search"]:
            return self._search(query)
        if method == "POST" and parts[:2] == ["system", "search"]:
            return 200, None, []
        if method != "GET":
            return 405, _error(405, "Method not allowed"), []
        if parts in (["users", "_relative"], ["boards", "_paginate"]):
            return 404, _error(404, "Not found"), []  # not in the documentation corpus
        if len(parts) == 3 and parts[0] == "issues" and parts[2] == "changelog":
            return self._changelog(parts[1], query)
        if len(parts) == 3 and parts[0] == "boards" and parts[2] == "sprints":
            return 200, s.items("sprints"), []
        if len(parts) == 2 and parts[0] == "queues":
            found = next((q for q in s.items("queues") if parts[1] in (q.get("key"), str(q["id"]))), None)
            return (200, found, []) if found else (404, _error(404, "Queue does not exist."), [])
        named = {"statuses": "statuses", "priorities": "priorities", "queues": "queues", "users": "users"}
        if len(parts) == 1 and parts[0] in named:
            return 200, s.items(named[parts[0]]), []
        if parts == ["boards"]:
            return 200, s.items("boards"), []
        if parts in (["issuetypes"], ["resolutions"]):
            return 200, [], []  # the corpus documents no example of these lists
        return 404, _error(404, f"No such resource: {path}"), []

    def _search(self, query: dict[str, list[str]]) -> tuple[int, Any, list[tuple[str, str]]]:
        issues = sorted(self.scenario.items("issues"), key=lambda i: i["updatedAt"])
        examples = self.scenario.examples["issues"]
        documented = [h for e in examples for h in e.headers if h[0].lower() == "link"][:2]
        if "scrollId" not in query:  # the first page: one issue, and the documented scroll headers
            headers = [("X-Total-Count", str(len(issues))), ("X-Scroll-Id", "6554d4cbbda0de18"),
                       ("X-Scroll-Token", "dummy-token-you-dont-have-to-specify-it")]  # fmt: skip
            headers += [(name, self._here(value)) for name, value in documented]
            return 200, issues[:1], headers
        return 200, issues[1:], [("X-Total-Count", str(len(issues)))]

    def _changelog(self, issue: str, query: dict[str, list[str]]) -> tuple[int, Any, list[tuple[str, str]]]:
        example = self.scenario.changelog_of.get(issue)
        if example is None or "id" in query:  # the page after the documented one: nothing more
            return 200, [], []
        return 200, list(example.items), [(name, self._here(value)) for name, value in example.headers]

    def _here(self, value: str) -> str:
        return _HOST.sub(self.url, value)


def _error(status: int, message: str) -> dict[str, Any]:
    return {"errors": {}, "errorMessages": [message], "statusCode": status}


def _handler(api: DocumentedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, body, headers = api.answer(self.command, self.path)
            payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET  # noqa: N815

    return Handler


def iter_served(scenario: Scenario) -> Iterator[tuple[str, dict[str, Any]]]:
    for stream in ENDPOINTS:
        for item in scenario.items(stream):
            yield stream, item
