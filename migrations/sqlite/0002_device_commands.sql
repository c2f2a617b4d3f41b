-- rebound schema, version 2: what the device command domain (issue 5) needs beyond 0001.
-- Same portability rules as 0001 (TEXT / BIGINT / DOUBLE PRECISION, `_ms` timestamps).

-- Commands: who issued them, what proved completion, which topic carried the last ack (the
-- same ack arriving on the canonical and the alias topic is one ack), and the full late outcome
-- (error code, message and boot id of a terminal ack received after `timed_out`).
ALTER TABLE commands ADD COLUMN principal TEXT;
ALTER TABLE commands ADD COLUMN completion_evidence TEXT;   -- ack | boot_id_changed | reconnected | went_offline
ALTER TABLE commands ADD COLUMN last_ack_topic TEXT;        -- canonical | alias
ALTER TABLE commands ADD COLUMN late_error_code TEXT;
ALTER TABLE commands ADD COLUMN late_error_message TEXT;
ALTER TABLE commands ADD COLUMN late_boot_id TEXT;
-- Newest-first listing with a stable cursor.
CREATE INDEX commands_issued ON commands (issued_ms, command_id);
-- The scheduler's sweeps: commands waiting for acceptance (expiry) or a terminal ack (timeout).
CREATE INDEX commands_expiry ON commands (expires_ms) WHERE state IN ('queued', 'published');
CREATE INDEX commands_deadline ON commands (deadline_ms)
    WHERE state IN ('accepted', 'execution_started');

-- Rollouts: the idempotency hash, who started it, the per-command lifetime, the resolved
-- canary size, milestones, and why it ended.
ALTER TABLE rollouts ADD COLUMN params_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE rollouts ADD COLUMN principal TEXT;
ALTER TABLE rollouts ADD COLUMN expires_in_ms BIGINT NOT NULL DEFAULT 240000;
ALTER TABLE rollouts ADD COLUMN canary_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollouts ADD COLUMN started_ms BIGINT;
ALTER TABLE rollouts ADD COLUMN canary_finished_ms BIGINT;
ALTER TABLE rollouts ADD COLUMN abort_cause TEXT;            -- failure_threshold | operator
ALTER TABLE rollouts ADD COLUMN error TEXT;

-- Clients: when the current crash was detected and what the ladder did, and when the device
-- was shut down on purpose (a shut-down device is not stale).
ALTER TABLE clients ADD COLUMN recovery_detected_ms BIGINT;
ALTER TABLE clients ADD COLUMN recovery_detail TEXT;
ALTER TABLE clients ADD COLUMN shut_down_ms BIGINT;
