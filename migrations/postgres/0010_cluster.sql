-- rebound schema, version 10 (PostgreSQL): several replicas on one database (docs/cluster.md).
--
-- `replicas`: one row per replica id, its heartbeat refreshed every `cluster.lease_renew`;
-- a replica is alive while its heartbeat is younger than `cluster.lease_ttl`. A replica that
-- stops (not a hot restart: the successor keeps the id) deletes its row.
--
-- `cluster_lease`: exactly one row. The holder runs the singleton loops (expiry sweep,
-- command timeouts, crash recovery, rollouts, retention) until `expires_at`. Every takeover
-- adds one to `epoch`, the fencing token those loops check in each write transaction. All
-- times come from the database clock (`now()`), never a replica's.
--
-- `commands.owner`: the replica that created the command and publishes it; the leader adopts
-- (publishes again) queued commands whose owner is not alive. The default takes the id from
-- the connection's `rebound.replica_id` setting, which each replica sets on its connections.
CREATE TABLE replicas (
    replica_id    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    listen        TEXT        NOT NULL,
    pid           BIGINT      NOT NULL,
    generation    BIGINT      NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE cluster_lease (
    id          SMALLINT    NOT NULL PRIMARY KEY CHECK (id = 1),
    holder      TEXT COLLATE "C",                 -- NULL: released, free to take
    epoch       BIGINT      NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO cluster_lease (id, holder, epoch, expires_at) VALUES (1, NULL, 0, '-infinity');

ALTER TABLE commands
    ADD COLUMN owner TEXT COLLATE "C" DEFAULT NULLIF(current_setting('rebound.replica_id', true), '');
CREATE INDEX commands_queued_owner ON commands (owner) WHERE state = 'queued';
