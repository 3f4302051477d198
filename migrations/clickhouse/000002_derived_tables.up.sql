-- Metrics computed by the target from each issue's complete history (columns = the metrics row dataclasses).
-- `_version` is the computation time in ns. Keys that vanish on recomputation get a tombstone
-- (`_is_deleted` = 1) that FINAL hides on ClickHouse 23.2 and later. The *_view views hide it everywhere.

CREATE TABLE IF NOT EXISTS issue_status_intervals
(
    issue_id             String,
    seq                  UInt32 COMMENT 'visit number within the issue, from 1',
    issue_key            String,
    queue                LowCardinality(String),
    status               LowCardinality(String) COMMENT 'status key',
    status_category      LowCardinality(String),
    entered_at           DateTime64(3, 'UTC'),
    left_at              Nullable(DateTime64(3, 'UTC')) COMMENT 'NULL while current',
    duration_s           Nullable(Int64) COMMENT 'whole seconds in the status, NULL while current',
    business_duration_s  Nullable(Int64) COMMENT 'working seconds in the status, NULL while current',
    is_current           UInt8,
    entered_event_id     String COMMENT 'changelog entry that entered the status, empty for the first interval',
    _version             UInt64,
    _is_deleted          UInt8 DEFAULT 0,
    _loaded_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (issue_id, seq);

CREATE TABLE IF NOT EXISTS issue_metrics
(
    issue_id             String,
    status               LowCardinality(String) COMMENT 'status key',
    issue_key            String,
    queue                LowCardinality(String),
    status_category      LowCardinality(String),
    visits               UInt32 COMMENT 'entries into the status',
    duration_s           Int64 COMMENT 'sum over finished visits',
    business_duration_s  Int64 COMMENT 'sum over finished visits, working time only',
    first_entered_at     DateTime64(3, 'UTC'),
    last_entered_at      DateTime64(3, 'UTC'),
    is_current           UInt8,
    _version             UInt64,
    _is_deleted          UInt8 DEFAULT 0,
    _loaded_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (issue_id, status);

CREATE TABLE IF NOT EXISTS issue_flow
(
    issue_id                 String,
    issue_key                String,
    queue                    LowCardinality(String),
    created_at               DateTime64(3, 'UTC'),
    started_at               Nullable(DateTime64(3, 'UTC')) COMMENT 'first entry into an active or wait status',
    done_at                  Nullable(DateTime64(3, 'UTC')) COMMENT 'start of the final run of done statuses',
    lead_time_s              Nullable(Int64) COMMENT 'done_at - created_at',
    cycle_time_s             Nullable(Int64) COMMENT 'done_at - started_at',
    business_lead_time_s     Nullable(Int64),
    business_cycle_time_s    Nullable(Int64),
    reopen_count             UInt32 COMMENT 'moves from done or cancelled back to another category',
    backward_moves           UInt32,
    active_s                 Int64 COMMENT 'seconds in active statuses (finished visits)',
    wait_s                   Int64 COMMENT 'seconds in wait statuses (finished visits)',
    flow_efficiency          Nullable(Float64) COMMENT 'active_s / (active_s + wait_s)',
    current_status           LowCardinality(String),
    current_status_category  LowCardinality(String),
    current_status_since     DateTime64(3, 'UTC'),
    visits_total             UInt32,
    _version                 UInt64,
    _is_deleted              UInt8 DEFAULT 0,
    _loaded_at               DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY issue_id;
