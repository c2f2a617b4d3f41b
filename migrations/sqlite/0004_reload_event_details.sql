-- Config reload events (issue 3): where the candidate came from, every validation error, and
-- the restart a reload asked for. All nullable, so rows written before this migration stay valid.
ALTER TABLE config_reload_events ADD COLUMN source TEXT;                 -- file | inline | defaults
ALTER TABLE config_reload_events ADD COLUMN source_path TEXT;            -- the file read, if any
ALTER TABLE config_reload_events ADD COLUMN validation_errors_json TEXT; -- [{path, reason, line, column}]
ALTER TABLE config_reload_events ADD COLUMN restart_id TEXT;             -- restart requested by the reload
CREATE INDEX config_reload_events_result ON config_reload_events (result);
