"""Live changes: advance the simulated clock, mutate existing issues, create new ones.

Used by incremental-sync tests and the demo: after ``advance`` the API shows newer ``updatedAt`` values
and longer changelogs, exactly as a busy organisation would between two syncs. Mutations reuse the
generator's walker, so they produce the same event shapes (and ground-truth timeline entries) as the
generated history. Deterministic: the n-th call with the same arguments on the same organisation does
the same thing.
"""

from __future__ import annotations

import random

from .generator import origin_queue
from .history import fold
from .ids import issue_id, mix
from .model import IssueRecord
from .organisation import Organisation
from .timefmt import MINUTE_MS
from .walker import IssueWalker, generate_history


def advance(org: Organisation, *, minutes: float, mutate: int, create: int) -> list[str]:
    """Returns the ids of every changed or created issue (each once, mutated first)."""
    if minutes < 0 or mutate < 0 or create < 0:
        raise ValueError("minutes, mutate and create must be >= 0")
    old_now = org.now
    new_now = old_now + int(minutes * MINUTE_MS)
    if (mutate or create) and new_now <= old_now:
        new_now = old_now + 1
    org.now = new_now
    org.advances += 1
    rng = random.Random(mix(org.seed, org.advances, 21))
    changed = [
        _mutate(org, idx, rng, old_now, new_now)
        for idx in rng.sample(range(len(org.records)), min(mutate, len(org.records)))
    ]
    changed += [_create(org, rng, old_now, new_now) for _ in range(create)]
    return changed


def _mutate(org: Organisation, idx: int, rng: random.Random, old_now: int, new_now: int) -> str:
    """One or two changes: transitions (incl. reopen), field edits, comments, sometimes a move."""
    record = org.records[idx]
    history = org.history(idx)

    def new_key(queue: str) -> str:
        key = org.allocate_key(queue)
        record.keys.append(key)
        org.index_record(record)
        return key

    walker = IssueWalker(
        org,
        idx,
        rng,
        fold(history.initial, history.events),
        seq_start=len(history.events),
        key_for_move=new_key,
        allow_moves=True,
        moves_done=len(record.keys) - 1,
    )
    for _ in range(2 if rng.random() < 0.3 else 1):
        at = min(new_now, max(walker.last_t, old_now + 1 + int(rng.random() * (new_now - old_now))))
        roll = rng.random()
        if roll < 0.55:
            walker.transition(at)
        elif roll < 0.75:
            walker.edit(at)
        elif roll < 0.92 or len(record.keys) > 3:
            walker.comment(at)
        else:
            walker.move(at)
    org.append(idx, walker.events, walker.timeline, walker.state)
    return record.id


def _create(org: Organisation, rng: random.Random, old_now: int, new_now: int) -> str:
    idx = len(org.records)
    created = old_now + 1 + int(rng.random() * (new_now - old_now))
    queue = origin_queue(org.seed + org.advances, idx)
    record = IssueRecord(
        idx,
        issue_id(org.seed, idx, created),
        [org.allocate_key(queue)],
        queue,
        queue,
        created,
        new_now,
        False,
    )
    org.records.append(record)
    org.adopt(record, generate_history(org, record, record.keys))
    org.index_record(record)
    return record.id


def late_update(org: Organisation, *, minutes_before_newest: float) -> str:
    """An issue changed ``minutes_before_newest`` before the newest ``updatedAt`` of the organisation
    that the API shows only now (search index lag, a clock a little behind): a client that synced up to
    the newest value never saw it. What a client's look-back window exists for. Returns the issue's id."""
    at = max(r.updated for r in org.records) - int(minutes_before_newest * MINUTE_MS)
    idx = max((r.idx for r in org.records if r.updated < at), key=lambda i: (org.records[i].updated, i))
    history = org.history(idx)
    walker = IssueWalker(
        org,
        idx,
        random.Random(mix(org.seed, idx, 23)),
        fold(history.initial, history.events),
        seq_start=len(history.events),
        key_for_move=lambda queue: org.records[idx].key,
        allow_moves=False,
    )
    walker.comment(at)
    org.append(idx, walker.events, walker.timeline, walker.state)
    org.advances += 1
    return org.records[idx].id
