-- One deduplicated view per table: what dashboards and ad-hoc SQL should read.
-- Derived tables also drop tombstones, so the views are right on servers where FINAL keeps them.
-- A migration that adds columns to a table must drop and re-create its view.

CREATE VIEW IF NOT EXISTS issues_view AS SELECT * FROM issues FINAL;

CREATE VIEW IF NOT EXISTS issue_changelog_view AS SELECT * FROM issue_changelog FINAL;

CREATE VIEW IF NOT EXISTS statuses_view AS SELECT * FROM statuses FINAL;

CREATE VIEW IF NOT EXISTS queues_view AS SELECT * FROM queues FINAL;

CREATE VIEW IF NOT EXISTS users_view AS SELECT * FROM users FINAL;

CREATE VIEW IF NOT EXISTS issue_types_view AS SELECT * FROM issue_types FINAL;

CREATE VIEW IF NOT EXISTS priorities_view AS SELECT * FROM priorities FINAL;

CREATE VIEW IF NOT EXISTS resolutions_view AS SELECT * FROM resolutions FINAL;

CREATE VIEW IF NOT EXISTS boards_view AS SELECT * FROM boards FINAL;

CREATE VIEW IF NOT EXISTS sprints_view AS SELECT * FROM sprints FINAL;

CREATE VIEW IF NOT EXISTS target_state_view AS SELECT * FROM target_state FINAL;

CREATE VIEW IF NOT EXISTS issue_status_intervals_view AS SELECT * FROM issue_status_intervals FINAL WHERE _is_deleted = 0;

CREATE VIEW IF NOT EXISTS issue_metrics_view AS SELECT * FROM issue_metrics FINAL WHERE _is_deleted = 0;

CREATE VIEW IF NOT EXISTS issue_flow_view AS SELECT * FROM issue_flow FINAL WHERE _is_deleted = 0;
