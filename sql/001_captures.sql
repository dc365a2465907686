-- 001_captures.sql - the captures table: one row per request proxied to the OpenAI API.
--
-- Partitioned by day on started_at so that age-based retention drops whole
-- partitions; capture_partitions_ensure() creates them ahead of time.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE captures (
    id                      uuid        NOT NULL,
    started_at              timestamptz NOT NULL,
    instance                text,
    client_addr             text,
    method                  text        NOT NULL,
    path                    text        NOT NULL,
    query                   text,
    request_headers         jsonb       NOT NULL DEFAULT '[]',
    request_content_type    text,
    request_body            text,
    request_body_bin        bytea,
    request_body_size       bigint      NOT NULL DEFAULT 0,
    request_body_truncated  boolean     NOT NULL DEFAULT false,
    status                  integer,
    response_headers        jsonb       NOT NULL DEFAULT '[]',
    response_content_type   text,
    response_body           text,
    response_body_bin       bytea,
    response_body_size      bigint      NOT NULL DEFAULT 0,
    response_body_truncated boolean     NOT NULL DEFAULT false,
    streamed                boolean     NOT NULL DEFAULT false,
    sse_events              integer,
    reply_text              text,
    model                   text,
    prompt_tokens           integer,
    completion_tokens       integer,
    total_tokens            integer,
    cached_tokens           integer,
    reasoning_tokens        integer,
    finish_reason           text,
    outcome                 text        NOT NULL,
    error                   text,
    ttfb_ms                 double precision,
    duration_ms             double precision,
    key_hint                text,
    key_fingerprint         text,
    search_text             text,
    search                  tsvector GENERATED ALWAYS AS
                            (to_tsvector('simple', left(coalesce(search_text, ''), 100000))) STORED,
    PRIMARY KEY (id, started_at),
    CONSTRAINT captures_outcome_check CHECK (outcome IN
        ('completed', 'upstream_error', 'unreachable', 'timeout',
         'client_aborted', 'rejected', 'proxy_error'))
) PARTITION BY RANGE (started_at);

CREATE TABLE captures_default PARTITION OF captures DEFAULT;

CREATE INDEX captures_started_idx ON captures (started_at, id);
CREATE INDEX captures_search_idx ON captures USING gin (search);

COMMENT ON TABLE captures IS 'One row per request proxied to the OpenAI API: what was asked, what came back, timing, tokens and how the call ended. Partitioned by day on started_at.';
COMMENT ON COLUMN captures.id IS 'Capture id (UUID v7, time-ordered); the X-Capture-Id header of the proxied response.';
COMMENT ON COLUMN captures.started_at IS 'When the proxy received the request.';
COMMENT ON COLUMN captures.instance IS 'Which proxy instance captured it (INSTANCE_NAME, default the host name).';
COMMENT ON COLUMN captures.client_addr IS 'Address of the client that sent the request.';
COMMENT ON COLUMN captures.method IS 'HTTP method of the request.';
COMMENT ON COLUMN captures.path IS 'Request path, e.g. /v1/chat/completions (without the query string).';
COMMENT ON COLUMN captures.query IS 'Query string without the leading ?, key-bearing parameters masked; NULL if none.';
COMMENT ON COLUMN captures.request_headers IS 'Request headers as a JSON array of [name, value] pairs in arrival order; API keys masked when MASK_API_KEY_IN_LOGS is on.';
COMMENT ON COLUMN captures.request_content_type IS 'Content-Type of the request body.';
COMMENT ON COLUMN captures.request_body IS 'Request body as text when it is valid UTF-8 without NUL bytes (most JSON); otherwise NULL and the bytes are in request_body_bin. Cut at CAPTURE_BODY_MAX bytes.';
COMMENT ON COLUMN captures.request_body_bin IS 'Request body bytes when they are not valid UTF-8 text (multipart audio uploads, binary); NULL otherwise.';
COMMENT ON COLUMN captures.request_body_size IS 'True size of the request body in bytes, even when the stored body was cut.';
COMMENT ON COLUMN captures.request_body_truncated IS 'True when the stored request body was cut at CAPTURE_BODY_MAX.';
COMMENT ON COLUMN captures.status IS 'HTTP status the client received (from the upstream, or the proxy''s own 4xx/5xx when the upstream gave none).';
COMMENT ON COLUMN captures.response_headers IS 'Response headers as a JSON array of [name, value] pairs, as the upstream sent them.';
COMMENT ON COLUMN captures.response_content_type IS 'Content-Type of the response body.';
COMMENT ON COLUMN captures.response_body IS 'Response body as text (decoded if the upstream compressed it) when valid UTF-8 without NUL; for streams the raw server-sent events. Cut at CAPTURE_BODY_MAX bytes.';
COMMENT ON COLUMN captures.response_body_bin IS 'Response body bytes when they are not valid UTF-8 text (audio, images); NULL otherwise.';
COMMENT ON COLUMN captures.response_body_size IS 'True size of the response body in bytes, even when the stored body was cut.';
COMMENT ON COLUMN captures.response_body_truncated IS 'True when the stored response body was cut at CAPTURE_BODY_MAX.';
COMMENT ON COLUMN captures.streamed IS 'True when the response was a text/event-stream (stream: true).';
COMMENT ON COLUMN captures.sse_events IS 'Number of server-sent events in a streamed response; NULL if not streamed.';
COMMENT ON COLUMN captures.reply_text IS 'The model''s reply as text: assembled from the deltas of a stream, or taken from a JSON response.';
COMMENT ON COLUMN captures.model IS 'Model named by the response, or by the request when the response named none.';
COMMENT ON COLUMN captures.prompt_tokens IS 'Input tokens (prompt_tokens or input_tokens) reported by the upstream; NULL when it reported none.';
COMMENT ON COLUMN captures.completion_tokens IS 'Output tokens (completion_tokens or output_tokens) reported by the upstream; NULL when it reported none.';
COMMENT ON COLUMN captures.total_tokens IS 'Total tokens reported by the upstream; NULL when it reported none.';
COMMENT ON COLUMN captures.cached_tokens IS 'Input tokens served from the prompt cache; NULL when not reported.';
COMMENT ON COLUMN captures.reasoning_tokens IS 'Output tokens spent on reasoning; NULL when not reported.';
COMMENT ON COLUMN captures.finish_reason IS 'Why the model stopped (stop, length, tool_calls, ...) or the Responses API status.';
COMMENT ON COLUMN captures.outcome IS 'How the call ended: completed (2xx/3xx from upstream), upstream_error (upstream 4xx/5xx or cut-off stream), unreachable, timeout, client_aborted, rejected (refused by the proxy, e.g. 413), proxy_error.';
COMMENT ON COLUMN captures.error IS 'What went wrong, in words, when the outcome is not completed.';
COMMENT ON COLUMN captures.ttfb_ms IS 'Milliseconds from receiving the request to the first response byte from the upstream.';
COMMENT ON COLUMN captures.duration_ms IS 'Milliseconds from receiving the request to the end of the response.';
COMMENT ON COLUMN captures.key_hint IS 'Recognisable, unusable form of the API key used, e.g. sk-proj-…abcd.';
COMMENT ON COLUMN captures.key_fingerprint IS 'First 16 hex chars of the SHA-256 of the API key: groups calls by key without storing it.';
COMMENT ON COLUMN captures.search_text IS 'Text indexed for search: the request''s newest user turn (and what follows it), instructions, prompt or input, and the reply; no base64 data; capped. Earlier turns of a conversation are indexed with the call where they were new.';
COMMENT ON COLUMN captures.search IS 'Full-text vector (simple configuration, no stemming) over search_text; query with websearch_to_tsquery(''simple'', ...).';

