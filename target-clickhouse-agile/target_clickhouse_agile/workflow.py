"""The team's workflow map: which stage each status belongs to, in what order, and where the process starts
and ends. It is configuration, not data, so it comes from the target's settings (`workflow_map`, an object)
or a YAML/JSON file (`workflow_map_file`), and the target mirrors it into the `workflow_map` and
`workflow_scopes` tables at start-up (`clickhouse/workflow_store.py`), where the analytics views
(migrations 000007/000008) read it.

Shape (per scope: a queue key, or `*` for every queue without its own entry)::

    "*":
      stages:                       # in workflow order; the position is the stage order (from 1)
        - {name: Backlog, statuses: [open]}
        - {name: In progress, statuses: [inProgress, needInfo]}
        - {name: Review, statuses: [inReview], category: active}
        - {name: Done, statuses: [resolved, closed]}
      start: In progress            # commitment point; default: the second stage
      done: Done                    # done point; default: the last stage
      exclude: [needInfo]           # statuses left out of the "excluding" cycle-time variant

A stage's `category` (todo, active, wait, done, cancelled) is optional: without it each status keeps its own
category (from Tracker's status type or `status_categories`), which is also what the views use for a status
the map does not list. Without any map, the categories themselves are the stages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_clickhouse_agile.metrics.categories import CATEGORIES

DEFAULT_SCOPE = "*"


@dataclass(frozen=True)
class StatusRow:
    """One `workflow_map` row."""

    scope: str
    status: str
    stage: str
    stage_order: int
    category: str
    is_excluded: int


@dataclass(frozen=True)
class ScopeRow:
    """One `workflow_scopes` row."""

    scope: str
    start_order: int
    done_order: int


@dataclass(frozen=True)
class WorkflowMap:
    statuses: tuple[StatusRow, ...]
    scopes: tuple[ScopeRow, ...]


def _stage_index(stages: list[str], wanted: Any, default: int, where: str, errors: list[str]) -> int:
    if wanted is None:
        return default
    if str(wanted) not in stages:
        errors.append(f"{where}: '{wanted}' is not one of its stages ({', '.join(stages)})")
        return default
    return stages.index(str(wanted)) + 1


def _parse_scope(scope: str, spec: Any, errors: list[str]) -> tuple[list[StatusRow], ScopeRow | None]:
    where = f"workflow_map[{scope!r}]"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("stages"), list) or not spec["stages"]:
        errors.append(f"{where}: expected an object with a non-empty `stages` list")
        return [], None
    names: list[str] = []
    rows: list[StatusRow] = []
    seen: dict[str, str] = {}
    excluded = spec.get("exclude") or []
    if not isinstance(excluded, list):
        errors.append(f"{where}.exclude: expected a list of status keys")
        excluded = []
    for position, stage in enumerate(spec["stages"], start=1):
        if (
            not isinstance(stage, Mapping)
            or not stage.get("name")
            or not isinstance(stage.get("statuses"), list)
        ):
            errors.append(f"{where}.stages[{position - 1}]: expected {{name: ..., statuses: [...]}}")
            continue
        name = str(stage["name"])
        if name in names:
            errors.append(f"{where}: stage '{name}' is listed twice")
        names.append(name)
        category = str(stage.get("category") or "")
        if category and category not in CATEGORIES:
            errors.append(
                f"{where}: stage '{name}' has category '{category}'; use one of {', '.join(CATEGORIES)}"
            )
        for status in stage["statuses"]:
            status = str(status)
            if status in seen:
                errors.append(f"{where}: status '{status}' is in stages '{seen[status]}' and '{name}'")
                continue
            seen[status] = name
            rows.append(StatusRow(scope, status, name, position, category, int(status in map(str, excluded))))
    start = _stage_index(names, spec.get("start"), min(2, len(names)), f"{where}.start", errors)
    done = _stage_index(names, spec.get("done"), len(names), f"{where}.done", errors)
    if start > done:
        errors.append(f"{where}: the start stage comes after the done stage")
    return rows, ScopeRow(scope, start, done)


def parse_workflow_map(raw: Any) -> tuple[WorkflowMap | None, list[str]]:
    """The map from its settings/file form, or the problems found (each says what to fix)."""
    if not isinstance(raw, Mapping) or not raw:
        return None, ["workflow_map: expected an object of scopes (queue keys or '*') to {stages: [...]}"]
    errors: list[str] = []
    statuses: list[StatusRow] = []
    scopes: list[ScopeRow] = []
    for scope, spec in raw.items():
        rows, scope_row = _parse_scope(str(scope), spec, errors)
        statuses += rows
        if scope_row is not None:
            scopes.append(scope_row)
    if errors:
        return None, errors
    return WorkflowMap(tuple(statuses), tuple(scopes)), []


def read_map_file(path: str | Path) -> Any:
    """YAML (a superset of JSON) when PyYAML is importable, else JSON."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency; JSON still works without it
        return json.loads(text)
    return yaml.safe_load(text)


def workflow_from_config(config: Mapping[str, Any]) -> tuple[WorkflowMap | None, list[str]]:
    """The map from `workflow_map` or `workflow_map_file` (not both); `(None, [])` when neither is set."""
    inline, file = config.get("workflow_map"), config.get("workflow_map_file")
    if inline and file:
        return None, ["workflow_map and workflow_map_file are both set: keep one"]
    if file:
        try:
            raw = read_map_file(file)
        except (OSError, ValueError) as exc:
            return None, [f"workflow_map_file: cannot read {file}: {exc}"]
        return parse_workflow_map(raw)
    if inline:
        return parse_workflow_map(inline)
    return None, []
