"""Reference endpoints: statuses, issue types, priorities, resolutions, queues, users, boards, sprints,
components, projects, fields. Collections page like the real API (see ``paging.py``); single entities
resolve by numeric id or by key/login, because every ``self`` URL the simulator emits must resolve."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .catalog import FIELDS, Named
from .organisation import Organisation
from .paging import page_headers, page_window
from .render import Renderer, named_collection
from .wire import ApiError, Request, Response

T = TypeVar("T")


def paged(req: Request, items: Sequence[T], render: Callable[[T], dict[str, Any]]) -> Response:
    window = page_window(req, len(items))
    body = [render(item) for item in items[window.start : window.stop]]
    return Response.json(body, headers=page_headers(req, window))


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} does not exist.")


def _named_items(kind: str) -> list[Named]:
    return sorted(named_collection(kind).values(), key=lambda n: n.id)


def list_named(kind: str) -> Callable[..., Response]:
    """Collection handler for statuses / issuetypes / priorities / resolutions."""

    def handler(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
        items = _named_items(kind)
        return paged(req, items, lambda item: r.named(kind, item, items.index(item) + 1))

    return handler


def get_named(kind: str) -> Callable[..., Response]:
    def handler(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
        items = _named_items(kind)
        for order, item in enumerate(items, start=1):
            if ident in (str(item.id), item.key):
                return Response.json(r.named(kind, item, order))
        raise _not_found(kind.rstrip("s").capitalize())

    return handler


def list_users(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    """Paged like every collection: nothing past the 10,000th user can be reached here."""
    return paged(req, range(len(org.catalog.users)), r.user)


RELATIVE_MAX_PER_PAGE = 100
PAGINATE_MAX_PER_PAGE = 500


def _after_cursor(req: Request, idents: list[int], max_per_page: int, default: int) -> list[int]:
    """The page after ``id`` (exclusive) of ``idents`` sorted ascending, ``perPage`` long."""
    per_page = req.int_param("perPage", default)
    if not 1 <= per_page <= max_per_page:
        raise ApiError(
            400, f"perPage must be between 1 and {max_per_page}", errors={"perPage": "invalid value"}
        )
    cursor = req.param("id")
    if cursor is not None and not cursor.isdigit():
        raise ApiError(400, "id must be a number", errors={"id": "invalid value"})
    after = int(cursor) if cursor else -1
    return [ident for ident in sorted(idents) if ident > after][:per_page]


def users_relative(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    """``GET /v3/users/_relative?perPage=1..100&id=<uid>``: every user, past the 10,000 of ``/users``,
    in uid order after the given uid (a JSON array; the walk ends with a short page)."""
    by_uid = {int(user.uid): user.idx for user in org.catalog.users}
    page = _after_cursor(req, list(by_uid), RELATIVE_MAX_PER_PAGE, 50)
    return Response.json([r.user(by_uid[uid]) for uid in page])


def boards_paginate(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    """``GET /v3/boards/_paginate?perPage<=500&id=<board id>``: boards in id order after the given id."""
    page = _after_cursor(req, list(org.catalog.boards), PAGINATE_MAX_PER_PAGE, 50)
    return Response.json([r.board(board_id) for board_id in page])


def get_user(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    """By uid, login, or ``login:<login>`` (the form for all-digit logins)."""
    login = ident.removeprefix("login:")
    for user in org.catalog.users:
        if ident == user.uid or login == user.login or ident == user.cloud_uid:
            return Response.json(r.user(user.idx))
    raise _not_found("User")


def myself(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    return Response.json(r.user(0))


def get_country(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    """The working calendar a board's ``country`` points at (only Russia here)."""
    if ident != "1":
        raise _not_found("Country")
    return Response.json({"self": f"{r.root}/countries/1", "id": "1", "display": r.text("Russia", "Россия")})


def list_queues(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    return paged(req, list(org.catalog.queues), r.queue)


def get_queue(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    for queue in org.catalog.queues.values():
        if ident in (queue.key, str(queue.id)):
            return Response.json(r.queue(queue.key))
    raise _not_found("Queue")


def _board_id(org: Organisation, ident: str) -> int:
    return _by_int(ident, org.catalog.boards, "Board")


def list_boards(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    """The whole organisation in one unpaged array (big organisations use ``_paginate``)."""
    return Response.json([r.board(board_id) for board_id in sorted(org.catalog.boards)])


def get_board(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    return Response.json(r.board(_board_id(org, ident)))


def board_columns(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    board_id = _board_id(org, ident)
    return Response.json([r.column(board_id, c) for c in org.catalog.boards[board_id].columns])


def board_column(org: Organisation, req: Request, r: Renderer, ident: str, column: str, **_: Any) -> Response:
    board_id = _board_id(org, ident)
    for item in org.catalog.boards[board_id].columns:
        if str(item[0]) == column:
            return Response.json(r.column(board_id, item))
    raise _not_found("Column")


def board_sprints(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    board_id = _board_id(org, ident)
    sprints = [org.catalog.sprints[s] for s in org.catalog.sprints_by_board.get(board_id, [])]
    return paged(req, sprints, r.sprint)


def get_sprint(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    return Response.json(r.sprint(org.catalog.sprints[_by_int(ident, org.catalog.sprints, "Sprint")]))


def _by_int(ident: str, items: dict[int, Any], what: str) -> int:
    if not ident.isdigit() or int(ident) not in items:
        raise _not_found(what)
    return int(ident)


def list_components(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    return paged(req, sorted(org.catalog.components), r.component)


def get_component(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    return Response.json(r.component(_by_int(ident, org.catalog.components, "Component")))


def list_projects(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    return paged(req, sorted(org.catalog.projects), r.project)


def get_project(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    return Response.json(r.project(_by_int(ident, org.catalog.projects, "Project")))


def list_fields(org: Organisation, req: Request, r: Renderer, **_: Any) -> Response:
    return Response.json([r.field(field_id) for field_id in FIELDS])


def get_field(org: Organisation, req: Request, r: Renderer, ident: str, **_: Any) -> Response:
    if ident not in FIELDS:
        raise _not_found("Field")
    return Response.json(r.field(ident))
