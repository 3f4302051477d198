"""Turn the internal model into API JSON for one request context.

A :class:`Renderer` is bound to the request's base URL, API version and language, because every ``self``
URL must carry the version and host the client used, and ``display``/``name`` follow ``Accept-Language``.
Reference dicts of catalog entities are cached per renderer (renderers are cached per context by the
server) and shared between responses; nothing mutates them after creation.
"""

# ruff: noqa: RUF001 - Russian display names (Cyrillic) are intended
from __future__ import annotations

from typing import Any

from .catalog import COMMENT_TEXTS, FIELDS, ISSUE_TYPES, PRIORITIES, RESOLUTIONS, STATUS_TYPE, STATUSES, Named
from .ids import changelog_salt, comment_id, mix, object_id
from .model import Event, IssueState, Sprint
from .organisation import Organisation
from .timefmt import DAY_MS, format_date, format_ts

_BY_KEY: dict[str, dict[str, Named]] = {
    "statuses": {s.key: s for s in STATUSES},
    "issuetypes": {s.key: s for s in ISSUE_TYPES},
    "priorities": {s.key: s for s in PRIORITIES},
    "resolutions": {s.key: s for s in RESOLUTIONS},
}
_STATUS_TYPE_NAMES = {
    "new": ("New", "Новый"),
    "inProgress": ("In progress", "В работе"),
    "paused": ("Paused", "Приостановлен"),
    "done": ("Done", "Завершен"),
    "cancelled": ("Cancelled", "Отменен"),
}
_LIST_KINDS = {"users", "strings", "sprints", "components"}
_COLLECTION = {
    "status": "statuses",
    "issuetype": "issuetypes",
    "priority": "priorities",
    "resolution": "resolutions",
}


def named_collection(kind: str) -> dict[str, Named]:
    """Entities of ``statuses``/``issuetypes``/``priorities``/``resolutions`` by key."""
    return _BY_KEY[kind]


