"""Stream schemas, built with the SDK's typing helpers.

What the API may send is wider than what its documentation shows: Tracker evolves, organisations add
custom fields, old data keeps old shapes (a board's `country` is an object, `checklistDone` a string,
`updatedBy.id` a login). So the policy is:

* **Typed precisely**: only what the product reads - ids, keys, timestamps, the status, queue, type,
  priority and resolution references, people, and the fields that feed metrics or table columns.
* **Untyped** (``{}``, any JSON): every other documented field. Its value travels unchanged and lands in the
  target's ``raw`` column; no shape of it can fail a sync.
* Issues: every key not listed here (global custom fields, local fields ``<owner-id>--<key>``, fields
  added to the API later) is moved to the ``custom_fields`` object instead of being silently dropped.

Conventions: field names are the API's; timestamps are ``date-time`` strings in
``YYYY-MM-DDTHH:MM:SS.mmmZ``; references are objects with the keys the product reads typed and any other key
allowed; ids are typed ``integer | string`` (numbers in a collection, numeric strings inside references).
"""

from __future__ import annotations

from singer_sdk import typing as th

#: Any JSON value: for fields the product does not read, and for nested values (changelog ``from``/``to``,
#: a reference's ``display``, which is an object ``{"ru": ..., "en": ...}`` with ``localized=false``).
ANY = th.CustomType({})
ID = th.CustomType({"type": ["integer", "string"]})
OPT_ID = th.CustomType({"type": ["integer", "string", "null"]})


def ref(*extra: th.Property) -> th.ObjectType:
    """A Tracker reference ``{self, id, key?, display}`` (open for more keys)."""
    return th.ObjectType(
        th.Property("self", th.StringType),
        th.Property("id", OPT_ID),
        th.Property("key", th.StringType),
        th.Property("display", ANY),
        *extra,
        additional_properties=True,
    )


def open_object() -> th.ObjectType:
    return th.ObjectType(additional_properties=True)


#: A person: ``id`` is the uid (since 2023-10-01), a passportUid or, in old data, the login.
USER_REF = ref(
    th.Property("cloudUid", ANY),
    th.Property("passportUid", ANY),
    th.Property("login", ANY),
)

#: Documented issue fields the product does not read.
ISSUE_UNTYPED_FIELDS = (
    *("self", "version", "lastCommentUpdatedAt", "start", "end", "previousStatus", "lastQueue", "project"),
    *("updatedBy", "resolvedBy", "previousStatusLastAssignee", "followers", "access", "pendingReplyFrom"),
    *("votedBy", "fixVersions", "affectedVersions", "boards", "originalEstimation", "estimation", "spent"),
    *("votes", "favorite", "commentWithoutExternalMessageCount", "commentWithExternalMessageCount"),
    *("checklistItems", "checklistDone", "checklistTotal", "emailFrom", "emailCreatedBy", "emailTo"),
    *("emailCc", "unique", "sla", "attachments"),
)

ISSUE_KNOWN_FIELDS: tuple[th.Property, ...] = (
    # read by the product (metrics, columns of the `issues` table)
    th.Property("id", th.StringType, required=True, description="Issue id (stable across queue moves)"),
    th.Property("key", th.StringType, description="Current issue key, e.g. TEST-1"),
    th.Property("summary", th.StringType),
    th.Property("description", th.StringType),
    th.Property("createdAt", th.DateTimeType),
    th.Property("updatedAt", th.DateTimeType, required=True),
    th.Property("resolvedAt", th.DateTimeType),
    th.Property("statusStartTime", th.DateTimeType),
    th.Property("deadline", th.StringType),
    th.Property("status", ref()),
    th.Property("statusType", ref()),
    th.Property("resolution", ref()),
    th.Property("type", ref()),
    th.Property("priority", ref()),
    th.Property("queue", ref()),
    th.Property("previousQueue", ref()),
    th.Property("parent", ref()),
    th.Property("epic", ref()),
    th.Property("assignee", USER_REF),
    th.Property("createdBy", USER_REF),
    th.Property("components", th.ArrayType(ref())),
    th.Property("sprint", th.ArrayType(ref())),
    th.Property("tags", th.ArrayType(th.StringType)),
    th.Property("aliases", th.ArrayType(th.StringType)),
    th.Property("storyPoints", th.NumberType),
    # documented, kept as sent: nothing reads them, so no shape of theirs can fail a sync
    *(th.Property(name, ANY) for name in ISSUE_UNTYPED_FIELDS),
)

ISSUE_CATCH_ALL = "custom_fields"
ISSUE_FIELD_NAMES = frozenset(p.name for p in ISSUE_KNOWN_FIELDS)

ISSUES = th.PropertiesList(
    *ISSUE_KNOWN_FIELDS,
    th.Property(
        ISSUE_CATCH_ALL,
        open_object(),
        description="Every issue field not typed above (custom and local fields), with the API's keys",
    ),
    additional_properties=False,
).to_dict()

