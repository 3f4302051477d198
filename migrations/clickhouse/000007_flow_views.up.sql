-- The agile analytics layer, part 1: views that need no newer server feature (they run on 18.16 too).
-- Semantics: README "Metric definitions" and "Analytics and report".
--  * Every status visit gets its stage, stage order and category from the workflow map: the queue's own row,
--    else the `*` row, else its status category (todo, active, wait, done, cancelled) as the stage.
--    Start and done points come from workflow_scopes (queue, else `*`, else 2 and 3). A status without a map
--    row is placed by its category: todo before the start point, active and wait at it, done at the done
--    point, cancelled after it.
--  * started = stage order at or after the start point and not cancelled, in process = started and before
--    the done point, done = at or after the done point and not cancelled.
--  * Seconds between two instants are whole seconds of the millisecond difference (as duration_s is).
--    Business variants sum the per-visit business_duration_s of the visits inside the span.

CREATE VIEW IF NOT EXISTS issue_intervals_stage_view AS
SELECT
    issue_id, seq, issue_key, queue, status, status_category, entered_at, left_at, duration_s,
    business_duration_s, is_current,
    toUInt8(q_found = 1 OR d_found = 1) AS is_mapped,
    toInt32(if(qs_found = 1, qs_start, if(ds_found = 1, ds_start, 2))) AS start_order,
    toInt32(if(qs_found = 1, qs_done, if(ds_found = 1, ds_done, 3))) AS done_order,
    if(q_found = 1, q_category, if(d_found = 1, d_category, '')) AS mapped_category,
    if(mapped_category != '', mapped_category, status_category) AS category,
    if(q_found = 1, q_stage, if(d_found = 1, d_stage, category)) AS stage,
    toInt32(if(q_found = 1, q_order, if(d_found = 1, d_order,
        multiIf(category = 'todo', start_order - 1, category IN ('active', 'wait'), start_order,
                category = 'done', done_order, done_order + 1)))) AS stage_order,
    toUInt8(if(q_found = 1, q_excluded, if(d_found = 1, d_excluded, 0))) AS is_excluded,
    toUInt8(category != 'cancelled' AND stage_order >= start_order) AS is_started,
    toUInt8(is_started = 1 AND stage_order < done_order) AS in_process,
    toUInt8(is_started = 1 AND stage_order >= done_order) AS is_done
FROM
(
    SELECT issue_id, seq, issue_key, queue, status, status_category, entered_at, left_at, duration_s,
           business_duration_s, is_current, q_found, q_stage, q_order, q_category, q_excluded,
           d_found, d_stage, d_order, d_category, d_excluded, qs_found, qs_start, qs_done, one
    FROM
    (
        SELECT issue_id, seq, issue_key, queue, status, status_category, entered_at, left_at, duration_s,
               business_duration_s, is_current, q_found, q_stage, q_order, q_category, q_excluded,
               d_found, d_stage, d_order, d_category, d_excluded, one
        FROM
        (
            SELECT issue_id, seq, issue_key, queue, status, status_category, entered_at, left_at, duration_s,
                   business_duration_s, is_current, q_found, q_stage, q_order, q_category, q_excluded, one
            FROM
            (
                SELECT issue_id, seq, issue_key, queue, status, status_category, entered_at, left_at,
                       duration_s, business_duration_s, is_current, toUInt8(1) AS one
                FROM issue_status_intervals FINAL
                WHERE _is_deleted = 0
            ) AS si
            ALL LEFT JOIN
            (
                SELECT scope AS queue, status, stage AS q_stage, stage_order AS q_order, category AS q_category,
                       is_excluded AS q_excluded, toUInt8(1) AS q_found
                FROM workflow_map_view
                WHERE scope != '*'
            ) AS qm USING (queue, status)
        ) AS s1
        ALL LEFT JOIN
        (
            SELECT status, stage AS d_stage, stage_order AS d_order, category AS d_category,
                   is_excluded AS d_excluded, toUInt8(1) AS d_found
            FROM workflow_map_view
            WHERE scope = '*'
        ) AS dm USING (status)
    ) AS s2
    ALL LEFT JOIN
    (
        SELECT scope AS queue, start_order AS qs_start, done_order AS qs_done, toUInt8(1) AS qs_found
        FROM workflow_scopes_view
        WHERE scope != '*'
    ) AS qs USING (queue)
) AS s3
ALL LEFT JOIN
(
    SELECT toUInt8(1) AS one, start_order AS ds_start, done_order AS ds_done, toUInt8(1) AS ds_found
    FROM workflow_scopes_view
    WHERE scope = '*'
) AS ds USING (one);