class Renderer:
    """JSON shapes for one (base URL, version, language) context."""

    def __init__(self, org: Organisation, base: str, version: str, lang: str) -> None:
        self.org = org
        self.root = f"{base}/{version}"
        self.v3 = version == "v3"
        self.ru = lang == "ru"
        self._refs: dict[tuple[str, Any], dict[str, Any]] = {}

    def text(self, en: str, ru: str) -> str:
        return ru if self.ru else en

    # -- references --------------------------------------------------------------------------------
    def _cached(self, kind: str, ident: Any, build) -> dict[str, Any]:
        ref = self._refs.get((kind, ident))
        if ref is None:
            ref = self._refs[(kind, ident)] = build()
        return ref

    def ref_named(self, kind: str, key: str) -> dict[str, Any]:
        """Status, issue type, priority or resolution reference (``id`` is a numeric string)."""

        def build() -> dict[str, Any]:
            item = _BY_KEY[kind][key]
            return {
                "self": f"{self.root}/{kind}/{item.id}",
                "id": str(item.id),
                "key": key,
                "display": self.text(item.en, item.ru),
            }

        return self._cached(kind, key, build)

    def ref_user(self, idx: int) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            user = self.org.catalog.users[idx]
            ref: dict[str, Any] = {
                "self": f"{self.root}/users/{user.uid}",
                "id": user.uid,
                "display": user.display("ru" if self.ru else "en"),
            }
            if self.v3:
                ref["cloudUid"] = user.cloud_uid
                ref["passportUid"] = int(user.uid)
            return ref

        return self._cached("user", idx, build)

    def ref_user_by_login(self, idx: int) -> dict[str, Any]:
        """A person as old changelog entries show one: the login as ``id`` (no uid fields)."""

        def build() -> dict[str, Any]:
            user = self.org.catalog.users[idx]
            return {
                "self": f"{self.root}/users/{user.login}",
                "id": user.login,
                "display": user.display("ru" if self.ru else "en"),
            }

        return self._cached("user-login", idx, build)

    def ref_queue(self, key: str) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            queue = self.org.catalog.queues[key]
            return {
                "self": f"{self.root}/queues/{key}",
                "id": str(queue.id),
                "key": key,
                "display": self.text(queue.en, queue.ru),
            }

        return self._cached("queue", key, build)

    def ref_sprint(self, sprint_id: int) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            sprint = self.org.catalog.sprints[sprint_id]
            return {"self": f"{self.root}/sprints/{sprint_id}", "id": str(sprint_id), "display": sprint.name}

        return self._cached("sprint", sprint_id, build)

    def ref_component(self, component_id: int) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            component = self.org.catalog.components[component_id]
            return {
                "self": f"{self.root}/components/{component_id}",
                "id": str(component_id),
                "display": component.name,
            }

        return self._cached("component", component_id, build)

    def ref_project(self, project_id: int) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            project = self.org.catalog.projects[project_id]
            return {
                "self": f"{self.root}/projects/{project_id}",
                "id": str(project_id),
                "display": self.text(project.en, project.ru),
            }

        return self._cached("project", project_id, build)

    def ref_board(self, board_id: int) -> dict[str, Any]:
        board = self.org.catalog.boards[board_id]
        return {"self": f"{self.root}/boards/{board_id}", "id": str(board_id), "display": board.name}

    def ref_field(self, field_id: str) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            en, ru, _schema, _kind = FIELDS[field_id]
            return {"self": f"{self.root}/fields/{field_id}", "id": field_id, "display": self.text(en, ru)}

        return self._cached("field", field_id, build)

    def ref_issue(self, idx: int) -> dict[str, Any]:
        record = self.org.records[idx]
        return {
            "self": f"{self.root}/issues/{record.key}",
            "id": record.id,
            "key": record.key,
            "display": self.org.summary_of(idx),
        }

    # -- field values ------------------------------------------------------------------------------
    def value(self, field_id: str, value: Any) -> Any:
        """A changelog ``from``/``to`` value: references for entities, strings for times, else as is."""
        kind = FIELDS[field_id][3]
        if kind in _LIST_KINDS:
            if not value:
                return None
            if kind == "users":
                return [self.ref_user(v) for v in value]
            if kind == "sprints":
                return [self.ref_sprint(v) for v in value]
            if kind == "components":
                return [self.ref_component(v) for v in value]
            return list(value)
        if value is None or kind == "plain":
            return value
        if kind == "ts":
            return format_ts(value)
        if kind == "user":
            return self.ref_user(value)
        if kind == "queue":
            return self.ref_queue(value)
        return self.ref_named(_COLLECTION[kind], value)

    # -- issues and changelog ----------------------------------------------------------------------
    def issue(self, idx: int, state: IssueState) -> dict[str, Any]:
        record = self.org.records[idx]
        key = state.key
        status_type = STATUS_TYPE[state.status]
        out: dict[str, Any] = {
            "self": f"{self.root}/issues/{key}",
            "id": record.id,
            "key": key,
            "version": state.version,
            "summary": self.org.summary_of(idx),
            "description": self.text("Generated by the simulator.", "Создано симулятором."),
            "statusStartTime": format_ts(state.status_since),
            "status": self.ref_named("statuses", state.status),
            "type": self.ref_named("issuetypes", state.type),
            "priority": self.ref_named("priorities", state.priority),
            "queue": self.ref_queue(state.queue),
            "createdBy": self.ref_user(state.author),
            "updatedBy": self.ref_user(state.updated_by),
            "createdAt": format_ts(state.created),
            "updatedAt": format_ts(state.updated),
            "boards": [{"id": self.org.catalog.queues[state.queue].board_id}],
            "votes": 0,
            "favorite": False,
            "commentWithoutExternalMessageCount": state.comments,
            "commentWithExternalMessageCount": 0,
        }
        if idx % 4 != 1:  # the documented examples show none: the type then comes from GET /statuses
            out["statusType"] = {
                "id": status_type,
                "key": status_type,
                "display": self.text(*_STATUS_TYPE_NAMES[status_type]),
            }
        if idx % 7 == 3:  # as documented: checklistDone is a string beside the numeric checklistTotal
            out.update(self.checklist(idx, state))
        if state.previous_status:
            out["previousStatus"] = self.ref_named("statuses", state.previous_status)
        if state.resolution:
            out["resolution"] = self.ref_named("resolutions", state.resolution)
            out["resolvedAt"] = format_ts(state.resolved_at or state.updated)
            out["resolvedBy"] = self.ref_user(
                state.resolved_by if state.resolved_by is not None else state.author
            )
        if state.assignee is not None:
            out["assignee"] = self.ref_user(state.assignee)
        if state.followers:
            out["followers"] = [self.ref_user(u) for u in state.followers]
        if state.tags:
            out["tags"] = list(state.tags)
        if state.components:
            out["components"] = [self.ref_component(c) for c in state.components]
        if state.sprint:
            out["sprint"] = [self.ref_sprint(s) for s in state.sprint]
        if state.story_points is not None:
            out["storyPoints"] = state.story_points
        if state.project is not None:
            ref = self.ref_project(state.project)
            out["project"] = {"primary": ref, "secondary": []} if self.v3 else ref
        if state.parent is not None:
            out["parent"] = self.ref_issue(state.parent)
        if state.epic is not None:
            out["epic"] = self.ref_issue(state.epic)
        if state.aliases:
            out["aliases"] = list(state.aliases)
        if state.previous_queue:
            out["previousQueue"] = self.ref_queue(state.previous_queue)
        if state.last_comment_at is not None:
            out["lastCommentUpdatedAt"] = format_ts(state.last_comment_at)
        return out

    def checklist(self, idx: int, state: IssueState) -> dict[str, Any]:
        done = 1 if state.status in ("resolved", "closed") else 0
        items = [
            {
                "id": f"{mix(idx, n, 21):024x}"[:24],
                "text": self.text(f"Step {n + 1}", f"Шаг {n + 1}"),
                "textHtml": self.text(f"Step {n + 1}", f"Шаг {n + 1}"),
                "checked": n < done,
                "checklistItemType": "standard",
            }
            for n in range(2)
        ]
        return {"checklistItems": items, "checklistDone": str(done), "checklistTotal": 2}

    def changelog_id(self, idx: int, event: Event) -> str:
        return object_id(event.at, changelog_salt(self.org.seed, idx), event.seq)

    def changelog_entry(self, idx: int, event: Event) -> dict[str, Any]:
        """One entry; ``issue`` and ``self`` show the issue's *current* key, as after a move."""
        issue_ref = self.ref_issue(idx)
        entry_id = self.changelog_id(idx, event)
        legacy = event.at < self.org.legacy_before
        out: dict[str, Any] = {
            "id": entry_id,
            "self": f"{issue_ref['self']}/changelog/{entry_id}",
            "issue": issue_ref,
            "updatedAt": format_ts(event.at),
            "updatedBy": self.ref_user_by_login(event.actor) if legacy else self.ref_user(event.actor),
            "type": event.type,
        }
        if not legacy:  # the older documented entries have no transport
            out["transport"] = event.transport
        if event.changes:
            out["fields"] = [
                {
                    "field": self.ref_field(field_id),
                    "from": self.value(field_id, old),
                    "to": self.value(field_id, new),
                }
                for field_id, old, new in event.changes
            ]
        if event.comment:
            number = comment_id(idx, event.seq)
            out["comments"] = {
                "added": [
                    {
                        "self": f"{issue_ref['self']}/comments/{number}",
                        "id": str(number),
                        "display": self.comment_text(idx, event.seq),
                    }
                ]
            }
        return out

    def comment_text(self, idx: int, seq: int) -> str:
        return COMMENT_TEXTS[(idx * 31 + seq) % len(COMMENT_TEXTS)]

    def comment(self, idx: int, event: Event) -> dict[str, Any]:
        issue_ref = self.ref_issue(idx)
        number = comment_id(idx, event.seq)
        return {
            "self": f"{issue_ref['self']}/comments/{number}",
            "id": number,
            "longId": object_id(event.at, changelog_salt(self.org.seed, idx) ^ 0xC0FFEE, event.seq),
            "text": self.comment_text(idx, event.seq),
            "createdBy": self.ref_user(event.actor),
            "updatedBy": self.ref_user(event.actor),
            "createdAt": format_ts(event.at),
            "updatedAt": format_ts(event.at),
            "version": 1,
            "type": "standard",
            "transport": "internal",
        }

    # -- reference entities ------------------------------------------------------------------------
    def named(self, kind: str, item: Named, order: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": f"{self.root}/{kind}/{item.id}",
            "id": item.id,
            "version": 1,
            "key": item.key,
            "name": self.text(item.en, item.ru),
            "description": "",
            "order": order,
        }
        if kind == "statuses":
            out["type"] = item.type
        return out

    def user(self, idx: int) -> dict[str, Any]:
        user = self.org.catalog.users[idx]
        lang = "ru" if self.ru else "en"
        first, last = (user.first[1], user.last[1]) if self.ru else (user.first[0], user.last[0])
        return {
            "self": f"{self.root}/users/{user.uid}",
            "uid": int(user.uid),
            "login": user.login,
            "trackerUid": int(user.uid),
            "passportUid": int(user.uid),
            "cloudUid": user.cloud_uid,
            "firstName": first,
            "lastName": last,
            "display": user.display(lang),
            "email": f"{user.login}@example.org",
            "external": False,
            "hasLicense": True,
            "dismissed": False,
            "useNewFilters": True,
            "disableNotifications": False,
        }

    def queue(self, key: str) -> dict[str, Any]:
        queue = self.org.catalog.queues[key]
        return {
            "self": f"{self.root}/queues/{key}",
            "id": queue.id,
            "key": key,
            "version": 1,
            "name": self.text(queue.en, queue.ru),
            "description": "",
            "lead": self.ref_user(queue.lead),
            "assignAuto": False,
            "defaultType": self.ref_named("issuetypes", queue.default_type),
            "defaultPriority": self.ref_named("priorities", "normal"),
            "issueTypes": [self.ref_named("issuetypes", t.key) for t in ISSUE_TYPES],
            "denyVoting": False,
        }

    def board(self, board_id: int) -> dict[str, Any]:
        board = self.org.catalog.boards[board_id]
        return {
            "self": f"{self.root}/boards/{board_id}",
            "id": board_id,
            "version": 1,
            "name": board.name,
            "columns": [
                {"self": f"{self.root}/boards/{board_id}/columns/{cid}", "id": str(cid), "display": name}
                for cid, name, _statuses in board.columns
            ],
            "filter": {"queue": board.queue},
            "orderBy": "updated",
            "orderAsc": False,
            "query": "",
            "useRanking": False,
            # the board's working calendar, as documented: an object, not a string
            "country": {
                "self": f"{self.root}/countries/1",
                "id": "1",
                "display": self.text("Russia", "Россия"),
            },
            "calendar": {"id": 6},
        }

    def column(self, board_id: int, column: tuple[int, str, tuple[str, ...]]) -> dict[str, Any]:
        cid, name, statuses = column
        return {
            "self": f"{self.root}/boards/{board_id}/columns/{cid}",
            "id": cid,
            "name": name,
            "limit": 0,
            "statuses": [self.ref_named("statuses", s) for s in statuses],
        }

    def sprint(self, sprint: Sprint) -> dict[str, Any]:
        now = self.org.now
        end_exclusive = sprint.end + DAY_MS
        if end_exclusive <= now:
            status = "released" if now - end_exclusive < 90 * DAY_MS else "archived"
        elif sprint.start <= now:
            status = "in_progress"
        else:
            status = "draft"
        board = self.org.catalog.boards[sprint.board_id]
        return {
            "self": f"{self.root}/sprints/{sprint.id}",
            "id": sprint.id,
            "version": 1,
            "name": sprint.name,
            "board": self.ref_board(board.id),
            "status": status,
            "archived": status == "archived",
            "createdBy": self.ref_user(self.org.catalog.queues[board.queue].lead),
            "createdAt": format_ts(sprint.start - DAY_MS),
            "startDate": format_date(sprint.start),
            "endDate": format_date(sprint.end),
            "startDateTime": format_ts(sprint.start),
            "endDateTime": format_ts(end_exclusive - 1),
        }

    def component(self, component_id: int) -> dict[str, Any]:
        component = self.org.catalog.components[component_id]
        return {
            "self": f"{self.root}/components/{component_id}",
            "id": component_id,
            "version": 1,
            "name": component.name,
            "queue": self.ref_queue(component.queue),
            "description": "",
            "assignAuto": False,
        }

    def project(self, project_id: int) -> dict[str, Any]:
        project = self.org.catalog.projects[project_id]
        return {
            "self": f"{self.root}/projects/{project_id}",
            "id": project_id,
            "version": 1,
            "key": f"project{project_id}",
            "name": self.text(project.en, project.ru),
            "description": "",
            "lead": self.ref_user(project.lead),
            "status": "in_progress",
        }

    def field(self, field_id: str) -> dict[str, Any]:
        en, ru, schema_type, _kind = FIELDS[field_id]
        schema: dict[str, Any] = {"type": schema_type, "required": False}
        if schema_type == "array":
            schema["items"] = "string" if field_id == "tags" else field_id
        return {
            "self": f"{self.root}/fields/{field_id}",
            "id": field_id,
            "name": self.text(en, ru),
            "key": field_id,
            "version": 1,
            "schema": schema,
            "readonly": field_id in ("key", "createdAt"),
            "options": False,
            "suggest": False,
            "order": list(FIELDS).index(field_id) + 1,
            "type": "standard",
        }
