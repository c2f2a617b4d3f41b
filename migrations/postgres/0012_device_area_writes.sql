-- rebound schema, version 12 (PostgreSQL): cheaper writes on the device area's hot path
-- (issue 23, the fan-out profile in docs/benchmarks.md).
--
-- The foreign keys that cost a trigger per written row go: every stored event checked its
-- command, every inserted command and member its rollout, every member given a command that
-- command. What they guaranteed is kept by the store instead:
--   * nothing deletes rollouts, so commands and members never point to a missing rollout;
--   * retention, the only path that deletes commands, deletes their events and clears the
--     members' `command_id` in the same statement, under the device-area lock
--     (src/store/postgres/maintenance.rs): what ON DELETE CASCADE and SET NULL did;
--   * a write transaction reads a command before it writes an event of it, under that lock.
-- `rollout_progress` (one row per rollout, written once per transaction) and
-- `recovery_reports` keep theirs.
ALTER TABLE command_events DROP CONSTRAINT command_events_command_id_fkey;
ALTER TABLE commands DROP CONSTRAINT commands_rollout_id_fkey;
ALTER TABLE rollout_members DROP CONSTRAINT rollout_members_rollout_id_fkey;
ALTER TABLE rollout_members DROP CONSTRAINT rollout_members_command_id_fkey;

-- Every state change of a command writes a new row version with an entry in each index whose
-- columns or predicate it touches (`state` is in most of them, so no update is HOT). The two
-- indexes only queries of some states use become partial, so a command's other updates skip
-- them (plans checked with EXPLAIN on a million commands, docs/benchmarks.md):
--   * `commands_state` served only the open-state reads (the start-up summary, the timer
--     sweep's first branch, watches, republishing, the lockout's sent commands): `commands_open`
--     holds the open commands only, and the terminal update leaves it;
--   * `commands_finished` served only retention, which asks for terminal commands:
--     only the terminal update enters it.
-- Kept, each used by a plan: the primary key, `commands_client_issued` (the lockout, a
-- device's commands), `commands_issued` (ListCommands' pages), `commands_rollout` (a rollout's
-- commands), and the partial `commands_expiry`, `commands_deadline`, `commands_queued_owner`.
DROP INDEX commands_state;
CREATE INDEX commands_open ON commands (state)
    WHERE state IN ('queued', 'published', 'accepted', 'execution_started');
DROP INDEX commands_finished;
CREATE INDEX commands_finished ON commands (finished_ms)
    WHERE state IN ('completed', 'failed', 'timed_out', 'expired', 'canceled', 'rejected');
