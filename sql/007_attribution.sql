-- 007_attribution.sql - the dashboard filters and groups by who made a call, and shows cost.
--
-- 1. Indexes for the filters instance, user, end_user, session and tag
--    (sql/003_team.sql made the user and instance ones); the filter indexes
--    also carry instance now (an index-only check of instance=), and those
--    the statistics read without the table cached_tokens, which the cost
--    needs (cached input has its own price).
-- 2. Cost of summed token counts: priced once per model and UTC day instead
--    of once per call (capture_cost() costs ~50 us a call: 50 s a million).
-- 3. captures_rollup (sql/005_scale.sql) holds the cost of each row, and
--    besides its rows per model, rows per model and instance;
--    captures_rollup_groups holds per hour (and instance) the sums per
--    user, end user, session, tag, key, status and path, so that
--    /api/stats?group_by= over weeks reads rollup rows instead of every
--    capture. Costs in the rollups are worked out when a row is built: a
--    change to model_prices makes the next refresh rebuild them (trigger).
-- 4. captures_stats_totals(), captures_stats_groups() take an instance;
--    the groups also give cost per model, per time bucket and in all (set 3);
--    captures_stats_group_by() answers group_by from the rollups.

-- --- 1. indexes -------------------------------------------------------------------
-- A list filtered on a rare session, end user or tag walks these instead of
-- the whole table; the user index also answers the statistics of one user
-- without reading the table, as the key index does.
CREATE INDEX captures_session_idx ON captures (capture_session, started_at, id)
    WHERE capture_session IS NOT NULL;
CREATE INDEX captures_end_user_idx ON captures (end_user, started_at, id)
    WHERE end_user IS NOT NULL;
CREATE INDEX captures_tags_idx ON captures USING gin (capture_tags)
    WHERE capture_tags IS NOT NULL;
DROP INDEX captures_user_idx;
CREATE INDEX captures_user_idx ON captures (capture_user, started_at, id)
    INCLUDE (model, status, outcome, streamed, method, key_fingerprint, instance,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens, cached_tokens)
    WHERE capture_user IS NOT NULL;
COMMENT ON INDEX captures_session_idx IS 'Dashboard: X-Capture-Session filter, newest first.';
COMMENT ON INDEX captures_end_user_idx IS 'Dashboard: end user (the body''s "user") filter, newest first.';
COMMENT ON INDEX captures_tags_idx IS 'Dashboard: tag filter (capture_tags @> ARRAY[tag]).';
COMMENT ON INDEX captures_user_idx IS 'Dashboard: X-Capture-User filter, newest first; carries the other filter columns and the statistics columns for index-only scans.';

-- The same indexes as in 005/006 plus cached_tokens, and instance for an
-- index-only check of the instance filter (same names and keys).
DROP INDEX captures_model_idx;
CREATE INDEX captures_model_idx ON captures (model, started_at, id)
    INCLUDE (status, outcome, streamed, method, key_fingerprint, instance);
DROP INDEX captures_status_idx;
CREATE INDEX captures_status_idx ON captures (status, started_at, id)
    INCLUDE (model, outcome, streamed, method, key_fingerprint, instance,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens, cached_tokens);
DROP INDEX captures_key_idx;
CREATE INDEX captures_key_idx ON captures (key_fingerprint, started_at, id)
    INCLUDE (model, status, outcome, streamed, method, instance,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens, cached_tokens);
DROP INDEX captures_method_idx;
CREATE INDEX captures_method_idx ON captures (method, started_at, id)
    INCLUDE (model, status, outcome, streamed, key_fingerprint, instance,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens, cached_tokens);
DROP INDEX captures_failed_idx;
CREATE INDEX captures_failed_idx ON captures (started_at, id)
    INCLUDE (model, status, outcome, streamed, method, key_fingerprint, instance,
             duration_ms, ttfb_ms, prompt_tokens, completion_tokens, cached_tokens)
    WHERE status >= 400 OR outcome <> 'completed';
DROP INDEX captures_stats_idx;
CREATE INDEX captures_stats_idx ON captures (started_at)
    INCLUDE (status, outcome, duration_ms, ttfb_ms, model, prompt_tokens, completion_tokens,
             cached_tokens, instance);
COMMENT ON INDEX captures_model_idx IS 'Dashboard: model filter, newest first; carries the other filter columns for index-only checks.';
COMMENT ON INDEX captures_status_idx IS 'Dashboard: exact status and status-class filters; carries the other filter columns and the statistics columns for index-only scans.';
COMMENT ON INDEX captures_key_idx IS 'Dashboard: API key fingerprint filter, newest first; carries the other filter columns and the statistics columns for index-only scans.';
COMMENT ON INDEX captures_method_idx IS 'Dashboard: HTTP method filter, newest first; carries the other filter columns and the statistics columns for index-only scans.';
COMMENT ON INDEX captures_failed_idx IS 'Dashboard: the failed calls (status 4xx/5xx or outcome other than completed), newest first; carries the other filter columns and the statistics columns for index-only scans.';
COMMENT ON INDEX captures_stats_idx IS 'Dashboard: covering index for /api/stats (index-only scans over a time range).';