CREATE VIEW IF NOT EXISTS issue_intervals_mapped_view AS
SELECT
    issue_id, seq, issue_key, queue, status, status_category, entered_at, left_at, duration_s,
    business_duration_s, is_current, is_mapped, start_order, done_order, category, stage, stage_order,
    is_excluded, is_started, in_process, is_done,
    has_prev, prev_status, prev_stage_order, prev_category, prev_started
FROM
(
    SELECT issue_id, seq, issue_key, queue, status, status_category, entered_at, left_at, duration_s,
           business_duration_s, is_current, is_mapped, start_order, done_order, category, stage, stage_order,
           is_excluded, is_started, in_process, is_done
    FROM issue_intervals_stage_view
) AS cur
ALL LEFT JOIN
(
    SELECT issue_id, toUInt32(seq + 1) AS seq, toUInt8(1) AS has_prev, status AS prev_status,
           stage_order AS prev_stage_order, category AS prev_category, is_started AS prev_started
    FROM issue_intervals_stage_view
) AS prev USING (issue_id, seq);

CREATE VIEW IF NOT EXISTS issue_flow_facts_view AS
SELECT
    issue_id, key_now AS issue_key, queue_now AS queue, created_at, started_at,
    if(restart_seq > 0, entries[indexOf(seqs, restart_seq)], NULL) AS restarted_at,
    if(current_done = 1, entries[indexOf(seqs, toUInt32(last_not_done_seq + 1))], NULL) AS done_at,
    current_done AS is_done,
    if(current_done = 1,
       intDiv(toInt64(round(toFloat64(done_at) * 1000)) - toInt64(round(toFloat64(created_at) * 1000)), 1000),
       NULL) AS lead_time_s,
    if(current_done = 1 AND first_start_seq > 0,
       intDiv(toInt64(round(toFloat64(done_at) * 1000)) - toInt64(round(toFloat64(started_at) * 1000)), 1000),
       NULL) AS cycle_time_s,
    if(current_done = 1 AND restart_seq > 0,
       intDiv(toInt64(round(toFloat64(done_at) * 1000)) - toInt64(round(toFloat64(restarted_at) * 1000)), 1000),
       NULL) AS cycle_time_restart_s,
    if(current_done = 1 AND first_start_seq > 0, in_process_total_s, NULL) AS cycle_time_in_process_s,
    if(current_done = 1 AND first_start_seq > 0,
       cycle_time_s - arraySum((d, s, x) -> if(x = 1 AND s >= first_start_seq AND s <= last_not_done_seq, d, 0),
                               durs, seqs, excl),
       NULL) AS cycle_time_excluding_s,
    if(current_done = 1, arraySum((d, s) -> if(s <= last_not_done_seq, d, 0), bdurs, seqs), NULL)
        AS business_lead_time_s,
    if(current_done = 1 AND first_start_seq > 0,
       arraySum((d, s) -> if(s >= first_start_seq AND s <= last_not_done_seq, d, 0), bdurs, seqs),
       NULL) AS business_cycle_time_s,
    if(current_done = 1 AND restart_seq > 0,
       arraySum((d, s) -> if(s >= restart_seq AND s <= last_not_done_seq, d, 0), bdurs, seqs),
       NULL) AS business_cycle_time_restart_s,
    if(current_done = 1 AND first_start_seq > 0, in_process_business_s, NULL) AS business_cycle_time_in_process_s,
    if(current_done = 1 AND first_start_seq > 0,
       business_cycle_time_s
       - arraySum((d, s, x) -> if(x = 1 AND s >= first_start_seq AND s <= last_not_done_seq, d, 0), bdurs, seqs, excl),
       NULL) AS business_cycle_time_excluding_s,
    active_total_s AS active_s, wait_total_s AS wait_s,
    if(active_total_s + wait_total_s > 0, active_total_s / (active_total_s + wait_total_s), NULL) AS flow_efficiency,
    reopens AS reopen_count, backward AS backward_moves,
    status_now AS current_status, stage_now AS current_stage, stage_order_now AS current_stage_order,
    category_now AS current_category, since_now AS current_since, wip_now AS is_wip,
    visit_count AS visits
