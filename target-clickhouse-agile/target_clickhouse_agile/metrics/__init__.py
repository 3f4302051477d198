"""Pure metrics core: history → status visits → interval, per-status and flow rows (no I/O).

Nothing here may import singer_sdk, clickhouse_driver or chdb: the core is unit-tested on its own and
reused by the target after it reads an issue's full history back from ClickHouse.
"""

from __future__ import annotations

from .calendar import WorkCalendar, parse_hhmm
from .categories import (
    CATEGORIES,
    CATEGORY_RANK,
    DEFAULT_CATEGORY,
    DEFAULT_TYPE_CATEGORIES,
    CategoryResolution,
    build_category_map,
    resolve_category,
    validate_overrides,
)
from .flow import FlowRow, IntervalRow, IssueMetrics, StatusMetricRow, compute_issue, whole_seconds
from .history import (
    METRIC_FIELDS,
    FieldChange,
    HistoryEvent,
    events_from_changelog,
    events_from_field_rows,
    normalise_value,
    parse_timestamp,
)
from .intervals import IssueSnapshot, MetricsWarning, StatusVisit, VisitHistory, build_visits, transition_time

__all__ = [
    "CATEGORIES",
    "CATEGORY_RANK",
    "DEFAULT_CATEGORY",
    "DEFAULT_TYPE_CATEGORIES",
    "METRIC_FIELDS",
    "CategoryResolution",
    "FieldChange",
    "FlowRow",
    "HistoryEvent",
    "IntervalRow",
    "IssueMetrics",
    "IssueSnapshot",
    "MetricsWarning",
    "StatusMetricRow",
    "StatusVisit",
    "VisitHistory",
    "WorkCalendar",
    "build_category_map",
    "build_visits",
    "compute_issue",
    "events_from_changelog",
    "events_from_field_rows",
    "normalise_value",
    "parse_hhmm",
    "parse_timestamp",
    "resolve_category",
    "transition_time",
    "validate_overrides",
    "whole_seconds",
]
