-- 002_dashboard.sql - indexes behind the dashboard's filters, search and statistics.
--
-- Every index is created on the partitioned parent, so PostgreSQL builds it
-- on each existing partition and on every partition attached later
-- (capture_partitions_ensure). The list pages newest first by key
-- (started_at, id), so the filter indexes end in those columns: a filtered
-- page is then an index scan that stops after page_size rows.

-- Substring search on paths and ids (search=chat/compl, search=0193ab…).
CREATE INDEX IF NOT EXISTS captures_path_trgm_idx
    ON captures USING gin (path gin_trgm_ops);
CREATE INDEX IF NOT EXISTS captures_id_trgm_idx
    ON captures USING gin ((id::text) gin_trgm_ops);

-- Equality filters, each in newest-first key order.
CREATE INDEX IF NOT EXISTS captures_model_idx
    ON captures (model, started_at, id);
CREATE INDEX IF NOT EXISTS captures_key_idx
    ON captures (key_fingerprint, started_at, id);
CREATE INDEX IF NOT EXISTS captures_status_idx
    ON captures (status, started_at, id);
CREATE INDEX IF NOT EXISTS captures_method_idx
    ON captures (method, started_at, id);

-- The failed calls are few: the 4xx/5xx filters and the error list walk
-- this small index instead of skipping over every success.
CREATE INDEX IF NOT EXISTS captures_failed_idx
    ON captures (started_at, id)
    WHERE status >= 400 OR outcome <> 'completed';

-- The statistics (counts, latency percentiles, tokens per model over a time
-- range) read only these columns: an index-only scan of this narrow index
-- instead of the wide rows with their bodies.
CREATE INDEX IF NOT EXISTS captures_stats_idx
    ON captures (started_at)
    INCLUDE (status, outcome, duration_ms, ttfb_ms, model, prompt_tokens, completion_tokens);

COMMENT ON INDEX captures_path_trgm_idx IS 'Dashboard: substring (ILIKE) search on the request path, pg_trgm.';
COMMENT ON INDEX captures_id_trgm_idx IS 'Dashboard: substring search on the capture id as text, pg_trgm.';
COMMENT ON INDEX captures_model_idx IS 'Dashboard: model filter, newest first.';
COMMENT ON INDEX captures_key_idx IS 'Dashboard: API key fingerprint filter, newest first.';
COMMENT ON INDEX captures_status_idx IS 'Dashboard: exact status and status-class filters.';
COMMENT ON INDEX captures_method_idx IS 'Dashboard: HTTP method filter, newest first.';
COMMENT ON INDEX captures_failed_idx IS 'Dashboard: the failed calls (status 4xx/5xx or outcome other than completed), newest first.';
COMMENT ON INDEX captures_stats_idx IS 'Dashboard: covering index for /api/stats (index-only scans over a time range).';
