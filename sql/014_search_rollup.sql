-- 014_search_rollup.sql - the statistics of a search read often are rolled up.
--
-- /api/stats?search=invoice reads every match from the table: at a million
-- captures a word found in 11 % of them costs 110,000 table pages, ~600 ms
-- (one row of ~6 KB per page, sql/009_perf.sql). A rollup of every common
-- word is out of reach: with 1-20 KB bodies thousands of words are found in
-- more than 5 % of the captures, and words x hours x models outnumbers the
-- captures. So the rollup is kept for the searches people read statistics
-- of: when a search's statistics sum at least 20,000 captures, the
-- dashboard records it in captures_search_watch, and captures_rollup_refresh()
-- keeps its sums per UTC hour and day and model in captures_rollup_searches,
-- the hours before the watch began filled in a day at a time. Until its
-- rollup reaches the start of the range, the statistics of a search are read
-- from the captures, as before. A watch unused for 30 days is dropped, and at
-- most 100 are kept (the least recently used go first).
--
-- A watch holds the search as the dashboard matches it: the text (full-text,
-- websearch_to_tsquery('simple', ...)), the ILIKE pattern for path and id
-- substrings and the method it names (NULL when none), so its rows hold the
-- same captures as the live query.

-- --- the watched searches -------------------------------------------------------
CREATE TABLE captures_search_watch (
    id            serial      PRIMARY KEY,
    search        text        NOT NULL,
    search_like   text,
    search_method text,
    added_at      timestamptz NOT NULL DEFAULT now(),
    used_at       timestamptz NOT NULL DEFAULT now(),
    built_from    timestamptz,
    -- the one pattern ILIKE refuses, and only when it reaches the end: a
    -- build would fail on some row, and every refresh with it
    CONSTRAINT captures_search_watch_like_check
        CHECK (search_like IS NULL OR search_like !~ '(^|[^\\])(\\\\)*\\$')
);
CREATE UNIQUE INDEX captures_search_watch_key ON captures_search_watch
    (search, coalesce(search_like, ''), coalesce(search_method, ''));
COMMENT ON TABLE captures_search_watch IS 'Searches whose /api/stats are rolled up in captures_rollup_searches; recorded by the dashboard when a search''s statistics sum many captures, dropped by captures_rollup_refresh() after 30 days unused or when over 100.';
COMMENT ON CONSTRAINT captures_search_watch_like_check ON captures_search_watch IS 'search_like does not end with an odd number of backslashes (an escape with nothing after it, which ILIKE refuses).';
COMMENT ON INDEX captures_search_watch_key IS 'One watch per search as the dashboard matches it.';
COMMENT ON COLUMN captures_search_watch.id IS 'Key of the rollup rows (captures_rollup_searches.watch).';
COMMENT ON COLUMN captures_search_watch.search IS 'The search text, matched with websearch_to_tsquery(''simple'', search) against captures.search.';
COMMENT ON COLUMN captures_search_watch.search_like IS 'ILIKE pattern also matched against path and id (NULL: none).';
COMMENT ON COLUMN captures_search_watch.search_method IS 'HTTP method the search names, also matched against method (NULL: none).';
COMMENT ON COLUMN captures_search_watch.added_at IS 'When the search was first watched.';
COMMENT ON COLUMN captures_search_watch.used_at IS 'When its statistics were last read (to the hour).';
COMMENT ON COLUMN captures_search_watch.built_from IS 'captures_rollup_searches holds this search''s hours from here to captures_rollup_state.rolled_until (NULL: none yet).';

