DROP VIEW IF EXISTS skipped_issues_view;
DROP TABLE IF EXISTS skipped_issues;