-- --- 2. cost of summed tokens -------------------------------------------------------
-- capture_price() as a set of at most one row, which the planner inlines
-- into a query (a per-row function call is what made capture_cost() slow).
CREATE FUNCTION capture_price_rows(p_model text, p_at timestamptz)
RETURNS SETOF model_prices LANGUAGE sql STABLE ROWS 1 AS $$
    SELECT p.* FROM model_prices p
    WHERE p.model IN (p_model, regexp_replace(p_model, '-\d{4}-\d{2}-\d{2}$', ''))
      AND p.valid_from <= (p_at AT TIME ZONE 'UTC')::date
    ORDER BY p.model = p_model DESC, p.valid_from DESC
    LIMIT 1
$$;
COMMENT ON FUNCTION capture_price_rows(text, timestamptz) IS 'capture_price() as zero or one row, for LATERAL joins (inlined by the planner).';

-- USD of token counts at a price, unrounded: linear in the counts, so the
-- cost of summed counts is the sum of the calls' costs (capture_cost()
-- rounds each call to 8 decimals).
CREATE FUNCTION capture_cost_tokens(p_input numeric, p_cached_input numeric, p_output numeric,
                                    p_prompt numeric, p_cached numeric, p_completion numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((coalesce(p_prompt, 0) - coalesce(p_cached, 0)) * p_input
            + coalesce(p_cached, 0) * coalesce(p_cached_input, p_input)
            + coalesce(p_completion, 0) * coalesce(p_output, 0)) / 1000000
$$;
COMMENT ON FUNCTION capture_cost_tokens(numeric, numeric, numeric, numeric, numeric, numeric) IS 'USD of prompt (of which cached) and completion tokens at per-million prices (a model_prices row), unrounded; NULL when p_input is NULL.';

-- --- 3. the rollups ---------------------------------------------------------------
-- Rows built before this migration have neither instance nor cost: drop them
-- and let the next captures_rollup_refresh() build everything again (the
-- statistics read the captures until then).
TRUNCATE captures_rollup;
UPDATE captures_rollup_state SET rolled_until = NULL, checked_at = NULL;
ALTER TABLE captures_rollup
    ADD COLUMN instance text,
    ADD COLUMN by_instance boolean NOT NULL DEFAULT false,
    ADD COLUMN cost_usd double precision,
    ADD COLUMN unpriced bigint NOT NULL DEFAULT 0;
COMMENT ON TABLE captures_rollup IS 'Captures summed per UTC hour or day and model, and per hour or day, model and instance, for /api/stats over long ranges; rebuilt from captures by captures_rollup_refresh(), never edited by hand.';
COMMENT ON COLUMN captures_rollup.instance IS 'With by_instance: the proxy instance of the captures summed (NULL for those without one); else NULL.';
COMMENT ON COLUMN captures_rollup.by_instance IS 'false: the row sums the captures of every instance; true: those of one instance.';
-- The statistics read either the rows of all instances or those by instance.
DROP INDEX captures_rollup_at_idx;
CREATE INDEX captures_rollup_at_idx ON captures_rollup (period, by_instance, at);
COMMENT ON INDEX captures_rollup_at_idx IS 'The rollup rows of a time range, of all instances or by instance.';
COMMENT ON COLUMN captures_rollup.cost_usd IS 'USD of the captures with token usage and a price in model_prices (NULL when none had both); a float, summed fast.';
COMMENT ON COLUMN captures_rollup.unpriced IS 'Captures with token usage whose model has no price: left out of cost_usd.';

CREATE TABLE captures_rollup_groups (
    at                timestamptz      NOT NULL,
    dim               text             NOT NULL
                      CHECK (dim IN ('user', 'end_user', 'session', 'tag', 'key', 'status', 'path')),
    key               text,
    key_hint          text,
    instance          text,
    by_instance       boolean          NOT NULL,
    requests          bigint           NOT NULL,
    failed            bigint           NOT NULL,
    duration_sum      double precision,
    duration_count    bigint           NOT NULL,
    prompt_tokens     bigint           NOT NULL,
    completion_tokens bigint           NOT NULL,
    cost_usd          double precision,
    unpriced          bigint           NOT NULL
);
CREATE INDEX captures_rollup_groups_idx ON captures_rollup_groups (dim, by_instance, at);
COMMENT ON TABLE captures_rollup_groups IS 'Captures summed per UTC hour and user, end user, session, tag, API key, status or path, of all instances and of each, for /api/stats?group_by=; rebuilt with captures_rollup by captures_rollup_refresh(), never edited by hand.';
COMMENT ON INDEX captures_rollup_groups_idx IS 'The rows of one grouping over a time range, of all instances or by instance.';
COMMENT ON COLUMN captures_rollup_groups.at IS 'Start of the UTC hour.';
COMMENT ON COLUMN captures_rollup_groups.dim IS 'What the row groups by: user (capture_user), end_user, session (capture_session), tag (each of capture_tags), key (key_fingerprint), status, path.';
COMMENT ON COLUMN captures_rollup_groups.key IS 'The value grouped on (status as text, path cut at 2048 characters); NULL for captures without one. A capture with two tags is in two tag rows.';
COMMENT ON COLUMN captures_rollup_groups.key_hint IS 'For dim key: the key''s hint (sk-…abcd).';
COMMENT ON COLUMN captures_rollup_groups.instance IS 'With by_instance: the proxy instance of the captures summed (NULL for those without one); else NULL.';
COMMENT ON COLUMN captures_rollup_groups.by_instance IS 'false: the row sums the captures of every instance; true: those of one instance.';
COMMENT ON COLUMN captures_rollup_groups.requests IS 'Number of captures.';
COMMENT ON COLUMN captures_rollup_groups.failed IS 'Captures with status >= 400 or an outcome other than completed.';
COMMENT ON COLUMN captures_rollup_groups.duration_sum IS 'Sum of duration_ms.';
COMMENT ON COLUMN captures_rollup_groups.duration_count IS 'Captures with a duration_ms.';
COMMENT ON COLUMN captures_rollup_groups.prompt_tokens IS 'Sum of prompt_tokens.';
COMMENT ON COLUMN captures_rollup_groups.completion_tokens IS 'Sum of completion_tokens.';
COMMENT ON COLUMN captures_rollup_groups.cost_usd IS 'USD of the captures with token usage and a price (NULL when none had both).';
COMMENT ON COLUMN captures_rollup_groups.unpriced IS 'Captures with token usage whose model has no price.';

-- Rebuilds the hour rows of [lo, hi) (whole hours) from captures: per model,
-- and per model and instance, in captures_rollup (then its day rows from its
-- hour rows),
-- per grouping in captures_rollup_groups. Returns the number of
-- captures_rollup hour rows written.
CREATE OR REPLACE FUNCTION captures_rollup_build(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    DELETE FROM captures_rollup WHERE period = 'hour' AND at >= lo AND at < hi;
    WITH raw AS MATERIALIZED (
        SELECT capture_hour(started_at) AS at, model, instance, status, outcome, duration_ms, ttfb_ms,
               prompt_tokens, cached_tokens, completion_tokens, started_at,
               prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL AS used
        FROM captures WHERE started_at >= lo AND started_at < hi),
    lat AS (
        SELECT at, model, instance, by_instance, array_agg(b ORDER BY b) AS bs, array_agg(n ORDER BY b) AS ns
        FROM (SELECT at, model, instance, GROUPING(instance) = 0 AS by_instance,
                     capture_latency_bucket(duration_ms) AS b, count(*)::integer AS n
              FROM raw WHERE duration_ms IS NOT NULL
              GROUP BY at, model, b, GROUPING SETS ((), (instance))) x
        GROUP BY 1, 2, 3, 4),
    agg AS (
        SELECT at, model, instance, GROUPING(instance) = 0 AS by_instance, count(*) AS requests,
               count(*) FILTER (WHERE status < 400 AND outcome = 'completed') AS ok,
               count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_4xx,
               count(*) FILTER (WHERE status >= 500) AS server_5xx,
               count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed') AS failed,
               sum(duration_ms) AS duration_sum, count(duration_ms) AS duration_count,
               max(duration_ms) AS duration_max, sum(ttfb_ms) AS ttfb_sum, count(ttfb_ms) AS ttfb_count,
               coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(completion_tokens), 0) AS completion_tokens,
               min(started_at) AS first_at, max(started_at) AS last_at,
               sum(cached_tokens) FILTER (WHERE used) AS cached, count(*) FILTER (WHERE used) AS used
        FROM raw
        GROUP BY at, model, GROUPING SETS ((), (instance)))
    INSERT INTO captures_rollup (period, at, model, requests, ok, client_4xx, server_5xx, failed,
                                 duration_sum, duration_count, duration_max, ttfb_sum, ttfb_count,
                                 prompt_tokens, completion_tokens, first_at, last_at,
                                 latency_buckets, latency_counts, instance, by_instance, cost_usd, unpriced)
    SELECT 'hour', agg.at, agg.model, agg.requests, agg.ok, agg.client_4xx, agg.server_5xx, agg.failed,
           agg.duration_sum, agg.duration_count, agg.duration_max, agg.ttfb_sum, agg.ttfb_count,
           agg.prompt_tokens, agg.completion_tokens, agg.first_at, agg.last_at,
           coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}'), agg.instance, agg.by_instance,
           CASE WHEN agg.used > 0 THEN capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok,
                pr.output_per_mtok, agg.prompt_tokens, agg.cached, agg.completion_tokens)::float8 END,
           CASE WHEN pr.input_per_mtok IS NULL THEN agg.used ELSE 0 END
    FROM agg
    LEFT JOIN lat ON lat.at = agg.at AND lat.model IS NOT DISTINCT FROM agg.model
                 AND lat.instance IS NOT DISTINCT FROM agg.instance AND lat.by_instance = agg.by_instance
    LEFT JOIN LATERAL capture_price_rows(agg.model, agg.at) pr ON true;
    GET DIAGNOSTICS written = ROW_COUNT;

    DELETE FROM captures_rollup
    WHERE period = 'day' AND at >= capture_day(lo) AND at < capture_day(hi - interval '1 microsecond') + interval '1 day';
    WITH hr AS MATERIALIZED (
        SELECT * FROM captures_rollup
        WHERE period = 'hour' AND at >= capture_day(lo)
          AND at < capture_day(hi - interval '1 microsecond') + interval '1 day'),
    lat AS (
        SELECT d, model, instance, by_instance, array_agg(b ORDER BY b) AS bs, array_agg(n ORDER BY b) AS ns
        FROM (SELECT capture_day(at) AS d, model, instance, by_instance, u.b, sum(u.n)::integer AS n
              FROM hr, unnest(hr.latency_buckets, hr.latency_counts) AS u(b, n) GROUP BY 1, 2, 3, 4, 5) x
        GROUP BY 1, 2, 3, 4)
    INSERT INTO captures_rollup (period, at, model, requests, ok, client_4xx, server_5xx, failed,
                                 duration_sum, duration_count, duration_max, ttfb_sum, ttfb_count,
                                 prompt_tokens, completion_tokens, first_at, last_at,
                                 latency_buckets, latency_counts, instance, by_instance, cost_usd, unpriced)
    SELECT 'day', s.d, s.model, s.requests, s.ok, s.client_4xx, s.server_5xx, s.failed,
           s.duration_sum, s.duration_count, s.duration_max, s.ttfb_sum, s.ttfb_count,
           s.prompt_tokens, s.completion_tokens, s.first_at, s.last_at,
           coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}'), s.instance, s.by_instance, s.cost_usd, s.unpriced
    FROM (SELECT capture_day(at) AS d, model, instance, by_instance, sum(requests) AS requests, sum(ok) AS ok,
                 sum(client_4xx) AS client_4xx, sum(server_5xx) AS server_5xx, sum(failed) AS failed,
                 sum(duration_sum) AS duration_sum, sum(duration_count) AS duration_count,
                 max(duration_max) AS duration_max, sum(ttfb_sum) AS ttfb_sum,
                 sum(ttfb_count) AS ttfb_count, sum(prompt_tokens) AS prompt_tokens,
                 sum(completion_tokens) AS completion_tokens, min(first_at) AS first_at,
                 max(last_at) AS last_at, sum(cost_usd) AS cost_usd, sum(unpriced) AS unpriced
          FROM hr GROUP BY 1, 2, 3, 4) s
    LEFT JOIN lat ON lat.d = s.d AND lat.model IS NOT DISTINCT FROM s.model
                 AND lat.instance IS NOT DISTINCT FROM s.instance AND lat.by_instance = s.by_instance;

    PERFORM captures_rollup_groups_build(lo, hi);
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_build(timestamptz, timestamptz) IS 'Rebuilds the captures_rollup hour rows of [lo, hi) from captures, the day rows of the days they touch, and the captures_rollup_groups rows of those hours; returns the hour rows written.';

