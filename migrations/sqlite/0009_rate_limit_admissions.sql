-- rebound schema, version 9: the per-principal rate limits survive restarts.
--
-- The calls the rate limits (src/auth/ratelimit.rs) admitted within their one-minute window,
-- saved when a process hands over to a hot-restart successor and whenever it stops, and
-- loaded by the next process at start: a hot restart (handover or exec, with or without a
-- snapshot) or a stop and start does not reset a limit. Each save replaces every row; a load
-- reads only rows younger than the window.
CREATE TABLE rate_limit_admissions (
    principal    TEXT   NOT NULL,   -- the limit's key: a token name, cert:<identity>, anonymous
    class        TEXT   NOT NULL,   -- restart | command
    admitted_ms  BIGINT NOT NULL
);
