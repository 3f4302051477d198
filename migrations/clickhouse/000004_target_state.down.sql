DROP TABLE IF EXISTS target_state;
