"""Stream schemas, built with the SDK's typing helpers.

Conventions:
* Field names are the API's. Timestamps are ``date-time`` strings in ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
* References (``status``, ``assignee``, ...) are objects with the common keys typed and
  ``additionalProperties`` allowed (user references carry ``cloudUid``/``passportUid`` in v3).
* Ids of reference collections are typed ``integer | string``: Tracker returns numbers in the
  collections (``GET /statuses`` -> ``"id": 1``) but numeric strings inside references.
* Issues: every key not listed here (global custom fields, local fields ``<owner-id>--<key>``, fields
  added to the API later) is moved to the ``custom_fields`` object instead of being silently dropped.
"""

from __future__ import annotations

from singer_sdk import typing as th

#: Any JSON value, for *nested* positions only (changelog ``from``/``to``, a reference's ``display``).
#: Top-level properties always get one precise type: the SDK's standard tests (and typed targets) check
#: top-level values against every scalar type listed, so a union there would reject valid records.
ANY_JSON = th.CustomType({"type": ["null", "string", "number", "integer", "boolean", "object", "array"]})
ID = th.CustomType({"type": ["integer", "string"]})
OPT_ID = th.CustomType({"type": ["integer", "string", "null"]})


def ref(*extra: th.Property) -> th.ObjectType:
    """A Tracker reference ``{self, id, key?, display}`` (open for more keys)."""
    return th.ObjectType(
        th.Property("self", th.StringType),
        th.Property("id", OPT_ID),
        th.Property("key", th.StringType),
        th.Property("display", ANY_JSON),
        *extra,
        additional_properties=True,
    )


def open_object() -> th.ObjectType:
    return th.ObjectType(additional_properties=True)


USER_REF = ref(
    th.Property("cloudUid", th.StringType),
    th.Property("passportUid", OPT_ID),
    th.Property("login", th.StringType),
)

ISSUE_KNOWN_FIELDS: tuple[th.Property, ...] = (
    th.Property("id", th.StringType, required=True, description="Issue id (stable across queue moves)"),
    th.Property("key", th.StringType, description="Current issue key, e.g. TEST-1"),
    th.Property("self", th.StringType),
    th.Property("version", th.IntegerType),
    th.Property("summary", th.StringType),
    th.Property("description", th.StringType),
    th.Property("createdAt", th.DateTimeType),
    th.Property("updatedAt", th.DateTimeType, required=True),
    th.Property("resolvedAt", th.DateTimeType),
    th.Property("statusStartTime", th.DateTimeType),
    th.Property("lastCommentUpdatedAt", th.DateTimeType),
    th.Property("start", th.StringType),
    th.Property("end", th.StringType),
    th.Property("deadline", th.StringType),
    th.Property("status", ref()),
    th.Property("statusType", ref()),
    th.Property("previousStatus", ref()),
    th.Property("resolution", ref()),
    th.Property("type", ref()),
    th.Property("priority", ref()),
    th.Property("queue", ref()),
    th.Property("previousQueue", ref()),
    th.Property("lastQueue", ref()),
    th.Property("parent", ref()),
    th.Property("epic", ref()),
    th.Property("project", open_object()),  # v2: a reference; v3: {primary, secondary}
    th.Property("assignee", USER_REF),
    th.Property("createdBy", USER_REF),
    th.Property("updatedBy", USER_REF),
    th.Property("resolvedBy", USER_REF),
    th.Property("previousStatusLastAssignee", USER_REF),
    th.Property("followers", th.ArrayType(USER_REF)),
    th.Property("access", th.ArrayType(USER_REF)),
    th.Property("pendingReplyFrom", th.ArrayType(USER_REF)),
    th.Property("votedBy", th.ArrayType(USER_REF)),
    th.Property("components", th.ArrayType(ref())),
    th.Property("fixVersions", th.ArrayType(ref())),
    th.Property("affectedVersions", th.ArrayType(ref())),
    th.Property("sprint", th.ArrayType(ref())),
    th.Property("boards", th.ArrayType(open_object())),
    th.Property("tags", th.ArrayType(th.StringType)),
    th.Property("aliases", th.ArrayType(th.StringType)),
    th.Property("storyPoints", th.NumberType),
    th.Property("originalEstimation", th.StringType),
    th.Property("estimation", th.StringType),
    th.Property("spent", th.StringType),
    th.Property("votes", th.IntegerType),
    th.Property("favorite", th.BooleanType),
    th.Property("commentWithoutExternalMessageCount", th.IntegerType),
    th.Property("commentWithExternalMessageCount", th.IntegerType),
    th.Property("checklistItems", th.ArrayType(open_object())),
    th.Property("checklistDone", th.IntegerType),
    th.Property("checklistTotal", th.IntegerType),
    th.Property("emailFrom", th.StringType),
    th.Property("emailCreatedBy", th.StringType),
    th.Property("unique", th.StringType),
)  # fields of uncertain shape (sla, emailTo, emailCc, expand=...) land in custom_fields

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
    th.Property("field", ref()),
    th.Property("from", ANY_JSON),
    th.Property("to", ANY_JSON),
    additional_properties=True,
)

