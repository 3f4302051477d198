"""Data model of the simulated organisation.

Two layers on purpose:

* the **event model** (:class:`Event`, :class:`IssueHistory`) is what the generator produces; an issue's
  current state (:class:`IssueState`) is a fold over its events, and a scroll snapshot is simply the fold
  over a prefix of them (events are append-only);
* the **index** (:class:`IssueRecord`) holds the few attributes search needs for every issue, so that
  100,000 issues fit in memory while full histories are regenerated lazily from a per-issue seed.

Values inside events are internal tokens (status key, user index, queue key, milliseconds), never JSON;
``render.py`` turns them into API shapes per request (base URL, API version, language).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

Change = tuple[str, Any, Any]  # (field id, old value, new value) in internal tokens


class Event(NamedTuple):
    """One changelog entry. ``seq`` is its position in the issue's history (and its id counter)."""

    seq: int
    at: int  # updatedAt, ms
    type: str
    actor: int  # user index
    transport: str
    changes: tuple[Change, ...]
    comment: bool = False  # an IssueCommentAdded entry (the comment id derives from idx and seq)


@dataclass(slots=True)
class IssueState:
    """The current (or snapshot) state of an issue; every attribute holds an immutable value."""

    key: str
    queue: str
    status: str
    status_since: int
    type: str
    priority: str
    author: int
    created: int
    updated: int
    updated_by: int
    assignee: int | None = None
    followers: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    components: tuple[int, ...] = ()
    sprint: tuple[int, ...] = ()
    story_points: float | None = None
    resolution: str | None = None
    resolved_at: int | None = None
    resolved_by: int | None = None
    previous_status: str | None = None
    previous_queue: str | None = None
    aliases: tuple[str, ...] = ()
    parent: int | None = None  # issue index
    epic: int | None = None  # issue index
    project: int | None = None
    last_comment_at: int | None = None
    comments: int = 0
    version: int = 1

    def copy(self) -> IssueState:
        return IssueState(**{name: getattr(self, name) for name in self.__slots__})


@dataclass(slots=True)
class IssueHistory:
    """Everything the generator decided about one issue.

    ``timeline`` is the generator's own record of status visits ``(status key, entered at ms)``; it is the
    ground truth the served changelog is checked against and is never derived from ``events``.
    """

    initial: IssueState
    events: list[Event]
    timeline: list[tuple[str, int]]
    final: IssueState | None = None  # the state after all events, when the producer has it at hand


@dataclass(slots=True)
class IssueRecord:
    """Per-issue index entry: what generation needs to replay the issue and what search filters on."""

    idx: int
    id: str
    keys: list[str]  # every key the issue ever had, the current one last
    queue: str  # current queue key
    origin_queue: str
    created: int
    horizon: int  # the base history is generated up to this instant
    allow_moves: bool
    updated: int = 0
    status: str = ""
    version: int = 0  # number of changelog entries
    state: IssueState | None = None  # current state, kept so search pages need no history replay

    @property
    def key(self) -> str:
        return self.keys[-1]


@dataclass(frozen=True, slots=True)
class IssueTruth:
    """Ground truth for one issue, straight from the generator's event model."""

    id: str
    key: str
    queue: str
    created_at: datetime
    current_status: str
    timeline: list[tuple[str, datetime]]


@dataclass(frozen=True, slots=True)
class User:
    idx: int
    uid: str
    login: str
    first: tuple[str, str]  # (en, ru)
    last: tuple[str, str]
    cloud_uid: str

    def display(self, lang: str) -> str:
        i = 1 if lang == "ru" else 0
        return f"{self.first[i]} {self.last[i]}"


@dataclass(frozen=True, slots=True)
class Queue:
    id: int
    key: str
    en: str
    ru: str
    workflow: str
    lead: int
    default_type: str
    board_id: int
    components: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Component:
    id: int
    name: str
    queue: str


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    en: str
    ru: str
    lead: int


@dataclass(frozen=True, slots=True)
class Board:
    id: int
    name: str
    queue: str
    scrum: bool
    columns: tuple[tuple[int, str, tuple[str, ...]], ...]  # (column id, name, status keys)


@dataclass(frozen=True, slots=True)
class Sprint:
    id: int
    board_id: int
    name: str
    start: int  # ms, 00:00 UTC of the first day
    end: int  # ms, 00:00 UTC of the last day


@dataclass(slots=True)
class Catalog:
    """Reference data of one organisation (everything except issues)."""

    users: list[User]
    queues: dict[str, Queue]
    components: dict[int, Component]
    projects: dict[int, Project]
    boards: dict[int, Board]
    sprints: dict[int, Sprint]
    sprints_by_board: dict[int, list[int]] = field(default_factory=dict)