CHANGELOG_FIELD_CHANGE = th.ObjectType(
    th.Property("field", ANY, description="a field reference {self, id, display}"),
    th.Property("from", ANY),
    th.Property("to", ANY),
    additional_properties=True,
)

#: Documented blocks of a changelog entry the product does not read (besides `fields`).
CHANGELOG_UNTYPED_FIELDS = (
    *("self", "comments", "executedTriggers", "links", "attachments", "worklog", "relatedResolutions"),
    *("messages", "ranks"),
)

CHANGELOG = th.PropertiesList(
    th.Property("id", th.StringType, required=True, description="Changelog entry id (24-hex ObjectId)"),
    th.Property("issue_id", th.StringType, required=True, description="Id of the issue (added by the tap)"),
    th.Property("issue_key", th.StringType, description="Issue key when it was read (added by the tap)"),
    th.Property("issue", ref()),
    th.Property("updatedAt", th.DateTimeType),
    th.Property("updatedBy", USER_REF),
    th.Property("type", th.StringType),
    th.Property("transport", th.StringType, description="absent in older entries"),
    th.Property("fields", th.ArrayType(CHANGELOG_FIELD_CHANGE)),
    *(th.Property(name, ANY) for name in CHANGELOG_UNTYPED_FIELDS),
    additional_properties=True,  # other blocks are kept as the API sends them
).to_dict()


def reference_schema(*properties: th.Property, key: str = "id", untyped: tuple[str, ...] = ()) -> dict:
    """Schema of a reference collection: the fields the product reads typed, the documented rest untyped,
    anything else kept as is."""
    return th.PropertiesList(
        th.Property(key, ID, required=True),
        *properties,
        *(th.Property(name, ANY) for name in ("self", "version", *untyped)),
        additional_properties=True,
    ).to_dict()


_NAMED = (
    th.Property("key", th.StringType),
    th.Property("name", ANY, description="a string, or {ru, en} with localized=false"),
    th.Property("description", ANY),
    th.Property("order", th.IntegerType),
)

STATUSES = reference_schema(*_NAMED, th.Property("type", th.StringType, description="new|inProgress|..."))
ISSUE_TYPES = reference_schema(*_NAMED)
PRIORITIES = reference_schema(*_NAMED)
RESOLUTIONS = reference_schema(*_NAMED)
QUEUES = reference_schema(
    *_NAMED,
    th.Property("lead", USER_REF),
    th.Property("defaultType", ref()),
    th.Property("defaultPriority", ref()),
    untyped=(
        "assignAuto", "teamUsers", "issueTypes", "versions", "workflows", "denyVoting", "issueTypesConfig",
    ),
)  # fmt: skip
USERS = reference_schema(
    th.Property("login", th.StringType),
    th.Property("trackerUid", OPT_ID),
    th.Property("passportUid", OPT_ID),
    th.Property("cloudUid", OPT_ID),
    th.Property("firstName", th.StringType),
    th.Property("lastName", th.StringType),
    th.Property("display", th.StringType),
    th.Property("email", th.StringType),
    th.Property("external", th.BooleanType),
    th.Property("dismissed", th.BooleanType),
    key="uid",
    untyped=(
        "hasLicense", "useNewFilters", "disableNotifications", "welcomeMailSent", "firstLoginDate",
        "lastLoginDate", "groups",
    ),
)  # fmt: skip
BOARDS = reference_schema(
    th.Property("name", th.StringType),
    th.Property("query", ANY),
    untyped=(
        "columns", "filter", "orderBy", "orderAsc", "useRanking", "country", "calendar", "estimateBy",
        "defaultQueue",
    ),
)  # fmt: skip
SPRINTS = reference_schema(
    th.Property("name", th.StringType),
    th.Property("board", ref()),
    th.Property("status", th.StringType),
    th.Property("archived", th.BooleanType),
    th.Property("createdAt", th.DateTimeType),
    th.Property("startDate", th.StringType),
    th.Property("endDate", th.StringType),
    th.Property("startDateTime", th.DateTimeType),
    th.Property("endDateTime", th.DateTimeType),
    untyped=("createdBy",),
)

SKIPPED_ISSUES = th.PropertiesList(
    th.Property("issue_id", th.StringType, required=True),
    th.Property("issue_key", th.StringType),
    th.Property("updatedAt", th.DateTimeType, description="the issue's updatedAt when it was set aside"),
    th.Property("status", th.StringType, description="set_aside, recovered or deleted"),
    th.Property("reason", th.StringType, description="why its changelog could not be read"),
    th.Property("set_aside_at", th.DateTimeType),
    th.Property("checked_at", th.DateTimeType),
).to_dict()