-- Sums per value of grouping p_dim (model, instance, user, end_user,
-- session, tag, key, status, path) of the captures in [lo, hi) of one model
-- and instance (NULL: all), priced per model and UTC day: the rows of
-- /api/stats?group_by= for the captures the rollups do not cover. A capture
-- is counted once per tag, or once under a NULL tag when it has none.
CREATE FUNCTION captures_group_sums(lo timestamptz, hi timestamptz, p_dim text,
                                    p_model text, p_instance text)
RETURNS TABLE (key text, key_hint text, requests bigint, failed bigint,
               duration_sum double precision, duration_count bigint, prompt_tokens bigint,
               completion_tokens bigint, cost_usd double precision, unpriced bigint)
LANGUAGE sql STABLE AS $$
    WITH g AS (
        SELECT CASE p_dim WHEN 'model' THEN c.model WHEN 'instance' THEN c.instance
                          WHEN 'user' THEN c.capture_user WHEN 'end_user' THEN c.end_user
                          WHEN 'session' THEN c.capture_session WHEN 'key' THEN c.key_fingerprint
                          WHEN 'status' THEN c.status::text WHEN 'path' THEN left(c.path, 2048)
                          WHEN 'tag' THEN t.tag END AS key,
               max(c.key_hint) FILTER (WHERE p_dim = 'key') AS key_hint,
               c.model, capture_day(c.started_at) AS day, count(*) AS n,
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed') AS failed,
               sum(c.duration_ms) AS dur_sum, count(c.duration_ms) AS dur_n,
               sum(c.prompt_tokens) AS prompt, sum(c.completion_tokens) AS completion,
               sum(c.cached_tokens) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL) AS cached,
               count(*) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL) AS used
        FROM captures c
        CROSS JOIN LATERAL unnest(CASE WHEN p_dim = 'tag' THEN coalesce(nullif(c.capture_tags, '{}'), '{NULL}')
                                       ELSE '{NULL}'::text[] END) t(tag)
        WHERE c.started_at >= lo AND c.started_at < hi
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
        GROUP BY 1, 3, 4)
    SELECT g.key, max(g.key_hint), sum(g.n)::bigint, sum(g.failed)::bigint, sum(g.dur_sum),
           sum(g.dur_n)::bigint, coalesce(sum(g.prompt), 0)::bigint, coalesce(sum(g.completion), 0)::bigint,
           sum(CASE WHEN g.used > 0 THEN capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok,
               pr.output_per_mtok, g.prompt, g.cached, g.completion) END)::float8,
           sum(CASE WHEN pr.input_per_mtok IS NULL THEN g.used ELSE 0 END)::bigint
    FROM g LEFT JOIN LATERAL capture_price_rows(g.model, g.day) pr ON true
    GROUP BY g.key
