-- The agile analytics layer, part 2: views that take the team's timezone (`tz`, an IANA name), an as-of
-- instant (`asof`, UTC) or a window in days (`days`) as parameters. Parameterized views need ClickHouse
-- 23.1 or later, so older servers skip them (with a log line). On those servers the report runs the same
-- SELECT with the parameters written in (target_clickhouse_agile/report/queries.py reads it from this file).
-- Query them as `SELECT * FROM daily_status(tz = 'Europe/Moscow', asof = '2024-03-08 07:00:00')`.
-- Day rows exist only where the count is not zero: callers fill the gaps with zeros.

-- CFD: per local day, the issues in each stage at the end of the day (local midnight), or at `asof` on
-- the day of `asof`.
-- requires: parameterized_views
CREATE VIEW IF NOT EXISTS daily_status AS
SELECT day, queue, stage, stage_order, category, in_process, count() AS issues
FROM
(
    SELECT
        issue_id, queue, stage, stage_order, category, in_process, entered_at, left_at,
        arrayJoin(arrayMap(x -> toDate(entered_at, {tz:String}) + x,
            range(toUInt32(dateDiff('day', toDate(entered_at, {tz:String}),
                toDate(least(ifNull(left_at, {asof:DateTime64(3, 'UTC')}), {asof:DateTime64(3, 'UTC')}), {tz:String}))
                + 1)))) AS day,
        least(toDateTime(day + 1, {tz:String}), {asof:DateTime64(3, 'UTC')}) AS snap
    FROM issue_intervals_stage_view
    WHERE entered_at <= {asof:DateTime64(3, 'UTC')}
)
WHERE entered_at <= snap AND (left_at IS NULL OR snap < left_at)
GROUP BY day, queue, stage, stage_order, category, in_process;

-- WIP: per local day, the issues in process (between the start and the done point) at the end of the day.
-- requires: parameterized_views
CREATE VIEW IF NOT EXISTS wip_daily AS
SELECT day, queue, sum(issues) AS wip
FROM daily_status(tz = {tz:String}, asof = {asof:DateTime64(3, 'UTC')})
WHERE in_process = 1
GROUP BY day, queue;

-- Throughput: issues whose final done run started on that local day (a reopened issue counts once, when it
-- is finally done).
-- requires: parameterized_views
CREATE VIEW IF NOT EXISTS throughput_daily AS
SELECT toDate(assumeNotNull(done_at), {tz:String}) AS day, queue, count() AS items
FROM issue_flow_facts_view
WHERE done_at IS NOT NULL
GROUP BY day, queue;

-- requires: parameterized_views
CREATE VIEW IF NOT EXISTS throughput_weekly AS
SELECT toMonday(toDate(assumeNotNull(done_at), {tz:String})) AS week, queue, count() AS items
FROM issue_flow_facts_view
WHERE done_at IS NOT NULL
GROUP BY week, queue;

-- Aging WIP: the issues in process at `asof`, with their age since the first start and in their status.
-- requires: parameterized_views
CREATE VIEW IF NOT EXISTS aging_wip AS
SELECT
    issue_id, key_at AS issue_key, queue_at AS queue, status_at AS status, stage_at AS stage,
    stage_order_at AS stage_order, started_at, since_at AS status_since,
    intDiv(toInt64(round(toFloat64({asof:DateTime64(3, 'UTC')}) * 1000))
           - toInt64(round(toFloat64(started_at) * 1000)), 1000) AS age_s,
    intDiv(toInt64(round(toFloat64({asof:DateTime64(3, 'UTC')}) * 1000))
           - toInt64(round(toFloat64(since_at) * 1000)), 1000) AS status_age_s
FROM
(
    SELECT
        issue_id,
        argMax(issue_key, seq) AS key_at,
        argMax(queue, seq) AS queue_at,
        argMax(status, seq) AS status_at,
        argMax(stage, seq) AS stage_at,
        argMax(stage_order, seq) AS stage_order_at,
        argMax(in_process, seq) AS wip_at,
        minIf(entered_at, is_started = 1) AS started_at,
        max(entered_at) AS since_at
    FROM issue_intervals_stage_view
    WHERE entered_at <= {asof:DateTime64(3, 'UTC')}
    GROUP BY issue_id
)
WHERE wip_at = 1;

-- Cycle-time percentiles (elapsed cycle time, quantileExact) of the issues done in the `days` before
-- `asof`, per queue and for all queues (`*`).
-- requires: parameterized_views
CREATE VIEW IF NOT EXISTS cycle_time_percentiles AS
SELECT queue, items, q[1] AS p50_s, q[2] AS p85_s, q[3] AS p95_s
FROM
(
    SELECT scope AS queue, count() AS items, quantilesExact(0.5, 0.85, 0.95)(ct) AS q
    FROM
    (
        SELECT assumeNotNull(cycle_time_s) AS ct, arrayJoin([toString(queue), '*']) AS scope
        FROM issue_flow_facts_view
        WHERE cycle_time_s IS NOT NULL
          AND done_at <= {asof:DateTime64(3, 'UTC')}
          AND done_at > {asof:DateTime64(3, 'UTC')} - toIntervalDay({days:UInt32})
    )
    GROUP BY scope
);

-- Rolling percentiles: for each local day up to `asof`, over the issues done in the `days` days ending
-- with it, per queue and for all queues (`*`).
-- requires: parameterized_views
CREATE VIEW IF NOT EXISTS cycle_time_percentiles_rolling AS
SELECT day, queue, items, q[1] AS p50_s, q[2] AS p85_s, q[3] AS p95_s
FROM
(
    SELECT day, scope AS queue, count() AS items, quantilesExact(0.5, 0.85, 0.95)(ct) AS q
    FROM
    (
        SELECT
            assumeNotNull(cycle_time_s) AS ct,
            arrayJoin([toString(queue), '*']) AS scope,
            arrayJoin(arrayMap(x -> toDate(assumeNotNull(done_at), {tz:String}) + x, range({days:UInt32}))) AS day
        FROM issue_flow_facts_view
        WHERE cycle_time_s IS NOT NULL AND done_at <= {asof:DateTime64(3, 'UTC')}
    )
    WHERE day <= toDate({asof:DateTime64(3, 'UTC')}, {tz:String})
    GROUP BY day, scope
);
