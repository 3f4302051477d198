"""Fold changelog events into an issue state.

The same function serves generation (the walker applies each event as it emits it, so its decisions
always see the state the API would show) and serving (the current state, or a scroll snapshot as the
fold over a prefix of the events). One fold means the issue object and its changelog cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import Event, IssueState

# Fields whose new value is stored as-is on the state attribute of the same meaning.
_PLAIN = {
    "assignee": "assignee",
    "followers": "followers",
    "tags": "tags",
    "priority": "priority",
    "type": "type",
    "storyPoints": "story_points",
    "sprint": "sprint",
    "components": "components",
}


def apply_event(state: IssueState, event: Event) -> None:
    """Apply one entry in place: a ``status`` change in any event type is a transition."""
    new_status = None
    start_time = None
    for field_id, old, new in event.changes:
        if field_id == "status":
            new_status = new
        elif field_id == "statusStartTime":
            start_time = new
        elif field_id == "resolution":
            state.resolution = new
            state.resolved_at = event.at if new is not None else None
            state.resolved_by = event.actor if new is not None else None
        elif field_id == "queue":
            state.queue = new
            state.previous_queue = old
        elif field_id == "key":
            state.aliases = (*state.aliases, old)
            state.key = new
        else:
            setattr(state, _PLAIN[field_id], new)
    if new_status is not None:
        state.previous_status = state.status
        state.status = new_status
        state.status_since = start_time if start_time is not None else event.at
    if event.comment:
        state.last_comment_at = event.at
        state.comments += 1
    state.updated = event.at
    state.updated_by = event.actor
    state.version += 1


def fold(initial: IssueState, events: Iterable[Event]) -> IssueState:
    """The state after ``events`` (the initial state is not modified)."""
    state = initial.copy()
    for event in events:
        apply_event(state, event)
    return state
