-- 003_team.sql - attribution, prices and cost, age retention, and views for psql.
--
-- Attribution without secrets: optional X-Capture-User / -Session / -Tags
-- request headers (kept here, never sent upstream), the request body's
-- "user" field, and the key fingerprint already stored. Cost comes from
-- model_prices, a table to edit with plain SQL.

ALTER TABLE captures
    ADD COLUMN capture_user    text,
    ADD COLUMN capture_session text,
    ADD COLUMN capture_tags    text[],
    ADD COLUMN end_user        text;

COMMENT ON COLUMN captures.capture_user IS 'Who made the call, from the optional X-Capture-User request header (not sent upstream).';
COMMENT ON COLUMN captures.capture_session IS 'Session or conversation id, from the optional X-Capture-Session request header (not sent upstream).';
COMMENT ON COLUMN captures.capture_tags IS 'Tags from the optional X-Capture-Tags request header (comma-separated; not sent upstream).';
COMMENT ON COLUMN captures.end_user IS 'The "user" field of the request body, as the application sent it to OpenAI.';

CREATE INDEX captures_user_idx ON captures (capture_user, started_at, id) WHERE capture_user IS NOT NULL;
CREATE INDEX captures_instance_idx ON captures (instance, started_at, id);
COMMENT ON INDEX captures_user_idx IS 'Filter and group by X-Capture-User.';
COMMENT ON INDEX captures_instance_idx IS 'Filter and group by proxy instance.';

CREATE TABLE model_prices (
    model                 text    NOT NULL,
    valid_from            date    NOT NULL,
    input_per_mtok        numeric NOT NULL,
    cached_input_per_mtok numeric,
    output_per_mtok       numeric,
    source                text,
    PRIMARY KEY (model, valid_from)
);
COMMENT ON TABLE model_prices IS 'USD price per million tokens of each model from a date on; edit with SQL (INSERT a row with a later valid_from to change a price). A capture''s model matches a row by name, also with a date suffix (gpt-4o-2024-08-06 matches gpt-4o).';
COMMENT ON COLUMN model_prices.model IS 'Model name as OpenAI publishes it, without a date suffix.';
COMMENT ON COLUMN model_prices.valid_from IS 'First day (UTC) the price applies.';
COMMENT ON COLUMN model_prices.input_per_mtok IS 'USD per million input (prompt) tokens.';
COMMENT ON COLUMN model_prices.cached_input_per_mtok IS 'USD per million cached input tokens; NULL means the input price.';
COMMENT ON COLUMN model_prices.output_per_mtok IS 'USD per million output (completion) tokens; NULL for models without output (embeddings).';
COMMENT ON COLUMN model_prices.source IS 'Where the price comes from.';

