#!/usr/bin/env bash
# deploy/demo-data.sh - fills the capture database with N realistic captures: demo-data.sh N [DAYS]
#
# Mixed models and endpoints, streamed and not, errors, 1-20 KB bodies, five
# keys, a dozen users and two instances, spread over the last DAYS days (30),
# each day in its own partition. Uses DATABASE_URL, else the embedded cluster
# in var/pg (started for the run and stopped after if it was not running).
# Rows are generated inside PostgreSQL, in batches of 50,000.
set -eu
. "$(dirname "$0")/common.sh"

root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}; days=${2:-30}
case "$n$days" in *[!0-9]*) die "usage: demo-data.sh N [DAYS]" ;; esac
url=${DATABASE_URL:-}
started=""
if [ -z "$url" ]; then
	if [ ! -f "$root/var/pg/data/postmaster.pid" ]; then started=1; fi
	url=$("$root/deploy/pg.sh" start "$root/var/pg")
fi
trap '[ -n "$started" ] && "$root/deploy/pg.sh" stop "$root/var/pg"' EXIT
"$root/deploy/migrate.sh" "$url"

PGOPTIONS="-c demo.n=$n -c demo.days=$days" psql -X -q -v ON_ERROR_STOP=1 -d "$url" <<'SQL'
SELECT capture_partitions_create((now() AT TIME ZONE 'UTC')::date - current_setting('demo.days')::int, (now() AT TIME ZONE 'UTC')::date + 1) \gset

-- A time-ordered (version 7) UUID for a given time, as the proxy makes them.
CREATE FUNCTION pg_temp.uuid_v7_at(ts timestamptz) RETURNS uuid LANGUAGE sql AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        placing substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

CREATE TEMP TABLE words AS
SELECT array['the','customer','asked','about','refund','policy','order','shipping','delay','invoice',
  'please','summarize','this','document','in','three','bullet','points','translate','into','French',
  'write','a','python','function','that','parses','JSON','logs','and','returns','errors','error',
  'database','migration','failed','because','of','timeout','retry','later','model','prompt','token',
  'budget','analysis','quarterly','revenue','growth','forecast','risk','compliance','security',
  'review','code','pull','request','test','coverage','latency','throughput','cache','kubernetes',
  'deployment','rollback','incident','postmortem','alert','metric','dashboard','user','account',
  'password','reset','email','notification','schedule','meeting','calendar','travel','booking',
  'hotel','flight','price','discount','coupon','product','recommendation','search','query',
  'vector','embedding','retrieval','context','window','agent','tool','call','weather','Paris',
  'Tokyo','Berlin','recipe','chocolate','cake','poem','ocean','story','dragon','castle','robot'] AS w;

CREATE TEMP TABLE pool AS
SELECT i, (SELECT string_agg(w[1 + (floor(random() * array_length(w, 1)) + 0 * s)::int], ' ')
           FROM generate_series(1, 60 + (i % 120)) s) AS p
FROM words, generate_series(0, 1999) i;

CREATE TEMP TABLE people AS
SELECT i, 'user' || i || '@example.com' AS name FROM generate_series(0, 11) i;

DO $$
DECLARE
    total bigint := current_setting('demo.n')::bigint;
    batch bigint;
    done bigint := 0;
