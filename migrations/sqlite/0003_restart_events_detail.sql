-- rebound schema, version 3: the details of a hot restart that RestartService reports
-- (issue 4). Same portability rules as 0001_init.sql.
--
-- Values written by the application into the 0001 columns of restart_events:
--   mode                 handover | exec (resolved)
--   phase                preparing | suspending_tasks | serializing_state | starting_successor |
--                        closing_connections | finalizing | complete | failed | rolled_back
--   outcome              succeeded | failed | rolled_back | interrupted; NULL while running
--   generation           generation of the successor; 0 until it serves, and after a failure
--   started_ms           when the restart was requested (the history is ordered by it)
--   phase_durations_json [{"phase": "preparing", "started_ms": …, "duration_us": …}, …] in the
--                        order the phases ran (duration_us null for the running phase)
--   snapshot_outcome     restored | missing | tampered | undecryptable | disabled |
--                        unsupported_version; NULL until the successor has started
ALTER TABLE restart_events ADD COLUMN requested_mode TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE restart_events ADD COLUMN failed_phase TEXT;
ALTER TABLE restart_events ADD COLUMN generation_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restart_events ADD COLUMN snapshot_detail TEXT;
ALTER TABLE restart_events ADD COLUMN successor_ready_ms BIGINT;
-- What the drain of the old process did (closing_connections).
ALTER TABLE restart_events ADD COLUMN connections_drained BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restart_events ADD COLUMN streams_reconnected BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restart_events ADD COLUMN drain_rpcs_completed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE restart_events ADD COLUMN drain_rpcs_canceled BIGINT NOT NULL DEFAULT 0;
-- Newest-first pages with a stable (started_ms, restart_id) cursor.
CREATE INDEX restart_events_page ON restart_events (started_ms DESC, restart_id DESC);
