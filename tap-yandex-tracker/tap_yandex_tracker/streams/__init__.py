"""Stream classes of the tap."""

from tap_yandex_tracker.streams.changelog import IssueChangelogStream
from tap_yandex_tracker.streams.issues import IssuesStream
from tap_yandex_tracker.streams.reference import (
    BoardsStream,
    IssueTypesStream,
    PrioritiesStream,
    QueuesStream,
    ResolutionsStream,
    SprintsStream,
    StatusesStream,
    UsersStream,
)
from tap_yandex_tracker.streams.skipped import SkippedIssuesStream

#: Sync order: reference data first (small, and lets a target classify statuses before issues arrive).
STREAM_TYPES = (
    StatusesStream,
    IssueTypesStream,
    PrioritiesStream,
    ResolutionsStream,
    QueuesStream,
    UsersStream,
    BoardsStream,
    SprintsStream,
    IssuesStream,
    IssueChangelogStream,
    SkippedIssuesStream,  # after the issues: what they set aside
)

__all__ = [
    "STREAM_TYPES",
    "BoardsStream",
    "IssueChangelogStream",
    "IssueTypesStream",
    "IssuesStream",
    "PrioritiesStream",
    "QueuesStream",
    "ResolutionsStream",
    "SkippedIssuesStream",
    "SprintsStream",
    "StatusesStream",
    "UsersStream",
]
