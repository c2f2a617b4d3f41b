-- rebound schema, version 12: no change on SQLite, kept so that version 12 means the same
-- database on both backends. PostgreSQL's migration of the same number drops foreign keys
-- that cost a trigger per row on its hot path; SQLite's single writer checks them cheaply, and
-- its cascades stay what retention relies on.
SELECT 1;
