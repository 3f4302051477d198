DROP VIEW IF EXISTS cycle_time_percentiles_rolling;
DROP VIEW IF EXISTS cycle_time_percentiles;
DROP VIEW IF EXISTS aging_wip;
DROP VIEW IF EXISTS throughput_weekly;
DROP VIEW IF EXISTS throughput_daily;
DROP VIEW IF EXISTS wip_daily;
DROP VIEW IF EXISTS daily_status;