INSERT INTO model_prices (model, valid_from, input_per_mtok, cached_input_per_mtok, output_per_mtok, source) VALUES
    ('gpt-5',                  '2025-08-07',  1.25, 0.125, 10.00, 'openai.com/api/pricing, 2025-08'),
    ('gpt-5-mini',             '2025-08-07',  0.25, 0.025,  2.00, 'openai.com/api/pricing, 2025-08'),
    ('gpt-5-nano',             '2025-08-07',  0.05, 0.005,  0.40, 'openai.com/api/pricing, 2025-08'),
    ('gpt-4.1',                '2025-04-14',  2.00, 0.50,   8.00, 'openai.com/api/pricing, 2025-04'),
    ('gpt-4.1-mini',           '2025-04-14',  0.40, 0.10,   1.60, 'openai.com/api/pricing, 2025-04'),
    ('gpt-4.1-nano',           '2025-04-14',  0.10, 0.025,  0.40, 'openai.com/api/pricing, 2025-04'),
    ('gpt-4o',                 '2024-10-01',  2.50, 1.25,  10.00, 'openai.com/api/pricing, 2024-10'),
    ('gpt-4o-mini',            '2024-07-18',  0.15, 0.075,  0.60, 'openai.com/api/pricing, 2024-07'),
    ('o3',                     '2025-06-10',  2.00, 0.50,   8.00, 'openai.com/api/pricing, 2025-06'),
    ('o3-mini',                '2025-01-31',  1.10, 0.55,   4.40, 'openai.com/api/pricing, 2025-01'),
    ('o4-mini',                '2025-04-16',  1.10, 0.275,  4.40, 'openai.com/api/pricing, 2025-04'),
    ('o1',                     '2024-12-17', 15.00, 7.50,  60.00, 'openai.com/api/pricing, 2024-12'),
    ('o1-mini',                '2024-09-12',  1.10, 0.55,   4.40, 'openai.com/api/pricing, 2025-01'),
    ('gpt-4-turbo',            '2024-04-09', 10.00, NULL,  30.00, 'openai.com/api/pricing, 2024-04'),
    ('gpt-4',                  '2023-03-14', 30.00, NULL,  60.00, 'openai.com/api/pricing, 2023-03'),
    ('gpt-3.5-turbo',          '2024-01-25',  0.50, NULL,   1.50, 'openai.com/api/pricing, 2024-01'),
    ('text-embedding-3-small', '2024-01-25',  0.02, NULL,   NULL, 'openai.com/api/pricing, 2024-01'),
    ('text-embedding-3-large', '2024-01-25',  0.13, NULL,   NULL, 'openai.com/api/pricing, 2024-01'),
    ('text-embedding-ada-002', '2022-12-15',  0.10, NULL,   NULL, 'openai.com/api/pricing, 2022-12');

-- The price row for a model at a time: exact name first, else the name
-- without a -YYYY-MM-DD suffix; the latest valid_from not after the call.
CREATE FUNCTION capture_price(p_model text, p_at timestamptz)
RETURNS model_prices LANGUAGE sql STABLE AS $$
    SELECT p.* FROM model_prices p
    WHERE p.model IN (p_model, regexp_replace(p_model, '-\d{4}-\d{2}-\d{2}$', ''))
      AND p.valid_from <= (p_at AT TIME ZONE 'UTC')::date
    ORDER BY p.model = p_model DESC, p.valid_from DESC
    LIMIT 1
$$;
COMMENT ON FUNCTION capture_price(text, timestamptz) IS 'The model_prices row that applies to a model at a time (exact name, else without its date suffix); NULL when unknown.';

-- USD cost of one call; NULL when the model has no price or no tokens were reported.
CREATE FUNCTION capture_cost(p_model text, p_at timestamptz, p_prompt bigint,
                             p_cached bigint, p_completion bigint)
RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT round((  (coalesce(p_prompt, 0) - coalesce(p_cached, 0)) * pr.input_per_mtok
                  + coalesce(p_cached, 0) * coalesce(pr.cached_input_per_mtok, pr.input_per_mtok)
                  + coalesce(p_completion, 0) * coalesce(pr.output_per_mtok, 0)) / 1000000, 8)
    FROM capture_price(p_model, p_at) pr
    WHERE pr.model IS NOT NULL AND (p_prompt IS NOT NULL OR p_completion IS NOT NULL)
$$;
COMMENT ON FUNCTION capture_cost(text, timestamptz, bigint, bigint, bigint) IS 'USD cost of a call from its model, time and token counts (cached input at the cached price); NULL for an unknown model or no usage.';

CREATE VIEW captures_cost AS
    SELECT c.*, capture_cost(c.model, c.started_at, c.prompt_tokens, c.cached_tokens,
                             c.completion_tokens) AS cost_usd
    FROM captures c;
COMMENT ON VIEW captures_cost IS 'Every capture with its cost_usd (NULL when the model has no price in model_prices).';

CREATE VIEW recent_calls AS
    SELECT started_at, id, instance, method, path, status, outcome, model, streamed,
           prompt_tokens, completion_tokens, round(duration_ms::numeric, 1) AS duration_ms,
           key_hint, capture_user, end_user,
           capture_cost(model, started_at, prompt_tokens, cached_tokens, completion_tokens) AS cost_usd,
           left(reply_text, 120) AS reply
    FROM captures
    ORDER BY started_at DESC, id DESC
    LIMIT 100;
