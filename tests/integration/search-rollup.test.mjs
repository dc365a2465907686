// tests/integration/search-rollup.test.mjs - the statistics of a search read often come
// from a rollup of their own (captures_search_watch, captures_rollup_searches:
// sql/014_search_rollup.sql).
//
// 30,000 captures over three days, three in four with the word "invoice" in their text
// and a few with it only in their path (the search's ILIKE extra). /api/stats?search=invoice
// sums more than 20,000 captures, so the dashboard records the search; refreshing the
// rollups then builds its rows, and the same statistics come from them. Every count, sum
// and bound is compared with a count of the captures themselves, before and after, for
// the whole range, a time range and a model; percentiles from the rollup's histogram
// within 3 %.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startStack, createDatabase, dropDatabase, rawRequest } from '../lib/stack.mjs';

const MATCH = "(search @@ websearch_to_tsquery('simple', 'invoice') OR path ILIKE '%invoice%' OR id::text ILIKE '%invoice%')";

/* n captures into stack s from `start`, `step` apart (SQL): three in four
 * with the word invoice in their text, a few with it in their path only. */
async function insertCaptures(s, n, start, step) {
	await s.query(`INSERT INTO captures (id, started_at, method, path, status, streamed, model, outcome,
			duration_ms, ttfb_ms, prompt_tokens, completion_tokens, search_text)
		SELECT gen_random_uuid(), ${start} + i * ${step}, 'POST',
			CASE WHEN i % 101 = 0 THEN '/v1/invoice/lookup' ELSE '/v1/chat/completions' END,
			CASE WHEN i % 11 = 0 THEN 500 ELSE 200 END, i % 3 = 0,
			CASE WHEN i % 4 < 2 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END, 'completed',
			100 + (i * 37) % 5000, 10 + i % 90, i % 1000, i % 500,
			CASE WHEN i % 4 = 3 THEN 'where is my refund' ELSE 'about the invoice ' || i END
		FROM generate_series(0, $1 - 1) i`, [n]);
}

