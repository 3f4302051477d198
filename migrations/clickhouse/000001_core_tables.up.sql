-- Source tables landed from the tap's streams. One row per logical key, newest `_version` wins:
-- read with FINAL or through the *_view views (migration 000005).
-- Written for modern ClickHouse. The target rewrites types for old servers (see clickhouse/dialect.py).

CREATE TABLE IF NOT EXISTS issues
(
    issue_id           String COMMENT 'Tracker issue id (stable across queue moves)',
    issue_key          String COMMENT 'current key, e.g. DEV-12 (changes when the issue moves)',
    queue              LowCardinality(String) COMMENT 'current queue key',
    summary            String,
    description        String,
    type               LowCardinality(String) COMMENT 'issue type key',
    priority           LowCardinality(String) COMMENT 'priority key',
    status             LowCardinality(String) COMMENT 'current status key',
    status_category    LowCardinality(String) COMMENT 'todo, active, wait, done or cancelled',
    status_start_time  Nullable(DateTime64(3, 'UTC')) COMMENT 'when the current status was entered',
    resolution         LowCardinality(String) COMMENT 'resolution key, empty when unresolved',
    assignee_id        String,
    assignee_display   String,
    author_id          String,
    author_display     String,
    created_at         DateTime64(3, 'UTC'),
    created_at_ms      Int64 COMMENT 'created_at in epoch milliseconds: exact even where DateTime has no ms',
    updated_at         DateTime64(3, 'UTC'),
    resolved_at        Nullable(DateTime64(3, 'UTC')),
    tags               Array(String),
    components         Array(String) COMMENT 'component names',
    sprints            Array(String) COMMENT 'sprint names',
    aliases            Array(String) COMMENT 'earlier keys of the issue',
    previous_queue     String COMMENT 'queue key before the last move, empty if never moved',
    parent_key         String,
    epic_key           String,
    story_points       Nullable(Float64),
    deadline           Nullable(Date),
    is_closed          UInt8 COMMENT '1 while the status category is done or cancelled',
    closed_at          Nullable(DateTime64(3, 'UTC')),
    raw                String COMMENT 'the record as JSON',
    _version           UInt64 COMMENT 'updatedAt in milliseconds, the newest row wins',
    _loaded_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY issue_id;

CREATE TABLE IF NOT EXISTS issue_changelog
(
    event_id       String COMMENT 'changelog entry id',
    field_id       String COMMENT 'changed field id, empty for an entry without field changes',
    issue_id       String,
    issue_key      String COMMENT 'key of the issue when the event was loaded',
    queue          LowCardinality(String),
    event_time     DateTime64(3, 'UTC') COMMENT 'updatedAt of the changelog entry',
    event_time_ms  Int64 COMMENT 'event_time in epoch milliseconds: exact even where DateTime has no ms',
    event_type     LowCardinality(String) COMMENT 'IssueCreated, IssueWorkflow, IssueMoved, IssueUpdated and others',
    transport      LowCardinality(String),
    actor_id       String,
    actor_display  String,
    from_value     Nullable(String) COMMENT 'old value: a reference as its key or id, an array as JSON',
    to_value       Nullable(String) COMMENT 'new value, same encoding as from_value',
    from_display   Nullable(String),
    to_display     Nullable(String),
    _version       UInt64,
    _loaded_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY (issue_id, event_id, field_id);
