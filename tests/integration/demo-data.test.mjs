// demo-data.test.mjs - `make demo-data` (deploy/demo-data.sh) on a small N, so
// the generator the scale numbers rest on cannot break unnoticed: the row
// count, the mix its header promises, and rows the dashboard can read.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, dropDatabase, startStack, ROOT } from '../lib/stack.mjs';

const N = 3000, DAYS = 3;

describe('make demo-data (deploy/demo-data.sh)', () => {
	let dbase, db, s;
	const one = async (sql) => (await db.query(sql)).rows[0];

	before(async () => {
		dbase = await createDatabase('demo');
		const r = spawnSync(path.join(ROOT, 'deploy', 'demo-data.sh'), [String(N), String(DAYS)], {
			cwd: ROOT, env: { ...process.env, DATABASE_URL: dbase.url, DEMO_JOBS: '2' }, encoding: 'utf8', timeout: 300000,
		});
		assert.equal(r.status, 0, `demo-data.sh: ${r.stdout}${r.stderr}`);
		db = new pg.Client({ connectionString: dbase.url });
		await db.connect();
	});
	after(async () => {
		await s?.stop();
		await db?.end().catch(() => {});
		if (dbase) await dropDatabase(dbase.db);
	});

	test('N rows over the last DAYS days, in their daily partitions, searchable', async () => {
		const x = await one(`SELECT count(*)::int AS n, min(started_at) AS lo, max(started_at) AS hi,
			count(*) FILTER (WHERE tableoid = 'captures_default'::regclass)::int AS in_default,
			count(*) FILTER (WHERE method = 'POST' AND (search IS NULL OR search = ''::tsvector))::int AS unsearchable
			FROM captures`);
		assert.equal(x.n, N);
		assert.ok(Date.now() - x.lo.getTime() <= (DAYS + 1) * 86400e3, `oldest ${x.lo.toISOString()}`);
		assert.ok(x.hi.getTime() <= Date.now() + 60e3, `newest ${x.hi.toISOString()} not in the future`);
		assert.equal(x.in_default, 0, 'every row in its day\'s partition');
		assert.equal(x.unsearchable, 0, 'every call with a body is searchable');
		const [{ exists }] = (await db.query("SELECT to_regnamespace('demo_gen') IS NOT NULL AS exists")).rows;
		assert.equal(exists, false, 'the generator\'s schema is dropped');
	});

	test('the mix: models, streamed, errors, body sizes, keys, users, instances', async () => {
		const x = await one(`SELECT count(DISTINCT model)::int AS models,
			avg((streamed)::int)::float8 AS streamed,
			avg((status >= 400 OR outcome <> 'completed')::int)::float8 AS failed,
			min(request_body_size) FILTER (WHERE path <> '/v1/embeddings' AND method = 'POST')::int AS body_min,
			max(request_body_size)::int AS body_max,
			count(DISTINCT key_fingerprint)::int AS keys, count(DISTINCT capture_user)::int AS users,
			count(DISTINCT instance)::int AS instances, count(DISTINCT path)::int AS paths,
			count(*) FILTER (WHERE streamed AND sse_events > 0)::int AS sse,
			count(*) FILTER (WHERE prompt_tokens IS NOT NULL)::int AS usage FROM captures`);
		assert.ok(x.models >= 8, `models ${x.models}`);
		assert.ok(x.streamed > 0.2 && x.streamed < 0.6, `streamed share ${x.streamed}`);
		assert.ok(x.failed > 0.005 && x.failed < 0.15, `failed share ${x.failed}`);
		assert.ok(x.body_min >= 800 && x.body_min < 2000, `smallest chat or responses body ${x.body_min}`);
		assert.ok(x.body_max > 15000 && x.body_max < 25000, `largest body ${x.body_max}`);
		assert.equal(x.keys, 5);
		assert.ok(x.users >= 10, `users ${x.users}`);
		assert.equal(x.instances, 2);
		assert.ok(x.paths >= 3, `paths ${x.paths}`);
		assert.ok(x.sse > 0, 'streamed rows carry their events');
		assert.ok(x.usage > N / 2, `rows with usage ${x.usage}`);
	});

	test('the dashboard reads them: list, search, stats', async () => {
		s = await startStack({ name: 'demo', databaseUrl: dbase.url });
		const get = async (p) => {
			const r = await fetch(s.webUrl + p);
			assert.equal(r.status, 200, p);
			return r.json();
		};
		const list = await get('/api/requests?page_size=5');
		assert.equal(list.requests.length, 5);
		const [{ word }] = (await db.query(`SELECT word FROM ts_stat('SELECT search FROM captures')
			WHERE length(word) >= 5 AND word ~ '^[a-z]+$' ORDER BY ndoc DESC LIMIT 1`)).rows;
		const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM captures
			WHERE search @@ websearch_to_tsquery('simple', $1)`, [word])).rows;
		const found = await get(`/api/requests?search=${word}&page_size=1`);
		assert.ok(found.requests.length === 1 && n > 0, `search ${word}`);
		const st = await get('/api/stats');
		assert.equal(st.total_requests, N);
	});
});
