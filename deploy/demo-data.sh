#!/usr/bin/env bash
# deploy/demo-data.sh - fills the capture database with N realistic captures: demo-data.sh N [DAYS]
#
# What the rows look like: chat completions, Responses API and embeddings
# calls over eleven models, 45 % of chat calls streamed (SSE bodies with one
# event per few words), 2.5 % upstream errors (429, 500, 400, 401 with
# OpenAI's error bodies), a few timeouts, unreachable upstreams and clients
# that left; request bodies 1-20 KB (log-uniform: most are small), replies
# of 50 B - 3 KB; five API keys, a dozen users, sessions, tags, two
# instances; spread over the last DAYS days (30) with a daily peak at 14:00
# UTC, in time order, each day in its own partition. Every row is full-text
# indexed by the table's own generated column, as the proxy's rows are.
#
# Uses DATABASE_URL, else the embedded cluster in var/pg (started for the run
# and stopped after if it was not running). Rows are made inside PostgreSQL:
# text pools are built once (schema demo_gen, dropped at the end), then
# DEMO_JOBS sessions (default: the number of CPUs) each insert a contiguous
# slice of time in batches of 10,000 rows. The cost is the tsvector of each
# row's text (~0.07 ms per KB), so a million rows take about 10 minutes on
# two cores.
set -eu
. "$(dirname "$0")/common.sh"

root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}; days=${2:-30}
jobs=${DEMO_JOBS:-$(nproc 2>/dev/null || echo 2)}
case "$n$days$jobs" in *[!0-9]*) die "usage: demo-data.sh N [DAYS] (DEMO_JOBS=number)" ;; esac
[ "$days" -ge 1 ] && [ "$jobs" -ge 1 ] || die "DAYS and DEMO_JOBS must be at least 1"
[ "$jobs" -gt "$n" ] && jobs=$(( n > 0 ? n : 1 ))
url=${DATABASE_URL:-}
started="" workers=()
if [ -z "$url" ]; then
	if [ ! -f "$root/var/pg/data/postmaster.pid" ]; then started=1; fi
	url=$("$root/deploy/pg.sh" start "$root/var/pg")
fi
cleanup() {
	local p
	for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	psql -X -q -d "$url" -c 'DROP SCHEMA IF EXISTS demo_gen CASCADE' >/dev/null 2>&1 || true
	if [ -n "$started" ]; then "$root/deploy/pg.sh" stop "$root/var/pg"; fi
}
trap cleanup EXIT
trap 'say "demo-data: interrupted"; exit 130' INT TERM
"$root/deploy/migrate.sh" "$url"
t_start=$(date +%s)

# --- the pools: words, passages, conversations, replies, headers -------------
PGOPTIONS="-c demo.days=$days" psql -X -q -v ON_ERROR_STOP=1 -d "$url" <<'SQL'
SET client_min_messages = warning;
SELECT capture_partitions_create((now() AT TIME ZONE 'UTC')::date - current_setting('demo.days')::int - 1,
                                 (now() AT TIME ZONE 'UTC')::date + 1) \gset
DROP SCHEMA IF EXISTS demo_gen CASCADE;
CREATE SCHEMA demo_gen;
SELECT setseed(0.42) \gset
-- the pools are read for every row: lz4 decompresses them several times faster
DO $$ BEGIN SET default_toast_compression = 'lz4'; EXCEPTION WHEN others THEN NULL; END $$;

