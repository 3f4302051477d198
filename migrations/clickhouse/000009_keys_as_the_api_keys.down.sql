-- Back to the schema of 000008: the `id`-keyed users table (empty: the tap refills it on the next run)
-- and the per-assignee views without names.
DROP VIEW IF EXISTS time_in_status_by_assignee_view;

DROP VIEW IF EXISTS issue_assignee_intervals_view;

DROP VIEW IF EXISTS people_view;

DROP VIEW IF EXISTS users_view;

DROP VIEW IF EXISTS issue_changelog_view;

ALTER TABLE issue_changelog DROP COLUMN IF EXISTS raw;

CREATE VIEW IF NOT EXISTS issue_changelog_view AS SELECT * FROM issue_changelog FINAL;

DROP TABLE IF EXISTS users;

CREATE TABLE IF NOT EXISTS users
(
    id          String COMMENT 'uid as a string',
    login       String,
    display     String,
    email       String,
    first_name  String,
    last_name   String,
    dismissed   UInt8,
    external    UInt8,
    raw         String,
    _version    UInt64,
    _loaded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE VIEW IF NOT EXISTS users_view AS SELECT * FROM users FINAL;

CREATE VIEW IF NOT EXISTS issue_assignee_intervals_view AS
SELECT issue_id, seq, assignee, valid_from, valid_to
FROM
(
    SELECT
        issue_id,
        toUInt32(idx + 1) AS seq,
        if(idx = 0, ifNull(tupleElement(changes[1], 3), ''), ifNull(tupleElement(changes[idx], 4), '')) AS assignee,
        CAST(if(idx = 0, created_at, tupleElement(changes[idx], 1)) AS DateTime64(3, 'UTC')) AS valid_from,
        CAST(if(idx = length(changes), NULL, tupleElement(changes[idx + 1], 1)) AS Nullable(DateTime64(3, 'UTC')))
            AS valid_to
    FROM
    (
        SELECT issue_id, changes, created_at, arrayJoin(range(toUInt32(length(changes) + 1))) AS idx
        FROM
        (
            SELECT issue_id,
                   arraySort(x -> (tupleElement(x, 1), tupleElement(x, 2)),
                             groupArray((event_time, event_id, from_value, to_value))) AS changes
            FROM issue_changelog FINAL
            WHERE field_id = 'assignee'
            GROUP BY issue_id
        ) AS c
        ALL INNER JOIN (SELECT issue_id, created_at FROM issues FINAL) AS i USING (issue_id)
    )
)
UNION ALL
SELECT
    issue_id, toUInt32(1) AS seq, assignee_id AS assignee,
    CAST(created_at AS DateTime64(3, 'UTC')) AS valid_from,
    CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS valid_to
FROM issues FINAL
WHERE issue_id NOT IN (SELECT issue_id FROM issue_changelog FINAL WHERE field_id = 'assignee');

CREATE VIEW IF NOT EXISTS time_in_status_by_assignee_view AS
SELECT
    queue, assignee, status, stage, stage_order, category,
    count() AS segments,
    uniqExact(issue_id) AS issues,
    sum(overlap_s) AS total_s
FROM
(
    SELECT issue_id, queue, status, stage, stage_order, category, assignee,
           intDiv(toInt64(round(toFloat64(least(left_at, ifNull(valid_to, left_at))) * 1000))
                  - toInt64(round(toFloat64(greatest(entered_at, valid_from)) * 1000)), 1000) AS overlap_s
    FROM
    (
        SELECT issue_id, queue, status, stage, stage_order, category, entered_at, assumeNotNull(left_at) AS left_at
        FROM issue_intervals_stage_view
        WHERE left_at IS NOT NULL
    ) AS s
    ALL INNER JOIN
    (
        SELECT issue_id, assignee, valid_from, valid_to FROM issue_assignee_intervals_view
    ) AS a USING (issue_id)
    WHERE valid_from < left_at AND (valid_to IS NULL OR valid_to > entered_at)
)
GROUP BY queue, assignee, status, stage, stage_order, category;
