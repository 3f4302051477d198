"""A small hand-made history (queue DEV, Europe/Moscow = UTC+3, whole seconds so both engines agree),
loaded through the real target, and the values each analytics view must return, computed by hand.

Times are UTC; 2024-03-04 is a Monday, 2024-03-08 a public holiday in Russia.

  DEV-1  Mon 06:00 open → Mon 07:00 inProgress → Tue 07:00 needInfo → Tue 13:00 inProgress
         → Wed 07:00 resolved
         assignee: none → u1 at Mon 07:00 → u2 at Tue 13:00
  DEV-2  Mon 08:00 open → Mon 09:00 inProgress → Mon 12:00 resolved → Tue 08:00 inProgress (reopen)
         → Thu 08:00 resolved → Thu 09:00 closed;  assignee u1 throughout (no assignee change)
  DEV-3  Tue 07:00 open → Tue 08:00 inProgress → Wed 08:00 open (backward) → Thu 07:00 inProgress
         → Fri 07:00 resolved
  DEV-4  Wed 07:00 open → Wed 10:00 inProgress (still in progress)
  DEV-5  Thu 06:00 open → Thu 07:00 cancelled
  DEV-6  Thu 10:00 open (no change)

Default map (no workflow map): todo=1, active/wait=2 (start), done=3 (done point), cancelled=4.
  DEV-1: start Mon 07:00, done Wed 07:00: lead 49 h = 176400, cycle 48 h = 172800, restart 172800,
         in-process 86400 + 21600 + 64800 = 172800, active 151200, wait 21600 → efficiency 0.875.
         Business (09-18 MSK): open Mon 09-10 = 3600, inProgress Mon 10-18 + Tue 09-10 = 32400,
         needInfo Tue 10-16 = 21600, inProgress Tue 16-18 + Wed 09-10 = 10800 → cycle 64800, lead 68400.
  DEV-2: start Mon 09:00, final done run from Thu 08:00: lead 72 h = 259200, cycle 71 h = 255600,
         restart = cycle (the reopen comes from done, which is past the start point), in-process
         10800 + 172800 = 183600, reopen 1, backward 1.
  DEV-3: start Tue 08:00, restart Thu 07:00, done Fri 07:00: lead 259200, cycle 255600, restart 86400,
         in-process 86400 + 86400 = 172800, backward 1.
  DEV-4: in process since Wed 10:00 → at asof Fri 12:00 age 50 h = 180000.
WIP at the end of each Moscow day (21:00 UTC; asof Fri 12:00 on Friday): 03-04 1, 03-05 3, 03-06 2,
  03-07 2, 03-08 1. Throughput: one on each of 03-06, 03-07, 03-08 (Moscow days); week of 03-04: 3.
Cycle-time percentiles (quantileExact) over [172800, 255600, 255600]: 255600 each.

With the workflow map MAP below (needInfo is its own "Waiting" stage after "In progress", excluded):
  DEV-1: cycle excluding needInfo = 172800 - 21600 = 151200, business 64800 - 21600 = 43200, backward 1.
"""

from __future__ import annotations

from typing import Any

from tests.support.singer import entry, issue, record, ref, schema_message

ASOF = "2024-03-08T12:00:00Z"
TZ = "Europe/Moscow"

STATUSES = [
    {"id": 1, "key": "open", "name": "Open", "type": "new"},
    {"id": 2, "key": "inProgress", "name": "In progress", "type": "inProgress"},
    {"id": 3, "key": "needInfo", "name": "Need info", "type": "paused"},
    {"id": 4, "key": "resolved", "name": "Resolved", "type": "done"},
    {"id": 5, "key": "closed", "name": "Closed", "type": "done"},
    {"id": 6, "key": "cancelled", "name": "Cancelled", "type": "cancelled"},
]

