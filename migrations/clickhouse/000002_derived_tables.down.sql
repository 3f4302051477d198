DROP TABLE IF EXISTS issue_flow;
DROP TABLE IF EXISTS issue_metrics;
DROP TABLE IF EXISTS issue_status_intervals;
