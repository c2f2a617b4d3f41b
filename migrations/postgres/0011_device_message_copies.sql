-- How many copies of each device message each rebound process has counted (issue 24): every
-- replica's MQTT session receives every device message, and a copy another process already
-- counted changes nothing (see src/store/postgres/copies.rs). PostgreSQL only: on SQLite one
-- process owns the database and there are no copies.
CREATE TABLE device_message_copies (
    digest  TEXT   NOT NULL,  -- hex SHA-256 of the topic and the payload
    process TEXT   NOT NULL,  -- the counting process (a UUID drawn at start)
    copies  BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL,  -- last counted, unix ms; rows older than a day are dropped
    PRIMARY KEY (digest, process)
);
CREATE INDEX device_message_copies_seen ON device_message_copies (seen_ms);
