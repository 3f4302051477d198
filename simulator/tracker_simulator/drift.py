"""Schema drift: the same organisation, with fields the product does not rely on in other shapes.

Tracker evolves and organisations differ, so a client must not depend on the shape of a field it does not
use. With drift on (``TrackerSimulator(drift=True)``, ``--drift``) the renderer passes every object
through :func:`drift` before it is served: strings become objects, objects strings, numbers strings or
arrays, values vanish into ``null``, new keys appear. Nothing a metric needs changes (ids, keys,
timestamps, statuses, queues, the changelog's ``fields``), so a client must load such an organisation
exactly as it loads the plain one; the typed fields that change (``users.dismissed``, ``sprints.archived``,
an issue's ``deadline``, a changelog entry's ``transport``) feed only descriptive columns.

The choice depends only on the object's kind and a number derived from its identity, so it is the same in
every response and every run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .catalog import Named
from .ids import mix
from .model import Event, IssueState, Sprint
from .render import Renderer

Drift = Callable[[dict[str, Any], int], None]


def _issue(out: dict[str, Any], n: int) -> None:
    if "votes" in out:
        out["votes"] = (str(out["votes"]), [out["votes"]], {"count": out["votes"]}, None)[n % 4]
    out["favorite"] = ("false", None, {"value": False}, 0)[n % 4]
    out["self"] = {"href": out["self"]} if n % 3 == 0 else out["self"]
    out["version"] = str(out["version"]) if n % 2 else out["version"]
    if "boards" in out:
        out["boards"] = str(out["boards"][0]["id"]) if n % 5 == 0 else out["boards"]
    if "checklistDone" in out:
        out["checklistDone"] = int(out["checklistDone"])
    if n % 6 == 1:
        out["deadline"] = {"date": "2026-12-31", "deadlineType": "date"}  # typed: a string elsewhere
    if n % 4 == 2:
        out["x-sim-experimental"] = {"flag": True, "since": 2026}  # a field nobody has declared


def _changelog(out: dict[str, Any], n: int) -> None:
    out["self"] = {"href": out["self"]} if n % 2 else out["self"]
    if "comments" in out and n % 3 == 0:
        out["comments"] = out["comments"].get("added", [])
    if "transport" in out and n % 5 == 1:
        out["transport"] = {"id": out["transport"]}  # typed (a column), not used by any metric
    if n % 7 == 3:
        out["x-sim-new-block"] = [1, "two", {"three": 3}]


def _user(out: dict[str, Any], n: int) -> None:
    out["hasLicense"] = ("yes", True, 1, None)[n % 4]
    out["welcomeMailSent"] = None
    out["groups"] = [{"id": n % 9, "display": "team"}]
    out["firstLoginDate"] = 1_700_000_000_000 + n  # epoch milliseconds instead of a timestamp string
    if n % 2 == 0:
        out["dismissed"] = "no"  # typed boolean
    else:
        out["external"] = 0  # typed boolean


def _queue(out: dict[str, Any], n: int) -> None:
    out["denyVoting"] = "false"
    out["teamUsers"] = {"count": 0}
    out["assignAuto"] = None
    out["x-sim-flags"] = ["a", "b"]


def _board(out: dict[str, Any], n: int) -> None:
    if n % 2:
        out["country"] = out["country"]["display"]  # an object in the documentation, a string here
    out["columns"] = None if n % 3 == 0 else out["columns"]
    out["filter"] = "Queue: " + str(out["filter"].get("queue")) if isinstance(out["filter"], dict) else None
    out["orderAsc"] = "false"


def _sprint(out: dict[str, Any], n: int) -> None:
    if isinstance(out.get("createdBy"), dict):
        out["createdBy"] = out["createdBy"]["display"]
    if out.get("archived") is False and n % 2:
        out["archived"] = "false"  # typed boolean


def _named(out: dict[str, Any], n: int) -> None:
    out["version"] = str(out.get("version", 1))
    out["description"] = {"ru": "", "en": str(out.get("description") or "")}
    if n % 2:
        out["name"] = {"ru": out["name"], "en": out["name"]}


DRIFTS: dict[str, Drift] = {
    "issue": _issue,
    "changelog": _changelog,
    "user": _user,
    "queue": _queue,
    "board": _board,
    "sprint": _sprint,
    "named": _named,
}


def drift(kind: str, out: dict[str, Any], identity: int | str) -> dict[str, Any]:
    """``out`` changed in place as objects of ``kind`` drift (``identity`` picks the variant)."""
    number = identity if isinstance(identity, int) else int.from_bytes(str(identity).encode()[-6:], "big")
    DRIFTS[kind](out, mix(number, 31) % 1000)
    return out


class DriftingRenderer(Renderer):
    """A :class:`Renderer` whose top-level objects drift (references, shared between objects, do not)."""

    def issue(self, idx: int, state: IssueState) -> dict[str, Any]:
        return drift("issue", super().issue(idx, state), idx)

    def changelog_entry(self, idx: int, event: Event) -> dict[str, Any]:
        return drift("changelog", super().changelog_entry(idx, event), idx * 1009 + event.seq)

    def user(self, idx: int) -> dict[str, Any]:
        return drift("user", super().user(idx), idx)

    def queue(self, key: str) -> dict[str, Any]:
        return drift("queue", super().queue(key), key)

    def board(self, board_id: int) -> dict[str, Any]:
        return drift("board", super().board(board_id), board_id)

    def sprint(self, sprint: Sprint) -> dict[str, Any]:
        return drift("sprint", super().sprint(sprint), sprint.id)

    def named(self, kind: str, item: Named, order: int) -> dict[str, Any]:
        return drift("named", super().named(kind, item, order), item.id)
