DROP VIEW IF EXISTS workflow_scopes_view;
DROP VIEW IF EXISTS workflow_map_view;
DROP TABLE IF EXISTS workflow_scopes;
DROP TABLE IF EXISTS workflow_map;
