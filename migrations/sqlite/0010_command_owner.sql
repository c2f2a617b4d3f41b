-- rebound schema, version 10: the replica that owns (publishes) a command, as on PostgreSQL
-- (migrations/postgres/0010_cluster.sql), so both schemas keep the same columns. On SQLite
-- there is one process, always the leader; the column stays NULL.
ALTER TABLE commands ADD COLUMN owner TEXT;
