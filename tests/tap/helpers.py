"""Running the tap the two ways users do - the CLI in a subprocess, or ``sync_all()`` in-process - and
reading its Singer output back."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_yandex_tracker.tap import TapYandexTracker

CLI = str(Path(sys.executable).with_name("tap-yandex-tracker"))


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


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Singer lines; a last line cut by a kill is ignored."""
    messages = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return messages


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
    return SyncOutput(parse_lines(buffer.getvalue()))


def _write_json(directory: str, name: str, payload: Any) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    return path


def cli_args(
    directory: str,
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> list[str]:
    args = [CLI, "--config", _write_json(directory, "config.json", config)]
    if state is not None:
        args += ["--state", _write_json(directory, "state.json", state)]
    if catalog is not None:
        args += ["--catalog", _write_json(directory, "catalog.json", catalog)]
    return args


def run_cli(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> SyncOutput:
    """The real console script in a subprocess (``env``: extra environment variables)."""
    with tempfile.TemporaryDirectory() as directory:
        completed = subprocess.run(
            cli_args(directory, config, state, catalog),
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    output = SyncOutput(parse_lines(completed.stdout), completed.stderr, completed.returncode)
    output.stdout = completed.stdout  # type: ignore[attr-defined]
    return output
