-- rebound schema, version 1.
--
-- Portable SQL: this file runs unchanged on SQLite (the default backend) and on PostgreSQL
-- (planned). The rules that keep it so:
--   * types are TEXT, INTEGER, BIGINT and DOUBLE PRECISION only;
--   * every timestamp is BIGINT unix milliseconds in UTC, and its column name ends in `_ms`;
--     durations end in `_us` (microseconds) or `_s` (seconds);
--   * booleans are INTEGER 0/1 with a CHECK, because SQLite has no BOOLEAN type;
--   * no AUTOINCREMENT, no SERIAL/IDENTITY, no `INTEGER PRIMARY KEY` rowid aliases: keys are
--     text UUIDs (lower-case, hyphenated) chosen by the application, or BIGINT ids that the store
--     assigns as MAX(id) + 1 inside the inserting transaction (writers are serialized on SQLite;
--     the PostgreSQL backend must take a lock or retry on a unique violation);
--   * JSON is stored as TEXT (columns end in `_json`), parsed by the application.
--
-- Enumerations are TEXT in snake_case. The ones frozen by contracts/mqtt-v1.md (command action
-- and state) are enforced with CHECK constraints; the others are documented here and validated
-- by the application, so that adding a value later does not force a table rebuild on SQLite.
--
-- Foreign-key child columns are always indexed: SQLite scans the child table for every parent
-- row deleted otherwise, which would make retention (issue 7) quadratic.

-- Each start of `rebound serve` (cold start or hot-restart successor). The row whose
-- `stopped_ms` is still NULL when the next run begins is the crash marker startup recovery
-- reads: that run never reached its clean-shutdown step.
CREATE TABLE server_runs (
    run_id          BIGINT  NOT NULL PRIMARY KEY,       -- store-assigned, increasing
    started_ms      BIGINT  NOT NULL,
    stopped_ms      BIGINT,                             -- NULL while running, or after a crash
    clean_shutdown  INTEGER NOT NULL DEFAULT 0 CHECK (clean_shutdown IN (0, 1)),
    pid             BIGINT  NOT NULL,
    generation      BIGINT  NOT NULL,                   -- hot-restart generation (0 = cold start)
    server_version  TEXT    NOT NULL                    -- crate version of the binary
);

-- Devices, registered from their first health or status message (or by the API).
CREATE TABLE clients (
    client_uuid             TEXT    NOT NULL PRIMARY KEY,
    group_name              TEXT,                       -- operator-assigned group (rollout targets)
    capability_tier         TEXT,                       -- e.g. whether a power-cycle hook exists
    first_seen_ms           BIGINT  NOT NULL,
    last_seen_ms            BIGINT  NOT NULL,           -- any inbound message
    online                  INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
    last_online_ms          BIGINT,                     -- last `status: online`
    last_offline_ms         BIGINT,                     -- last `status: offline` (Last Will)
    last_health_ms          BIGINT,                     -- last heartbeat: staleness is measured from it
    boot_id                 TEXT,                       -- latest boot id reported by the device
    uptime_s                BIGINT,
    app_version             TEXT,
    process_status          TEXT,                       -- starting | running | crashed | stopped
    mqtt_reconnect_count    BIGINT,                     -- from health.broker_connection
    mqtt_last_disconnect_ms BIGINT,
    service_failed_unit     TEXT,                       -- set by service_failed, cleared by operator
    service_failed_ms       BIGINT,
    -- Crash-recovery ladder (issue 5): idle | restart_app | reboot_host | power_cycle |
    -- needs_attention. `recovery_step_ms` is when the current step was taken (cooldown base),
    -- `recovery_command_id` the command it issued, if any.
    recovery_state          TEXT    NOT NULL DEFAULT 'idle',
    recovery_step_ms        BIGINT,
    recovery_command_id     TEXT,
    needs_attention         INTEGER NOT NULL DEFAULT 0 CHECK (needs_attention IN (0, 1)),
    attention_reason        TEXT,
    updated_ms              BIGINT  NOT NULL
);
CREATE INDEX clients_group_name ON clients (group_name);
CREATE INDEX clients_last_health ON clients (last_health_ms);

