"""Static reference data: statuses, workflows, issue types, priorities, resolutions, fields, names.

Kept apart from the generator so that the data an organisation is built from can be read (and changed)
in one place. Every localised value is an ``(en, ru)`` pair; the renderer picks one per request from
``Accept-Language``.
"""

# Russian display names are the point of this data: Cyrillic look-alikes are intended.
# ruff: noqa: RUF001
from __future__ import annotations

from dataclasses import dataclass

NEW, IN_PROGRESS, PAUSED, DONE, CANCELLED = "new", "inProgress", "paused", "done", "cancelled"
CLOSED_TYPES = frozenset({DONE, CANCELLED})


@dataclass(frozen=True, slots=True)
class Named:
    """A numbered, keyed, localised reference entity (status, type, priority, resolution)."""

    id: int
    key: str
    en: str
    ru: str
    type: str = ""  # statuses only: new | inProgress | paused | done | cancelled


STATUSES: tuple[Named, ...] = (
    Named(1, "open", "Open", "Открыт", NEW),
    Named(2, "needInfo", "Need info", "Требуется информация", PAUSED),
    Named(3, "inProgress", "In progress", "В работе", IN_PROGRESS),
    Named(4, "inReview", "In review", "На ревью", IN_PROGRESS),
    Named(5, "testing", "Testing", "Тестируется", IN_PROGRESS),
    Named(6, "resolved", "Resolved", "Решен", DONE),
    Named(7, "closed", "Closed", "Закрыт", DONE),
    Named(8, "cancelled", "Cancelled", "Отменен", CANCELLED),
    Named(9, "backlog", "Backlog", "Бэклог", NEW),
    Named(10, "onHold", "On hold", "Отложено", PAUSED),
)
STATUS_TYPE = {status.key: status.type for status in STATUSES}

ISSUE_TYPES: tuple[Named, ...] = (
    Named(1, "bug", "Bug", "Ошибка"),
    Named(2, "task", "Task", "Задача"),
    Named(3, "story", "Story", "История"),
    Named(4, "epic", "Epic", "Эпик"),
    Named(5, "subtask", "Sub-task", "Подзадача"),
)

PRIORITIES: tuple[Named, ...] = (
    Named(1, "trivial", "Trivial", "Незначительный"),
    Named(2, "minor", "Minor", "Низкий"),
    Named(3, "normal", "Normal", "Средний"),
    Named(4, "critical", "Critical", "Критичный"),
    Named(5, "blocker", "Blocker", "Блокер"),
)

RESOLUTIONS: tuple[Named, ...] = (
    Named(1, "fixed", "Fixed", "Решен"),
    Named(2, "wontFix", "Won't fix", "Не будет исправлено"),
    Named(3, "duplicate", "Duplicate", "Дубликат"),
    Named(4, "invalid", "Invalid", "Некорректный"),
    Named(5, "later", "Later", "Позже"),
)
DONE_RESOLUTIONS = ("fixed", "fixed", "fixed", "later")
CANCEL_RESOLUTIONS = ("wontFix", "duplicate", "invalid")


@dataclass(frozen=True, slots=True)
class Workflow:
    """A queue's workflow: the initial status and weighted transitions (terminal ones reopen)."""

    name: str
    initial: str
    transitions: dict[str, tuple[tuple[str, int], ...]]

    @property
    def statuses(self) -> frozenset[str]:
        return frozenset(self.transitions)


