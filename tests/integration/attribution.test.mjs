// tests/integration/attribution.test.mjs - who made each call and what it cost, in the
// dashboard's JSON API: the filters instance, user, end_user, session and tag, the
// attribution fields and cost_usd of list items and details, and /api/stats with
// cost_usd, unpriced_requests and group_by.
//
// Two proxies ("alpha", "beta": INSTANCE_NAME) share one database; calls go through
// them with X-Capture-User/-Session/-Tags and the body's "user", to an upstream that
// answers with the usage the test chooses. Every expected id, count, token sum and
// cost is worked out here from the calls made and model_prices. The statistics are
// checked twice: while the calls are too recent for the hourly rollups (read from
// captures) and after moving them three days back and refreshing the rollups
// (captures_rollup, captures_rollup_groups: sql/007_attribution.sql).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import pg from 'pg';
import { startStack, createDatabase, dropDatabase, rawRequest, UUID_RE } from '../lib/stack.mjs';
import { sha256 } from '../lib/upstream.mjs';

const KEY_A = 'sk-proj-ATTRIBKEYA1111aaaaBBBBcccc';
const KEY_B = 'sk-proj-ATTRIBKEYB2222ddddEEEEffff';
const fingerprint = (k) => sha256(Buffer.from(k)).slice(0, 16);
const GROUPINGS = ['model', 'instance', 'user', 'end_user', 'session', 'tag', 'key', 'status', 'path'];

/* The calls: where they go, their attribution, the model the upstream names
 * and the usage it reports (none: no usage object). */
const PLAN = [
	{ name: 'a1', via: 'alpha', key: KEY_A, user: 'alice', session: 's1', tags: 'eval, nightly', endUser: 'end-1',
		model: 'gpt-4o', usage: { prompt_tokens: 1000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 400 } } },
	{ name: 'a2', via: 'alpha', key: KEY_A, user: 'alice', session: 's1', tags: 'eval',
		model: 'gpt-4o-mini', usage: { prompt_tokens: 2000, completion_tokens: 1000 } },
	{ name: 'a3', via: 'alpha', key: KEY_A, user: 'bob', session: 's2', endUser: 'end-2',
		model: 'mystery-model-x', usage: { prompt_tokens: 100, completion_tokens: 50 } },
	{ name: 'b1', via: 'beta', key: KEY_B, user: 'bob', tags: 'nightly', endUser: 'end-1',
		model: 'gpt-4o', usage: { prompt_tokens: 300, completion_tokens: 200 } },
	{ name: 'b2', via: 'beta', key: KEY_B, user: 'carol', session: 's3', tags: 'prod', model: 'fail-500' },
	{ name: 'b3', via: 'beta', key: KEY_A, model: 'gpt-4o-mini', usage: { prompt_tokens: 10, completion_tokens: 5 } },
	{ name: 'a4', via: 'alpha', key: KEY_B, user: 'carol', path: '/v1/no/such/thing' },
];

/* An upstream for chat completions answering with the request's model and
 * the usage in the x-test-usage header; model fail-500 gets a 500, other
 * paths a 404. */
async function startUpstream() {
	const server = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const send = (status, obj) => {
				const b = Buffer.from(JSON.stringify(obj));
				res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
				res.end(b);
			};
			let j = null;
			try { j = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { j = null; }
			if (req.method !== 'POST' || req.url !== '/v1/chat/completions' || !j)
				return send(404, { error: { message: `Unknown request URL: ${req.method} ${req.url}.`,
					type: 'invalid_request_error', param: null, code: 'unknown_url' } });
			if (j.model === 'fail-500')
				return send(500, { error: { message: 'The server had an error.', type: 'server_error', param: null, code: null } });
			const usage = req.headers['x-test-usage'] ? JSON.parse(req.headers['x-test-usage']) : undefined;
			if (usage) usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
			return send(200, { id: 'chatcmpl-attrib', object: 'chat.completion', created: Math.floor(Date.now() / 1000),
				model: j.model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null },
					logprobs: null, finish_reason: 'stop' }], ...(usage ? { usage } : {}) });
		});
	});
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	return {
		url: `http://127.0.0.1:${server.address().port}`,
		stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
	};
}

