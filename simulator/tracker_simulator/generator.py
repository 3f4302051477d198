"""Build a deterministic organisation: reference data first, then the issue index.

Issue generation runs in two passes because keys depend on *global* order: a key number is allocated
when an issue is created or moved into a queue, and moves happen long after creation. Pass one walks
every issue with placeholder keys to learn its creation and move times (and its updatedAt/status for the
index); the allocations are then replayed in time order to assign keys; afterwards any issue's history
can be regenerated, with real keys, from its seed alone.
"""

from __future__ import annotations

from .catalog import (
    CLOSED_TYPES,
    FEMALE_FIRST,
    IN_PROGRESS,
    MALE_FIRST,
    NEW,
    PAUSED,
    PROJECTS,
    QUEUES,
    STATUS_TYPE,
    SURNAMES,
    WORKFLOWS,
)
from .ids import issue_id, mix
from .model import Board, Catalog, Component, IssueRecord, Project, Queue, Sprint, User
from .organisation import SPRINT_MS, Organisation
from .timefmt import DAY_MS, parse_ts
from .walker import generate_history

NOW = parse_ts("2026-06-01T12:00:00Z")[0]  # fixed simulated "now": output is reproducible
HISTORY_DAYS = 730
_QUEUE_CUMULATIVE = []
_total = 0
for _spec in QUEUES:
    _total += _spec.weight
    _QUEUE_CUMULATIVE.append((_total, _spec.key))


def generate_organisation(issues: int, seed: int = 42, *, users: int | None = None) -> Organisation:
    """A realistic organisation with ``issues`` issues; identical output for identical arguments.

    ``users``: how many people (default: 12 plus one per 300 issues, at most 150); a big organisation
    has more than the 10,000 that ``GET /users`` can page through.
    """
    if issues < 0:
        raise ValueError("issues must be >= 0")
    start = NOW - HISTORY_DAYS * DAY_MS
    org = Organisation(seed, NOW, start, build_catalog(seed, issues, start, NOW, users))
    _generate_issues(org, issues)
    return org


def build_catalog(seed: int, issues: int, start: int, now: int, users: int | None = None) -> Catalog:
    """Users, queues, components, projects, boards (one per queue) and two-week sprints."""
    n_users = users if users is not None else min(150, 12 + issues // 300)
    people = [_user(seed, i) for i in range(n_users)]
    _dedupe_logins(people)
    components: dict[int, Component] = {}
    queues: dict[str, Queue] = {}
    boards: dict[int, Board] = {}
    sprints: dict[int, Sprint] = {}
    by_board: dict[int, list[int]] = {}
    for number, spec in enumerate(QUEUES, start=1):
        component_ids = []
        for name in spec.components:
            component_id = len(components) + 1
            components[component_id] = Component(component_id, name, spec.key)
            component_ids.append(component_id)
        queues[spec.key] = Queue(
            number,
            spec.key,
            spec.en,
            spec.ru,
            spec.workflow,
            (number * 3) % n_users,
            "task",
            number,
            tuple(component_ids),
        )
        boards[number] = Board(
            number, f"{spec.key}: {spec.en}", spec.key, spec.scrum, _columns(number, spec.workflow)
        )
        if spec.scrum:
            first_day = start - start % DAY_MS
            ids = []
            for n in range((now + 28 * DAY_MS - first_day) // SPRINT_MS + 1):
                sprint_id = number * 1000 + n + 1
                begin = first_day + n * SPRINT_MS
                sprints[sprint_id] = Sprint(
                    sprint_id, number, f"{spec.key} sprint {n + 1}", begin, begin + SPRINT_MS - DAY_MS
                )
                ids.append(sprint_id)
            by_board[number] = ids
    projects = {i: Project(i, en, ru, (i * 5) % n_users) for i, (en, ru) in enumerate(PROJECTS, start=1)}
    return Catalog(people, queues, components, projects, boards, sprints, by_board)


def _user(seed: int, i: int) -> User:
    female = i % 2 == 1
    first = (FEMALE_FIRST if female else MALE_FIRST)[(i // 2) % 10]
    surname = SURNAMES[(i // 2 + i // 20 * 3 + seed) % 10]
    last = (surname[2], surname[3]) if female else (surname[0], surname[1])
    login = f"{first[0]}.{last[0]}".lower()
    return User(i, str(1130000000001000 + i), login, first, last, f"aje{mix(seed, i, 7):017x}"[:20])


def _dedupe_logins(users: list[User]) -> None:
    seen: dict[str, int] = {}
    for i, user in enumerate(users):
        count = seen.get(user.login, 0)
        seen[user.login] = count + 1
        if count:
            users[i] = User(
                user.idx, user.uid, f"{user.login}{count + 1}", user.first, user.last, user.cloud_uid
            )


def _columns(board_id: int, workflow: str) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    statuses = sorted(WORKFLOWS[workflow].statuses)
    groups = (
        ("To do", [s for s in statuses if STATUS_TYPE[s] == NEW]),
        ("In progress", [s for s in statuses if STATUS_TYPE[s] in (IN_PROGRESS, PAUSED)]),
        ("Done", [s for s in statuses if STATUS_TYPE[s] in CLOSED_TYPES]),
    )
    return tuple((board_id * 10 + j, name, tuple(keys)) for j, (name, keys) in enumerate(groups, start=1))


def origin_queue(seed: int, idx: int) -> str:
    """The queue an initial issue is created in (weighted by queue size)."""
    roll = mix(seed, idx, 6) % _QUEUE_CUMULATIVE[-1][0]
    return next(key for limit, key in _QUEUE_CUMULATIVE if roll < limit)


def _generate_issues(org: Organisation, count: int) -> None:
    """Pass one (walk with placeholder keys), key allocation in time order, then index registration."""
    span = org.now - org.start - DAY_MS
    step = span / max(count, 1)
    allocations: list[tuple[int, int, int, str]] = []  # (at, idx, move number, queue)
    for idx in range(count):
        created = org.start + int(idx * step) + mix(org.seed, idx, 5) % max(int(step), 1)
        queue = origin_queue(org.seed, idx)
        record = IssueRecord(idx, issue_id(org.seed, idx, created), [], queue, queue, created, org.now, True)
        history = generate_history(org, record, None)
        allocations.append((created, idx, 0, queue))
        moves = 0
        for event in history.events:
            if event.type == "IssueMoved":
                moves += 1
                allocations.append((event.at, idx, moves, event.changes[0][2]))
        org.adopt(record, history)
        record.queue = allocations[-1][3] if moves else queue
        org.records.append(record)
    allocations.sort()
    for _at, idx, _move, queue in allocations:
        org.records[idx].keys.append(org.allocate_key(queue))
    for record in org.records:
        org.index_record(record)
        if record.state is not None:  # pass one knew no keys
            record.state.key = record.key
            record.state.aliases = tuple(record.keys[:-1])
