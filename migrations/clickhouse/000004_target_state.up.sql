-- Singer STATE kept in ClickHouse for runners without a state backend (newest `_version` per state_id wins).

CREATE TABLE IF NOT EXISTS target_state
(
    state_id    String COMMENT 'e.g. the pipeline name',
    state       String COMMENT 'the STATE value as JSON',
    updated_at  DateTime64(3, 'UTC'),
    _version    UInt64,
    _loaded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY state_id;