CHANGELOG = th.PropertiesList(
    th.Property("id", th.StringType, required=True, description="Changelog entry id (24-hex ObjectId)"),
    th.Property("issue_id", th.StringType, required=True, description="Id of the issue (added by the tap)"),
    th.Property("issue_key", th.StringType, description="Issue key when it was read (added by the tap)"),
    th.Property("self", th.StringType),
    th.Property("issue", ref()),
    th.Property("updatedAt", th.DateTimeType),
    th.Property("updatedBy", USER_REF),
    th.Property("type", th.StringType),
    th.Property("transport", th.StringType),
    th.Property("fields", th.ArrayType(CHANGELOG_FIELD_CHANGE)),
    th.Property("comments", open_object(), description="{added, removed, updated} comment references"),
    th.Property("executedTriggers", th.ArrayType(open_object())),
    th.Property("links", th.ArrayType(open_object())),
    th.Property("attachments", open_object(), description="{added, removed} attachment references"),
    th.Property("worklog", th.ArrayType(open_object())),
    th.Property("relatedResolutions", th.ArrayType(open_object())),
    additional_properties=True,  # other blocks (messages, ranks, ...) are kept as the API sends them
).to_dict()


def reference_schema(*properties: th.Property, key: str = "id") -> dict:
    """Schema of a reference collection: the listed fields typed, anything else kept as is."""
    return th.PropertiesList(
        th.Property(key, ID, required=True),
        th.Property("self", th.StringType),
        th.Property("version", th.IntegerType),
        *properties,
        additional_properties=True,
    ).to_dict()


_NAMED = (
    th.Property("key", th.StringType),
    th.Property("name", th.StringType),
    th.Property("display", th.StringType),
    th.Property("description", th.StringType),
    th.Property("order", th.IntegerType),
)

STATUSES = reference_schema(*_NAMED, th.Property("type", th.StringType, description="new|inProgress|..."))
ISSUE_TYPES = reference_schema(*_NAMED)
PRIORITIES = reference_schema(*_NAMED)
RESOLUTIONS = reference_schema(*_NAMED)
QUEUES = reference_schema(
    *_NAMED,
    th.Property("lead", USER_REF),
    th.Property("assignAuto", th.BooleanType),
    th.Property("defaultType", ref()),
    th.Property("defaultPriority", ref()),
    th.Property("teamUsers", th.ArrayType(USER_REF)),
    th.Property("issueTypes", th.ArrayType(ref())),
    th.Property("versions", th.ArrayType(ref())),
    th.Property("denyVoting", th.BooleanType),
    th.Property("issueTypesConfig", th.ArrayType(open_object())),
)
USERS = reference_schema(
    th.Property("id", OPT_ID),
    th.Property("login", th.StringType),
    th.Property("trackerUid", OPT_ID),
    th.Property("passportUid", OPT_ID),
    th.Property("cloudUid", th.StringType),
    th.Property("firstName", th.StringType),
    th.Property("lastName", th.StringType),
    th.Property("display", th.StringType),
    th.Property("email", th.StringType),
    th.Property("external", th.BooleanType),
    th.Property("hasLicense", th.BooleanType),
    th.Property("dismissed", th.BooleanType),
    th.Property("useNewFilters", th.BooleanType),
    th.Property("disableNotifications", th.BooleanType),
    th.Property("welcomeMailSent", th.BooleanType),
    th.Property("firstLoginDate", th.DateTimeType),
    th.Property("lastLoginDate", th.DateTimeType),
    key="uid",
)
BOARDS = reference_schema(
    th.Property("name", th.StringType),
    th.Property("columns", th.ArrayType(ref())),
    th.Property("filter", open_object()),
    th.Property("orderBy", th.StringType),
    th.Property("orderAsc", th.BooleanType),
    th.Property("query", th.StringType),
    th.Property("useRanking", th.BooleanType),
    th.Property("country", th.StringType),
)
SPRINTS = reference_schema(
    th.Property("name", th.StringType),
    th.Property("board", ref()),
    th.Property("status", th.StringType),
    th.Property("archived", th.BooleanType),
    th.Property("createdBy", USER_REF),
    th.Property("createdAt", th.DateTimeType),
    th.Property("startDate", th.StringType),
    th.Property("endDate", th.StringType),
    th.Property("startDateTime", th.DateTimeType),
    th.Property("endDateTime", th.DateTimeType),
)
