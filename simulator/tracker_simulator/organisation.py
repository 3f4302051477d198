"""The simulated organisation: reference data, the issue index and lazy per-issue histories.

Histories are regenerated on demand from a per-issue seed (an LRU keeps the hot ones), so memory grows
with the index (a few hundred bytes per issue), not with the number of changelog entries. Changes made
by :meth:`Organisation.advance` are stored as per-issue overlays appended after the base history.
All access from the HTTP server happens under :attr:`Organisation.lock`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from .catalog import SUMMARY_OBJECTS, SUMMARY_VERBS
from .history import fold
from .ids import mix
from .model import Catalog, Event, IssueHistory, IssueRecord, IssueState, IssueTruth, Queue
from .timefmt import DAY_MS, to_datetime
from .walker import generate_history

SPRINT_MS = 14 * DAY_MS
_CACHE_SIZE = 8192


class Organisation:
    """One deterministic organisation; build it with :func:`tracker_simulator.generate_organisation`."""

    def __init__(self, seed: int, now: int, start: int, catalog: Catalog) -> None:
        self.seed = seed
        self.now = now  # the simulated clock, ms
        self.start = start  # earliest issue creation, ms
        self.import_before = start + 200 * DAY_MS  # older issues may lack IssueCreated (imports)
        # Changelog entries older than this have the documented legacy shape: no `transport`, and the
        # author's login as `updatedBy.id` (user references carried logins before uids).
        self.legacy_before = start + 120 * DAY_MS
        self.catalog = catalog
        self.n_users = len(catalog.users)
        self.records: list[IssueRecord] = []
        self.lock = threading.RLock()
        self.advances = 0
        self._by_key: dict[str, int] = {}
        self._by_id: dict[str, int] = {}
        self._counters: dict[str, int] = dict.fromkeys(catalog.queues, 0)
        self._cache: OrderedDict[int, IssueHistory] = OrderedDict()
        self._overlay: dict[int, tuple[list[Event], list[tuple[str, int]]]] = {}  # live changes

    # -- WalkContext -------------------------------------------------------------------------------
    @property
    def queues(self) -> dict[str, Queue]:
        return self.catalog.queues

    def is_epic(self, idx: int) -> bool:
        return idx >= 0 and (idx * 2654435761 + self.seed) % 101 < 4

    def sprint_at(self, queue: str, at: int) -> int | None:
        board_id = self.catalog.queues[queue].board_id
        sprint_ids = self.catalog.sprints_by_board.get(board_id)
        if not sprint_ids:
            return None
        first = self.catalog.sprints[sprint_ids[0]]
        n = (at - first.start) // SPRINT_MS
        return sprint_ids[n] if 0 <= n < len(sprint_ids) else None

    # -- index -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def allocate_key(self, queue: str) -> str:
        """The next key of ``queue``; keys are never reused (moved-away keys stay as aliases)."""
        self._counters[queue] += 1
        return f"{queue}-{self._counters[queue]}"

    def adopt(self, record: IssueRecord, history: IssueHistory) -> None:
        """Take the index attributes of ``record`` from its freshly generated history."""
        record.updated = history.events[-1].at if history.events else record.created
        record.status = history.timeline[-1][0]
        record.version = len(history.events)
        record.state = history.final

    def index_record(self, record: IssueRecord) -> None:
        """(Re)register every key and the id of ``record`` for lookups."""
        self._by_id[record.id] = record.idx
        for key in record.keys:
            self._by_key[key] = record.idx

    def resolve(self, key_or_id: str) -> int | None:
        """Issue index by current key, old key (alias) or id."""
        idx = self._by_key.get(key_or_id)
        return idx if idx is not None else self._by_id.get(key_or_id)

    # -- histories ---------------------------------------------------------------------------------
    def base_history(self, idx: int) -> IssueHistory:
        cached = self._cache.get(idx)
        if cached is not None:
            self._cache.move_to_end(idx)
            return cached
        record = self.records[idx]
        history = generate_history(self, record, record.keys)
        self._cache[idx] = history
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return history

    def history(self, idx: int) -> IssueHistory:
        """Base history plus everything :meth:`advance` appended."""
        base = self.base_history(idx)
        extra = self._overlay.get(idx)
        if extra is None:
            return base
        return IssueHistory(base.initial, base.events + extra[0], base.timeline + extra[1])

    def append(
        self, idx: int, events: list[Event], timeline: list[tuple[str, int]], state: IssueState
    ) -> None:
        """Record live changes of an issue and refresh its index entry."""
        extra_events, extra_timeline = self._overlay.setdefault(idx, ([], []))
        extra_events.extend(events)
        extra_timeline.extend(timeline)
        record = self.records[idx]
        record.updated = state.updated
        record.status = state.status
        record.queue = state.queue
        record.version += len(events)
        record.state = state

    def state(self, idx: int, version: int | None = None) -> IssueState:
        """The issue as the API shows it now, or after its first ``version`` changelog entries."""
        record = self.records[idx]
        if record.state is not None and (version is None or version == record.version):
            return record.state
        history = self.history(idx)
        events = history.events if version is None else history.events[:version]
        return fold(history.initial, events)

    def summary_of(self, idx: int) -> str:
        """Summaries never change, so issue references (parent, epic) can show them without a replay."""
        h = mix(self.seed, idx, 8)
        verb = SUMMARY_VERBS[h % len(SUMMARY_VERBS)]
        obj = SUMMARY_OBJECTS[(h >> 8) % len(SUMMARY_OBJECTS)]
        return f"{verb} {obj} #{idx + 1}"

    # -- ground truth ------------------------------------------------------------------------------
    def truth(self, idx: int) -> IssueTruth:
        record = self.records[idx]
        timeline = self.history(idx).timeline
        return IssueTruth(
            id=record.id,
            key=record.key,
            queue=record.queue,
            created_at=to_datetime(record.created),
            current_status=timeline[-1][0],
            timeline=[(status, to_datetime(at)) for status, at in timeline],
        )

    def ground_truth(self, ids: Iterable[str] | None = None) -> dict[str, IssueTruth]:
        """Per issue id, the generator's own record of the issue (all issues when ``ids`` is None)."""
        with self.lock:
            if ids is None:
                indexes: Iterable[int] = range(len(self.records))
            else:
                indexes = [self._by_id[issue_id] for issue_id in ids]
            return {self.records[i].id: self.truth(i) for i in indexes}

    def advance(self, minutes: float = 10, mutate: int = 0, create: int = 0) -> list[str]:
        """Move the simulated clock and change the organisation; see :mod:`tracker_simulator.mutations`."""
        from .mutations import advance

        with self.lock:
            return advance(self, minutes=minutes, mutate=mutate, create=create)

    def late_update(self, minutes_before_newest: float) -> str:
        """An update stamped in the past that shows up only now; see :mod:`tracker_simulator.mutations`."""
        from .mutations import late_update

        with self.lock:
            return late_update(self, minutes_before_newest=minutes_before_newest)
