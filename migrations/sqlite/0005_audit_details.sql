-- Audit events (issue 7): the caller's role, the gRPC status code and message, and how long
-- the call took. Nullable, so rows written before this migration stay valid.
ALTER TABLE audit_events ADD COLUMN role TEXT;          -- viewer | operator | admin, when known
ALTER TABLE audit_events ADD COLUMN code TEXT;          -- gRPC status code name (OK, INVALID_ARGUMENT, …)
ALTER TABLE audit_events ADD COLUMN message TEXT;       -- status message for failures
ALTER TABLE audit_events ADD COLUMN duration_us BIGINT; -- from request to final status
CREATE INDEX audit_events_principal ON audit_events (principal);
CREATE INDEX audit_events_rpc ON audit_events (rpc);