describe('statistics of a watched search (captures_rollup_searches)', () => {
	let s, db;
	const since = new Date(Date.now() - 30 * 3600e3).toISOString();

	async function getOk(path) {
		const r = await rawRequest(s.webUrl + path);
		assert.equal(r.status, 200, `${path}: ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
		return JSON.parse(r.body.toString('utf8'));
	}

	/* The statistics of the captures matching the SQL condition w, counted here. */
	async function direct(w) {
		const [r] = await s.query(`SELECT count(*)::int AS n,
			count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed')::int AS failed,
			count(*) FILTER (WHERE status >= 500)::int AS c5xx,
			coalesce(sum(prompt_tokens), 0)::int AS prompt, coalesce(sum(completion_tokens), 0)::int AS completion,
			avg(duration_ms) AS avg_ms, avg(ttfb_ms) AS avg_ttfb,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
			percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
			(extract(epoch FROM min(started_at)) * 1000)::int8::text AS first_ms,
			(extract(epoch FROM max(started_at)) * 1000)::int8::text AS last_ms
			FROM captures WHERE ${w}`);
		return r;
	}

	/* /api/stats?q against the captures matching w: exact, or with exact
	 * false, percentiles within 3 % (the rollup's histograms). */
	async function check(q, w, exact) {
		const st = await getOk(`/api/stats?${q}`);
		const e = await direct(w);
		assert.ok(e.n > 0, `${q}: matches something`);
		assert.equal(st.total_requests, e.n, `${q}: total_requests`);
		assert.equal(st.failed_requests, e.failed, `${q}: failed_requests`);
		assert.equal(st.errors.server_5xx, e.c5xx, `${q}: server_5xx`);
		assert.equal(st.tokens.prompt, e.prompt, `${q}: prompt tokens`);
		assert.equal(st.tokens.completion, e.completion, `${q}: completion tokens`);
		assert.ok(Math.abs(st.avg_response_time_ms - e.avg_ms) < 1e-6, `${q}: avg ${st.avg_response_time_ms} vs ${e.avg_ms}`);
		assert.ok(Math.abs(st.avg_ttfb_ms - e.avg_ttfb) < 1e-6, `${q}: avg ttfb ${st.avg_ttfb_ms} vs ${e.avg_ttfb}`);
		for (const [got, want, name] of [[st.p50_response_time_ms, e.p50, 'p50'], [st.p95_response_time_ms, e.p95, 'p95']]) {
			if (exact) assert.ok(Math.abs(got - want) < 1e-6, `${q}: ${name} ${got} vs ${want}`);
			else assert.ok(Math.abs(got - want) <= 0.03 * want, `${q}: ${name} ${got} vs ${want}`);
		}
		assert.equal(String(st.first_ms), e.first_ms, `${q}: first_ms`);
		assert.equal(String(st.last_ms), e.last_ms, `${q}: last_ms`);
		const sum = (xs) => xs.reduce((a, x) => a + x.requests, 0);
		assert.equal(sum(st.models), e.n, `${q}: per model`);
		assert.equal(sum(st.timeline.points), e.n, `${q}: timeline`);
		return st;
	}

	const insert = (n, start, step) => insertCaptures(s, n, start, step);

	async function rolled(from = null) {
		const [{ yes }] = await s.query(`SELECT rolled AS yes FROM captures_search_rolled('invoice', '%invoice%', NULL, $1)`, [from]);
		return yes;
	}

	/* Refreshes until the rollup of the search reaches the oldest capture
	 * (the proxy's own refresh may hold the lock: ours then returns at once). */
	async function untilRolled() {
		for (const t0 = Date.now(); !(await rolled());) {
			assert.ok(Date.now() - t0 < 30000, 'the search is rolled up within 30 s');
			await s.query('SELECT captures_rollup_refresh(true)');
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	/* One check_all refresh of ours that ran (while the proxy's own holds
	 * the lock, ours returns at once and changes nothing). */
	async function refreshed() {
		const at = async () => (await s.query('SELECT checked_at::text AS t FROM captures_rollup_state'))[0].t;
		const before = await at();
		for (const t0 = Date.now(); ;) {
			await s.query('SELECT captures_rollup_refresh(true)');
			if (await at() !== before) return;
			assert.ok(Date.now() - t0 < 20000, 'a refresh of ours runs within 20 s');
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	before(async () => {
		db = await createDatabase('search_rollup');
		s = await startStack({ name: 'search-rollup', databaseUrl: db.url, env: { OPENAI_API_BASE: 'http://127.0.0.1:9' } });
		await insert(30000, "capture_hour(now() - interval '3 days')", "interval '8 seconds'");
		for (const t0 = Date.now(); ;) {
			const [{ until }] = await s.query('SELECT captures_rollup_refresh(true), (SELECT rolled_until FROM captures_rollup_state) AS until');
			if (until) break;
			assert.ok(Date.now() - t0 < 20000, 'the rollups are built within 20 s');
			await new Promise((r) => setTimeout(r, 100));
		}
	});

	after(async () => {
		try { await s?.stop(); } finally { if (db) await dropDatabase(db.db); }
	});

	test('a search summing over 20,000 captures is read from the captures, then watched', async () => {
		const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM captures_search_watch`);
		assert.equal(n, 0, 'no search is watched before any statistics');
		await check('search=refund', "search @@ websearch_to_tsquery('simple', 'refund') OR path ILIKE '%refund%' OR id::text ILIKE '%refund%'", true);
		assert.equal((await s.query('SELECT count(*)::int AS n FROM captures_search_watch'))[0].n, 0,
			'a search of 7,500 captures is not watched');
		await check('search=invoice', MATCH, true);
		const rows = await s.query('SELECT search, search_like, search_method FROM captures_search_watch');
		assert.deepEqual(rows.map((r) => [r.search, r.search_like, r.search_method]), [['invoice', '%invoice%', null]]);
	});

	test('once rolled up, the same statistics come from captures_rollup_searches', async () => {
		await untilRolled();
		const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM captures_rollup_searches WHERE period = 'hour'`);
		assert.ok(n > 0, 'captures_rollup_searches holds hour rows');
		const st = await check('search=invoice', MATCH, false);
		await check(`search=invoice&from=${since}`, `${MATCH} AND started_at >= '${since}'`, false);
		await check('search=invoice&model=gpt-4o-mini', `${MATCH} AND model = 'gpt-4o-mini'`, false);
		// the rollup is what was read: a changed row shows in the answer
		await s.query("UPDATE captures_rollup_searches SET requests = requests + 1000 WHERE period = 'hour'");
		try {
			assert.equal((await getOk('/api/stats?search=invoice')).total_requests, st.total_requests + 1000 * n,
				'search=invoice is summed from captures_rollup_searches');
		} finally {
			await s.query("UPDATE captures_rollup_searches SET requests = requests - 1000 WHERE period = 'hour'");
		}
	});

	test('reading a rolled up search marks its watch used, once an hour', async () => {
		await untilRolled();
		const usedAgo = async () => (await s.query(`SELECT extract(epoch FROM now() - used_at)::int AS s
			FROM captures_search_watch WHERE search = 'invoice'`))[0].s;
		await s.query("UPDATE captures_search_watch SET used_at = now() - interval '2 hours' WHERE search = 'invoice'");
		// under 20,000 matches: marked used because it is read from the rollup
		await check('search=invoice&model=gpt-4o-mini', `${MATCH} AND model = 'gpt-4o-mini'`, false);
		assert.ok(await usedAgo() < 60, 'used_at is now');
		await s.query("UPDATE captures_search_watch SET used_at = now() - interval '30 minutes' WHERE search = 'invoice'");
		await check('search=invoice', MATCH, false);
		assert.ok(await usedAgo() >= 1790, 'used_at within the hour is left as it is');
	});

	test('a rollup that starts inside the range, or has not started, adds up with the captures around it', async () => {
		await untilRolled();
		// one transaction, rolled back: the proxy's refresh does not see the
		// watches made or moved here
		const c = new pg.Client({ connectionString: s.databaseUrl });
		await c.connect();
		const q = async (sql, params) => (await c.query(sql, params)).rows;
		try {
			await q('BEGIN');
			// a search naming a method, and one too short for the ILIKE extra
			// built from the start of the day before yesterday, read from 05:00
			// on: the day rows of yesterday (whole) are read with hour rows
			// around them and the captures before
			const start = "capture_day(now()) - interval '2 days' + interval '5 hours'";
			await q(`INSERT INTO captures_search_watch (search, search_like, search_method)
				VALUES ('post', '%post%', 'POST'), ('my', NULL, NULL)`);
			await q(`SELECT captures_rollup_searches_build(capture_day(now()) - interval '2 days',
				(SELECT rolled_until FROM captures_rollup_state), id)
				FROM captures_search_watch WHERE search IN ('post', 'my')`);
			await q(`UPDATE captures_search_watch SET built_from = ${start} WHERE search IN ('post', 'my')`);
			const searches = [
				["'invoice', '%invoice%', NULL", MATCH],
				["'post', '%post%', 'POST'", "(search @@ websearch_to_tsquery('simple', 'post') OR path ILIKE '%post%' OR id::text ILIKE '%post%' OR method = 'POST')"],
				["'my', NULL, NULL", "search @@ websearch_to_tsquery('simple', 'my')"],
			];
			const starts = [start, 'NULL'];
			const froms = [null, new Date(Date.now() - 50 * 3600e3).toISOString(), new Date(Date.now() - 20 * 3600e3 - 600e3).toISOString()];
			for (const start of starts) {
				await q(`UPDATE captures_search_watch SET built_from = ${start} WHERE search = 'invoice'`);
				for (const [args, w] of searches) {
					for (const from of froms) {
						const what = `${args} from ${from} built from ${start}`;
						const [{ p50, p95, ...t }] = await q(`SELECT requests::int AS n, failed::int, prompt_tokens::int AS prompt,
							first_ms::text, last_ms::text, p50_ms AS p50, p95_ms AS p95
							FROM captures_stats_totals($1, NULL, NULL, NULL, NULL, NULL, NULL, ${args})`, [from]);
						const g = await q(`SELECT set, requests::int AS n FROM captures_stats_groups($1, NULL, NULL, 3600, 30,
							NULL, NULL, NULL, NULL, ${args})`, [from]);
						const [{ p50: e50, p95: e95, ...e }] = await q(`SELECT count(*)::int AS n,
							count(*) FILTER (WHERE status >= 400)::int AS failed,
							coalesce(sum(prompt_tokens), 0)::int AS prompt,
							(extract(epoch FROM min(started_at)) * 1000)::int8::text AS first_ms,
							(extract(epoch FROM max(started_at)) * 1000)::int8::text AS last_ms,
							percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
							percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
							FROM captures WHERE ${w} AND ($1::timestamptz IS NULL OR started_at >= $1)`, [from]);
						assert.ok(e.n > 0, `${what}: matches something`);
						assert.deepEqual(t, e, `${what}: totals`);
						assert.ok(Math.abs(p50 - e50) <= 0.03 * e50, `${what}: p50 ${p50} vs ${e50}`);
						assert.ok(Math.abs(p95 - e95) <= 0.03 * e95, `${what}: p95 ${p95} vs ${e95}`);
						const sum = (set) => g.filter((r) => r.set === set).reduce((a, r) => a + r.n, 0);
						assert.equal(sum(1), e.n, `${what}: per model`);
						assert.equal(sum(2), e.n, `${what}: per hour`);
						assert.equal(sum(3), e.n, `${what}: all`);
					}
				}
			}
		} finally {
			await q('ROLLBACK').catch(() => {});
			await c.end();
		}
	});

	test('captures newer than the rollup, and late ones in rolled-up hours, are counted', async () => {
		await untilRolled();
		// within the current hour, which no refresh rolls up before its 10th minute past
		const from = "greatest(now() - interval '15 minutes', capture_hour(now()))";
		await insert(20, from, `(now() - ${from}) / 20`);
		await check('search=invoice', MATCH, false);
		// a late capture in an hour already rolled up: the hourly check rebuilds that hour
		await insert(4, "now() - interval '50 hours'", "interval '1 second'");
		await refreshed();
		await check('search=invoice', MATCH, false);
	});

	test('after a price change the searches are rolled up again, and read the same meanwhile', async () => {
		await untilRolled();
		// rows the rebuild must replace, then model_prices' statement
		// trigger marks every rollup stale (sql/007_attribution.sql)
		await s.query("UPDATE captures_rollup_searches SET requests = requests + 1000 WHERE period = 'hour'");
		await s.query('UPDATE model_prices SET valid_from = valid_from WHERE false');
		await check('search=invoice', MATCH, false);
		for (const t0 = Date.now(); ;) {
			const [{ stale }] = await s.query(`SELECT count(*)::int AS stale FROM captures_rollup_searches
				WHERE period = 'hour' AND requests > 1000`);
			if (!stale && await rolled()) break;
			assert.ok(Date.now() - t0 < 30000, 'rolled up again within 30 s');
			await s.query('SELECT captures_rollup_refresh()');
			await new Promise((r) => setTimeout(r, 100));
		}
		await check('search=invoice', MATCH, false);
	});

	test('a pattern ILIKE would refuse cannot be watched (it would fail every refresh)', async () => {
		await assert.rejects(s.query(String.raw`SELECT captures_search_watch('x', '%invoice\', NULL)`),
			/captures_search_watch_like_check/);
		await assert.rejects(s.query(String.raw`INSERT INTO captures_search_watch (search, search_like) VALUES ('x', 'a\\\')`),
			/captures_search_watch_like_check/);
		await s.query(String.raw`SELECT captures_search_watch('x', '%invoice\\%', NULL)`);
		await s.query("DELETE FROM captures_search_watch WHERE search = 'x'");
	});

	test('a watch unused for 30 days is dropped with its rows', async () => {
		await untilRolled();
		await s.query("UPDATE captures_search_watch SET used_at = now() - interval '31 days'");
		for (const t0 = Date.now(); (await s.query('SELECT count(*)::int AS n FROM captures_search_watch'))[0].n > 0;) {
			assert.ok(Date.now() - t0 < 20000, 'the unused watch is dropped within 20 s');
			await s.query('SELECT captures_rollup_refresh(true)');
			await new Promise((r) => setTimeout(r, 100));
		}
		const [{ n }] = await s.query('SELECT count(*)::int AS n FROM captures_rollup_searches');
		assert.equal(n, 0, 'its rollup rows went with it');
		assert.equal(await rolled(), false);
		await check('search=invoice', MATCH, true);
	});

	test('at most 100 watches are kept: the refresh drops the least recently used', async () => {
		// one transaction: no refresh trims them before they are dated
		await s.query(`DO $$ BEGIN
			PERFORM captures_search_watch('word' || i, NULL, NULL) FROM generate_series(1, 105) i;
			UPDATE captures_search_watch SET used_at = now() - interval '1 minute' * (200 - substr(search, 5)::int)
			WHERE search LIKE 'word%';
		END $$`);
		await refreshed();
		const rows = await s.query("SELECT search FROM captures_search_watch WHERE search LIKE 'word%' ORDER BY substr(search, 5)::int");
		const left = rows.map((r) => r.search);
		// invoice, watched again by the test before, is the most recent: words 1-6 go
		assert.equal(left.length, 99, `99 words and invoice are left: ${left.length}`);
		assert.equal(left[0], 'word7');
	});

	test('when the watch cannot be written, the statistics are answered all the same', async () => {
		await s.query('DELETE FROM captures_search_watch');
		await s.query('ALTER FUNCTION captures_search_watch(text, text, text) RENAME TO captures_search_watch_away');
		try {
			await check('search=invoice', MATCH, true);
			assert.equal((await s.query('SELECT count(*)::int AS n FROM captures_search_watch'))[0].n, 0);
		} finally {
			await s.query('ALTER FUNCTION captures_search_watch_away(text, text, text) RENAME TO captures_search_watch');
		}
		assert.match(s.log(), /dashboard write: .*captures_search_watch/, 'the failed write is logged');
	});
});