$$;
COMMENT ON FUNCTION captures_group_sums(timestamptz, timestamptz, text, text, text) IS 'Calls, failures, latency, tokens and cost per value of grouping p_dim (model, instance, user, end_user, session, tag, key, status, path) of the captures in [lo, hi) of model p_model and instance p_instance (NULL: all); a capture counts once per tag, or under a NULL tag.';

-- One pass per range: hashed grouping sets per hour and model (the tags
-- apart, unnested), then priced per model and day and summed per hour.
-- The keys are those of captures_group_sums().
CREATE FUNCTION captures_rollup_groups_build(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
    written bigint;
BEGIN
    DELETE FROM captures_rollup_groups WHERE at >= lo AND at < hi;
    WITH raw AS MATERIALIZED (
        SELECT capture_hour(started_at) AS at, model, instance, capture_user, end_user, capture_session,
               key_fingerprint, key_hint, status, left(path, 2048) AS path, capture_tags,
               status >= 400 OR outcome <> 'completed' AS failed, duration_ms, prompt_tokens,
               completion_tokens, CASE WHEN prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL
                                       THEN coalesce(cached_tokens, 0) END AS cached
        FROM captures WHERE started_at >= lo AND started_at < hi),
    g AS (
        SELECT at, model, CASE WHEN GROUPING(instance) = 0 THEN instance END AS instance,
               GROUPING(instance) = 0 AS by_instance,
               CASE WHEN GROUPING(capture_user) = 0 THEN 'user' WHEN GROUPING(end_user) = 0 THEN 'end_user'
                    WHEN GROUPING(capture_session) = 0 THEN 'session'
                    WHEN GROUPING(key_fingerprint) = 0 THEN 'key'
                    WHEN GROUPING(status) = 0 THEN 'status' ELSE 'path' END AS dim,
               CASE WHEN GROUPING(capture_user) = 0 THEN capture_user
                    WHEN GROUPING(end_user) = 0 THEN end_user
                    WHEN GROUPING(capture_session) = 0 THEN capture_session
                    WHEN GROUPING(key_fingerprint) = 0 THEN key_fingerprint
                    WHEN GROUPING(status) = 0 THEN status::text ELSE path END AS key,
               CASE WHEN GROUPING(key_fingerprint) = 0 THEN max(key_hint) END AS key_hint,
               count(*) AS n, count(*) FILTER (WHERE failed) AS failed, sum(duration_ms) AS dur_sum,
               count(duration_ms) AS dur_n, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion,
               sum(cached) AS cached, count(cached) AS used
        FROM raw
        GROUP BY at, model, GROUPING SETS ((capture_user), (instance, capture_user), (end_user),
                                           (instance, end_user), (capture_session), (instance, capture_session),
                                           (key_fingerprint), (instance, key_fingerprint), (status),
                                           (instance, status), (path), (instance, path))
        UNION ALL
        SELECT at, model, CASE WHEN GROUPING(instance) = 0 THEN instance END, GROUPING(instance) = 0,
               'tag', t.tag, NULL, count(*), count(*) FILTER (WHERE failed), sum(duration_ms),
               count(duration_ms), sum(prompt_tokens), sum(completion_tokens), sum(cached), count(cached)
        FROM raw CROSS JOIN LATERAL unnest(coalesce(nullif(capture_tags, '{}'), '{NULL}')) t(tag)
        GROUP BY at, model, t.tag, GROUPING SETS ((), (instance))),
    pr AS (
        SELECT m.model, m.day, p.input_per_mtok, p.cached_input_per_mtok, p.output_per_mtok
        FROM (SELECT DISTINCT model, capture_day(at) AS day FROM g WHERE model IS NOT NULL) m
        JOIN LATERAL capture_price_rows(m.model, m.day) p ON true)
    INSERT INTO captures_rollup_groups (at, dim, key, key_hint, instance, by_instance, requests, failed,
                                        duration_sum, duration_count, prompt_tokens, completion_tokens,
                                        cost_usd, unpriced)
    SELECT g.at, g.dim, g.key, max(g.key_hint), g.instance, g.by_instance, sum(g.n), sum(g.failed),
           sum(g.dur_sum), sum(g.dur_n),
           coalesce(sum(g.prompt), 0), coalesce(sum(g.completion), 0),
           sum(CASE WHEN g.used > 0 THEN capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok,
               pr.output_per_mtok, g.prompt, g.cached, g.completion) END)::float8,
           sum(CASE WHEN pr.input_per_mtok IS NULL THEN g.used ELSE 0 END)
    FROM g LEFT JOIN pr ON pr.model = g.model AND pr.day = capture_day(g.at)
    GROUP BY g.at, g.dim, g.key, g.instance, g.by_instance;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_groups_build(timestamptz, timestamptz) IS 'Rebuilds the captures_rollup_groups rows of the hours in [lo, hi) from captures; returns the rows written.';