MAP: dict[str, Any] = {
    "*": {
        "stages": [
            {"name": "Backlog", "statuses": ["open"]},
            {"name": "In progress", "statuses": ["inProgress"]},
            {"name": "Waiting", "statuses": ["needInfo"], "category": "wait"},
            {"name": "Done", "statuses": ["resolved", "closed"]},
            {"name": "Dropped", "statuses": ["cancelled"], "category": "cancelled"},
        ],
        "start": "In progress",
        "done": "Done",
        "exclude": ["needInfo"],
    }
}

_DAYS = {"Mon": "04", "Tue": "05", "Wed": "06", "Thu": "07", "Fri": "08"}


def at(when: str) -> str:
    """'Tue 13:00' -> '2024-03-05T13:00:00.000Z'."""
    day, hhmm = when.split()
    return f"2024-03-{_DAYS[day]}T{hhmm}:00.000Z"


def user(uid: str) -> dict[str, Any]:
    return {"id": uid, "display": f"User {uid}"}


# issue number -> (path of (time, status)), assignee changes (time, from, to), current assignee
HISTORIES: dict[int, tuple[list[tuple[str, str]], list[tuple[str, str | None, str | None]], str | None]] = {
    1: (
        [
            ("Mon 06:00", "open"),
            ("Mon 07:00", "inProgress"),
            ("Tue 07:00", "needInfo"),
            ("Tue 13:00", "inProgress"),
            ("Wed 07:00", "resolved"),
        ],
        [("Mon 07:00", None, "u1"), ("Tue 13:00", "u1", "u2")],
        "u2",
    ),
    2: (
        [
            ("Mon 08:00", "open"),
            ("Mon 09:00", "inProgress"),
            ("Mon 12:00", "resolved"),
            ("Tue 08:00", "inProgress"),
            ("Thu 08:00", "resolved"),
            ("Thu 09:00", "closed"),
        ],
        [],
        "u1",
    ),
    3: (
        [
            ("Tue 07:00", "open"),
            ("Tue 08:00", "inProgress"),
            ("Wed 08:00", "open"),
            ("Thu 07:00", "inProgress"),
            ("Fri 07:00", "resolved"),
        ],
        [],
        None,
    ),
    4: ([("Wed 07:00", "open"), ("Wed 10:00", "inProgress")], [], None),
    5: ([("Thu 06:00", "open"), ("Thu 07:00", "cancelled")], [], None),
    6: ([("Thu 10:00", "open")], [], None),
}


def issue_id(number: int) -> str:
    return f"65e57000000000000000{number:04d}"


def messages() -> list[dict[str, Any]]:
    """Singer messages for the six issues (statuses, changelog, issues), in the tap's shapes."""
    out: list[dict[str, Any]] = [schema_message("statuses"), *(record("statuses", s) for s in STATUSES)]
    out.append(schema_message("issue_changelog"))
    issues = []
    for number, (path, assignees, assignee) in HISTORIES.items():
        iid, key = issue_id(number), f"DEV-{number}"
        created, first = path[0]
        out.append(
            record(
                "issue_changelog",
                entry(f"{number}-0", iid, key, at(created), "IssueCreated", ("status", None, ref(first))),
            )
        )
        for n, ((when, status), (_, before)) in enumerate(zip(path[1:], path, strict=False), start=1):
            fields: list[tuple[str, Any, Any]] = [("status", ref(before), ref(status))]
            fields += [
                ("assignee", user(a) if a else None, user(b) if b else None)
                for t, a, b in assignees
                if t == when
            ]
            out.append(
                record(
                    "issue_changelog", entry(f"{number}-{n}", iid, key, at(when), "IssueWorkflow", *fields)
                )
            )
        last_time, last_status = path[-1]
        extra: dict[str, Any] = {"assignee": user(assignee)} if assignee else {}
        issues.append(record("issues", issue(iid, key, last_status, at(created), at(last_time), **extra)))
    out.append(schema_message("issues"))
    out += issues
    return out
