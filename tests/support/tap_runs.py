"""The tap alone, the two ways users run it - the CLI in a subprocess (through `pipeline.run_tap`), or
``sync_all()`` in-process - with its Singer output read back."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_yandex_tracker.tap import TapYandexTracker
from tests.support.pipeline import parse_json_lines, run_tap


@dataclass
class SyncOutput:
    """Parsed Singer messages of one run."""

    messages: list[dict[str, Any]]
    stderr: str = ""
    returncode: int = 0
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records[message["stream"]].append(message["record"])
            elif message["type"] == "STATE":
                self.states.append(message["value"])

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    def ids(self, stream: str) -> list[Any]:
        key = "uid" if stream == "users" else "id"
        return [record[key] for record in self.records.get(stream, [])]

    def id_counts(self, stream: str) -> Counter:
        return Counter(self.ids(stream))

    def message_types(self) -> Counter:
        return Counter(m["type"] for m in self.messages)


def catalog_selecting(streams: set[str]) -> dict[str, Any]:
    """A catalog that selects only ``streams`` (built from the tap's own discovery)."""
    tap = TapYandexTracker(config={"token": "x", "org_id": "x"}, validate_config=False)
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in streams
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = selected
    return catalog


def run_inprocess(
    config: dict[str, Any], state: dict[str, Any] | None = None, catalog: dict[str, Any] | None = None
) -> SyncOutput:
    """``sync_all()`` with stdout captured."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap = TapYandexTracker(config=dict(config), state=state, catalog=catalog)
        tap.sync_all()
    return SyncOutput(parse_json_lines(buffer.getvalue()))


def run_cli(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> SyncOutput:
    """The real console script in a subprocess (``env``: extra environment variables)."""
    with tempfile.TemporaryDirectory() as directory:
        done = run_tap(
            config, workdir=Path(directory), state=state, catalog=catalog, env=env, timeout=timeout
        )
    output = SyncOutput(parse_json_lines(done.stdout), done.stderr, done.returncode)
    output.stdout = done.stdout  # type: ignore[attr-defined]
    return output