-- As in 005_scale.sql, counting the rows of all instances only.
CREATE OR REPLACE FUNCTION captures_rollup_fix(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    run record;
    written bigint := 0;
BEGIN
    FOR run IN
        WITH changed AS (
            SELECT at FROM (SELECT capture_hour(started_at) AS at, count(*) AS n FROM captures
                            WHERE started_at >= lo AND started_at < hi GROUP BY 1) c
            FULL JOIN (SELECT at, sum(requests) AS n FROM captures_rollup
                       WHERE period = 'hour' AND NOT by_instance AND at >= lo AND at < hi GROUP BY 1) r USING (at)
            WHERE c.n IS DISTINCT FROM r.n)
        SELECT min(at) AS first_hour, max(at) + interval '1 hour' AS end_hour
        FROM (SELECT at, at - row_number() OVER (ORDER BY at) * interval '1 hour' AS island FROM changed) x
        GROUP BY island ORDER BY 1
    LOOP
        written := written + captures_rollup_build(run.first_hour, run.end_hour);
    END LOOP;
    RETURN written;
END $$;

-- As in 005_scale.sql, and the hours before the oldest capture leave
-- captures_rollup_groups too.
CREATE OR REPLACE FUNCTION captures_rollup_refresh(check_all boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    st captures_rollup_state;
    was captures_rollup_state;
    target timestamptz := capture_hour(now() - interval '10 minutes');
    oldest timestamptz;
    written bigint := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('captures_rollup')) THEN
        RETURN 0;
    END IF;
    SELECT * INTO st FROM captures_rollup_state;
    was := st;
    IF st.rolled_until IS NULL THEN
        SELECT capture_hour(min(started_at)) INTO oldest FROM captures;
        st.rolled_until := least(coalesce(oldest, target), target);
    END IF;
    IF st.rolled_until < target THEN
        written := written + captures_rollup_build(st.rolled_until, target);
        st.rolled_until := target;
    END IF;
    written := written + captures_rollup_fix(st.rolled_until - interval '2 hours', st.rolled_until);
    IF check_all OR st.checked_at IS NULL OR st.checked_at < now() - interval '1 hour' THEN
        SELECT capture_hour(min(started_at)) INTO oldest FROM captures;
        oldest := coalesce(oldest, st.rolled_until);
        DELETE FROM captures_rollup
        WHERE (period = 'hour' AND at < oldest) OR (period = 'day' AND at < capture_day(oldest));
        DELETE FROM captures_rollup_groups WHERE at < oldest;
        written := written + captures_rollup_fix(oldest, st.rolled_until);
        st.checked_at := now();
    END IF;
    IF st IS DISTINCT FROM was THEN
        UPDATE captures_rollup_state SET rolled_until = st.rolled_until, checked_at = st.checked_at;
    END IF;
    RETURN written;
END $$;

-- A price change alters the cost of calls already rolled up: start the
-- rollups again (the statistics read the captures until the next refresh has
-- rebuilt them, a few seconds to a minute later).
CREATE FUNCTION captures_rollup_reprice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE captures_rollup_state SET rolled_until = NULL, checked_at = NULL;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION captures_rollup_reprice() IS 'Trigger on model_prices: makes the next captures_rollup_refresh() rebuild the rollups, whose costs used the old prices.';
CREATE TRIGGER model_prices_reprice AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_prices
    FOR EACH STATEMENT EXECUTE FUNCTION captures_rollup_reprice();

-- --- 4. statistics ------------------------------------------------------------------
-- As in 005_scale.sql, with an instance to filter on (NULL: all).
DROP FUNCTION captures_stats_totals(timestamptz, timestamptz, text);
CREATE FUNCTION captures_stats_totals(p_from timestamptz, p_to timestamptz, p_model text,
                                      p_instance text DEFAULT NULL)
RETURNS TABLE (requests bigint, ok bigint, client_4xx bigint, server_5xx bigint, failed bigint,
               avg_ms double precision, p50_ms double precision, p95_ms double precision,
               avg_ttfb double precision, prompt_tokens bigint, completion_tokens bigint,
               first_ms bigint, last_ms bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    d0 timestamptz := capture_day(h0 - interval '1 microsecond') + interval '1 day';
    d1 timestamptz := greatest(d0, capture_day(h1));
BEGIN
    IF oldest IS NULL OR h1 <= h0 THEN
        RETURN QUERY
        SELECT count(*), count(*) FILTER (WHERE c.status < 400 AND c.outcome = 'completed'),
               count(*) FILTER (WHERE c.status >= 400 AND c.status < 500),
               count(*) FILTER (WHERE c.status >= 500),
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed'),
               avg(c.duration_ms),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY c.duration_ms),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms),
               avg(c.ttfb_ms), coalesce(sum(c.prompt_tokens), 0)::bigint,
               coalesce(sum(c.completion_tokens), 0)::bigint,
               (extract(epoch FROM min(c.started_at)) * 1000)::bigint,
               (extract(epoch FROM max(c.started_at)) * 1000)::bigint
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < hi AND (p_model IS NULL OR c.model = p_model)
          AND (p_instance IS NULL OR c.instance = p_instance);
        RETURN;
    END IF;
    RETURN QUERY
    WITH raw AS MATERIALIZED (
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < least(h0, hi) AND (p_model IS NULL OR c.model = p_model)
          AND (p_instance IS NULL OR c.instance = p_instance)
        UNION ALL
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= h1 AND c.started_at < hi AND (p_model IS NULL OR c.model = p_model)
          AND (p_instance IS NULL OR c.instance = p_instance)),
    rolled AS MATERIALIZED (
        SELECT * FROM captures_rollup r
        WHERE r.period = 'hour' AND r.by_instance = (p_instance IS NOT NULL) AND (p_instance IS NULL OR r.instance = p_instance) AND r.at >= h0 AND r.at < h1
          AND (p_model IS NULL OR r.model = p_model)),
    parts AS (
        SELECT r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum, r.duration_count,
               r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens, r.first_at, r.last_at
        FROM rolled r
        UNION ALL
        SELECT count(*), count(*) FILTER (WHERE w.status < 400 AND w.outcome = 'completed'),
               count(*) FILTER (WHERE w.status >= 400 AND w.status < 500),
               count(*) FILTER (WHERE w.status >= 500),
               count(*) FILTER (WHERE w.status >= 400 OR w.outcome <> 'completed'),
               sum(w.duration_ms), count(w.duration_ms), sum(w.ttfb_ms), count(w.ttfb_ms),
               coalesce(sum(w.prompt_tokens), 0), coalesce(sum(w.completion_tokens), 0),
               min(w.started_at), max(w.started_at)
        FROM raw w),
    hist AS (
        SELECT b, sum(n) AS n FROM (
            SELECT u.b, u.n
            FROM captures_rollup r, unnest(r.latency_buckets, r.latency_counts) AS u(b, n)
            WHERE r.period = 'day' AND r.by_instance = (p_instance IS NOT NULL) AND (p_instance IS NULL OR r.instance = p_instance) AND r.at >= d0 AND r.at < d1
              AND (p_model IS NULL OR r.model = p_model)
            UNION ALL
            SELECT u.b, u.n
            FROM rolled r, unnest(r.latency_buckets, r.latency_counts) AS u(b, n)
            WHERE r.at < d0 OR r.at >= d1
            UNION ALL
            SELECT capture_latency_bucket(w.duration_ms), 1 FROM raw w WHERE w.duration_ms IS NOT NULL) x
        GROUP BY b),
    cum AS (
        SELECT b, n, sum(n) OVER (ORDER BY b) - n AS before, sum(n) OVER () AS total FROM hist),
    pct AS (
        SELECT q, (SELECT capture_latency_value(c.b, (q * (c.total - 1) - c.before + 0.5) / c.n)
                   FROM cum c WHERE c.before <= q * (c.total - 1) AND q * (c.total - 1) < c.before + c.n) AS v
        FROM unnest(array[0.5, 0.95]) AS q)
    SELECT sum(p.requests)::bigint, sum(p.ok)::bigint, sum(p.client_4xx)::bigint,
           sum(p.server_5xx)::bigint, sum(p.failed)::bigint,
           sum(p.duration_sum) / nullif(sum(p.duration_count), 0),
           (SELECT v FROM pct WHERE q = 0.5), (SELECT v FROM pct WHERE q = 0.95),
           sum(p.ttfb_sum) / nullif(sum(p.ttfb_count), 0),
           sum(p.prompt_tokens)::bigint, sum(p.completion_tokens)::bigint,
           (extract(epoch FROM min(p.first_at)) * 1000)::bigint,
           (extract(epoch FROM max(p.last_at)) * 1000)::bigint
    FROM parts p;