WORKFLOWS: dict[str, Workflow] = {
    "development": Workflow(
        "development",
        "open",
        {
            "open": (("inProgress", 8), ("cancelled", 1), ("backlog", 1)),
            "backlog": (("open", 3), ("inProgress", 2), ("cancelled", 1)),
            "inProgress": (("inReview", 6), ("needInfo", 1), ("onHold", 1)),
            "needInfo": (("inProgress", 4), ("cancelled", 1)),
            "onHold": (("inProgress", 3), ("backlog", 1)),
            "inReview": (("testing", 5), ("inProgress", 3)),
            "testing": (("resolved", 5), ("inProgress", 2)),
            "resolved": (("closed", 6), ("inProgress", 1)),
            "closed": (("open", 1), ("inProgress", 1)),
            "cancelled": (("open", 1),),
        },
    ),
    "support": Workflow(
        "support",
        "open",
        {
            "open": (("inProgress", 6), ("cancelled", 1), ("closed", 1)),
            "inProgress": (("needInfo", 3), ("resolved", 4)),
            "needInfo": (("inProgress", 4), ("cancelled", 1)),
            "resolved": (("closed", 4), ("inProgress", 1)),
            "closed": (("open", 1),),
            "cancelled": (("open", 1),),
        },
    ),
    "operations": Workflow(
        "operations",
        "open",
        {
            "open": (("inProgress", 5), ("cancelled", 1)),
            "inProgress": (("onHold", 2), ("closed", 5)),
            "onHold": (("inProgress", 3), ("cancelled", 1)),
            "closed": (("open", 1),),
            "cancelled": (("open", 1),),
        },
    ),
    "marketing": Workflow(
        "marketing",
        "backlog",
        {
            "backlog": (("open", 4), ("cancelled", 1)),
            "open": (("inProgress", 5), ("backlog", 1)),
            "inProgress": (("inReview", 4), ("onHold", 1)),
            "onHold": (("inProgress", 2), ("cancelled", 1)),
            "inReview": (("inProgress", 2), ("closed", 4)),
            "closed": (("inProgress", 1),),
            "cancelled": (("backlog", 1),),
        },
    ),
    "qa": Workflow(
        "qa",
        "open",
        {
            "open": (("testing", 5), ("cancelled", 1)),
            "testing": (("needInfo", 2), ("resolved", 4), ("open", 1)),
            "needInfo": (("testing", 3),),
            "resolved": (("closed", 5), ("testing", 1)),
            "closed": (("open", 1),),
            "cancelled": (("open", 1),),
        },
    ),
}


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue of the generated organisation; ``weight`` is its share of new issues."""

    key: str
    en: str
    ru: str
    workflow: str
    weight: int
    scrum: bool  # whether its board runs sprints
    components: tuple[str, ...]


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("DEV", "Development", "Разработка", "development", 35, True, ("API", "Backend", "Frontend")),
    QueueSpec("SUP", "Support", "Поддержка", "support", 25, False, ("Billing", "Accounts")),
    QueueSpec("OPS", "Operations", "Эксплуатация", "operations", 15, False, ("Network", "Databases")),
    QueueSpec("MKT", "Marketing", "Маркетинг", "marketing", 10, False, ("Events", "Content")),
    QueueSpec("QA", "Quality assurance", "Тестирование", "qa", 15, True, ("Regression", "Mobile")),
)

PROJECTS: tuple[tuple[str, str], ...] = (
    ("Platform 2.0", "Платформа 2.0"),
    ("Mobile app", "Мобильное приложение"),
    ("Cost reduction", "Снижение затрат"),
)

# Field id -> (en, ru, schema type, kind used by the renderer).
FIELDS: dict[str, tuple[str, str, str, str]] = {
    "status": ("Status", "Статус", "status", "status"),
    "statusStartTime": ("Status updated", "Статус изменен", "datetime", "ts"),
    "resolution": ("Resolution", "Резолюция", "resolution", "resolution"),
    "assignee": ("Assignee", "Исполнитель", "user", "user"),
    "followers": ("Followers", "Наблюдатели", "array", "users"),
    "tags": ("Tags", "Теги", "array", "strings"),
    "priority": ("Priority", "Приоритет", "priority", "priority"),
    "type": ("Type", "Тип", "issuetype", "issuetype"),
    "queue": ("Queue", "Очередь", "queue", "queue"),
    "key": ("Key", "Ключ", "string", "plain"),
    "storyPoints": ("Story Points", "Story Points", "float", "plain"),
    "sprint": ("Sprint", "Спринт", "array", "sprints"),
    "components": ("Components", "Компоненты", "array", "components"),
    "summary": ("Summary", "Задача", "string", "plain"),
    "description": ("Description", "Описание", "string", "plain"),
    "createdAt": ("Created", "Создана", "datetime", "ts"),
    "updatedAt": ("Updated", "Обновлена", "datetime", "ts"),
    "resolvedAt": ("Resolved", "Дата решения", "datetime", "ts"),
    "parent": ("Parent issue", "Родительская задача", "issue", "plain"),
    "epic": ("Epic", "Эпик", "issue", "plain"),
}

TAGS = (
    "backend",
    "frontend",
    "api",
    "ux",
    "infra",
    "security",
    "performance",
    "срочно",
    "техдолг",
    "customer",
)
STORY_POINTS = (1, 2, 3, 5, 8, 13)

MALE_FIRST = (
    ("Ivan", "Иван"),
    ("Petr", "Пётр"),
    ("Alexey", "Алексей"),
    ("Dmitry", "Дмитрий"),
    ("Sergey", "Сергей"),
    ("Andrey", "Андрей"),
    ("Mikhail", "Михаил"),
    ("Nikolay", "Николай"),
    ("Artyom", "Артём"),
    ("Egor", "Егор"),
)
FEMALE_FIRST = (
    ("Anna", "Анна"),
    ("Maria", "Мария"),
    ("Elena", "Елена"),
    ("Olga", "Ольга"),
    ("Natalia", "Наталья"),
    ("Ksenia", "Ксения"),
    ("Tatiana", "Татьяна"),
    ("Yulia", "Юлия"),
    ("Daria", "Дарья"),
    ("Alina", "Алина"),
)
# (male en, male ru, female en, female ru)
SURNAMES = (
    ("Ivanov", "Иванов", "Ivanova", "Иванова"),
    ("Smirnov", "Смирнов", "Smirnova", "Смирнова"),
    ("Kuznetsov", "Кузнецов", "Kuznetsova", "Кузнецова"),
    ("Popov", "Попов", "Popova", "Попова"),
    ("Sokolov", "Соколов", "Sokolova", "Соколова"),
    ("Lebedev", "Лебедев", "Lebedeva", "Лебедева"),
    ("Kozlov", "Козлов", "Kozlova", "Козлова"),
    ("Novikov", "Новиков", "Novikova", "Новикова"),
    ("Morozov", "Морозов", "Morozova", "Морозова"),
    ("Volkov", "Волков", "Volkova", "Волкова"),
)

SUMMARY_VERBS = (
    "Fix",
    "Add",
    "Update",
    "Remove",
    "Refactor",
    "Исправить",
    "Добавить",
    "Обновить",
    "Проверить",
)
SUMMARY_OBJECTS = (
    "login form",
    "payment flow",
    "export to CSV",
    "search index",
    "user profile",
    "отчёт по продажам",
    "уведомления",
    "billing API",
    "dashboard",
    "страницу настроек",
    "mobile push",
    "rate limiter",
)
COMMENT_TEXTS = (
    "Looks good to me",
    "Please add tests",
    "Готово, проверьте",
    "Не воспроизводится",
    "Deployed to staging",
    "Нужна дополнительная информация",
    "Blocked by the infra team",
    "Согласовано",
)
