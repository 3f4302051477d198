-- The team's workflow map, loaded by the target from its `workflow_map` / `workflow_map_file` setting
-- (target_clickhouse_agile/workflow.py): per queue, or `*` for every queue, status -> stage, stage order and
-- category, plus where the process starts and ends. Without a map, status categories are the stages
-- (see issue_intervals_mapped_view in 000007). The target rewrites both tables on start-up: rows that left
-- the map get a tombstone (`_is_deleted` = 1), which the *_view views hide on every server.

CREATE TABLE IF NOT EXISTS workflow_map
(
    scope        LowCardinality(String) COMMENT 'queue key, or * for every queue without its own row',
    status       LowCardinality(String) COMMENT 'status key',
    stage        String COMMENT 'stage (board column) name',
    stage_order  Int32 COMMENT 'position of the stage in the workflow, from 1',
    category     LowCardinality(String) COMMENT 'todo, active, wait, done or cancelled, empty = the status category',
    is_excluded  UInt8 COMMENT '1: time in this status is left out of cycle_time_excluding_s',
    _version     UInt64,
    _is_deleted  UInt8 DEFAULT 0,
    _loaded_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (scope, status);

CREATE TABLE IF NOT EXISTS workflow_scopes
(
    scope        LowCardinality(String) COMMENT 'queue key, or * for every queue without its own row',
    start_order  Int32 COMMENT 'stage order where the process starts (commitment point)',
    done_order   Int32 COMMENT 'stage order where the process ends (done point)',
    _version     UInt64,
    _is_deleted  UInt8 DEFAULT 0,
    _loaded_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY scope;

CREATE VIEW IF NOT EXISTS workflow_map_view AS SELECT * FROM workflow_map FINAL WHERE _is_deleted = 0;

CREATE VIEW IF NOT EXISTS workflow_scopes_view AS SELECT * FROM workflow_scopes FINAL WHERE _is_deleted = 0;