-- Whether a capture (its search, path, id and method) matches a search as
-- where_search in dashboard_fcgi/queries.c does: the words, or the ILIKE
-- pattern in the path or id, or the method named. Inlined by the planner,
-- so the GIN and trigram indexes still serve it.
CREATE FUNCTION capture_search_matches(c_search tsvector, c_path text, c_id uuid, c_method text,
                                       p_search text, p_search_like text, p_search_method text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT c_search @@ websearch_to_tsquery('simple', p_search)
        OR (p_search_like IS NOT NULL AND (c_path ILIKE p_search_like OR c_id::text ILIKE p_search_like))
        OR (p_search_method IS NOT NULL AND c_method = p_search_method)
$$;
COMMENT ON FUNCTION capture_search_matches(tsvector, text, uuid, text, text, text, text) IS 'Whether a capture''s search vector, path, id and method match a search (text, ILIKE pattern for path and id, method; the last two NULL: not matched), as the dashboard matches it; inlined, so indexes serve it.';

-- The watch of a search (text, ILIKE pattern, method), or NULL.
CREATE FUNCTION captures_search_watch_of(p_search text, p_search_like text, p_search_method text)
RETURNS captures_search_watch LANGUAGE sql STABLE AS $$
    SELECT * FROM captures_search_watch w
    WHERE w.search = p_search AND coalesce(w.search_like, '') = coalesce(p_search_like, '')
      AND coalesce(w.search_method, '') = coalesce(p_search_method, '')
$$;
COMMENT ON FUNCTION captures_search_watch_of(text, text, text) IS 'The captures_search_watch row of a search (text, ILIKE pattern, method), or NULL.';

-- --- the rollup by search ----------------------------------------------------------
CREATE TABLE captures_rollup_searches (
    period            text             NOT NULL CHECK (period IN ('hour', 'day')),
    at                timestamptz      NOT NULL,
    watch             integer          NOT NULL REFERENCES captures_search_watch ON DELETE CASCADE,
    model             text,
    requests          bigint           NOT NULL,
    ok                bigint           NOT NULL,
    client_4xx        bigint           NOT NULL,
    server_5xx        bigint           NOT NULL,
    failed            bigint           NOT NULL,
    duration_sum      double precision,
    duration_count    bigint           NOT NULL,
    duration_max      double precision,
    ttfb_sum          double precision,
    ttfb_count        bigint           NOT NULL,
    prompt_tokens     bigint           NOT NULL,
    completion_tokens bigint           NOT NULL,
    first_at          timestamptz      NOT NULL,
    last_at           timestamptz      NOT NULL,
    latency_buckets   smallint[]       NOT NULL,
    latency_counts    integer[]        NOT NULL,
    cost_usd          double precision,
    unpriced          bigint           NOT NULL
);
CREATE INDEX captures_rollup_searches_at_idx ON captures_rollup_searches (watch, period, at);
COMMENT ON TABLE captures_rollup_searches IS 'The captures matching a watched search (captures_search_watch) summed per UTC hour or day and model, for /api/stats with that search; rebuilt from captures by captures_rollup_refresh(), never edited by hand.';
COMMENT ON INDEX captures_rollup_searches_at_idx IS 'The rows of a search in a time range.';
COMMENT ON COLUMN captures_rollup_searches.period IS 'hour or day: the width of the row''s slice of time.';
COMMENT ON COLUMN captures_rollup_searches.at IS 'Start of the UTC hour or day.';
COMMENT ON COLUMN captures_rollup_searches.watch IS 'The search (captures_search_watch.id).';
COMMENT ON COLUMN captures_rollup_searches.model IS 'The captures'' model (NULL for calls without one).';
COMMENT ON COLUMN captures_rollup_searches.requests IS 'Number of captures.';
COMMENT ON COLUMN captures_rollup_searches.ok IS 'Captures with status < 400 and outcome completed.';
COMMENT ON COLUMN captures_rollup_searches.client_4xx IS 'Captures with status 400-499.';
COMMENT ON COLUMN captures_rollup_searches.server_5xx IS 'Captures with status >= 500.';
COMMENT ON COLUMN captures_rollup_searches.failed IS 'Captures with status >= 400 or an outcome other than completed.';
COMMENT ON COLUMN captures_rollup_searches.duration_sum IS 'Sum of duration_ms.';
COMMENT ON COLUMN captures_rollup_searches.duration_count IS 'Captures with a duration_ms.';
COMMENT ON COLUMN captures_rollup_searches.duration_max IS 'Largest duration_ms.';
COMMENT ON COLUMN captures_rollup_searches.ttfb_sum IS 'Sum of ttfb_ms.';
COMMENT ON COLUMN captures_rollup_searches.ttfb_count IS 'Captures with a ttfb_ms.';
COMMENT ON COLUMN captures_rollup_searches.prompt_tokens IS 'Sum of prompt_tokens.';
COMMENT ON COLUMN captures_rollup_searches.completion_tokens IS 'Sum of completion_tokens.';
COMMENT ON COLUMN captures_rollup_searches.first_at IS 'Earliest started_at.';
COMMENT ON COLUMN captures_rollup_searches.last_at IS 'Latest started_at.';
COMMENT ON COLUMN captures_rollup_searches.latency_buckets IS 'Latency histogram: the non-empty buckets (capture_latency_bucket), ascending.';
COMMENT ON COLUMN captures_rollup_searches.latency_counts IS 'Latency histogram: the captures in each of latency_buckets.';
COMMENT ON COLUMN captures_rollup_searches.cost_usd IS 'USD of the captures with token usage and a price in model_prices (NULL when none had both).';
COMMENT ON COLUMN captures_rollup_searches.unpriced IS 'Captures with token usage whose model has no price: left out of cost_usd.';

-- Rebuilds the captures_rollup_searches hour rows of [lo, hi) (whole hours)
-- of watch w, then the day rows of the days they touch from the hour rows.
-- Planned per call (the search is then a constant to the planner: the GIN
-- index and the partitions of [lo, hi) only). Returns the number of hour
-- rows written.
CREATE FUNCTION captures_rollup_search_build(w captures_search_watch, lo timestamptz, hi timestamptz)
RETURNS bigint LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    written bigint;
    d0 timestamptz := capture_day(lo);
    d1 timestamptz := capture_day(hi - interval '1 microsecond') + interval '1 day';
BEGIN
    DELETE FROM captures_rollup_searches
    WHERE watch = w.id AND period = 'hour' AND at >= lo AND at < hi;
    WITH raw AS MATERIALIZED (
        SELECT capture_hour(c.started_at) AS at, c.model, c.status, c.outcome, c.duration_ms, c.ttfb_ms,
               c.prompt_tokens, c.cached_tokens, c.completion_tokens, c.started_at,
               c.prompt_tokens IS NOT NULL OR c.completion_tokens IS NOT NULL AS used
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < hi
          AND capture_search_matches(c.search, c.path, c.id, c.method,
                                     w.search, w.search_like, w.search_method)),
    lat AS (
        SELECT at, model, array_agg(b ORDER BY b) AS bs, array_agg(k ORDER BY b) AS ns
        FROM (SELECT at, model, capture_latency_bucket(duration_ms) AS b, count(*)::integer AS k
              FROM raw WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3) x
        GROUP BY 1, 2),
    agg AS (
        SELECT at, model, count(*) AS requests,
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
        FROM raw GROUP BY 1, 2)
    INSERT INTO captures_rollup_searches
    SELECT 'hour', a.at, w.id, a.model, a.requests, a.ok, a.client_4xx, a.server_5xx, a.failed,
           a.duration_sum, a.duration_count, a.duration_max, a.ttfb_sum, a.ttfb_count,
           a.prompt_tokens, a.completion_tokens, a.first_at, a.last_at,
           coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}'),
           CASE WHEN a.used > 0 THEN capture_cost_tokens(pr.input_per_mtok, pr.cached_input_per_mtok,
                pr.output_per_mtok, a.prompt_tokens, a.cached, a.completion_tokens)::float8 END,
           CASE WHEN pr.input_per_mtok IS NULL THEN a.used ELSE 0 END
    FROM agg a
    LEFT JOIN lat ON lat.at = a.at AND lat.model IS NOT DISTINCT FROM a.model
    LEFT JOIN LATERAL capture_price_rows(a.model, a.at) pr ON true;
    GET DIAGNOSTICS written = ROW_COUNT;

    DELETE FROM captures_rollup_searches
    WHERE watch = w.id AND period = 'day' AND at >= d0 AND at < d1;
    WITH hr AS MATERIALIZED (
        SELECT * FROM captures_rollup_searches
        WHERE watch = w.id AND period = 'hour' AND at >= d0 AND at < d1),
    lat AS (
        SELECT d, model, array_agg(b ORDER BY b) AS bs, array_agg(k ORDER BY b) AS ns
        FROM (SELECT capture_day(at) AS d, model, u.b, sum(u.n)::integer AS k
              FROM hr, unnest(hr.latency_buckets, hr.latency_counts) AS u(b, n) GROUP BY 1, 2, 3) x
        GROUP BY 1, 2)
    INSERT INTO captures_rollup_searches
    SELECT 'day', s.d, w.id, s.model, s.requests, s.ok, s.client_4xx, s.server_5xx, s.failed,
           s.duration_sum, s.duration_count, s.duration_max, s.ttfb_sum, s.ttfb_count,
           s.prompt_tokens, s.completion_tokens, s.first_at, s.last_at,
           coalesce(lat.bs, '{}'), coalesce(lat.ns, '{}'), s.cost_usd, s.unpriced
    FROM (SELECT capture_day(at) AS d, model, sum(requests) AS requests, sum(ok) AS ok,
                 sum(client_4xx) AS client_4xx, sum(server_5xx) AS server_5xx, sum(failed) AS failed,
                 sum(duration_sum) AS duration_sum, sum(duration_count) AS duration_count,
                 max(duration_max) AS duration_max, sum(ttfb_sum) AS ttfb_sum,
                 sum(ttfb_count) AS ttfb_count, sum(prompt_tokens) AS prompt_tokens,
                 sum(completion_tokens) AS completion_tokens, min(first_at) AS first_at,
                 max(last_at) AS last_at, sum(cost_usd) AS cost_usd, sum(unpriced) AS unpriced
          FROM hr GROUP BY 1, 2) s
    LEFT JOIN lat ON lat.d = s.d AND lat.model IS NOT DISTINCT FROM s.model;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_search_build(captures_search_watch, timestamptz, timestamptz) IS 'Rebuilds the captures_rollup_searches hour rows of [lo, hi) of watch w from captures and the day rows of the days they touch; returns the hour rows written.';

