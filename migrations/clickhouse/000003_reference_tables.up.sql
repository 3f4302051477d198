-- Reference streams (statuses, queues, users, ...), one table per stream name, keyed by the entity id.
-- `raw` keeps the whole record as JSON for fields without a column.

CREATE TABLE IF NOT EXISTS statuses
(
    id           String,
    key          String COMMENT 'status key, the identity used by the metrics',
    name         String,
    description  String,
    type         LowCardinality(String) COMMENT 'Tracker status type (new, inProgress, paused, done, cancelled)',
    `order`      Int64,
    raw          String,
    _version     UInt64,
    _loaded_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS queues
(
    id                String,
    key               String,
    name              String,
    description       String,
    lead_id           String,
    lead_display      String,
    default_type      LowCardinality(String),
    default_priority  LowCardinality(String),
    raw               String,
    _version          UInt64,
    _loaded_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS users
(
    id          String COMMENT 'uid as a string',
    login       String,
    display     String,
    email       String,
    first_name  String,
    last_name   String,
    dismissed   UInt8,
    external    UInt8,
    raw         String,
    _version    UInt64,
    _loaded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS issue_types
(
    id           String,
    key          String,
    name         String,
    description  String,
    raw          String,
    _version     UInt64,
    _loaded_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS priorities
(
    id           String,
    key          String,
    name         String,
    description  String,
    `order`      Int64,
    raw          String,
    _version     UInt64,
    _loaded_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS resolutions
(
    id           String,
    key          String,
    name         String,
    description  String,
    `order`      Int64,
    raw          String,
    _version     UInt64,
    _loaded_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS boards
(
    id          String,
    name        String,
    query       String COMMENT 'the board filter as a Tracker query, when set',
    raw         String,
    _version    UInt64,
    _loaded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS sprints
(
    id          String,
    name        String,
    board_id    String,
    status      LowCardinality(String) COMMENT 'draft, in_progress, released or archived',
    archived    UInt8,
    start_date  Nullable(Date),
    end_date    Nullable(Date),
    start_at    Nullable(DateTime64(3, 'UTC')) COMMENT 'startDateTime',
    end_at      Nullable(DateTime64(3, 'UTC')) COMMENT 'endDateTime',
    created_at  Nullable(DateTime64(3, 'UTC')),
    raw         String,
    _version    UInt64,
    _loaded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;
