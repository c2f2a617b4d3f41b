-- rebound schema, version 8: `command_events.id` becomes SQLite's row id.
--
-- Declared `BIGINT PRIMARY KEY`, the id was an ordinary column with a unique index of its
-- own beside the table's hidden row id: every event was written to three b-trees (the
-- table, that index, `command_events_command`). Only `INTEGER PRIMARY KEY` makes the column
-- the row id itself, so each event now costs two, and `MAX(id)` still reads one entry. Ids,
-- order and every row are kept. (A PostgreSQL port declares it BIGINT, as before.)
CREATE TABLE command_events_new (
    id         INTEGER NOT NULL PRIMARY KEY,             -- store-assigned, increasing
    command_id TEXT    NOT NULL REFERENCES commands (command_id) ON DELETE CASCADE,
    at_ms      BIGINT  NOT NULL,
    from_state TEXT,                                     -- NULL for the creating event
    to_state   TEXT    NOT NULL,
    source     TEXT    NOT NULL,                         -- api | mqtt | scheduler | recovery | rollout
    detail     TEXT                                      -- free text or JSON
);
INSERT INTO command_events_new (id, command_id, at_ms, from_state, to_state, source, detail)
SELECT id, command_id, at_ms, from_state, to_state, source, detail FROM command_events;
DROP TABLE command_events;
ALTER TABLE command_events_new RENAME TO command_events;
CREATE INDEX command_events_command ON command_events (command_id, id);