/* GET on a stack's web port: {status, json}. */
async function get(s, path) {
	const r = await rawRequest(s.webUrl + path);
	let json = null;
	try { json = JSON.parse(r.body.toString('utf8')); } catch { json = null; }
	return { status: r.status, json, text: r.body.toString('utf8') };
}

async function getOk(s, path) {
	const r = await get(s, path);
	assert.equal(r.status, 200, `${path}: ${r.status} ${r.text.slice(0, 300)}`);
	return r.json;
}

function assertMoney(got, want, what) {
	if (want === null) {
		assert.equal(got, null, `${what}: cost should be null, got ${got}`);
		return;
	}
	assert.equal(typeof got, 'number', `${what}: cost ${JSON.stringify(got)}, want ${want}`);
	assert.ok(Math.abs(got - want) < 1e-9, `${what}: cost ${got}, want ${want.toFixed(8)}`);
}

/* The grouping keys of a call (several for tags; [null] when it has none). */
function keysOf(c, g) {
	switch (g) {
	case 'model': return [c.row.model];
	case 'instance': return [c.via];
	case 'user': return [c.user ?? null];
	case 'end_user': return [c.endUser ?? null];
	case 'session': return [c.session ?? null];
	case 'tag': return c.tagList.length ? c.tagList : [null];
	case 'key': return [fingerprint(c.key)];
	case 'status': return [String(c.row.status)];
	case 'path': return [c.row.path];
	default: throw new Error(g);
	}
}

/* The expected sums of a set of calls. */
function sums(calls) {
	const priced = calls.filter((c) => c.cost !== null);
	return {
		requests: calls.length,
		failed: calls.filter((c) => c.row.status >= 400 || c.row.outcome !== 'completed').length,
		prompt_tokens: calls.reduce((a, c) => a + (c.row.prompt_tokens ?? 0), 0),
		completion_tokens: calls.reduce((a, c) => a + (c.row.completion_tokens ?? 0), 0),
		cost_usd: priced.length ? priced.reduce((a, c) => a + c.cost, 0) : null,
		unpriced: calls.filter((c) => c.cost === null && c.row.prompt_tokens !== null).length,
		avg_ms: calls.reduce((a, c) => a + c.row.duration_ms, 0) / calls.length,
	};
}

/* Checks /api/stats?group_by=g&extra against the calls `calls`. */
async function checkGroups(s, calls, g, extra, what) {
	const st = await getOk(s, `/api/stats?group_by=${g}${extra}`);
	assert.equal(st.group_by, g, `${what}: group_by echoed`);
	assert.ok(Array.isArray(st.groups), `${what}: groups is an array`);
	const want = new Map();
	for (const c of calls)
		for (const k of keysOf(c, g)) want.set(k, [...(want.get(k) || []), c]);
	const got = new Map(st.groups.map((x) => [x.key, x]));
	assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(),
		`${what}: group keys ${JSON.stringify(st.groups.map((x) => x.key))}`);
	for (const [k, cs] of want) {
		const x = got.get(k), e = sums(cs);
		const w = `${what}: group ${JSON.stringify(k)}`;
		assert.equal(x.requests, e.requests, `${w}: requests`);
		assert.equal(x.failed, e.failed, `${w}: failed`);
		assert.equal(x.prompt_tokens, e.prompt_tokens, `${w}: prompt_tokens`);
		assert.equal(x.completion_tokens, e.completion_tokens, `${w}: completion_tokens`);
		assertMoney(x.cost_usd, e.cost_usd, `${w}: cost_usd`);
		assert.equal(x.unpriced_requests, e.unpriced, `${w}: unpriced_requests`);
		assert.ok(Math.abs(x.avg_response_time_ms - e.avg_ms) < 1e-6, `${w}: avg ${x.avg_response_time_ms} vs ${e.avg_ms}`);
		if (g === 'key') assert.match(x.key_hint, /^sk-proj-…/, `${w}: key_hint`);
	}
	const order = st.groups.map((x) => x.requests);
	assert.deepEqual(order, [...order].sort((a, b) => b - a), `${what}: busiest first`);
	return st;
}