-- uniform [0, 1) from (g, stream): the same rows on every run
CREATE FUNCTION demo_gen.u(g bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (hashint8extended(g, s) & 4294967295)::float8 / 4294967296 $$;

-- Words by rank: frequent ones first, then 4000 made-up words, drawn with a
-- heavy skew so that a few words are everywhere and many are rare. The eight
-- topic words are kept out: each conversation has one topic, so each topic
-- word is in about one chat call in eight (a "common word" to search for).
CREATE UNLOGGED TABLE demo_gen.vocab AS
WITH real AS (
    SELECT w, ord FROM unnest(array['the','a','to','of','and','in','is','it','for','on','with','that',
      'this','you','I','we','can','please','how','what','why','be','are','my','our','not','do','if','or',
      'as','at','from','by','an','will','should','would','me','your','have','there','when','which','but',
      'so','all','more','customer','asked','about','policy','order','delay','summarize','document',
      'bullet','points','translate','into','French','write','python','function','that','parses','JSON',
      'logs','returns','errors','error','database','failed','because','timeout','retry','later','model',
      'prompt','token','budget','analysis','quarterly','revenue','growth','forecast','risk','compliance',
      'security','review','code','pull','request','test','coverage','latency','throughput','cache',
      'deployment','rollback','incident','postmortem','alert','metric','dashboard','user','account',
      'reset','email','notification','schedule','meeting','calendar','booking','hotel','flight','price',
      'discount','coupon','product','recommendation','search','query','vector','embedding','retrieval',
      'context','window','agent','tool','call','weather','Paris','Tokyo','Berlin','chocolate','cake',
      'poem','ocean','story','dragon','castle','robot','café','naïve']) WITH ORDINALITY AS t(w, ord)),
syl AS (SELECT array['ka','lo','mi','ne','ru','sa','to','vi','pe','da','ri','mo','qu','an','el','or',
      'is','un','ber','con','tra','pro','ment','tion','ing','ly','er','st','gr','pl'] AS s),
fake AS (
    SELECT 1000 + i AS ord, (SELECT string_agg(s[1 + floor(random() * 30 + 0 * j)::int], '')
                             FROM generate_series(1, 2 + i % 3) j) AS w
    FROM syl, generate_series(1, 4000) i)
SELECT row_number() OVER (ORDER BY ord) AS r, w FROM (SELECT w, ord FROM real UNION ALL SELECT w, ord FROM fake) x;

-- 6000 passages of 30-250 words; a few in Chinese.
CREATE UNLOGGED TABLE demo_gen.passage AS
WITH v AS (SELECT array_agg(w ORDER BY r) AS a FROM demo_gen.vocab)
SELECT i, (SELECT string_agg(a[1 + floor(array_length(a, 1) * random() ^ 3 + 0 * j)::int]
                             || CASE WHEN random() < 0.07 THEN '.' ELSE '' END, ' ')
           FROM generate_series(1, 30 + (i * 37) % 221) j)
          || CASE WHEN i % 33 = 0 THEN ' 请帮我总结这份文档的要点，并翻译成英文。数据库迁移失败了怎么办？' ELSE '' END AS txt
FROM v, generate_series(0, 5999) i;
CREATE UNIQUE INDEX ON demo_gen.passage (i);

-- 4000 conversations (system prompt + alternating turns, ending with the
-- user), 0.8-19 KB of message text, log-uniform: most are small.
CREATE UNLOGGED TABLE demo_gen.conv AS
WITH c AS (
    SELECT i, (array['refund','invoice','shipping','password','kubernetes','recipe','travel','migration'])[1 + i % 8] AS topic,
           800 * power(19000 / 800.0, random() + 0 * i) AS target
    FROM generate_series(0, 3999) i),
m AS (
    SELECT c.i, c.topic, k, p.txt, c.target,
           sum(length(p.txt) + 40) OVER (PARTITION BY c.i ORDER BY k) AS run
    FROM c CROSS JOIN generate_series(1, 60) k
    JOIN demo_gen.passage p ON p.i = (c.i * 7919 + k * 104729) % 6000),
kept AS (
    SELECT *, max(k) OVER (PARTITION BY i) AS last FROM m WHERE run - length(txt) - 40 < target),
msg AS (
    SELECT i, topic, k,
           CASE WHEN (last - k) % 2 = 0 THEN 'user' ELSE 'assistant' END AS role,
           CASE WHEN k = 1 THEN 'About my ' || topic || ': ' ELSE '' END || txt AS content
    FROM kept)
SELECT i, topic,
       '[{"role":"system","content":' || to_json('You are the ' || topic || ' assistant of an online shop. Be brief and exact.')::text
       || string_agg(',{"role":"' || role || '","content":' || to_json(content)::text || '}', '' ORDER BY k) || ']' AS msgs,
       'You are the ' || topic || ' assistant of an online shop. Be brief and exact.' || E'\n'
       || string_agg(content, E'\n' ORDER BY k) AS text
FROM msg GROUP BY i, topic;
ALTER TABLE demo_gen.conv ADD COLUMN bytes int;
UPDATE demo_gen.conv SET bytes = octet_length(msgs);
CREATE UNIQUE INDEX ON demo_gen.conv (i);

-- 3000 replies of 50 B - 3 KB, each also as the SSE events of a chat stream
-- and of a Responses API stream (a few words per event; @M@ is the model).
CREATE UNLOGGED TABLE demo_gen.reply AS
WITH r AS (
    SELECT i, 50 * power(3000 / 50.0, random() + 0 * i) AS target FROM generate_series(0, 2999) i),
t AS (
    SELECT r.i, rtrim(left(string_agg(p.txt, ' ' ORDER BY k), r.target::int)) AS txt
    FROM r CROSS JOIN generate_series(1, 14) k
    JOIN demo_gen.passage p ON p.i = (r.i * 6007 + k * 911) % 6000
    GROUP BY r.i, r.target),
pieces AS (
    SELECT i, (k - 1) / 5 AS j,
           CASE WHEN (k - 1) / 5 > 0 THEN ' ' ELSE '' END || string_agg(w, ' ' ORDER BY k) AS piece
    FROM t, unnest(string_to_array(txt, ' ')) WITH ORDINALITY AS u(w, k)
    GROUP BY i, (k - 1) / 5)
SELECT t.i, t.txt, to_json(t.txt)::text AS json, count(*)::int AS events,
       string_agg('data: {"id":"chatcmpl-' || md5(t.i::text) || '","object":"chat.completion.chunk","created":1764100000,"model":"@M@","choices":[{"index":0,"delta":{'
                  || CASE WHEN j = 0 THEN '"role":"assistant",' ELSE '' END || '"content":' || to_json(piece)::text
                  || '},"finish_reason":null}]}' || E'\n\n', '' ORDER BY j) AS chat_sse,
       'event: response.created' || E'\n' || 'data: {"type":"response.created","response":{"id":"resp_' || md5(t.i::text) || '","object":"response","status":"in_progress","model":"@M@"}}' || E'\n\n'
       || string_agg('event: response.output_text.delta' || E'\n' || 'data: {"type":"response.output_text.delta","item_id":"msg_' || left(md5(t.i::text), 16)
                  || '","output_index":0,"content_index":0,"delta":' || to_json(piece)::text || '}' || E'\n\n', '' ORDER BY j) AS resp_sse
FROM t JOIN pieces USING (i) GROUP BY t.i, t.txt;
CREATE UNIQUE INDEX ON demo_gen.reply (i);

-- Embedding inputs (a passage) and 8 vectors of 256 floats.
CREATE UNLOGGED TABLE demo_gen.vec AS
SELECT i, '{"object":"list","data":[{"object":"embedding","index":0,"embedding":['
          || (SELECT string_agg(round((random() * 0.2 - 0.1 + 0 * j)::numeric, 9)::text, ',') FROM generate_series(1, 256 + 0 * i) j)
          || ']}],"model":"' AS head
FROM generate_series(0, 7) i;
CREATE UNIQUE INDEX ON demo_gen.vec (i);

CREATE UNLOGGED TABLE demo_gen.model_list AS
SELECT '{"object":"list","data":[' || string_agg('{"id":"' || m || '","object":"model","created":1715367049,"owned_by":"system"}', ',') || ']}' AS body
FROM unnest(array['gpt-4o-mini','gpt-4o','gpt-4.1','gpt-4.1-mini','gpt-4.1-nano','o3','o4-mini','gpt-5',
                  'gpt-5-mini','gpt-5-nano','text-embedding-3-small','text-embedding-3-large','whisper-1',
                  'tts-1','dall-e-3','gpt-3.5-turbo']) m;

-- Five keys (the first used most) and their request headers, per client library.
CREATE UNLOGGED TABLE demo_gen.qhdr AS
SELECT k * 4 + a AS i, 'sk-proj-…' || substr(md5('key' || k), 1, 4) AS hint, substr(md5('fp' || k), 1, 16) AS fp,
       jsonb_build_array(jsonb_build_array('Host', 'llm-proxy.internal:8080'),
                         jsonb_build_array('Accept', 'application/json'),
                         jsonb_build_array('Content-Type', 'application/json'),
                         jsonb_build_array('User-Agent', (array['OpenAI/Python 1.54.3','OpenAI/JS 4.73.0','OpenAI/Python 1.99.1','curl/7.88.1'])[1 + a]),
                         jsonb_build_array('Authorization', 'Bearer sk-proj-…' || substr(md5('key' || k), 1, 4)),
                         jsonb_build_array('X-Stainless-Lang', (array['python','js','python','none'])[1 + a]),
                         jsonb_build_array('X-Stainless-Retry-Count', '0')) AS h
FROM generate_series(0, 4) k, generate_series(0, 3) a;
CREATE UNIQUE INDEX ON demo_gen.qhdr (i);

CREATE UNLOGGED TABLE demo_gen.rhdr AS
SELECT kind, i, jsonb_build_array(
           jsonb_build_array('Date', 'Wed, 26 Nov 2025 10:00:00 GMT'),
           jsonb_build_array('Content-Type', CASE kind WHEN 1 THEN 'text/event-stream; charset=utf-8' ELSE 'application/json' END),
           jsonb_build_array('openai-organization', 'acme-prod'),
           jsonb_build_array('openai-processing-ms', (40 + i * 37)::text),
           jsonb_build_array('openai-version', '2020-10-01'),
           jsonb_build_array('x-ratelimit-limit-requests', '10000'),
           jsonb_build_array('x-ratelimit-remaining-requests', (9999 - i * 13)::text),
           jsonb_build_array('x-request-id', 'req_' || md5(kind || '-' || i)),
           jsonb_build_array('cf-cache-status', 'DYNAMIC')) AS h
FROM generate_series(0, 2) kind, generate_series(0, 31) i;
CREATE UNIQUE INDEX ON demo_gen.rhdr (kind, i);

-- Rows lo..hi of n, over the days ending at t_end: attributes from hashes of
-- the row number, texts from the pools, inserted in time order (the pool
-- lookups are scalar subqueries, which keep the order; OFFSET 0 keeps each
-- level from being folded into the next, so nothing is computed twice).
CREATE FUNCTION demo_gen.fill(lo bigint, hi bigint, n bigint, t_end float8, days int, c float8) RETURNS void
LANGUAGE sql AS $fill$
INSERT INTO captures (id, started_at, instance, client_addr, method, path, query,
    request_headers, request_content_type, request_body, request_body_size,
    status, response_headers, response_content_type, response_body, response_body_size,
    streamed, sse_events, reply_text, model, prompt_tokens, completion_tokens, total_tokens,
    cached_tokens, reasoning_tokens, finish_reason, outcome, error, ttfb_ms, duration_ms,
    key_hint, key_fingerprint, search_text, capture_user, capture_session, capture_tags, end_user)
SELECT
    -- a version 7 UUID from the time, as the proxy makes them
    (lpad(to_hex((t_s * 1000)::bigint), 12, '0') || '7' || substr(hx, 1, 3)
     || substr('89ab', 1 + (g % 4)::int, 1) || substr(hx, 4, 15))::uuid,
    to_timestamp(t_s), inst, '10.0.' || (g % 7) || '.' || (g % 50 + 10), method, path, NULL,
    (qh).h, CASE WHEN method = 'POST' THEN 'application/json' END, req, coalesce(octet_length(req), 0),
    status, rh, CASE WHEN rkind = 1 THEN 'text/event-stream; charset=utf-8' ELSE 'application/json' END,
    resp, octet_length(resp), streamed, events, reply, CASE WHEN kind <> 'models' THEN model END,
    ptok, ctok, ptok + coalesce(ctok, 0), cached, rtok, finish, outcome, error, ttfb, dur,
    (qh).hint, (qh).fp, search_text, cuser, csession, ctags, euser
FROM (
  SELECT w.*,
    CASE WHEN kind = 'models' THEN NULL
         WHEN kind = 'embed' THEN '{"model":"' || model || '","input":' || to_json(etext)::text || ',"encoding_format":"float","dimensions":256}'
         WHEN kind = 'responses' THEN '{"model":"' || model || '","input":' || (cv).msgs || CASE WHEN streamed THEN ',"stream":true' ELSE '' END || ',"store":false}'
         ELSE '{"model":"' || model || '","messages":' || (cv).msgs || ',"temperature":0.3' || CASE WHEN streamed THEN ',"stream":true,"stream_options":{"include_usage":true}' ELSE '' END
              || CASE WHEN euser IS NOT NULL THEN ',"user":"' || euser || '"' ELSE '' END || '}' END AS req,
    CASE WHEN outcome = 'upstream_error' THEN
             '{"error":{"message":' || to_json(errmsg)::text || ',"type":"' || CASE status WHEN 429 THEN 'tokens' WHEN 500 THEN 'server_error' ELSE 'invalid_request_error' END
             || '","param":null,"code":' || CASE status WHEN 429 THEN '"rate_limit_exceeded"' WHEN 401 THEN '"invalid_api_key"' WHEN 400 THEN '"context_length_exceeded"' ELSE 'null' END || '}}'
         WHEN outcome IN ('timeout', 'unreachable') THEN
             '{"error":{"message":' || to_json(error)::text || ',"type":"server_error","param":null,"code":"upstream_' || outcome || '"}}'
         WHEN kind = 'models' THEN (SELECT body FROM demo_gen.model_list)
         WHEN kind = 'embed' THEN (SELECT head FROM demo_gen.vec WHERE i = g % 8) || model || '","usage":{"prompt_tokens":' || ptok || ',"total_tokens":' || ptok || '}}'
         WHEN streamed AND kind = 'responses' THEN left(replace((rp).resp_sse, '@M@', model), CASE WHEN outcome = 'client_aborted' THEN length((rp).resp_sse) / 2 ELSE 1000000 END)
             || CASE WHEN outcome = 'completed' THEN 'event: response.completed' || E'\n' || 'data: {"type":"response.completed","response":{"id":"resp_' || md5(((rp).i)::text) || '","object":"response","status":"completed","model":"' || model
             || '","usage":{"input_tokens":' || ptok || ',"output_tokens":' || ctok || ',"total_tokens":' || (ptok + ctok) || '}}}' || E'\n\n' ELSE '' END
         WHEN streamed THEN left(replace((rp).chat_sse, '@M@', model), CASE WHEN outcome = 'client_aborted' THEN length((rp).chat_sse) / 2 ELSE 1000000 END)
             || CASE WHEN outcome = 'completed' THEN 'data: {"id":"chatcmpl-' || md5(((rp).i)::text) || '","object":"chat.completion.chunk","created":1764100000,"model":"' || model || '","choices":[{"index":0,"delta":{},"finish_reason":"' || finish || '"}]}' || E'\n\n'
             || 'data: {"id":"chatcmpl-' || md5(((rp).i)::text) || '","object":"chat.completion.chunk","created":1764100000,"model":"' || model || '","choices":[],"usage":{"prompt_tokens":' || ptok || ',"completion_tokens":' || ctok || ',"total_tokens":' || (ptok + ctok) || '}}' || E'\n\n'
             || 'data: [DONE]' || E'\n\n' ELSE '' END
         WHEN kind = 'responses' THEN '{"id":"resp_' || md5(((rp).i)::text) || '","object":"response","created_at":' || t_s::bigint || ',"status":"completed","model":"' || model
             || '","output":[{"type":"message","id":"msg_' || left(md5(((rp).i)::text), 16) || '","status":"completed","role":"assistant","content":[{"type":"output_text","text":' || (rp).json
             || ',"annotations":[]}]}],"usage":{"input_tokens":' || ptok || ',"output_tokens":' || ctok || ',"total_tokens":' || (ptok + ctok) || '}}'
         ELSE '{"id":"chatcmpl-' || md5(((rp).i)::text) || '","object":"chat.completion","created":' || t_s::bigint || ',"model":"' || model
             || '","choices":[{"index":0,"message":{"role":"assistant","content":' || (rp).json || ',"refusal":null},"logprobs":null,"finish_reason":"' || finish
             || '"}],"usage":{"prompt_tokens":' || ptok || ',"completion_tokens":' || ctok || ',"total_tokens":' || (ptok + ctok)
             || ',"prompt_tokens_details":{"cached_tokens":' || coalesce(cached, 0) || '}},"system_fingerprint":"fp_0ba0d124f1"}' END AS resp,
    CASE WHEN outcome = 'completed' THEN (rp).txt WHEN outcome = 'client_aborted' THEN left((rp).txt, length((rp).txt) / 2) END AS reply,
    CASE WHEN kind = 'embed' THEN etext
         WHEN kind <> 'models' THEN left((cv).text || CASE WHEN outcome = 'completed' THEN E'\n' || (rp).txt
                                                          WHEN errmsg IS NOT NULL THEN E'\n' || errmsg ELSE '' END, 96000) END AS search_text,
    CASE WHEN streamed AND outcome = 'completed' THEN (rp).events + CASE WHEN kind = 'chat' THEN 3 ELSE 2 END
         WHEN streamed AND outcome = 'client_aborted' THEN (rp).events / 2 END AS events,
    (SELECT h FROM demo_gen.rhdr WHERE kind = rkind AND i = g % 32) AS rh
  FROM (
    SELECT x.*,
        CASE WHEN status = 200 AND outcome = 'completed' AND kind <> 'models' THEN
                 coalesce((cv).bytes, octet_length(etext)) / 4 END AS ptok,
        CASE WHEN status = 200 AND outcome = 'completed' AND rp IS NOT NULL THEN octet_length((rp).txt) / 4 + coalesce(rtok0, 0) END AS ctok,
        CASE WHEN status = 200 AND outcome = 'completed' AND rp IS NOT NULL THEN rtok0 END AS rtok,
        CASE WHEN status = 200 AND outcome = 'completed' AND rp IS NOT NULL AND u_cache < 0.3 THEN ((cv).bytes / 4 * u_cache * 3 / 128)::int * 128 END AS cached,
        CASE WHEN outcome <> 'completed' OR rp IS NULL THEN NULL
             WHEN kind = 'responses' THEN 'completed'
             WHEN u_fin < 0.05 THEN 'length' WHEN u_fin < 0.08 THEN 'tool_calls' ELSE 'stop' END AS finish,
        CASE outcome WHEN 'upstream_error' THEN 'upstream answered ' || status || ': ' || errmsg
                     WHEN 'timeout' THEN 'capture proxy: the upstream API timed out: no byte for 300 s (UPSTREAM_IDLE_TIMEOUT)'
                     WHEN 'unreachable' THEN 'capture proxy: cannot reach the upstream API: Could not resolve host: api.openai.com'
                     WHEN 'client_aborted' THEN 'client closed the connection' END AS error,
        CASE WHEN outcome <> 'unreachable' THEN ttfb0 END AS ttfb,
        CASE WHEN outcome = 'unreachable' THEN 5 + 40 * u_lat
             WHEN outcome = 'timeout' THEN 300000 + ttfb0
             WHEN rp IS NULL OR outcome <> 'completed' THEN ttfb0 * (1 + u_lat)
             WHEN streamed THEN ttfb0 + (octet_length((rp).txt) / 4 + coalesce(rtok0, 0)) * (8 + 20 * u_lat)
             ELSE ttfb0 + (octet_length((rp).txt) / 4 + coalesce(rtok0, 0)) * (6 + 14 * u_lat) END AS dur,
        CASE WHEN status <> 200 THEN 2 WHEN streamed THEN 1 ELSE 0 END AS rkind
    FROM (
      SELECT v.*,
          CASE WHEN kind IN ('chat', 'responses') THEN (SELECT c FROM demo_gen.conv c WHERE c.i = v.ci) END AS cv,
          CASE WHEN kind IN ('chat', 'responses') THEN (SELECT r FROM demo_gen.reply r WHERE r.i = v.ri) END AS rp,
          CASE WHEN kind = 'embed' THEN (SELECT p.txt FROM demo_gen.passage p WHERE p.i = v.ci) END AS etext,
          (SELECT q FROM demo_gen.qhdr q WHERE q.i = v.qi) AS qh
      FROM (
        SELECT s.*,
            CASE WHEN kind = 'models' THEN 'GET' ELSE 'POST' END AS method,
            CASE kind WHEN 'embed' THEN '/v1/embeddings' WHEN 'responses' THEN '/v1/responses'
                      WHEN 'models' THEN '/v1/models' ELSE '/v1/chat/completions' END AS path,
            kind IN ('chat', 'responses') AND u_stream < 0.45 AS streamed,
            CASE WHEN kind = 'models' THEN 200 WHEN u_err < 0.015 THEN 429 WHEN u_err < 0.018 THEN 500
                 WHEN u_err < 0.023 THEN 400 WHEN u_err < 0.025 THEN 401 WHEN u_err < 0.028 THEN 504
                 WHEN u_err < 0.030 THEN 502 ELSE 200 END AS status,
            CASE WHEN kind = 'models' THEN 'completed' WHEN u_err < 0.025 THEN 'upstream_error'
                 WHEN u_err < 0.028 THEN 'timeout' WHEN u_err < 0.030 THEN 'unreachable'
                 WHEN u_err < 0.036 AND u_stream < 0.45 AND kind IN ('chat', 'responses') THEN 'client_aborted'
                 ELSE 'completed' END AS outcome,
            CASE WHEN kind = 'models' THEN NULL
                 WHEN u_err < 0.015 THEN 'Rate limit reached for ' || model || ' in organization org-acme on tokens per min (TPM): Limit 200000, Used 199412, Requested ' || (900 + g % 4000) || '. Please try again in 312ms.'
                 WHEN u_err < 0.018 THEN 'The server had an error while processing your request. Sorry about that!'
                 WHEN u_err < 0.023 THEN 'This model''s maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.'
                 WHEN u_err < 0.025 THEN 'Incorrect API key provided: sk-proj-****' || substr(md5('key' || qi / 4), 1, 4) || '. You can find your API key at https://platform.openai.com/account/api-keys.'
            END AS errmsg,
            CASE WHEN kind IN ('embed', 'models') THEN 60 + 300 * u_lat ^ 2
                 ELSE (180 + 900 * u_lat ^ 2) * CASE WHEN model IN ('o4-mini', 'gpt-5', 'gpt-5-mini') THEN 4 ELSE 1 END
                      * (1 + 6 * u_tail ^ 12) END AS ttfb0,
            CASE WHEN model IN ('o4-mini', 'gpt-5', 'gpt-5-mini', 'gpt-5-nano') THEN (64 + 1900 * u_lat ^ 2)::int END AS rtok0
        FROM (
          SELECT g, t_s, model, u_stream, u_err, u_lat, u_tail, u_cache, u_fin,
              CASE WHEN u_kind < 0.005 THEN 'models' WHEN model LIKE 'text-embedding%' THEN 'embed'
                   WHEN u_kind < 0.125 THEN 'responses' ELSE 'chat' END AS kind,
              CASE WHEN g % 2 = 0 THEN 'proxy-a' ELSE 'proxy-b' END AS inst,
              CASE WHEN u_key < 0.40 THEN 0 WHEN u_key < 0.65 THEN 1 WHEN u_key < 0.80 THEN 2 WHEN u_key < 0.92 THEN 3 ELSE 4 END * 4 + (g % 4)::int AS qi,
              CASE WHEN model LIKE 'text-embedding%' THEN (hashint8extended(g, 8) & 65535) % 6000
                   ELSE (hashint8extended(g, 8) & 65535) % 4000 END AS ci,
              (hashint8extended(g, 9) & 65535) % 3000 AS ri,
              CASE WHEN u_user < 0.7 THEN 'user' || (floor(u_user * 17)::int % 12) || '@acme.example' END AS cuser,
              CASE WHEN u_user < 0.3 THEN 'sess-' || to_hex((g / 9) % 50000) END AS csession,
              CASE WHEN u_user < 0.1 THEN '{batch,eval}'::text[] WHEN u_user > 0.95 THEN '{prod}'::text[] END AS ctags,
              CASE WHEN u_user BETWEEN 0.5 AND 0.7 THEN 'end-' || (g % 40) END AS euser,
              md5(g::text || 'id') AS hx
          FROM (
            SELECT g, demo_gen.u(g, 2) AS u_stream, demo_gen.u(g, 3) AS u_err, demo_gen.u(g, 4) AS u_lat,
                   demo_gen.u(g, 5) AS u_tail, demo_gen.u(g, 6) AS u_cache, demo_gen.u(g, 7) AS u_fin,
                   demo_gen.u(g, 10) AS u_kind, demo_gen.u(g, 11) AS u_key, demo_gen.u(g, 12) AS u_user,
                   (array['gpt-4o-mini','gpt-4o-mini','gpt-4o-mini','gpt-4o-mini','gpt-4o-mini','gpt-4o-mini',
                          'gpt-4o','gpt-4o','gpt-4o','gpt-4.1-mini','gpt-4.1-mini','gpt-4.1-mini','gpt-4.1',
                          'o4-mini','o4-mini','gpt-5','gpt-5-mini','gpt-5-mini','text-embedding-3-small',
                          'text-embedding-3-small','gpt-4o-2024-08-06','gpt-3.5-turbo','gpt-5-nano'])
                       [1 + floor(demo_gen.u(g, 1) * 23)::int] AS model,
                   -- uniform over the days, bent into a daily cycle (c: see the caller)
                   t0 + 86400 * (d + uu - 0.6 / (2 * pi()) * (sin(2 * pi() * (uu - c)) + sin(2 * pi() * c))) AS t_s
            FROM (
              SELECT g, t0, floor(xd) AS d, xd - floor(xd) AS uu
              FROM (
                SELECT g, t_end - 86400.0 * days AS t0, (g - 1 + demo_gen.u(g, 0)) / n * days AS xd
                FROM generate_series(lo, hi) g) a) b
            OFFSET 0) r
          OFFSET 0) s
        OFFSET 0) v
      OFFSET 0) x
    OFFSET 0) w
  ) y
$fill$;
ANALYZE demo_gen.conv, demo_gen.reply, demo_gen.passage, demo_gen.qhdr, demo_gen.rhdr, demo_gen.vec;
SQL
say "demo-data: text pools ready in $(( $(date +%s) - t_start )) s; $n captures over $days days, $jobs sessions"

# --- the rows: one session per slice of time --------------------------------
t_end=$(date +%s)
per=$(( (n + jobs - 1) / jobs ))
for ((j = 0; j < jobs; j++)); do
	lo=$(( j * per + 1 )); hi=$(( (j + 1) * per < n ? (j + 1) * per : n ))
	[ "$lo" -le "$hi" ] || continue
	PGOPTIONS="-c demo.lo=$lo -c demo.hi=$hi -c demo.n=$n -c demo.t_end=$t_end -c demo.days=$days -c demo.job=$((j + 1)) -c synchronous_commit=off -c jit=off" \
	psql -X -q -v ON_ERROR_STOP=1 -d "$url" <<'SQL' &
SET client_min_messages = notice;
DO $$
DECLARE
    lo bigint := current_setting('demo.lo')::bigint;
    hi bigint := current_setting('demo.hi')::bigint;
    t_end float8 := current_setting('demo.t_end')::float8;
    days int := current_setting('demo.days')::int;
    -- the busiest time of day, 14:00 UTC, as a fraction of a day after the first row's time
    busy float8 := (14 * 3600 - (t_end - 86400 * days)::bigint % 86400 + 86400) % 86400 / 86400.0;
    c float8 := busy;
    a bigint := lo;
    b bigint;
BEGIN
    -- fill() bends each day by u - 0.6/2pi (sin 2pi(u - c) + sin 2pi c): solve for the c
    -- that puts the peak on busy
    FOR k IN 1..30 LOOP
        c := busy + 0.6 / (2 * pi()) * sin(2 * pi() * c);
    END LOOP;
    WHILE a <= hi LOOP
        b := least(a + 9999, hi);
        PERFORM demo_gen.fill(a, b, current_setting('demo.n')::bigint, t_end, days, c);
        COMMIT;
        RAISE NOTICE 'demo-data: session %: % of % rows', current_setting('demo.job'), b - lo + 1, hi - lo + 1;
        a := b + 1;
    END LOOP;
END $$;
SQL
	workers+=($!)
done
failed=0
for p in "${workers[@]}"; do wait "$p" || failed=1; done
workers=()
[ "$failed" = 0 ] || die "demo-data: a session failed (see above)"
# statistics for the planner; the hourly rollup of /api/stats, checked in full
# since old hours were just filled
psql -X -q -v ON_ERROR_STOP=1 -d "$url" -c 'ANALYZE captures' -c 'SELECT captures_rollup_refresh(true)' >/dev/null
say "demo-data: $n captures over $days days in $(( $(date +%s) - t_start )) s"
