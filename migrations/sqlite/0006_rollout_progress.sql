-- rebound schema, version 6: rollout progress counters, one row per rollout, kept up to date
-- by the transaction that adds a rollout's members, assigns a member its command or moves a
-- rollout command to another state (the same transaction as the state change and its event).
-- Reading a rollout's progress (GetRollout, WatchRollout, the scheduler's abort rule) is then
-- one row instead of a join over every member and its command.
--
-- The counts follow commands by `commands.rollout_id`; every such command is exactly one
-- member's command. Retention deleting old terminal commands leaves the counts as they were.
-- Portable SQL as in 0001.
CREATE TABLE rollout_progress (
    rollout_id        TEXT   NOT NULL PRIMARY KEY REFERENCES rollouts (rollout_id) ON DELETE CASCADE,
    total             BIGINT NOT NULL DEFAULT 0,    -- members
    unissued          BIGINT NOT NULL DEFAULT 0,    -- members without a command yet
    queued            BIGINT NOT NULL DEFAULT 0,    -- commands per state from here on
    published         BIGINT NOT NULL DEFAULT 0,
    accepted          BIGINT NOT NULL DEFAULT 0,
    execution_started BIGINT NOT NULL DEFAULT 0,
    completed         BIGINT NOT NULL DEFAULT 0,
    failed            BIGINT NOT NULL DEFAULT 0,
    timed_out         BIGINT NOT NULL DEFAULT 0,
    expired           BIGINT NOT NULL DEFAULT 0,
    canceled          BIGINT NOT NULL DEFAULT 0,
    rejected          BIGINT NOT NULL DEFAULT 0
);

-- Rollouts started before this migration: counted once from their members.
INSERT INTO rollout_progress (rollout_id, total, unissued, queued, published, accepted,
    execution_started, completed, failed, timed_out, expired, canceled, rejected)
SELECT r.rollout_id,
    COUNT(m.client_uuid),
    SUM(CASE WHEN m.client_uuid IS NOT NULL AND c.command_id IS NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'queued' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'published' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'accepted' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'execution_started' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'completed' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'failed' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'timed_out' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'expired' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'canceled' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.state = 'rejected' THEN 1 ELSE 0 END)
FROM rollouts r
LEFT JOIN rollout_members m ON m.rollout_id = r.rollout_id
LEFT JOIN commands c ON c.command_id = m.command_id
GROUP BY r.rollout_id;