describe('attribution and cost in the dashboard API', () => {
	let up, shared, alpha, beta;
	const calls = [];
	let prices;

	/* What a call costs by model_prices (null: no price or no usage). */
	function costOf(c) {
		const p = prices[c.row.model];
		if (!p || c.row.prompt_tokens === null) return null;
		const cached = c.row.cached_tokens ?? 0;
		return ((c.row.prompt_tokens - cached) * p.input + cached * p.cached + c.row.completion_tokens * p.output) / 1e6;
	}

	async function makeCall(p) {
		const s = p.via === 'alpha' ? alpha : beta;
		const headers = { Authorization: `Bearer ${p.key}`, 'Content-Type': 'application/json' };
		if (p.user) headers['X-Capture-User'] = p.user;
		if (p.session) headers['X-Capture-Session'] = p.session;
		if (p.tags) headers['X-Capture-Tags'] = p.tags;
		if (p.usage) headers['X-Test-Usage'] = JSON.stringify(p.usage);
		const body = p.path ? undefined : JSON.stringify({ model: p.model, messages: [{ role: 'user', content: `call ${p.name}` }],
			...(p.endUser ? { user: p.endUser } : {}) });
		const r = await rawRequest(s.proxyUrl + (p.path || '/v1/chat/completions'),
			{ method: p.path ? 'GET' : 'POST', headers, body });
		const id = r.headers['x-capture-id'];
		assert.match(id || '', UUID_RE, `${p.name}: X-Capture-Id`);
		return { ...p, id, status: r.status, tagList: p.tags ? p.tags.split(',').map((t) => t.trim()) : [] };
	}

	before(async () => {
		up = await startUpstream();
		shared = await createDatabase('attrib');
		const started = await Promise.allSettled(['alpha', 'beta'].map((name) => startStack({
			name, databaseUrl: shared.url, env: { OPENAI_API_BASE: up.url, INSTANCE_NAME: name } })));
		[alpha, beta] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
		const failed = started.filter((r) => r.status === 'rejected');
		if (failed.length) {
			await Promise.allSettled([alpha?.stop(), beta?.stop()]);
			throw failed[0].reason;
		}
		for (const p of PLAN) calls.push(await makeCall(p));
		for (const c of calls) c.row = await alpha.waitForCapture(c.id);
		prices = {};
		for (const m of ['gpt-4o', 'gpt-4o-mini']) {
			const [p] = await alpha.query(`SELECT * FROM model_prices WHERE model = $1
				AND valid_from <= (now() AT TIME ZONE 'UTC')::date ORDER BY valid_from DESC LIMIT 1`, [m]);
			assert.ok(p, `model_prices has ${m}`);
			prices[m] = { input: Number(p.input_per_mtok), cached: Number(p.cached_input_per_mtok ?? p.input_per_mtok),
				output: Number(p.output_per_mtok ?? 0) };
		}
		for (const c of calls) c.cost = costOf(c);
	});

	after(async () => {
		try {
			await Promise.all([alpha?.stop(), beta?.stop()]);
		} finally {
			await up?.stop();
			if (shared) await dropDatabase(shared.db);
		}
	});

	const byName = (n) => calls.find((c) => c.name === n);
	const names = (list) => list.map((x) => calls.find((c) => c.id === x.id)?.name ?? x.id).sort();

	test('the calls were captured as planned', () => {
		assert.deepEqual(calls.map((c) => c.status), [200, 200, 200, 200, 500, 200, 404]);
		assert.equal(byName('a1').row.cached_tokens, 400);
		assert.deepEqual(byName('a1').row.capture_tags, ['eval', 'nightly']);
		assert.equal(byName('b1').row.instance, 'beta');
		assert.ok(byName('a1').cost > 0 && byName('a3').cost === null && byName('b2').cost === null);
	});

	test('list items and the detail carry instance, user, session, tags, end_user and cost_usd', async () => {
		const list = await getOk(alpha, '/api/requests?page_size=100');
		assert.equal(list.requests.length, calls.length);
		for (const item of list.requests) {
			const c = calls.find((x) => x.id === item.id);
			assert.ok(c, `unexpected id ${item.id}`);
			assert.equal(item.instance, c.via, `${c.name}: instance`);
			assert.equal(item.user, c.user ?? null, `${c.name}: user`);
			assert.equal(item.session, c.session ?? null, `${c.name}: session`);
			assert.deepEqual(item.tags, c.tagList.length ? c.tagList : null, `${c.name}: tags`);
			assert.equal(item.end_user, c.endUser ?? null, `${c.name}: end_user`);
			assertMoney(item.cost_usd, c.cost, `${c.name}: list cost_usd`);
			const [{ cost }] = await alpha.query(`SELECT capture_cost(model, started_at, prompt_tokens, cached_tokens,
				completion_tokens)::float8 AS cost FROM captures WHERE id = $1`, [c.id]);
			assertMoney(item.cost_usd, cost, `${c.name}: list cost_usd = capture_cost()`);

			const d = await getOk(beta, `/api/request/${c.id}`);
			assert.equal(d.instance, c.via, `${c.name}: detail instance`);
			assert.equal(d.user, c.user ?? null);
			assert.equal(d.session, c.session ?? null);
			assert.deepEqual(d.tags, c.tagList.length ? c.tagList : null);
			assert.equal(d.end_user, c.endUser ?? null);
			assertMoney(d.cost_usd, c.cost, `${c.name}: detail cost_usd`);
		}
		// gpt-4o with cached tokens: the cached ones at the cached price
		const p = prices['gpt-4o'];
		assertMoney(byName('a1').cost, (600 * p.input + 400 * p.cached + 500 * p.output) / 1e6, 'a1 by hand');
	});

	test('each filter returns exactly the calls it names, in the list and in the statistics', async () => {
		const cases = [
			['instance=alpha', (c) => c.via === 'alpha'],
			['instance=beta', (c) => c.via === 'beta'],
			['user=alice', (c) => c.user === 'alice'],
			['user=bob', (c) => c.user === 'bob'],
			['user=carol', (c) => c.user === 'carol'],
			['end_user=end-1', (c) => c.endUser === 'end-1'],
			['end_user=end-2', (c) => c.endUser === 'end-2'],
			['session=s1', (c) => c.session === 's1'],
			['session=s3', (c) => c.session === 's3'],
			['tag=eval', (c) => c.tagList.includes('eval')],
			['tag=nightly', (c) => c.tagList.includes('nightly')],
			['tag=prod', (c) => c.tagList.includes('prod')],
			['user=bob&instance=beta', (c) => c.user === 'bob' && c.via === 'beta'],
			['tag=nightly&end_user=end-1&instance=alpha', (c) => c.name === 'a1'],
			['user=alice&model=gpt-4o-mini', (c) => c.name === 'a2'],
			['instance=alpha&status=error', (c) => c.via === 'alpha' && c.status >= 400],
			['user=Alice', () => false],
			['tag=eval%2C+nightly', () => false],
			['tag=night', () => false],
			['session=s', () => false],
			['instance=gamma', () => false],
		];
		for (const [q, pred] of cases) {
			const want = calls.filter(pred);
			const list = await getOk(beta, `/api/requests?${q}&page_size=100`);
			assert.deepEqual(names(list.requests), want.map((c) => c.name).sort(), `/api/requests?${q}`);
			assert.equal(list.total, want.length, `${q}: total`);
			const st = await getOk(alpha, `/api/stats?${q}`);
			const e = sums(want);
			assert.equal(st.total_requests, want.length, `/api/stats?${q}: total_requests`);
			assert.equal(st.failed_requests, e.failed, `${q}: failed_requests`);
			assert.equal(st.tokens.prompt, e.prompt_tokens, `${q}: prompt tokens`);
			assertMoney(st.cost_usd, e.cost_usd, `/api/stats?${q}: cost_usd`);
			assert.equal(st.unpriced_requests, e.unpriced, `${q}: unpriced_requests`);
			assert.equal(st.group_by, undefined, `${q}: no group_by without the parameter`);
		}
		// a page of one, then the cursor: the filter holds across pages
		const first = await getOk(alpha, '/api/requests?user=alice&page_size=1');
		const second = await getOk(alpha, `/api/requests?user=alice&page_size=1&cursor=${first.next_cursor}`);
		assert.deepEqual([...names(first.requests), ...names(second.requests)].sort(), ['a1', 'a2']);
		assert.equal(second.has_more, false);
	});

	test('/api/stats: cost of the whole range, priced and unpriced calls', async () => {
		const st = await getOk(alpha, '/api/stats');
		const e = sums(calls);
		assert.equal(st.total_requests, calls.length);
		assertMoney(st.cost_usd, e.cost_usd, 'all: cost_usd');
		assert.equal(st.unpriced_requests, 1, 'mystery-model-x reported usage without a price');
		const models = Object.fromEntries(st.models.map((m) => [m.model, m]));
		assertMoney(models['gpt-4o'].cost_usd, byName('a1').cost + byName('b1').cost, 'models: gpt-4o');
		assertMoney(models['mystery-model-x'].cost_usd, null, 'models: mystery-model-x');
		const points = st.timeline.points.filter((p) => p.cost_usd !== null);
		assertMoney(points.reduce((a, p) => a + p.cost_usd, 0), e.cost_usd, 'timeline: cost adds up');
		const none = await getOk(alpha, '/api/stats?model=mystery-model-x');
		assert.equal(none.cost_usd, null, 'only unpriced calls: cost_usd null');
		assert.equal(none.unpriced_requests, 1);
		const empty = await getOk(alpha, `/api/stats?from=${new Date(Date.now() + 3600e3).toISOString()}`);
		assert.equal(empty.cost_usd, null);
		assert.equal(empty.unpriced_requests, 0);
	});

	test('group_by: every grouping, counts, tokens and cost per value (from captures)', async () => {
		for (const g of GROUPINGS) await checkGroups(alpha, calls, g, '', `group_by=${g}`);
		const onAlpha = calls.filter((c) => c.via === 'alpha');
		for (const g of GROUPINGS) await checkGroups(beta, onAlpha, g, '&instance=alpha', `group_by=${g}&instance=alpha`);
		// with filters the rollups are not split by: read from captures by the query itself
		const withKeyA = calls.filter((c) => c.key === KEY_A);
		for (const g of GROUPINGS)
			await checkGroups(beta, withKeyA, g, `&key=${fingerprint(KEY_A)}`, `group_by=${g}&key=KEY_A`);
		const failedOnes = calls.filter((c) => c.status >= 400);
		await checkGroups(beta, failedOnes, 'user', '&status=error', 'group_by=user&status=error');
		const st = await checkGroups(alpha, calls.filter((c) => c.tagList.includes('eval')), 'tag', '&tag=eval', 'tag=eval');
		assert.ok(st.groups.some((x) => x.key === 'nightly'), 'a call with two tags is in both groups');
	});

	test('bad values: 400 with a message naming the parameter', async () => {
		const cases = [
			['/api/stats?group_by=colour', /group_by: one of model, instance, user, end_user, session, tag, key, status, path/],
			['/api/stats?group_by=Model', /group_by/],
			['/api/stats?user=a%C3%28b', /user: must be UTF-8 text without NUL bytes/],
			['/api/requests?tag=%C3%28', /tag: must be UTF-8/],
			['/api/requests?end_user=%C3%28', /end_user/],
			[`/api/requests?session=${'x'.repeat(2049)}`, /session: at most 2048 bytes/],
			['/api/stats?instance=%ED%A0%80', /instance/],
		];
		for (const [path, re] of cases) {
			const r = await get(alpha, path);
			assert.equal(r.status, 400, `${path}: ${r.status} ${r.text.slice(0, 200)}`);
			assert.ok(r.json && r.json.error, `${path}: JSON error`);
			assert.match(r.json.error.message, re, path);
		}
		// group_by is a statistics parameter: the list ignores it
		assert.equal((await getOk(alpha, '/api/requests?group_by=colour')).requests.length, calls.length);
	});

	test('from the rollups: the same answers once the calls are hours old and rolled up', async () => {
		// three days back: whole hours the rollups cover after a refresh
		await alpha.query("UPDATE captures SET started_at = started_at - interval '3 days'");
		// The hour of the oldest capture is read from captures (the rollups start
		// at the next whole hour after it): with the oldest call at the start of
		// its hour, every call is in hours the rollups answer.
		await alpha.query(`UPDATE captures SET started_at = capture_hour(started_at)
			WHERE started_at = (SELECT min(started_at) FROM captures)`);
		await alpha.query('SELECT captures_rollup_refresh(true)');
		// a tampered rollup row shows in the answers: they come from the rollups
		const bump = async (n) => {
			await alpha.query(`UPDATE captures_rollup_groups SET requests = requests + $1
				WHERE dim = 'user' AND key = 'carol' AND NOT by_instance`, [n]);
			await alpha.query(`UPDATE captures_rollup SET requests = requests + $1
				WHERE period = 'hour' AND model = 'gpt-4o' AND NOT by_instance`, [n]);
		};
		await bump(1000);
		try {
			const carol = (await getOk(alpha, '/api/stats?group_by=user')).groups.find((x) => x.key === 'carol');
			assert.equal(carol.requests, 1000 + calls.filter((c) => c.user === 'carol').length, 'group_by=user from captures_rollup_groups');
			const gpt = (await getOk(alpha, '/api/stats?group_by=model')).groups.find((x) => x.key === 'gpt-4o');
			assert.equal(gpt.requests, 1000 + calls.filter((c) => c.row.model === 'gpt-4o').length, 'group_by=model from captures_rollup');
		} finally {
			await bump(-1000);
		}
		const [{ n }] = await alpha.query(`SELECT count(*)::int AS n FROM captures_rollup_groups
			WHERE at < now() - interval '2 days'`);
		assert.ok(n > 0, 'captures_rollup_groups holds the moved hours');
		const [{ by }] = await alpha.query(`SELECT count(*)::int AS by FROM captures_rollup
			WHERE by_instance AND instance IN ('alpha', 'beta')`);
		assert.ok(by > 0, 'captures_rollup holds rows per instance');
		for (const g of GROUPINGS) await checkGroups(alpha, calls, g, '', `rolled up: group_by=${g}`);
		const onBeta = calls.filter((c) => c.via === 'beta');
		for (const g of GROUPINGS)
			await checkGroups(alpha, onBeta, g, '&instance=beta', `rolled up: group_by=${g}&instance=beta`);
		await checkGroups(alpha, calls.filter((c) => c.row.model === 'gpt-4o'), 'instance', '&model=gpt-4o',
			'rolled up: group_by=instance&model=gpt-4o');
		const since = new Date(Date.now() - 5 * 86400e3).toISOString();
		await checkGroups(beta, calls, 'user', `&from=${since}`, 'rolled up: group_by=user&from=');
		for (const [q, pred] of [['', () => true], ['instance=alpha', (c) => c.via === 'alpha'],
			['instance=beta&model=gpt-4o', (c) => c.via === 'beta' && c.row.model === 'gpt-4o']]) {
			const st = await getOk(beta, `/api/stats?${q}`);
			const e = sums(calls.filter(pred));
			assert.equal(st.total_requests, e.requests, `rolled up: /api/stats?${q}`);
			assert.equal(st.failed_requests, e.failed, `rolled up: ${q} failed`);
			assertMoney(st.cost_usd, e.cost_usd, `rolled up: /api/stats?${q} cost_usd`);
			assert.equal(st.unpriced_requests, e.unpriced, `rolled up: ${q} unpriced`);
		}
	});

	test('a new price reprices what was rolled up', async () => {
		await alpha.query(`INSERT INTO model_prices (model, valid_from, input_per_mtok, cached_input_per_mtok,
			output_per_mtok, source) VALUES ('mystery-model-x', '2020-01-01', 4, NULL, 8, 'attribution.test.mjs')`);
		const a3 = byName('a3');
		const want = (100 * 4 + 50 * 8) / 1e6;
		const check = async (what) => {
			const st = await getOk(alpha, '/api/stats?group_by=model');
			const g = st.groups.find((x) => x.key === 'mystery-model-x');
			assertMoney(g.cost_usd, want, `${what}: mystery-model-x priced`);
			assert.equal(g.unpriced_requests, 0, `${what}: no longer unpriced`);
			assert.equal(st.unpriced_requests, 0, `${what}: unpriced_requests`);
			assertMoney(st.cost_usd, sums(calls).cost_usd + want, `${what}: total cost`);
			const u = (await getOk(alpha, '/api/stats?group_by=user')).groups.find((x) => x.key === 'bob');
			assertMoney(u.cost_usd, want + byName('b1').cost, `${what}: bob's cost`);
			const item = (await getOk(alpha, '/api/requests?end_user=end-2')).requests[0];
			assert.equal(item.id, a3.id);
			assertMoney(item.cost_usd, want, `${what}: list item`);
		};
		await check('before the rollups are rebuilt');
		await alpha.query('SELECT captures_rollup_refresh(true)');
		const [{ n }] = await alpha.query('SELECT count(*)::int AS n FROM captures_rollup_groups');
		assert.ok(n > 0, 'rebuilt');
		await check('after the rebuild');
	});

	test('a price change while a refresh is rebuilding is not lost to it', async () => {
		// The refresh reads captures_rollup_state, builds for a while, then writes
		// the state back: a price committed in between must still reprice.
		const connect = async () => {
			const c = new pg.Client({ connectionString: shared.url });
			await c.connect();
			return c;
		};
		const [holder, pricer, refresher] = await Promise.all([connect(), connect(), connect()]);
		try {
			await alpha.query('UPDATE captures_rollup_state SET rolled_until = NULL, checked_at = NULL');
			// hold the refresh (ours or a proxy's) inside captures_rollup_groups_build
			await holder.query('BEGIN');
			await holder.query('LOCK TABLE captures_rollup_groups IN ACCESS EXCLUSIVE MODE');
			const refreshed = refresher.query('SELECT captures_rollup_refresh(true)');
			for (const t0 = Date.now(); ;) {
				const [{ n }] = await alpha.query(`SELECT count(*)::int AS n FROM pg_locks l
					JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'captures_rollup_groups' AND NOT l.granted`);
				if (n > 0) break;
				assert.ok(Date.now() - t0 < 10000, 'a refresh waits for captures_rollup_groups');
				await new Promise((r) => setTimeout(r, 20));
			}
			const priced = pricer.query(`INSERT INTO model_prices (model, valid_from, input_per_mtok,
				cached_input_per_mtok, output_per_mtok, source)
				VALUES ('mystery-model-x', '2020-01-02', 40, NULL, 80, 'attribution.test.mjs: race')`);
			await new Promise((r) => setTimeout(r, 300));
			await holder.query('COMMIT');
			await Promise.all([refreshed, priced]);
		} finally {
			await Promise.allSettled([holder.end(), pricer.end(), refresher.end()]);
		}
		await alpha.query('SELECT captures_rollup_refresh(true)');
		const want = (100 * 40 + 50 * 80) / 1e6;
		const st = await getOk(alpha, '/api/stats?group_by=model');
		const g = st.groups.find((x) => x.key === 'mystery-model-x');
		assertMoney(g.cost_usd, want, 'group_by=model: mystery-model-x at the new price');
		assertMoney(st.cost_usd, sums(calls).cost_usd + want, 'total cost at the new price');
	});
});