END $$;
COMMENT ON FUNCTION captures_stats_totals(timestamptz, timestamptz, text, text) IS 'The /api/stats totals of the captures in [p_from, p_to) (NULL: unbounded) of one model and instance (NULL: all), from captures_rollup where it reaches; p50/p95 then from its latency histograms (within 3 %).';

-- As in 005_scale.sql, with an instance to filter on, the cost of each row
-- (USD of the calls with usage and a price; NULL when there are none) and
-- how many calls with usage had no price, and a set 3: one row for the
-- whole range.
DROP FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer);
CREATE FUNCTION captures_stats_groups(p_from timestamptz, p_to timestamptz, p_model text,
                                      bucket_s bigint, models_max integer, p_instance text DEFAULT NULL)
RETURNS TABLE (set integer, model text, bucket bigint, requests bigint, failed bigint,
               avg_ms double precision, max_ms double precision, prompt_tokens bigint,
               completion_tokens bigint, rank bigint, cost_usd numeric, unpriced bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    width interval := make_interval(secs => bucket_s);
BEGIN
    -- hour rows fit only time buckets of whole hours
    IF oldest IS NULL OR bucket_s % 3600 <> 0 THEN
        h1 := h0;
    END IF;
    RETURN QUERY
    WITH raw AS (
        SELECT c.model, date_bin(width, c.started_at, timestamptz 'epoch') AS t,
               capture_day(c.started_at) AS day, count(*) AS n,
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed') AS failed,
               sum(c.duration_ms) AS duration_sum, count(c.duration_ms) AS duration_count,
               max(c.duration_ms) AS duration_max,
               sum(c.prompt_tokens) AS prompt_tokens, sum(c.completion_tokens) AS completion_tokens,
               sum(c.cached_tokens) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL) AS cached,
               count(*) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL) AS used
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < least(h0, hi)
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
        GROUP BY 1, 2, 3
        UNION ALL
        SELECT c.model, date_bin(width, c.started_at, timestamptz 'epoch'),
               capture_day(c.started_at), count(*),
               count(*) FILTER (WHERE c.status >= 400 OR c.outcome <> 'completed'),
               sum(c.duration_ms), count(c.duration_ms), max(c.duration_ms),
               sum(c.prompt_tokens), sum(c.completion_tokens),
               sum(c.cached_tokens) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL),
               count(*) FILTER (WHERE c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL)
        FROM captures c
        WHERE c.started_at >= greatest(h1, lo) AND c.started_at < hi
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
        GROUP BY 1, 2, 3),
    g AS (
        SELECT r.model, date_bin(width, r.at, timestamptz 'epoch') AS t, r.requests AS n, r.failed,
               r.duration_sum, r.duration_count, r.duration_max, r.prompt_tokens, r.completion_tokens,
               r.cost_usd, r.unpriced
        FROM captures_rollup r
        WHERE r.period = 'hour' AND r.by_instance = (p_instance IS NOT NULL) AND (p_instance IS NULL OR r.instance = p_instance) AND r.at >= h0 AND r.at < h1
          AND (p_model IS NULL OR r.model = p_model)
        UNION ALL
        SELECT w.model, w.t, w.n, w.failed, w.duration_sum, w.duration_count, w.duration_max,
               w.prompt_tokens, w.completion_tokens,
               CASE WHEN w.used > 0 THEN capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok,
                    pr.output_per_mtok, w.prompt_tokens, w.cached, w.completion_tokens)::float8 END,
               CASE WHEN pr.input_per_mtok IS NULL THEN w.used ELSE 0 END
        FROM raw w LEFT JOIN LATERAL capture_price_rows(w.model, w.day) pr ON true)
    SELECT * FROM (
        SELECT CASE WHEN GROUPING(g.model) = 0 THEN 1 WHEN GROUPING(g.t) = 0 THEN 2 ELSE 3 END AS set,
               g.model AS model, (extract(epoch FROM g.t) * 1000)::bigint AS bucket,
               sum(g.n)::bigint AS requests, sum(g.failed)::bigint AS failed,
               sum(g.duration_sum) / nullif(sum(g.duration_count), 0) AS avg_ms,
               max(g.duration_max) AS max_ms, coalesce(sum(g.prompt_tokens), 0)::bigint AS prompt_tokens,
               coalesce(sum(g.completion_tokens), 0)::bigint AS completion_tokens,
               row_number() OVER (PARTITION BY GROUPING(g.model), GROUPING(g.t) ORDER BY sum(g.n) DESC) AS rank,
               round(sum(g.cost_usd)::numeric, 8) AS cost_usd, sum(g.unpriced)::bigint AS unpriced
        FROM g GROUP BY GROUPING SETS ((g.model), (g.t), ())) t
    WHERE t.set <> 1 OR t.rank <= models_max
    ORDER BY t.set, t.bucket, t.requests DESC;