-- Rollouts: one action for many devices, canary first, then waves (issue 5). Created before
-- `commands`, which reference it.
CREATE TABLE rollouts (
    rollout_id            TEXT             NOT NULL PRIMARY KEY,
    action                TEXT             NOT NULL
        CHECK (action IN ('reboot_host', 'shutdown_host', 'restart_app')),
    target_json           TEXT             NOT NULL,   -- {"all":true} | {"group":"…"} | {"clients":[…]}
    canary_count          BIGINT,                      -- at most one of count / percent is set
    canary_percent        DOUBLE PRECISION,
    max_per_minute        BIGINT           NOT NULL,
    abort_failure_percent DOUBLE PRECISION NOT NULL,   -- (failed + timed_out) / finished above → abort
    min_finished          BIGINT           NOT NULL,   -- threshold applies once this many finished
    -- pending | canary | running | completed | aborted | failed
    state                 TEXT             NOT NULL,
    reason                TEXT,
    requested_by          BIGINT,
    -- Progress kept here so a restarted server resumes pacing without rescanning members;
    -- per-outcome counts are derived from rollout_members joined with commands.
    total_members         BIGINT           NOT NULL DEFAULT 0,
    issued_members        BIGINT           NOT NULL DEFAULT 0,
    current_wave          BIGINT           NOT NULL DEFAULT 0,   -- 0 = canary
    last_issue_ms         BIGINT,
    created_ms            BIGINT           NOT NULL,
    updated_ms            BIGINT           NOT NULL,
    finished_ms           BIGINT,
    abort_reason          TEXT
);
CREATE INDEX rollouts_state ON rollouts (state);
CREATE INDEX rollouts_created ON rollouts (created_ms);

-- Device commands, one row per command_id, following the contract's state machine. No foreign
-- key to `clients`: a command may be issued to a provisioned device before its first heartbeat.
CREATE TABLE commands (
    command_id            TEXT    NOT NULL PRIMARY KEY,
    client_uuid           TEXT    NOT NULL,
    action                TEXT    NOT NULL
        CHECK (action IN ('reboot_host', 'shutdown_host', 'restart_app')),
    state                 TEXT    NOT NULL
        CHECK (state IN ('queued', 'published', 'accepted', 'execution_started', 'completed',
                         'failed', 'timed_out', 'expired', 'canceled', 'rejected')),
    reason                TEXT,                         -- contract: at most 2000 characters
    requested_by          BIGINT,                       -- contract: integer >= 1 or NULL
    source                TEXT    NOT NULL,             -- api | rollout | crash_recovery
    params_hash           TEXT    NOT NULL,             -- idempotency: same id + same hash = same command
    issued_ms             BIGINT  NOT NULL,
    expires_ms            BIGINT  NOT NULL,
    published_ms          BIGINT,                       -- broker PUBACK
    accepted_ms           BIGINT,
    started_ms            BIGINT,                       -- execution_started
    finished_ms           BIGINT,                       -- any terminal state
    deadline_ms           BIGINT,                       -- terminal ack due by (timeout timer)
    offline_seen_ms       BIGINT,                       -- device went offline after start (proof)
    boot_id_at_issue      TEXT,
    boot_id_at_completion TEXT,
    error_code            TEXT,
    error_message         TEXT,
    late_outcome          TEXT,                         -- terminal ack received after timed_out
    late_outcome_ms       BIGINT,
    ignored_acks          BIGINT  NOT NULL DEFAULT 0,   -- duplicate / out-of-order acks
    rollout_id            TEXT    REFERENCES rollouts (rollout_id),
    trace_parent          TEXT,                         -- W3C traceparent of the issuing call
    updated_ms            BIGINT  NOT NULL
);
CREATE INDEX commands_client_issued ON commands (client_uuid, issued_ms);
CREATE INDEX commands_state ON commands (state);
CREATE INDEX commands_rollout ON commands (rollout_id);
CREATE INDEX commands_finished ON commands (finished_ms);   -- retention of terminal commands

-- Every state transition of a command, written in the same transaction as the change.
CREATE TABLE command_events (
    id         BIGINT NOT NULL PRIMARY KEY,              -- store-assigned, increasing
    command_id TEXT   NOT NULL REFERENCES commands (command_id) ON DELETE CASCADE,
    at_ms      BIGINT NOT NULL,
    from_state TEXT,                                     -- NULL for the creating event
    to_state   TEXT   NOT NULL,
    source     TEXT   NOT NULL,                          -- api | mqtt | scheduler | recovery | rollout
    detail     TEXT                                      -- free text or JSON
);
CREATE INDEX command_events_command ON command_events (command_id, id);