describe('statistics by streamed, method and path (captures_rollup_calls)', () => {
	let s, db;
	// one filter each, mixed with a model and a time range; instance with
	// streamed is not in the rollup and is read from the captures
	const since = () => new Date(Date.now() - 2 * 86400e3).toISOString();
	const QUERIES = [
		['streamed=true', "streamed"], ['streamed=false', 'NOT streamed'],
		['path=responses', "path ILIKE '%responses%'"], ['path=CHAT', "path ILIKE '%chat%'"],
		['method=GET', "method = 'GET'"],
		['streamed=true&path=chat&model=gpt-4o', "streamed AND path ILIKE '%chat%' AND model = 'gpt-4o'"],
		['path=responses&from=SINCE', "path ILIKE '%responses%' AND started_at >= 'SINCE'"],
		['streamed=false&instance=calls', "NOT streamed AND instance = 'calls'"],
	];

	/* count, failed, tokens, latency of the captures matching the SQL condition w. */
	async function direct(w) {
		const [r] = await s.query(`SELECT count(*)::int AS n,
			count(*) FILTER (WHERE status >= 400 OR outcome <> 'completed')::int AS failed,
			count(*) FILTER (WHERE status >= 400 AND status < 500)::int AS c4xx,
			coalesce(sum(prompt_tokens), 0)::int AS prompt, coalesce(sum(completion_tokens), 0)::int AS completion,
			avg(duration_ms) AS avg_ms, (extract(epoch FROM min(started_at)) * 1000)::int8::text AS first_ms,
			(extract(epoch FROM max(started_at)) * 1000)::int8::text AS last_ms
			FROM captures WHERE ${w}`);
		return r;
	}

	/* n captures from `start`, `step` apart (SQL), of every kind in turn. */
	async function insert(n, start, step, instance = null) {
		await s.query(`INSERT INTO captures (id, started_at, instance, method, path, status, streamed, model,
				outcome, duration_ms, ttfb_ms, prompt_tokens, completion_tokens)
			SELECT gen_random_uuid(), ${start} + i * ${step}, $2,
				CASE WHEN i % 7 = 0 THEN 'GET' ELSE 'POST' END,
				CASE WHEN i % 7 = 0 THEN '/v1/models' WHEN i % 2 = 0 THEN '/v1/responses' ELSE '/v1/chat/completions' END,
				CASE WHEN i % 5 = 0 THEN 429 ELSE 200 END, i % 3 = 0,
				CASE WHEN i % 7 = 0 THEN NULL WHEN i % 4 < 2 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
				'completed', 100 + i * 13, 20 + i, i * 10, i * 5
			FROM generate_series(0, $1 - 1) i`, [n, instance]);
	}

	before(async () => {
		db = await createDatabase('calls');
		s = await startStack({ name: 'calls', databaseUrl: db.url, env: { OPENAI_API_BASE: 'http://127.0.0.1:9', INSTANCE_NAME: 'calls' } });
		// from the start of an hour: the rollup then answers for every hour
		// but the last ones (the hour of the oldest capture is read from captures)
		await insert(120, "capture_hour(now() - interval '3 days')", "interval '31 minutes'", 'calls');
		// the proxy's own refresh may hold the rollup's lock (ours then returns
		// at once): until every rolled-up hour is in captures_rollup_calls
		for (const t0 = Date.now(); ;) {
			await s.query('SELECT captures_rollup_refresh(true)');
			const [{ done }] = await s.query(`SELECT (SELECT sum(requests) FROM captures_rollup_calls
				WHERE period = 'hour') = (SELECT count(*) FROM captures
				WHERE started_at < (SELECT rolled_until FROM captures_rollup_state)) AS done`);
			if (done) break;
			assert.ok(Date.now() - t0 < 20000, 'the rollups are built within 20 s');
			await new Promise((r) => setTimeout(r, 100));
		}
		// newer than the rollup reaches, read from the captures: within the
		// current hour, which no refresh rolls up before its 10th minute past
		// (rows in an hour already rolled up count only after the next refresh)
		const from = "greatest(now() - interval '15 minutes', capture_hour(now()))";
		await insert(20, from, `(now() - ${from}) / 20`);
	});

	after(async () => {
		try { await s?.stop(); } finally { if (db) await dropDatabase(db.db); }
	});

	test('the rollup by call is built and read: a changed row shows in the answer', async () => {
		const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM captures_rollup_calls
			WHERE period = 'hour' AND streamed`);
		assert.ok(n > 0, 'captures_rollup_calls holds hour rows');
		const want = await direct('streamed');
		await s.query("UPDATE captures_rollup_calls SET requests = requests + 1000 WHERE period = 'hour' AND streamed");
		try {
			assert.equal((await getOk(s, '/api/stats?streamed=true')).total_requests, want.n + 1000 * n,
				'streamed=true is summed from captures_rollup_calls');
		} finally {
			await s.query("UPDATE captures_rollup_calls SET requests = requests - 1000 WHERE period = 'hour' AND streamed");
		}
	});

	test('stats with streamed, method or path equal a count of the captures, rows newer than the rollup included', async () => {
		const t = since();
		for (const [q0, w0] of QUERIES) {
			const q = q0.replace('SINCE', t), w = w0.replace('SINCE', t);
			const st = await getOk(s, `/api/stats?${q}`);
			const e = await direct(w);
			assert.ok(e.n > 0, `${q}: matches something`);
			assert.equal(st.total_requests, e.n, `${q}: total_requests`);
			assert.equal(st.failed_requests, e.failed, `${q}: failed_requests`);
			assert.equal(st.errors.client_4xx, e.c4xx, `${q}: client_4xx`);
			assert.equal(st.tokens.prompt, e.prompt, `${q}: prompt tokens`);
			assert.equal(st.tokens.completion, e.completion, `${q}: completion tokens`);
			assert.ok(Math.abs(st.avg_response_time_ms - e.avg_ms) < 1e-6, `${q}: avg ${st.avg_response_time_ms} vs ${e.avg_ms}`);
			assert.equal(String(st.first_ms), e.first_ms, `${q}: first_ms`);
			assert.equal(String(st.last_ms), e.last_ms, `${q}: last_ms`);
			const sum = (xs) => xs.reduce((a, x) => a + x.requests, 0);
			assert.equal(sum(st.models), e.n, `${q}: per model`);
			assert.equal(sum(st.timeline.points), e.n, `${q}: timeline`);
		}
	});
});