END $$;
COMMENT ON FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer, text) IS 'The /api/stats rows per model (set 1, the models_max busiest), per time bucket of bucket_s seconds (set 2) and for the whole range (set 3, with cost_usd and unpriced) of the captures in [p_from, p_to) of one model and instance (NULL: all), from captures_rollup where it reaches.';

-- /api/stats?group_by=: the p_max groups with the most calls of grouping
-- p_dim (model, instance, user, end_user, session, tag, key, status, path)
-- over [p_from, p_to): whole hours from the rollups, the rest from captures.
-- A model filter fits only p_dim model and instance (the other groupings
-- are not split by model in the rollup); an instance filter fits them all.
CREATE FUNCTION captures_stats_group_by(p_dim text, p_from timestamptz, p_to timestamptz,
                                        p_model text, p_instance text, p_max integer)
RETURNS TABLE (key text, key_hint text, requests bigint, failed bigint, prompt_tokens bigint,
               completion_tokens bigint, cost_usd numeric, unpriced bigint, avg_ms double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    by_model boolean := p_dim IN ('model', 'instance');
BEGIN
    IF NOT by_model AND p_model IS NOT NULL THEN
        RAISE EXCEPTION 'captures_stats_group_by: % is not split by model in the rollup', p_dim;
    END IF;
    IF oldest IS NULL THEN
        h1 := h0;
    END IF;
    RETURN QUERY
    WITH parts AS (
        SELECT CASE WHEN p_dim = 'model' THEN r.model ELSE r.instance END AS key, NULL::text AS key_hint,
               r.requests, r.failed, r.duration_sum, r.duration_count, r.prompt_tokens,
               r.completion_tokens, r.cost_usd, r.unpriced
        FROM captures_rollup r
        WHERE by_model AND r.period = 'hour' AND r.at >= h0 AND r.at < h1
          AND r.by_instance = (p_dim = 'instance' OR p_instance IS NOT NULL)
          AND (p_instance IS NULL OR r.instance = p_instance)
          AND (p_model IS NULL OR r.model = p_model)
        UNION ALL
        SELECT r.key, r.key_hint, r.requests, r.failed, r.duration_sum, r.duration_count, r.prompt_tokens,
               r.completion_tokens, r.cost_usd, r.unpriced
        FROM captures_rollup_groups r
        WHERE NOT by_model AND r.dim = p_dim AND r.by_instance = (p_instance IS NOT NULL)
          AND (p_instance IS NULL OR r.instance = p_instance) AND r.at >= h0 AND r.at < h1
        UNION ALL
        SELECT s.key, s.key_hint, s.requests, s.failed, s.duration_sum, s.duration_count, s.prompt_tokens,
               s.completion_tokens, s.cost_usd, s.unpriced
        FROM captures_group_sums(lo, least(h0, hi), p_dim, p_model, p_instance) s
        UNION ALL
        SELECT s.key, s.key_hint, s.requests, s.failed, s.duration_sum, s.duration_count, s.prompt_tokens,
               s.completion_tokens, s.cost_usd, s.unpriced
        FROM captures_group_sums(greatest(h1, lo), hi, p_dim, p_model, p_instance) s)
    SELECT x.key, max(x.key_hint), sum(x.requests)::bigint AS n, sum(x.failed)::bigint,
           coalesce(sum(x.prompt_tokens), 0)::bigint, coalesce(sum(x.completion_tokens), 0)::bigint,
           round(sum(x.cost_usd)::numeric, 8), sum(x.unpriced)::bigint,
           sum(x.duration_sum) / nullif(sum(x.duration_count), 0)
    FROM parts x
    GROUP BY x.key
    ORDER BY n DESC, x.key NULLS LAST
    LIMIT p_max;
END $$;
COMMENT ON FUNCTION captures_stats_group_by(text, timestamptz, timestamptz, text, text, integer) IS 'The /api/stats?group_by= rows: the p_max keys of grouping p_dim with the most captures in [p_from, p_to) (NULL: unbounded) of instance p_instance (NULL: all), with failures, tokens, cost and average latency; from the rollups where they reach. p_model (NULL: all) only with p_dim model or instance.';
