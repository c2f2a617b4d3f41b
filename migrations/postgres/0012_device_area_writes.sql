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