-- Which devices belong to a rollout, in which wave, and the command each one got (NULL until
-- issued; set back to NULL if retention deletes the command).
CREATE TABLE rollout_members (
    rollout_id  TEXT   NOT NULL REFERENCES rollouts (rollout_id) ON DELETE CASCADE,
    client_uuid TEXT   NOT NULL,
    wave        BIGINT NOT NULL,                         -- 0 = canary
    command_id  TEXT   REFERENCES commands (command_id) ON DELETE SET NULL,
    PRIMARY KEY (rollout_id, client_uuid)
);
CREATE INDEX rollout_members_wave ON rollout_members (rollout_id, wave);
CREATE INDEX rollout_members_command ON rollout_members (command_id);

-- Every configuration reload attempt, whatever its result (issue 2 / config reload).
CREATE TABLE config_reload_events (
    id                    BIGINT NOT NULL PRIMARY KEY,
    at_ms                 BIGINT NOT NULL,
    trigger               TEXT   NOT NULL,               -- startup | sighup | rpc | file_watch
    principal             TEXT,                          -- who asked (RPC caller), if known
    result                TEXT   NOT NULL,               -- applied | unchanged | rejected | rolled_back
    version_before        BIGINT,
    version_after         BIGINT,
    content_hash          TEXT,                          -- hash of the file that was read
    diff_json             TEXT,                          -- changed field paths, old and new values
    restart_required_json TEXT,                          -- fields that only apply after a restart
    duration_us           BIGINT NOT NULL,
    error                 TEXT,
    failed_observer       TEXT                           -- observer whose apply failed (rolled back)
);
CREATE INDEX config_reload_events_at ON config_reload_events (at_ms);

-- Hot restarts (issue 4), one row per Restart request, updated as it moves through its phases.
CREATE TABLE restart_events (
    restart_id           TEXT    NOT NULL PRIMARY KEY,
    mode                 TEXT    NOT NULL,               -- handover | exec
    reason               TEXT    NOT NULL,               -- configuration_update | … | binary_upgrade
    phase                TEXT    NOT NULL,               -- preparing … finalizing | complete | failed | rolled_back
    outcome              TEXT,                           -- complete | failed | rolled_back; NULL while running
    principal            TEXT,
    binary_path          TEXT,                           -- successor executable, if not the running one
    preserve_state       INTEGER NOT NULL DEFAULT 1 CHECK (preserve_state IN (0, 1)),
    drain_timeout_ms     BIGINT  NOT NULL,
    old_pid              BIGINT  NOT NULL,
    new_pid              BIGINT,
    generation           BIGINT  NOT NULL,               -- generation of the successor
    started_ms           BIGINT  NOT NULL,
    finished_ms          BIGINT,
    phase_durations_json TEXT,                           -- {"preparing": us, …}
    error                TEXT,
    snapshot_outcome     TEXT,                           -- restored | missing | tampered | undecryptable | skipped
    trace_id             TEXT,
    updated_ms           BIGINT  NOT NULL
);
CREATE INDEX restart_events_started ON restart_events (started_ms);

-- Startup recovery reports (issue 7), one per run that performed recovery.
CREATE TABLE recovery_reports (
    id              BIGINT NOT NULL PRIMARY KEY,
    run_id          BIGINT NOT NULL REFERENCES server_runs (run_id),
    started_ms      BIGINT NOT NULL,
    duration_us     BIGINT NOT NULL,
    previous_run    TEXT   NOT NULL,                     -- none | clean | unclean | crashed
    previous_run_id BIGINT,
    report_json     TEXT   NOT NULL                      -- per-category counts and ids
);
CREATE INDEX recovery_reports_started ON recovery_reports (started_ms);
CREATE INDEX recovery_reports_run ON recovery_reports (run_id);

-- Every mutating RPC (issue 7), in the same transaction as the change where there is one.
CREATE TABLE audit_events (
    id        BIGINT NOT NULL PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    principal TEXT,
    peer      TEXT,                                      -- remote address or unix socket peer
    rpc       TEXT   NOT NULL,                           -- full method, e.g. /rebound.v1.…/IssueCommand
    arguments TEXT,                                      -- summary with secrets redacted (JSON)
    outcome   TEXT   NOT NULL,                           -- ok or the gRPC status code name
    trace_id  TEXT
);
CREATE INDEX audit_events_at ON audit_events (at_ms);
