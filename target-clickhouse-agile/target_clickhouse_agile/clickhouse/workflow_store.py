"""The workflow map's tables (`workflow_map`, `workflow_scopes`), kept equal to the target's settings."""

from __future__ import annotations

import time

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.workflow import WorkflowMap


def save_workflow_map(conn: Connection, workflow: WorkflowMap | None) -> None:
    """Make the tables hold exactly `workflow` (nothing when None): new rows, tombstones for rows that left.

    The tables mirror the settings so that removing the setting really returns the views to the default
    (status categories as stages).
    """
    version = time.time_ns()
    statuses = workflow.statuses if workflow else ()
    scopes = workflow.scopes if workflow else ()
    fresh = {(r.scope, r.status) for r in statuses}
    stale = [
        (row["scope"], row["status"])
        for row in conn.query("SELECT scope, status FROM workflow_map FINAL WHERE _is_deleted = 0")
        if (row["scope"], row["status"]) not in fresh
    ]
    columns = [
        "scope",
        "status",
        "stage",
        "stage_order",
        "category",
        "is_excluded",
        "_version",
        "_is_deleted",
    ]
    rows = [
        (r.scope, r.status, r.stage, r.stage_order, r.category, r.is_excluded, version, 0) for r in statuses
    ]
    rows += [(scope, status, "", 0, "", 0, version, 1) for scope, status in stale]
    if rows:
        conn.insert("workflow_map", columns, rows)
    fresh_scopes = {r.scope for r in scopes}
    stale_scopes = [
        row["scope"]
        for row in conn.query("SELECT scope FROM workflow_scopes FINAL WHERE _is_deleted = 0")
        if row["scope"] not in fresh_scopes
    ]
    scope_rows = [(r.scope, r.start_order, r.done_order, version, 0) for r in scopes]
    scope_rows += [(scope, 0, 0, version, 1) for scope in stale_scopes]
    if scope_rows:
        conn.insert(
            "workflow_scopes", ["scope", "start_order", "done_order", "_version", "_is_deleted"], scope_rows
        )