FROM
(
    SELECT
        issue_id,
        argMax(issue_key, seq) AS key_now,
        argMax(queue, seq) AS queue_now,
        min(entered_at) AS created_at,
        minIf(seq, is_started = 1) AS first_start_seq,
        if(first_start_seq > 0, minIf(entered_at, is_started = 1), NULL) AS started_at,
        maxIf(seq, is_started = 1 AND (has_prev = 0 OR prev_started = 0)) AS restart_seq,
        maxIf(seq, is_done = 0) AS last_not_done_seq,
        argMax(is_done, seq) AS current_done,
        groupArray(seq) AS seqs,
        groupArray(entered_at) AS entries,
        groupArray(ifNull(duration_s, 0)) AS durs,
        groupArray(ifNull(business_duration_s, 0)) AS bdurs,
        groupArray(is_excluded) AS excl,
        sumIf(ifNull(duration_s, 0), in_process = 1) AS in_process_total_s,
        sumIf(ifNull(business_duration_s, 0), in_process = 1) AS in_process_business_s,
        sumIf(ifNull(duration_s, 0), in_process = 1 AND category = 'active') AS active_total_s,
        sumIf(ifNull(duration_s, 0), in_process = 1 AND category = 'wait') AS wait_total_s,
        countIf(has_prev = 1 AND prev_category IN ('done', 'cancelled') AND category NOT IN ('done', 'cancelled'))
            AS reopens,
        countIf(has_prev = 1 AND stage_order < prev_stage_order) AS backward,
        argMax(status, seq) AS status_now,
        argMax(stage, seq) AS stage_now,
        argMax(stage_order, seq) AS stage_order_now,
        argMax(category, seq) AS category_now,
        max(entered_at) AS since_now,
        argMax(in_process, seq) AS wip_now,
        count() AS visit_count
    FROM issue_intervals_mapped_view
    GROUP BY issue_id
);

CREATE VIEW IF NOT EXISTS time_in_status_view AS
SELECT
    queue, status, stage, stage_order, category,
    count() AS visits,
    uniqExact(issue_id) AS issues,
    sum(duration_s) AS total_s,
    sum(business_duration_s) AS business_total_s,
    avg(duration_s) AS avg_s
FROM issue_intervals_stage_view
WHERE left_at IS NOT NULL
GROUP BY queue, status, stage, stage_order, category;

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

CREATE VIEW IF NOT EXISTS flow_efficiency_view AS
SELECT
    queue, count() AS items, sum(active_s) AS active_total_s, sum(wait_s) AS wait_total_s,
    if(active_total_s + wait_total_s > 0, active_total_s / (active_total_s + wait_total_s), NULL)
        AS cohort_flow_efficiency,
    avg(flow_efficiency) AS mean_item_flow_efficiency
FROM issue_flow_facts_view
WHERE done_at IS NOT NULL
GROUP BY queue;

CREATE VIEW IF NOT EXISTS cycle_time_percentiles_view AS
SELECT queue, items, q[1] AS p50_s, q[2] AS p85_s, q[3] AS p95_s
FROM
(
    SELECT queue, count() AS items, quantilesExact(0.5, 0.85, 0.95)(cycle_time_s) AS q
    FROM issue_flow_facts_view
    WHERE cycle_time_s IS NOT NULL
    GROUP BY queue
);

CREATE VIEW IF NOT EXISTS aging_wip_view AS
SELECT
    issue_id, issue_key, queue, current_status, current_stage, current_stage_order, started_at, current_since,
    intDiv(toInt64(round(toFloat64(now64(3)) * 1000)) - toInt64(round(toFloat64(started_at) * 1000)), 1000) AS age_s,
    intDiv(toInt64(round(toFloat64(now64(3)) * 1000)) - toInt64(round(toFloat64(current_since) * 1000)), 1000)
        AS status_age_s
FROM issue_flow_facts_view
WHERE is_wip = 1;
