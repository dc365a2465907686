-- 006_method_index.sql - the method filter as an index-only scan at scale.
--
-- Without the statistics columns in its index, /api/stats?method=GET made the
-- planner scan all of captures_status_idx (the only index carrying method).
-- Same shape as the status and key indexes of 005_scale.sql.
DROP INDEX IF EXISTS captures_method_idx;
CREATE INDEX captures_method_idx ON captures (method, started_at, id)
    INCLUDE (model, status, outcome, streamed, key_fingerprint,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens);
COMMENT ON INDEX captures_method_idx IS 'Dashboard: HTTP method filter, newest first; carries the other filter columns and the statistics columns for index-only scans.';