-- Rebuilds the rows of [lo, hi) of watch p_watch, or (NULL) of every watch
-- from where it starts (built_from; not yet started: none). Returns the
-- hour rows written.
CREATE FUNCTION captures_rollup_searches_build(lo timestamptz, hi timestamptz,
                                               p_watch integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    w captures_search_watch;
    wlo timestamptz;
    written bigint := 0;
BEGIN
    -- KEY SHARE: a watch deleted meanwhile (by hand) is skipped, not a
    -- foreign key error, and a delete waits for the build
    FOR w IN SELECT * FROM captures_search_watch
             WHERE id = p_watch OR (p_watch IS NULL AND built_from IS NOT NULL) ORDER BY id
             FOR KEY SHARE
    LOOP
        wlo := CASE WHEN p_watch IS NULL THEN greatest(lo, w.built_from) ELSE lo END;
        CONTINUE WHEN wlo >= hi;
        written := written + captures_rollup_search_build(w, wlo, hi);
    END LOOP;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_searches_build(timestamptz, timestamptz, integer) IS 'Rebuilds the captures_rollup_searches hour rows of [lo, hi) of watch p_watch, or (NULL) of every watch from its built_from on, and the day rows of the days they touch; returns the hour rows written.';

-- As in 011_rollup_calls.sql, and the watched searches too; captures_rollup
-- first. Each build reads the captures committed when it starts: a capture
-- committed in between is then in the later rollups and missing from
-- captures_rollup, whose hour captures_rollup_fix() (comparing it with the
-- captures) rebuilds. Built last, captures_rollup could hold a capture the
-- others miss, and nothing would notice.
CREATE OR REPLACE FUNCTION captures_rollup_build(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint := captures_rollup_models_build(lo, hi);
BEGIN
    PERFORM captures_rollup_calls_build(lo, hi);
    PERFORM captures_rollup_searches_build(lo, hi);
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_build(timestamptz, timestamptz) IS 'Rebuilds every rollup (captures_rollup, captures_rollup_groups, captures_rollup_calls, captures_rollup_searches) for the hours of [lo, hi) and the days they touch; returns the captures_rollup hour rows written.';

-- Fills in the hours of the watched searches before their watch began, a day
-- at a time, newest first, back to the hour of the oldest capture, for at
-- most `budget` (a refresh runs every few seconds: a search of a million
-- captures is filled in over a few runs). A new watch (built_from NULL)
-- starts from p_until (captures_rollup_state.rolled_until, just brought up
-- to date by the caller, which holds the rollup lock). Returns the hour
-- rows written.
CREATE FUNCTION captures_rollup_searches_backfill(p_until timestamptz, oldest timestamptz, budget interval)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    w captures_search_watch;
    t0 timestamptz := clock_timestamp();
    lo timestamptz;
    written bigint := 0;
BEGIN
    UPDATE captures_search_watch SET built_from = p_until WHERE built_from IS NULL AND p_until IS NOT NULL;
    FOR w IN SELECT * FROM captures_search_watch WHERE built_from > oldest ORDER BY used_at DESC, id
    LOOP
        WHILE w.built_from > oldest AND clock_timestamp() - t0 < budget LOOP
            lo := greatest(capture_day(w.built_from - interval '1 microsecond'), oldest);
            written := written + captures_rollup_searches_build(lo, w.built_from, w.id);
            w.built_from := lo;
            UPDATE captures_search_watch SET built_from = lo WHERE id = w.id;
            EXIT WHEN NOT FOUND; -- deleted by hand meanwhile
        END LOOP;
    END LOOP;
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_searches_backfill(timestamptz, timestamptz, interval) IS 'Builds the captures_rollup_searches rows of the watched searches back from their built_from towards oldest, a UTC day at a time, for at most budget; a new watch starts from p_until. Returns the hour rows written.';

-- As in 011_rollup_calls.sql, and the watched searches: watches unused for
-- 30 days and all but the 100 most recently used go (only the refresh
-- deletes watches, so no build meets a watch deleted under it), their rows
-- before the oldest capture go, a rebuild of every hour (rolled_until NULL,
-- after a price change) starts them all again, and each run starts the new
-- watches where the rollups end and fills in their older hours for up to a
-- second.
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
    BEGIN
        LOCK TABLE model_prices IN SHARE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RETURN 0;
    END;
    SELECT * INTO st FROM captures_rollup_state;
    was := st;
    IF st.rolled_until IS NULL THEN
        SELECT capture_hour(min(started_at)) INTO oldest FROM captures;
        st.rolled_until := least(coalesce(oldest, target), target);
        -- the searches start again from where the rebuild ends (backfill)
        UPDATE captures_search_watch SET built_from = NULL;
    END IF;
    DELETE FROM captures_search_watch WHERE used_at < now() - interval '30 days';
    DELETE FROM captures_search_watch
    WHERE id IN (SELECT id FROM captures_search_watch ORDER BY used_at DESC, id DESC OFFSET 100);
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
        DELETE FROM captures_rollup_calls
        WHERE (period = 'hour' AND at < oldest) OR (period = 'day' AND at < capture_day(oldest));
        DELETE FROM captures_rollup_searches
        WHERE (period = 'hour' AND at < oldest) OR (period = 'day' AND at < capture_day(oldest));
        written := written + captures_rollup_fix(oldest, st.rolled_until);
        st.checked_at := now();
    END IF;
    IF st IS DISTINCT FROM was THEN
        UPDATE captures_rollup_state SET rolled_until = st.rolled_until, checked_at = st.checked_at;
    END IF;
    written := written + captures_rollup_searches_backfill(st.rolled_until,
        (SELECT capture_hour(min(started_at)) FROM captures), interval '1 second');
    RETURN written;
END $$;
COMMENT ON FUNCTION captures_rollup_refresh(boolean) IS 'Brings every rollup up to the hour that ended 10 minutes ago and corrects the last hours; cheap when nothing changed. Hourly, or with check_all = true (after a bulk load), compares every hour with captures. Keeps the watched searches (captures_search_watch): drops the unused, fills in older hours for up to a second. Call every few seconds (the proxy''s maintenance thread does); returns the hour rows written.';

-- --- watching a search ---------------------------------------------------------------
-- The dashboard calls it (in a read-write transaction of its own) after
-- statistics of a search that summed many captures; on a read-only replica
-- the call fails and the search is not watched.
CREATE FUNCTION captures_search_watch(p_search text, p_search_like text, p_search_method text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    known integer;
BEGIN
    SELECT w.id INTO known FROM captures_search_watch_of(p_search, p_search_like, p_search_method) w;
    IF known IS NOT NULL THEN
        -- used_at to the hour, so a search read every few seconds writes
        -- nothing; never waiting for a refresh that holds the row
        UPDATE captures_search_watch SET used_at = now()
        WHERE id = (SELECT id FROM captures_search_watch
                    WHERE id = known AND used_at < now() - interval '1 hour'
                    FOR NO KEY UPDATE SKIP LOCKED);
        RETURN;
    END IF;
    -- built_from is left to the refresh (under its lock): set here, a
    -- refresh running meanwhile could roll up hours past it without this watch
    INSERT INTO captures_search_watch (search, search_like, search_method)
    VALUES (p_search, p_search_like, p_search_method)
    ON CONFLICT DO NOTHING;
END $$;
COMMENT ON FUNCTION captures_search_watch(text, text, text) IS 'Records that the statistics of a search (text, ILIKE pattern, method) were read: a new watch, which the next captures_rollup_refresh() starts to build, or a fresher used_at.';

-- Whether the rollup of a search reaches back to p_from (NULL: the oldest
-- capture): the statistics then read it, else they read the captures; and
-- whether its watch's used_at is over an hour old (the dashboard then
-- writes it, and only then: captures_search_watch).
CREATE FUNCTION captures_search_rolled(p_search text, p_search_like text, p_search_method text,
                                       p_from timestamptz)
RETURNS TABLE (rolled boolean, stale boolean) LANGUAGE sql STABLE AS $$
    -- the statistics read the captures up to the first whole hour of the
    -- range anyway; the oldest capture is looked up only when needed
    SELECT coalesce(w.built_from < s.rolled_until
                    AND (w.built_from <= capture_hour(p_from - interval '1 microsecond') + interval '1 hour'
                         OR w.built_from <= (SELECT capture_hour(min(c.started_at)) FROM captures c)),
                    false),
           coalesce(w.used_at < now() - interval '1 hour', false)
    FROM captures_search_watch_of(p_search, p_search_like, p_search_method) w, captures_rollup_state s
$$;
COMMENT ON FUNCTION captures_search_rolled(text, text, text, timestamptz) IS 'rolled: captures_rollup_searches holds the search (text, ILIKE pattern, method) from the first whole hour after p_from (or from the oldest capture) to captures_rollup_state.rolled_until; stale: its watch was last marked used over an hour ago.';

-- --- statistics ------------------------------------------------------------------
-- As in 011_rollup_calls.sql (planned per call, as 013_stats_custom_plans.sql
-- set), and with p_search, p_search_like and p_search_method (a search as
-- where_search in dashboard_fcgi/queries.c matches it) set, from
-- captures_rollup_searches from the watch's built_from (not split by instance,
-- streamed, method or path: those must then be NULL).
DROP FUNCTION captures_stats_totals(timestamptz, timestamptz, text, text, boolean, text, text);
CREATE FUNCTION captures_stats_totals(p_from timestamptz, p_to timestamptz, p_model text,
                                      p_instance text DEFAULT NULL, p_streamed boolean DEFAULT NULL,
                                      p_method text DEFAULT NULL, p_path text DEFAULT NULL,
                                      p_search text DEFAULT NULL, p_search_like text DEFAULT NULL,
                                      p_search_method text DEFAULT NULL)
RETURNS TABLE (requests bigint, ok bigint, client_4xx bigint, server_5xx bigint, failed bigint,
               avg_ms double precision, p50_ms double precision, p95_ms double precision,
               avg_ttfb double precision, prompt_tokens bigint, completion_tokens bigint,
               first_ms bigint, last_ms bigint)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    d0 timestamptz := capture_day(h0 - interval '1 microsecond') + interval '1 day';
    d1 timestamptz := greatest(d0, capture_day(h1));
    by_call boolean := p_streamed IS NOT NULL OR p_method IS NOT NULL OR p_path IS NOT NULL;
    by_search boolean := p_search IS NOT NULL;
    sw_id integer;
    sw_from timestamptz;
BEGIN
    IF by_call AND p_instance IS NOT NULL THEN
        RAISE EXCEPTION 'captures_stats_totals: captures_rollup_calls is not split by instance';
    END IF;
    IF by_search AND (by_call OR p_instance IS NOT NULL) THEN
        RAISE EXCEPTION 'captures_stats_totals: captures_rollup_searches is split by model only';
    END IF;
    -- a search reads its rollup from where it was built (none: all from the captures)
    IF by_search THEN
        SELECT w.id, w.built_from INTO sw_id, sw_from
        FROM captures_search_watch_of(p_search, p_search_like, p_search_method) w;
        h0 := greatest(h0, coalesce(sw_from, 'infinity'));
        h1 := greatest(h0, h1);
        d0 := capture_day(h0 - interval '1 microsecond') + interval '1 day';
        d1 := greatest(d0, capture_day(h1));
    END IF;
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
          AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
          AND (p_search IS NULL OR capture_search_matches(c.search, c.path, c.id, c.method,
                                                          p_search, p_search_like, p_search_method));
        RETURN;
    END IF;
    RETURN QUERY
    WITH raw AS MATERIALIZED (
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= lo AND c.started_at < least(h0, hi)
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
          AND (p_search IS NULL OR capture_search_matches(c.search, c.path, c.id, c.method,
                                                          p_search, p_search_like, p_search_method))
        UNION ALL
        SELECT c.status, c.outcome, c.duration_ms, c.ttfb_ms, c.prompt_tokens, c.completion_tokens, c.started_at
        FROM captures c
        WHERE c.started_at >= h1 AND c.started_at < hi
          AND (p_model IS NULL OR c.model = p_model) AND (p_instance IS NULL OR c.instance = p_instance)
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
          AND (p_search IS NULL OR capture_search_matches(c.search, c.path, c.id, c.method,
                                                          p_search, p_search_like, p_search_method))),
    sums AS MATERIALIZED (
        -- the rollup rows of [h0, h1): whole days (for the histogram) or the hours around them
        SELECT r.period, r.at, r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum,
               r.duration_count, r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens,
               r.first_at, r.last_at, r.latency_buckets, r.latency_counts
        FROM captures_rollup r
        WHERE NOT by_call AND NOT by_search AND r.by_instance = (p_instance IS NOT NULL)
          AND (p_instance IS NULL OR r.instance = p_instance) AND (p_model IS NULL OR r.model = p_model)
          AND ((r.period = 'hour' AND r.at >= h0 AND r.at < h1) OR (r.period = 'day' AND r.at >= d0 AND r.at < d1))
        UNION ALL
        SELECT r.period, r.at, r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum,
               r.duration_count, r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens,
               r.first_at, r.last_at, r.latency_buckets, r.latency_counts
        FROM captures_rollup_calls r
        WHERE by_call AND (p_model IS NULL OR r.model = p_model)
          AND (p_streamed IS NULL OR r.streamed = p_streamed) AND (p_method IS NULL OR r.method = p_method)
          AND (p_path IS NULL OR r.path ILIKE p_path)
          AND ((r.period = 'hour' AND r.at >= h0 AND r.at < h1) OR (r.period = 'day' AND r.at >= d0 AND r.at < d1))
        UNION ALL
        SELECT r.period, r.at, r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum,
               r.duration_count, r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens,
               r.first_at, r.last_at, r.latency_buckets, r.latency_counts
        FROM captures_rollup_searches r
        WHERE by_search AND r.watch = sw_id AND (p_model IS NULL OR r.model = p_model)
          AND ((r.period = 'hour' AND r.at >= h0 AND r.at < h1) OR (r.period = 'day' AND r.at >= d0 AND r.at < d1))),
    parts AS (
        SELECT r.requests, r.ok, r.client_4xx, r.server_5xx, r.failed, r.duration_sum, r.duration_count,
               r.ttfb_sum, r.ttfb_count, r.prompt_tokens, r.completion_tokens, r.first_at, r.last_at
        FROM sums r WHERE r.period = 'hour'
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
            FROM sums r, unnest(r.latency_buckets, r.latency_counts) AS u(b, n)
            WHERE r.period = 'day' OR r.at < d0 OR r.at >= d1
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
COMMENT ON FUNCTION captures_stats_totals(timestamptz, timestamptz, text, text, boolean, text, text, text, text, text) IS 'The /api/stats totals of the captures in [p_from, p_to) (NULL: unbounded) of one model, instance, streamed, method, path pattern (ILIKE) and search (text, ILIKE pattern, method) (NULL: all), from captures_rollup (with streamed, method or path, captures_rollup_calls, which has no instance; with a watched search, captures_rollup_searches, split by model only) where it reaches; p50/p95 then from its latency histograms (within 3 %).';

DROP FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer, text, boolean, text, text);
CREATE FUNCTION captures_stats_groups(p_from timestamptz, p_to timestamptz, p_model text,
                                      bucket_s bigint, models_max integer, p_instance text DEFAULT NULL,
                                      p_streamed boolean DEFAULT NULL, p_method text DEFAULT NULL,
                                      p_path text DEFAULT NULL, p_search text DEFAULT NULL,
                                      p_search_like text DEFAULT NULL, p_search_method text DEFAULT NULL)
RETURNS TABLE (set integer, model text, bucket bigint, requests bigint, failed bigint,
               avg_ms double precision, max_ms double precision, prompt_tokens bigint,
               completion_tokens bigint, rank bigint, cost_usd numeric, unpriced bigint)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    oldest timestamptz := (SELECT min(c.started_at) FROM captures c);
    lo timestamptz := greatest(coalesce(p_from, '-infinity'), oldest);
    hi timestamptz := coalesce(p_to, 'infinity');
    h0 timestamptz := capture_hour(lo - interval '1 microsecond') + interval '1 hour';
    h1 timestamptz := greatest(h0, least(coalesce((SELECT s.rolled_until FROM captures_rollup_state s),
                                                  '-infinity'), capture_hour(hi)));
    width interval := make_interval(secs => bucket_s);
    by_call boolean := p_streamed IS NOT NULL OR p_method IS NOT NULL OR p_path IS NOT NULL;
    by_search boolean := p_search IS NOT NULL;
    sw_id integer;
    sw_from timestamptz;
BEGIN
    IF by_call AND p_instance IS NOT NULL THEN
        RAISE EXCEPTION 'captures_stats_groups: captures_rollup_calls is not split by instance';
    END IF;
    IF by_search AND (by_call OR p_instance IS NOT NULL) THEN
        RAISE EXCEPTION 'captures_stats_groups: captures_rollup_searches is split by model only';
    END IF;
    -- a search reads its rollup from where it was built (none: all from the captures)
    IF by_search THEN
        SELECT w.id, w.built_from INTO sw_id, sw_from
        FROM captures_search_watch_of(p_search, p_search_like, p_search_method) w;
        h0 := greatest(h0, coalesce(sw_from, 'infinity'));
        h1 := greatest(h0, h1);
    END IF;
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
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
          AND (p_search IS NULL OR capture_search_matches(c.search, c.path, c.id, c.method,
                                                          p_search, p_search_like, p_search_method))
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
          AND (p_streamed IS NULL OR c.streamed = p_streamed) AND (p_method IS NULL OR c.method = p_method)
          AND (p_path IS NULL OR c.path ILIKE p_path)
          AND (p_search IS NULL OR capture_search_matches(c.search, c.path, c.id, c.method,
                                                          p_search, p_search_like, p_search_method))
        GROUP BY 1, 2, 3),
    g AS (
        SELECT r.model, date_bin(width, r.at, timestamptz 'epoch') AS t, r.requests AS n, r.failed,
               r.duration_sum, r.duration_count, r.duration_max, r.prompt_tokens, r.completion_tokens,
               r.cost_usd, r.unpriced
        FROM captures_rollup r
        WHERE NOT by_call AND NOT by_search AND r.period = 'hour' AND r.by_instance = (p_instance IS NOT NULL)
          AND (p_instance IS NULL OR r.instance = p_instance) AND r.at >= h0 AND r.at < h1
          AND (p_model IS NULL OR r.model = p_model)
        UNION ALL
        SELECT r.model, date_bin(width, r.at, timestamptz 'epoch'), r.requests, r.failed,
               r.duration_sum, r.duration_count, r.duration_max, r.prompt_tokens, r.completion_tokens,
               r.cost_usd, r.unpriced
        FROM captures_rollup_calls r
        WHERE by_call AND r.period = 'hour' AND r.at >= h0 AND r.at < h1
          AND (p_model IS NULL OR r.model = p_model)
          AND (p_streamed IS NULL OR r.streamed = p_streamed) AND (p_method IS NULL OR r.method = p_method)
          AND (p_path IS NULL OR r.path ILIKE p_path)
        UNION ALL
        SELECT r.model, date_bin(width, r.at, timestamptz 'epoch'), r.requests, r.failed,
               r.duration_sum, r.duration_count, r.duration_max, r.prompt_tokens, r.completion_tokens,
               r.cost_usd, r.unpriced
        FROM captures_rollup_searches r
        WHERE by_search AND r.watch = sw_id AND r.period = 'hour' AND r.at >= h0 AND r.at < h1
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
COMMENT ON FUNCTION captures_stats_groups(timestamptz, timestamptz, text, bigint, integer, text, boolean, text, text, text, text, text) IS 'The /api/stats rows per model (set 1, the models_max busiest), per time bucket of bucket_s seconds (set 2) and for the whole range (set 3, with cost_usd and unpriced) of the captures in [p_from, p_to) of one model, instance, streamed, method, path pattern (ILIKE) and search (text, ILIKE pattern, method) (NULL: all), from captures_rollup (with streamed, method or path, captures_rollup_calls, which has no instance; with a watched search, captures_rollup_searches, split by model only) where it reaches.';
