"""Issues whose changelog the API keeps failing to serve: set aside durably instead of stopping every run.

One issue whose changelog always answers 500 used to fail the whole sync after the retries, with no
bookmark in its STATE: every later run started over and failed on the same issue. Now such an issue is
*set aside*: the run goes on without it (its issue record is not emitted either, so no metric is built
from a partial history), it is listed in the issues stream's STATE (``set_aside``), retried first on
every later run, and reported on the ``skipped_issues`` stream (status ``set_aside``, then ``recovered``
or ``deleted``), which the target keeps in a table and counts in its summary.

Only failures that concern one issue qualify (HTTP 5xx, 409 or 429 after every retry, a body that never
parses, another 4xx than 401/403/404): a connection error, a timeout or a refused token is the whole API,
and several issues failing in a row means the API is down, not one issue; both still stop the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_yandex_tracker.timestamps import format_utc, utc_now

#: The key of the issues stream's STATE that lists the issues set aside.
STATE_KEY = "set_aside"
#: This many issues in a row failing means the API is failing: the run stops instead.
MAX_IN_A_ROW = 5
_NOT_ISSUE_SPECIFIC = (401, 403, 404)


def concerns_one_issue(error: BaseException) -> bool:
    """Whether ``error`` (after the retries) is about this issue rather than the API as a whole."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(error, RetriableAPIError):
        return True
    if isinstance(error, FatalAPIError) and isinstance(status, int):
        return 400 <= status < 500 and status not in _NOT_ISSUE_SPECIFIC
    return False


def _now() -> str:
    return format_utc(utc_now())


@dataclass
class SetAsideIssues:
    """The issues set aside (id -> what the state keeps), and what changed in this run."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    in_a_row: int = 0

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SetAsideIssues:
        stored = state.get(STATE_KEY)
        return cls(entries={str(k): dict(v) for k, v in stored.items()} if isinstance(stored, dict) else {})

    def save(self, state: dict[str, Any]) -> None:
        if self.entries:
            state[STATE_KEY] = {key: dict(value) for key, value in sorted(self.entries.items())}
        else:
            state.pop(STATE_KEY, None)

    def add(self, record: dict[str, Any], reason: str) -> None:
        issue_id = str(record["id"])
        previous = self.entries.get(issue_id, {})
        entry = {
            "key": record.get("key"),
            "updatedAt": record.get("updatedAt"),
            "reason": reason,
            "set_aside_at": previous.get("set_aside_at") or _now(),
        }
        self.entries[issue_id] = entry
        self.changes.append(self._report(issue_id, entry, "set_aside"))

    def still_failing(self, issue_id: str, reason: str) -> str | None:
        """A retry failed again: the issue stays set aside (reported again); returns its key."""
        entry = self.entries[issue_id]
        self.add({"id": issue_id, "key": entry.get("key"), "updatedAt": entry.get("updatedAt")}, reason)
        return entry.get("key")

    def resolve(self, issue_id: str, status: str, key: str | None = None) -> None:
        """``recovered`` (its changelog was read) or ``deleted`` (the issue is gone)."""
        entry = self.entries.pop(issue_id, None)
        if entry is not None:
            self.changes.append(self._report(issue_id, {**entry, "key": key or entry.get("key")}, status))

    @staticmethod
    def _report(issue_id: str, entry: dict[str, Any], status: str) -> dict[str, Any]:
        return {
            "issue_id": issue_id,
            "issue_key": entry.get("key"),
            "updatedAt": entry.get("updatedAt"),
            "status": status,
            "reason": entry.get("reason"),
            "set_aside_at": entry.get("set_aside_at"),
            "checked_at": _now(),
        }