BEGIN
    WHILE done < total LOOP
        batch := least(50000, total - done);
        INSERT INTO captures (id, started_at, instance, client_addr, method, path, query,
            request_headers, request_content_type, request_body, request_body_size,
            status, response_headers, response_content_type, response_body, response_body_size,
            streamed, sse_events, reply_text, model, prompt_tokens, completion_tokens, total_tokens,
            cached_tokens, finish_reason, outcome, error, ttfb_ms, duration_ms, key_hint,
            key_fingerprint, search_text, capture_user, end_user)
        SELECT pg_temp.uuid_v7_at(t), t, inst, '10.0.0.' || (g % 50), 'POST', path, NULL,
            jsonb_build_array(jsonb_build_array('Content-Type', 'application/json'),
                              jsonb_build_array('Authorization', 'Bearer ' || khint)),
            'application/json', req, octet_length(req),
            status, jsonb_build_array(jsonb_build_array('Content-Type',
                CASE WHEN streamed THEN 'text/event-stream' ELSE 'application/json' END)),
            CASE WHEN streamed THEN 'text/event-stream' ELSE 'application/json' END,
            resp, octet_length(resp), streamed, CASE WHEN streamed THEN 3 + g % 40 END,
            CASE WHEN status = 200 AND path <> '/v1/embeddings' THEN reply END, model,
            CASE WHEN status = 200 THEN ptok END, CASE WHEN status = 200 AND path <> '/v1/embeddings' THEN ctok END,
            CASE WHEN status = 200 THEN ptok + CASE WHEN path <> '/v1/embeddings' THEN ctok ELSE 0 END END,
            CASE WHEN status = 200 AND g % 4 = 0 THEN ptok / 2 END,
            CASE WHEN status = 200 AND path <> '/v1/embeddings' THEN 'stop' END,
            CASE WHEN status < 400 THEN 'completed' ELSE 'upstream_error' END,
            CASE WHEN status >= 400 THEN 'upstream answered ' || status END,
            ttfb, ttfb + dur, khint, kfp, left(prompt || E'\n' || reply, 96000),
            CASE WHEN g % 3 <> 0 THEN uname END, CASE WHEN g % 5 = 0 THEN 'end-' || (g % 40) END
        FROM (
            SELECT g, t, inst, path, model, streamed, status, prompt, reply, ptok, ctok, ttfb, dur,
                   khint, kfp, uname,
                   json_build_object('model', model, 'stream', streamed,
                       'messages', json_build_array(json_build_object('role', 'user', 'content', prompt)))::text AS req,
                   CASE WHEN streamed THEN 'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":' || to_json(reply)::text || '}}]}' || E'\n\ndata: [DONE]\n\n'
                        ELSE json_build_object('object', 'chat.completion', 'model', model,
                            'choices', json_build_array(json_build_object('index', 0, 'message',
                                json_build_object('role', 'assistant', 'content', reply))),
                            'usage', json_build_object('prompt_tokens', ptok, 'completion_tokens', ctok))::text END AS resp
            FROM (
                SELECT g, t, inst, model,
                       CASE WHEN model LIKE 'text-embedding%' THEN '/v1/embeddings'
                            WHEN g % 10 = 0 THEN '/v1/responses' ELSE '/v1/chat/completions' END AS path,
                       model NOT LIKE 'text-embedding%' AND g % 5 < 2 AS streamed,
                       CASE WHEN g % 200 < 3 THEN 429 WHEN g % 200 = 3 THEN 500
                            WHEN g % 200 < 6 THEN 400 ELSE 200 END AS status,
                       p1.p || ' ' || repeat(p2.p || ' ', (g % 25)::int) AS prompt,
                       p3.p || ' ' || repeat(p1.p || ' ', (g % 7)::int) AS reply,
                       50 + (g * 7919) % 4000 AS ptok, 10 + (g * 104729) % 1500 AS ctok,
                       40 + (g * 31) % 900 AS ttfb, 100 + ((g * 2654435761) % 100000) ^ 3 / 1.2e11 AS dur,
                       'sk-proj-…' || k.h AS khint, k.fp AS kfp, u.name AS uname
                FROM (SELECT g, now() - random() * make_interval(days => current_setting('demo.days')::int) AS t,
                             CASE WHEN g % 2 = 0 THEN 'demo-a' ELSE 'demo-b' END AS inst,
                             (array['gpt-4o-mini','gpt-4o-mini','gpt-4o-mini','gpt-4o-mini','gpt-4o','gpt-4o',
                                    'gpt-4.1-mini','gpt-4.1-mini','o4-mini','text-embedding-3-small',
                                    'gpt-5','gpt-4o-2024-08-06'])[1 + g % 12] AS model
                      FROM generate_series(done + 1, done + batch) g) base
                JOIN pool p1 ON p1.i = (g * 13) % 2000
                JOIN pool p2 ON p2.i = (g * 17 + 5) % 2000
                JOIN pool p3 ON p3.i = (g * 29 + 11) % 2000
                JOIN (SELECT i, substr(md5('key' || i), 1, 4) AS h, substr(md5('fp' || i), 1, 16) AS fp
                      FROM generate_series(0, 4) i) k ON k.i = g % 5
                JOIN people u ON u.i = g % 12
            ) x
        ) y;
        done := done + batch;
        COMMIT;
        RAISE NOTICE 'demo-data: % of % captures', done, total;
    END LOOP;
END $$;
ANALYZE captures;
SQL
say "demo-data: $n captures over $days days"
