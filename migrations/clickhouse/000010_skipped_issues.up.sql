-- Issues the tap set aside because the API kept failing to serve their changelog (stream
-- `skipped_issues`): the run went on without them, and they are retried at the start of every later run.
-- One row per issue, its latest status: set_aside, recovered or deleted.

CREATE TABLE IF NOT EXISTS skipped_issues
(
    issue_id      String,
    issue_key     String,
    status        LowCardinality(String) COMMENT 'set_aside, recovered or deleted',
    reason        String COMMENT 'why its changelog could not be read',
    updated_at    Nullable(DateTime64(3, 'UTC')) COMMENT 'the issue updatedAt when it was set aside',
    set_aside_at  Nullable(DateTime64(3, 'UTC')),
    checked_at    Nullable(DateTime64(3, 'UTC')) COMMENT 'the run that last tried it',
    raw           String,
    _version      UInt64,
    _loaded_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY issue_id;

CREATE VIEW IF NOT EXISTS skipped_issues_view AS
SELECT * FROM skipped_issues FINAL WHERE status = 'set_aside';
