-- Reference data keyed as the API keys it, and nothing the API sends lost.
--
-- `users`: Tracker has no user `id`, a user is its `uid` (and references to people carry the uid, or in
-- older data the login or passportUid, as their `id`). The first schema keyed the table by an `id`
-- column that no record filled, so every user collapsed into one row under FINAL. The table is made anew
-- (its data is a full copy of GET /users that the tap re-reads on every run, so nothing is lost).
-- `people_view` resolves any of those id forms to a person, and the per-assignee view shows names.
-- `issue_changelog.raw`: the whole changelog entry as JSON (comments, links, attachments, worklog, ...
-- had no column), on the first row of each entry only, so it is stored once per entry.

DROP VIEW IF EXISTS users_view;

DROP TABLE IF EXISTS users;

CREATE TABLE IF NOT EXISTS users
(
    uid           String COMMENT 'the user key of the API (a number, kept as text)',
    login         String,
    passport_uid  String COMMENT 'the id people references carried before 2023-10-01',
    tracker_uid   String,
    cloud_uid     String COMMENT 'Yandex Cloud organisations',
    display       String,
    email         String,
    first_name    String,
    last_name     String,
    dismissed     UInt8,
    external      UInt8,
    raw           String COMMENT 'the record as JSON',
    _version      UInt64,
    _loaded_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY uid;

CREATE VIEW IF NOT EXISTS users_view AS SELECT * FROM users FINAL;

CREATE VIEW IF NOT EXISTS people_view AS
SELECT person_id, any(uid) AS uid, any(login) AS login, any(display) AS display
FROM
(
    SELECT uid AS person_id, uid, login, display FROM users FINAL
    UNION ALL
    SELECT login AS person_id, uid, login, display FROM users FINAL WHERE login != ''
    UNION ALL
    SELECT passport_uid AS person_id, uid, login, display FROM users FINAL WHERE passport_uid != '' AND passport_uid != uid
    UNION ALL
    SELECT tracker_uid AS person_id, uid, login, display FROM users FINAL WHERE tracker_uid != '' AND tracker_uid != uid
    UNION ALL
    SELECT cloud_uid AS person_id, uid, login, display FROM users FINAL WHERE cloud_uid != ''
)
GROUP BY person_id;

ALTER TABLE issue_changelog ADD COLUMN IF NOT EXISTS raw String DEFAULT '' COMMENT 'the entry as JSON, on its first row only';

DROP VIEW IF EXISTS issue_changelog_view;

CREATE VIEW IF NOT EXISTS issue_changelog_view AS SELECT * FROM issue_changelog FINAL;

DROP VIEW IF EXISTS time_in_status_by_assignee_view;

DROP VIEW IF EXISTS issue_assignee_intervals_view;

CREATE VIEW IF NOT EXISTS issue_assignee_intervals_view AS
SELECT issue_id, seq, assignee, assignee_changelog_display, valid_from, valid_to
FROM
(
    SELECT
        issue_id,
        toUInt32(idx + 1) AS seq,
        if(idx = 0, ifNull(tupleElement(changes[1], 3), ''), ifNull(tupleElement(changes[idx], 4), '')) AS assignee,
        if(idx = 0, ifNull(tupleElement(changes[1], 5), ''), ifNull(tupleElement(changes[idx], 6), ''))
            AS assignee_changelog_display,
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
                             groupArray((event_time, event_id, from_value, to_value, from_display, to_display)))
                       AS changes
            FROM issue_changelog FINAL
            WHERE field_id = 'assignee'
            GROUP BY issue_id
        ) AS c
        ALL INNER JOIN (SELECT issue_id, created_at FROM issues FINAL) AS i USING (issue_id)
    )
)
UNION ALL
SELECT
    issue_id, toUInt32(1) AS seq, assignee_id AS assignee, assignee_display AS assignee_changelog_display,
    CAST(created_at AS DateTime64(3, 'UTC')) AS valid_from,
    CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS valid_to
FROM issues FINAL
WHERE issue_id NOT IN (SELECT issue_id FROM issue_changelog FINAL WHERE field_id = 'assignee');

CREATE VIEW IF NOT EXISTS time_in_status_by_assignee_view AS
SELECT
    queue, assignee, any(assignee_display) AS assignee_display, status, stage, stage_order, category,
    count() AS segments,
    uniqExact(issue_id) AS issues,
    sum(overlap_s) AS total_s
FROM
(
    SELECT issue_id, queue, status, stage, stage_order, category, assignee,
           if(person_display != '', person_display, if(assignee_changelog_display != '',
              assignee_changelog_display, assignee)) AS assignee_display,
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
        SELECT issue_id, assignee, assignee_changelog_display, valid_from, valid_to, person_display
        FROM issue_assignee_intervals_view
        ANY LEFT JOIN (SELECT person_id AS assignee, display AS person_display FROM people_view) AS p
            USING (assignee)
    ) AS a USING (issue_id)
    WHERE valid_from < left_at AND (valid_to IS NULL OR valid_to > entered_at)
)
GROUP BY queue, assignee, status, stage, stage_order, category;
