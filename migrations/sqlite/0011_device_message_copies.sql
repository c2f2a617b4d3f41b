-- How many copies of each device message each rebound process has counted (issue 24), kept
-- here so that version 11 means the same tables on both backends. SQLite never writes it: one
-- process owns the database, so no message arrives twice through different replicas (the
-- PostgreSQL migration of the same number says how the table is used).
CREATE TABLE device_message_copies (
    digest  TEXT    NOT NULL,
    process TEXT    NOT NULL,
    copies  INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (digest, process)
);
CREATE INDEX device_message_copies_seen ON device_message_copies (seen_ms);