describe('a dashboard reading another database URL records its watches through DATABASE_URL', () => {
	// DASHBOARD_DATABASE_URL logs in as a role that may read but not write,
	// as on a read replica
	const role = `reader_${process.pid}`;
	let s, db;

	before(async () => {
		db = await createDatabase('search_replica');
		const url = new URL(db.url);
		url.searchParams.set('user', role);
		s = await startStack({ name: 'search-replica', databaseUrl: db.url,
			env: { OPENAI_API_BASE: 'http://127.0.0.1:9', DASHBOARD_DATABASE_URL: url.toString() } });
		await s.query(`CREATE ROLE ${role} LOGIN`);
		await s.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
		await insertCaptures(s, 28000, "now() - interval '2 days'", "interval '6 seconds'");
	});

	after(async () => {
		try {
			await s?.stop();
		} finally {
			if (db) await dropDatabase(db.db);
			const c = new pg.Client({ connectionString: process.env.TEST_PG_ADMIN_URL });
			await c.connect();
			try { await c.query(`DROP ROLE IF EXISTS ${role}`); } finally { await c.end(); }
		}
	});

	test('the statistics are read as the reader; the watch is written through DATABASE_URL', async () => {
		const r = await rawRequest(s.webUrl + '/api/stats?search=invoice');
		assert.equal(r.status, 200, r.body.toString('utf8').slice(0, 300));
		assert.ok(JSON.parse(r.body.toString('utf8')).total_requests > 20000);
		const [{ readers }] = await s.query(`SELECT count(*)::int AS readers FROM pg_stat_activity
			WHERE usename = $1 AND datname = current_database()`, [role]);
		assert.ok(readers > 0, 'the dashboard reads as the reader role');
		const rows = await s.query('SELECT search FROM captures_search_watch');
		assert.deepEqual(rows.map((x) => x.search), ['invoice']);
	});
});