-- Creates the daily partitions of a range of days (UTC) that do not exist
-- yet. Safe to call from several instances at once. Loading or replaying
-- old captures (make demo-data, a spool from last week) creates their days
-- too, so that age retention can drop them whole.
CREATE FUNCTION capture_partitions_create(first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date;
    made integer := 0;
    name text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('capture_partitions'));
    FOR d IN SELECT generate_series(first_day, last_day, interval '1 day')::date
    LOOP
        name := 'captures_p' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF captures FOR VALUES FROM (%L) TO (%L)',
                           name, d::timestamp AT TIME ZONE 'UTC',
                           (d + 1)::timestamp AT TIME ZONE 'UTC');
            made := made + 1;
        EXCEPTION WHEN others THEN
            -- rows for that day already sit in captures_default: leave them there
            RAISE NOTICE 'capture_partitions_create: %: %', name, SQLERRM;
        END;
    END LOOP;
    RETURN made;
END $$;
COMMENT ON FUNCTION capture_partitions_create(date, date) IS 'Creates the daily captures partitions from first_day to last_day (UTC) that do not exist yet; returns how many it created.';

CREATE FUNCTION capture_partitions_ensure(days_ahead integer DEFAULT 7)
RETURNS integer LANGUAGE sql AS $$
    SELECT capture_partitions_create((now() AT TIME ZONE 'UTC')::date - 1,
                                     (now() AT TIME ZONE 'UTC')::date + days_ahead)
$$;
COMMENT ON FUNCTION capture_partitions_ensure(integer) IS 'Creates daily captures partitions from yesterday to days_ahead days ahead; the proxy calls it at start and hourly.';

-- Deletes up to batch of the oldest captures beyond the newest keep rows.
-- Returns the number deleted; call again while it returns batch.
CREATE OR REPLACE FUNCTION captures_prune(keep bigint, batch integer DEFAULT 5000)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cut_at timestamptz;
    cut_id uuid;
    n bigint;
BEGIN
    IF keep <= 0 THEN
        RETURN 0;
    END IF;
    SELECT started_at, id INTO cut_at, cut_id FROM captures
        ORDER BY started_at DESC, id DESC OFFSET keep LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    DELETE FROM captures c
    USING (SELECT id, started_at FROM captures
           WHERE (started_at, id) <= (cut_at, cut_id)
           ORDER BY started_at, id LIMIT batch) old
    WHERE c.id = old.id AND c.started_at = old.started_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION captures_prune(bigint, integer) IS 'Deletes up to batch of the oldest captures beyond the newest keep (MAX_REQUESTS_HISTORY); run repeatedly by the proxy in the background.';

