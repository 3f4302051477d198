"""The per-issue random walk that writes histories.

One :class:`IssueWalker` both emits changelog events and records the ground-truth status timeline.
The two are written side by side but independently: the timeline says *what* happened (status X entered
at T), the events say *how the API reports it*, with all the real-world irregularities consumers must
handle — IssueCreated missing on imported issues, creation directly in a later status, transitions
without ``statusStartTime`` (time = ``updatedAt``), ``statusStartTime.to`` one millisecond after
``updatedAt``, ``resolution`` before ``status`` in the fields list, transitions inside IssueUpdated and
IssueMoved, two transitions in the same millisecond, reopen after done, long changelogs.

The same walker continues an existing issue for :meth:`Organisation.advance`, so live mutations have
exactly the same shapes as generated history.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from .catalog import (
    CANCEL_RESOLUTIONS,
    CLOSED_TYPES,
    DONE,
    DONE_RESOLUTIONS,
    IN_PROGRESS,
    STATUS_TYPE,
    STORY_POINTS,
    TAGS,
    WORKFLOWS,
    Workflow,
)
from .history import apply_event
from .ids import mix
from .model import Change, Event, IssueHistory, IssueRecord, IssueState, Queue
from .timefmt import HOUR_MS

_PRIORITIES = ("trivial", "minor", "normal", "critical", "blocker")
_PRIORITY_WEIGHTS = (1, 3, 9, 12, 13)  # cumulative
_TYPES = ("bug", "task", "story")
_TYPE_WEIGHTS = (3, 8, 10)  # cumulative
_TRANSPORTS = ("front", "front", "front", "front", "front", "service-api", "back", "apiV2")
_EDIT_FIELDS = (
    "assignee",
    "assignee",
    "followers",
    "tags",
    "tags",
    "priority",
    "storyPoints",
    "sprint",
    "components",
)


class WalkContext(Protocol):
    """What the walker needs from the organisation (kept narrow so walks are easy to reason about)."""

    seed: int
    n_users: int
    queues: dict[str, Queue]
    import_before: int

    def sprint_at(self, queue: str, at: int) -> int | None: ...

    def is_epic(self, idx: int) -> bool: ...


def _weighted_targets(workflow: Workflow, status: str) -> tuple[list[str], list[int]]:
    targets: list[str] = []
    cumulative: list[int] = []
    total = 0
    for target, weight in workflow.transitions[status]:
        total += weight
        targets.append(target)
        cumulative.append(total)
    return targets, cumulative


_TARGETS = {
    (wf.name, status): _weighted_targets(wf, status) for wf in WORKFLOWS.values() for status in wf.transitions
}


class IssueWalker:
    """Emits events for one issue, applying each to ``state`` so every decision sees the served state."""

    def __init__(
        self,
        ctx: WalkContext,
        idx: int,
        rng: random.Random,
        state: IssueState,
        *,
        seq_start: int,
        key_for_move: Callable[[str], str],
        allow_moves: bool,
        moves_done: int = 0,
    ) -> None:
        self.ctx = ctx
        self.idx = idx
        self.rng = rng
        self.state = state
        self.seq = seq_start
        self.key_for_move = key_for_move
        self.allow_moves = allow_moves
        self.moves_done = moves_done
        self.events: list[Event] = []
        self.timeline: list[tuple[str, int]] = []
        self.last_t = state.updated  # no later event may be earlier than this
        self.unknown_origin = False  # imported issue: the first statusStartTime.from is null

    # -- primitives ---------------------------------------------------------------------------------
    def emit(
        self,
        at: int,
        etype: str,
        changes: list[Change],
        *,
        actor: int | None = None,
        transport: str | None = None,
        comment: bool = False,
    ) -> None:
        rng = self.rng
        event = Event(
            self.seq,
            at,
            etype,
            int(rng.random() * self.ctx.n_users) if actor is None else actor,
            transport or _TRANSPORTS[int(rng.random() * len(_TRANSPORTS))],
            tuple(changes),
            comment,
        )
        self.seq += 1
        apply_event(self.state, event)
        self.events.append(event)
        self.last_t = max(self.last_t, at)

    def _workflow(self) -> Workflow:
        return WORKFLOWS[self.ctx.queues[self.state.queue].workflow]

    def _resolution_change(self, old_status: str, new_status: str) -> Change | None:
        """Closing sets a resolution; leaving the closed statuses clears it (a reopen)."""
        closed_before = STATUS_TYPE[old_status] in CLOSED_TYPES
        closed_after = STATUS_TYPE[new_status] in CLOSED_TYPES
        resolution = self.state.resolution
        if closed_after and resolution is None:
            pool = DONE_RESOLUTIONS if STATUS_TYPE[new_status] == DONE else CANCEL_RESOLUTIONS
            return ("resolution", None, pool[int(self.rng.random() * len(pool))])
        if closed_before and not closed_after and resolution is not None:
            return ("resolution", resolution, None)
        return None

    # -- actions -----------------------------------------------------------------------------------
    def transition(self, at: int, *, same_ms: bool = False) -> None:
        """Move to a workflow neighbour; record the truth time the API will imply for it."""
        rng = self.rng
        state = self.state
        workflow = self._workflow()
        targets, cumulative = _TARGETS[(workflow.name, state.status)]
        target = rng.choices(targets, cum_weights=cumulative)[0]
        as_update = rng.random() < 0.02  # an API client changing the status field directly
        with_start = not as_update and rng.random() >= 0.1
        shift = 1 if with_start and not same_ms and rng.random() < 0.5 else 0
        entered = at + shift
        changes: list[Change] = [("status", state.status, target)]
        if with_start:
            origin = None if self.unknown_origin else state.status_since
            changes.append(("statusStartTime", origin, entered))
        resolution = self._resolution_change(state.status, target)
        if resolution is not None:
            if rng.random() < 0.25:
                changes.insert(0, resolution)
            else:
                changes.append(resolution)
        if STATUS_TYPE[target] == IN_PROGRESS and state.assignee is None:
            changes.append(("assignee", None, int(rng.random() * self.ctx.n_users)))
        self.unknown_origin = False
        if as_update:
            self.emit(at, "IssueUpdated", changes, transport="apiV2")
        else:
            self.emit(at, "IssueWorkflow", changes, actor=state.assignee)
        self.timeline.append((target, entered))
        self.last_t = max(self.last_t, entered)

    def edit(self, at: int) -> None:
        """An IssueUpdated entry changing one or two ordinary fields."""
        rng = self.rng
        changes: list[Change] = []
        for _ in range(2 if rng.random() < 0.15 else 1):
            change = self._field_change(_EDIT_FIELDS[int(rng.random() * len(_EDIT_FIELDS))], at)
            if change is not None and all(change[0] != c[0] for c in changes):
                changes.append(change)
        if not changes:
            changes.append(self._tags_change())
        self.emit(at, "IssueUpdated", changes)

    def _field_change(self, field_id: str, at: int) -> Change | None:
        rng = self.rng
        state = self.state
        n_users = self.ctx.n_users
        if field_id == "assignee":
            if state.assignee is not None and rng.random() < 0.1:
                return ("assignee", state.assignee, None)
            new = int(rng.random() * n_users)
            return None if new == state.assignee else ("assignee", state.assignee, new)
        if field_id == "followers":
            new_user = int(rng.random() * n_users)
            if new_user in state.followers:
                return None
            kept = state.followers[1:] if len(state.followers) >= 5 else state.followers
            return ("followers", state.followers, (*kept, new_user))
        if field_id == "tags":
            return self._tags_change()
        if field_id == "priority":
            new = _PRIORITIES[int(rng.random() * len(_PRIORITIES))]
            return None if new == state.priority else ("priority", state.priority, new)
        if field_id == "storyPoints":
            new = STORY_POINTS[int(rng.random() * len(STORY_POINTS))]
            return None if new == state.story_points else ("storyPoints", state.story_points, new)
        if field_id == "sprint":
            sprint = self.ctx.sprint_at(state.queue, at)
            if sprint is None or state.sprint == (sprint,):
                return None
            return ("sprint", state.sprint, (sprint,))
        components = self.ctx.queues[state.queue].components
        new_components = (components[int(rng.random() * len(components))],)
        if new_components == state.components:
            return None
        return ("components", state.components, new_components)

    def _tags_change(self) -> Change:
        rng = self.rng
        tags = self.state.tags
        if tags and rng.random() < 0.3:
            drop = tags[int(rng.random() * len(tags))]
            new = tuple(tag for tag in tags if tag != drop)
        else:
            candidates = [tag for tag in TAGS if tag not in tags]
            new = (*tags, candidates[int(rng.random() * len(candidates))]) if candidates else ()
        return ("tags", tags, new)

    def comment(self, at: int) -> None:
        self.emit(at, "IssueCommentAdded", [], comment=True)

    def move(self, at: int) -> None:
        """IssueMoved: new key (old one becomes an alias), sometimes a status reset inside the event."""
        rng = self.rng
        state = self.state
        others = [key for key in self.ctx.queues if key != state.queue]
        target = others[int(rng.random() * len(others))]
        new_key = self.key_for_move(target)
        changes: list[Change] = [("queue", state.queue, target), ("key", state.key, new_key)]
        workflow = WORKFLOWS[self.ctx.queues[target].workflow]
        reset = state.status not in workflow.statuses or (
            state.status != workflow.initial and rng.random() < 0.3
        )
        entered = at
        if reset:
            changes.append(("status", state.status, workflow.initial))
            if rng.random() < 0.5:
                changes.append(("statusStartTime", state.status_since, at))
            resolution = self._resolution_change(state.status, workflow.initial)
            if resolution is not None:
                changes.append(resolution)
        if state.components:
            changes.append(("components", state.components, ()))
        self.moves_done += 1
        self.emit(at, "IssueMoved", changes)
        if reset:
            self.timeline.append((workflow.initial, entered))

    # -- driving -----------------------------------------------------------------------------------
    def step(self, at: int, *, terminal_bias: bool) -> None:
        """One random action at ``at`` (reopens happen as transitions out of a closed status)."""
        rng = self.rng
        roll = rng.random()
        if terminal_bias:
            action = "transition" if roll < 0.35 else "comment" if roll < 0.7 else "edit"
        elif roll < 0.45:
            action = "transition"
        elif roll < 0.72:
            action = "edit"
        elif roll < 0.99 or not self.allow_moves or self.moves_done >= 2:
            action = "comment"
        else:
            action = "move"
        getattr(self, action)(at)
        if action == "transition" and rng.random() < 0.04:
            self.transition(self.last_t, same_ms=True)

    def run(self, until: int) -> None:
        """Generate the base history up to ``until``; a few issues become very chatty (> 100 entries)."""
        rng = self.rng
        chatty = rng.random() < 0.012
        budget = rng.randint(110, 240) if chatty else rng.randint(1, 20)
        mean_gap = 2 * HOUR_MS if chatty else 30 * HOUR_MS
        while len(self.events) < budget:
            terminal = STATUS_TYPE[self.state.status] in CLOSED_TYPES
            if terminal and not chatty and rng.random() < 0.6:
                break
            at = self.last_t + int(rng.expovariate(1.0) * mean_gap) + rng.randint(0, 60_000)
            if at > until:
                break
            self.step(at, terminal_bias=terminal)


def _pick(rng: random.Random, values: tuple[str, ...], cumulative: tuple[int, ...]) -> str:
    return rng.choices(values, cum_weights=cumulative)[0]


def _find_epic(ctx: WalkContext, idx: int, rng: random.Random) -> int | None:
    start = idx - 1 - int(rng.random() * 50)
    for candidate in range(start, max(-1, start - 400), -1):
        if ctx.is_epic(candidate):
            return candidate
    return None


def initial_state(ctx: WalkContext, record: IssueRecord, rng: random.Random, key: str) -> IssueState:
    """The state at creation; attributes that never appear in the IssueCreated entry live only here."""
    queue = ctx.queues[record.origin_queue]
    workflow = WORKFLOWS[queue.workflow]
    status = workflow.initial
    if rng.random() < 0.05:  # created directly in a later status (e.g. by a form or an import)
        status = next(s for s in sorted(workflow.statuses) if STATUS_TYPE[s] == IN_PROGRESS)
    author = int(rng.random() * ctx.n_users)
    parent = epic = None
    if ctx.is_epic(record.idx):
        issue_type = "epic"
    else:
        issue_type = _pick(rng, _TYPES, _TYPE_WEIGHTS)
        if record.idx > 0 and rng.random() < 0.1:
            parent = record.idx - 1 - int(rng.random() * min(record.idx, 40))
            issue_type = "subtask"
        if rng.random() < 0.4:
            epic = _find_epic(ctx, record.idx, rng)
    return IssueState(
        key=key,
        queue=queue.key,
        status=status,
        status_since=record.created,
        type=issue_type,
        priority=_pick(rng, _PRIORITIES, _PRIORITY_WEIGHTS),
        author=author,
        created=record.created,
        updated=record.created,
        updated_by=author,
        assignee=int(rng.random() * ctx.n_users) if rng.random() < 0.6 else None,
        followers=(author,),
        components=(queue.components[int(rng.random() * len(queue.components))],)
        if rng.random() < 0.5
        else (),
        project=1 + int(rng.random() * 3) if rng.random() < 0.3 else None,
        parent=parent,
        epic=epic,
    )


def generate_history(ctx: WalkContext, record: IssueRecord, keys: list[str] | None) -> IssueHistory:
    """The base history of one issue, a pure function of (seed, record, keys).

    ``keys=None`` is the cheap first pass of organisation generation, before move targets have keys.
    """
    rng = random.Random(mix(ctx.seed, record.idx, 3))
    state = initial_state(ctx, record, rng, keys[0] if keys else "")
    initial = state.copy()
    moves = iter(keys[1:] if keys else ())
    walker = IssueWalker(
        ctx,
        record.idx,
        rng,
        state,
        seq_start=0,
        key_for_move=lambda _queue: next(moves, ""),
        allow_moves=record.allow_moves,
    )
    imported = record.created < ctx.import_before and rng.random() < 0.08
    if imported:
        walker.unknown_origin = True
    else:
        walker.emit(
            record.created,
            "IssueCreated",
            [("status", None, state.status)],
            actor=state.author,
            transport="front",
        )
    walker.timeline.append((state.status, record.created))
    walker.run(record.horizon)
    return IssueHistory(initial, walker.events, walker.timeline, walker.state)