COMMENT ON VIEW recent_calls IS 'The last 100 calls, newest first, with tokens, cost and the start of the reply.';

-- Tokens summed per (day, model) first: prices change by day, so cost is
-- worked out once per group instead of once per row.
CREATE VIEW usage_daily AS
    SELECT (started_at AT TIME ZONE 'UTC')::date AS day, model, key_fingerprint,
           coalesce(capture_user, end_user) AS user_name, instance,
           count(*) AS calls,
           count(*) FILTER (WHERE outcome <> 'completed' OR status >= 400) AS failed,
           sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
           sum(cached_tokens) AS cached_tokens, sum(duration_ms) AS total_ms,
           max(key_hint) AS key_hint, min(started_at) AS first_seen, max(started_at) AS last_seen
    FROM captures
    GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW usage_daily IS 'Calls and tokens per UTC day, model, key, user and instance: the base of the usage_by_* views.';

CREATE VIEW usage_daily_cost AS
    SELECT u.*, capture_cost(u.model, u.day::timestamp AT TIME ZONE 'UTC',
                             u.prompt_tokens, u.cached_tokens, u.completion_tokens) AS cost_usd
    FROM usage_daily u;
COMMENT ON VIEW usage_daily_cost IS 'usage_daily with the cost of each group (NULL when the model has no price).';

CREATE VIEW usage_by_model_day AS
    SELECT day, model, sum(calls) AS calls, sum(failed) AS failed,
           sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
           sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd,
           round((sum(total_ms) / sum(calls))::numeric, 1) AS avg_ms
    FROM usage_daily_cost
    GROUP BY day, model;
COMMENT ON VIEW usage_by_model_day IS 'Calls, failures, tokens, cost and average duration per UTC day and model; WHERE day >= ... keeps it fast.';

CREATE VIEW usage_by_key AS
    SELECT key_fingerprint, max(key_hint) AS key_hint, sum(calls) AS calls,
           sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
           sum(cost_usd) AS cost_usd, min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM usage_daily_cost
    GROUP BY key_fingerprint;
COMMENT ON VIEW usage_by_key IS 'Calls, tokens and cost per API key (by fingerprint; the hint shows which key).';

CREATE VIEW usage_by_user AS
    SELECT user_name, sum(calls) AS calls,
           sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
           sum(cost_usd) AS cost_usd, max(last_seen) AS last_seen
    FROM usage_daily_cost
    GROUP BY user_name;
COMMENT ON VIEW usage_by_user IS 'Calls, tokens and cost per user: X-Capture-User, else the body''s "user" field.';

CREATE VIEW errors AS
    SELECT started_at, id, instance, method, path, status, outcome, error, model, key_hint,
           capture_user, round(duration_ms::numeric, 1) AS duration_ms
    FROM captures
    WHERE outcome <> 'completed' OR status >= 400;
COMMENT ON VIEW errors IS 'Calls that did not complete or got a 4xx/5xx, with what went wrong; add ORDER BY started_at DESC.';

-- Drops whole daily partitions older than keep_days (and deletes such rows
-- from the default partition). Returns the number of partitions dropped.
CREATE FUNCTION captures_drop_older_than(keep_days integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    -- subtract in UTC: in a session time zone with daylight saving a day
    -- is not always 24 hours
    cutoff timestamptz := (date_trunc('day', now() AT TIME ZONE 'UTC')
                           - make_interval(days => keep_days)) AT TIME ZONE 'UTC';
    part record;
    dropped integer := 0;
BEGIN
    IF keep_days <= 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('capture_partitions'));
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'captures'::regclass AND c.relname ~ '^captures_p\d{8}$'
          AND to_date(substr(c.relname, 11), 'YYYYMMDD') + 1 <= (cutoff AT TIME ZONE 'UTC')::date
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    DELETE FROM captures_default WHERE started_at < cutoff;
    RETURN dropped;
END $$;
COMMENT ON FUNCTION captures_drop_older_than(integer) IS 'Age retention (MAX_REQUESTS_AGE_DAYS): drops daily partitions wholly older than keep_days days; run hourly by the proxy.';
