// tests/integration/team.test.mjs - a team on one capture database: several
// proxies sharing it, attribution headers, prices and cost, the psql views,
// age retention, and the whole service under nginx instead of lighttpd.
//
// Stacks: "alpha" + "beta" (started together on one database), "cost" (its own
// database, whose TimeZone is deliberately not UTC, and a small upstream that
// answers with chosen models and usage; restarted with MAX_REQUESTS_AGE_DAYS=7
// for the retention wiring) and "nginx" (CAPTURE_FRONT=nginx, the core proxy
// checks plus chunked request bodies).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import * as upstreamLib from '../lib/upstream.mjs';
import { STREAM_DELTAS, STREAM_DELAY_MS, CHAT_REPLY, responseModel, sha256 } from '../lib/upstream.mjs';
import { startStack, createDatabase, dropDatabase, checkConfig, freePort, rawRequest, ROOT, UUID_RE }
	from '../lib/stack.mjs';

const KEY_A = 'sk-proj-ALPHAKEY11112222aaaaAAAA';
const KEY_B = 'sk-proj-BETAKEY333344445bbbbBBBB';
const KEY_1 = 'sk-proj-COSTKEYONE5555666cccc1111';
const KEY_2 = 'sk-svcacct-COSTKEYTWO7777888dddd2222';
const KEY_N = 'sk-proj-NGINXKEY9999000eeeeNNNN';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* The hint keymask.h documents (as in proxy.test.mjs). */
function keyHint(k) {
	if (k.length < 12) return '…';
	let pre = 0;
	for (let i = 0; i < 8 && i < k.length - 8; i++) if (k[i] === '-' || k[i] === '_') pre = i + 1;
	return `${k.slice(0, pre)}…${k.slice(-4)}`;
}
const fingerprint = (k) => sha256(Buffer.from(k)).slice(0, 16);

const captureId = (headers) => (typeof headers.get === 'function' ? headers.get('x-capture-id') : headers['x-capture-id']);

function assertCaptureId(id, what) {
	assert.ok(id, `${what}: response has no X-Capture-Id`);
	assert.match(id, UUID_RE, `${what}: X-Capture-Id is a UUID`);
	return id;
}

function assertOpenAIError(body, what) {
	let j;
	try { j = JSON.parse(body.toString('utf8')); } catch {
		assert.fail(`${what}: body is not JSON: ${JSON.stringify(body.toString('utf8').slice(0, 300))}`);
	}
	assert.ok(j && typeof j.error === 'object' && j.error, `${what}: no "error" object in ${JSON.stringify(j)}`);
	assert.equal(typeof j.error.message, 'string', `${what}: error.message`);
	assert.ok(j.error.message.length > 0, `${what}: error.message is empty`);
	assert.equal(typeof j.error.type, 'string', `${what}: error.type`);
	assert.ok('code' in j.error, `${what}: error.code missing in ${JSON.stringify(j)}`);
	return j.error;
}

/* numeric / bigint aggregate columns come back as strings (or null). */
const num = (v) => (v === null || v === undefined ? v : Number(v));

function assertMoney(got, want, what) {
	if (want === null) {
		assert.equal(got, null, `${what}: cost should be NULL, got ${got}`);
		return;
	}
	assert.notEqual(got, null, `${what}: cost is NULL, want ${want}`);
	assert.ok(Math.abs(Number(got) - want) < 5e-9, `${what}: cost ${got}, want ${want.toFixed(8)}`);
}

/* Runs a streamed chat through the SDK, returning the text, the arrival times
 * (ms from the call) of the content deltas, and the response. */
async function streamChat(client, body, headers) {
	const t0 = Date.now();
	const { data: stream, response } = await client.chat.completions.create({ ...body, stream: true },
		headers ? { headers } : undefined).withResponse();
	const times = [];
	let text = '', usage = null;
	for await (const chunk of stream) {
		const c = chunk.choices[0];
		if (c && c.delta && c.delta.content) {
			times.push(Date.now() - t0);
			text += c.delta.content;
		}
		if (chunk.usage) usage = chunk.usage;
	}
	return { text, times, usage, response, end: Date.now() - t0 };
}

/* A POST whose body goes with Transfer-Encoding: chunked (no Content-Length),
 * as a streaming client sends it: the headers first, then the body in
 * `pieces` writes, each `pause` ms after the one before. */
function chunkedPost(url, body, { headers = {}, pieces = 1, pause = 0 } = {}) {
	const u = new URL(url);
	return new Promise((resolve, reject) => {
		const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', agent: false,
			headers: { ...headers, 'Transfer-Encoding': 'chunked' }, timeout: 30000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(`POST ${url}: no answer in 30 s`)));
		req.on('error', reject);
		(async () => {
			req.flushHeaders();
			const step = Math.ceil(body.length / pieces);
			for (let at = 0; at < body.length; at += step) {
				if (pause) await sleep(pause);
				req.write(body.subarray(at, at + step));
			}
			req.end();
		})().catch(reject);
	});
}

// ---------------------------------------------------------------------------
// Processes of a stack, to check that a stop leaves none behind.

function procStat(pid) {
	try {
		const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
		return { state: f[0], ppid: Number(f[1]), start: f[19] };
	} catch { return null; }
}

function procCmd(pid) {
	try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' '); } catch { return ''; }
}

function allPids() {
	return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/* Every live process of the stack: run.sh, those named in <var>/run/*.pid,
 * those whose environment names the stack's state dir, and their children. */
function stackProcesses(s) {
	const found = new Map();
	const add = (pid, why) => {
		const st = procStat(pid);
		if (st && st.state !== 'Z' && !found.has(pid)) found.set(pid, { pid, start: st.start, why, cmd: procCmd(pid) });
	};
	add(s.pid, 'run.sh');
	const runDir = path.join(s.varDir, 'run');
	for (const f of fs.existsSync(runDir) ? fs.readdirSync(runDir) : []) {
		if (!f.endsWith('.pid')) continue;
		const pid = Number(fs.readFileSync(path.join(runDir, f), 'utf8').trim());
		if (pid > 0) add(pid, `run/${f}`);
	}
	const marker = Buffer.from(`CAPTURE_VAR=${s.varDir}\0`);
	const pids = allPids();
	for (const pid of pids) {
		try {
			if (fs.readFileSync(`/proc/${pid}/environ`).includes(marker)) add(pid, 'environment');
		} catch { /* gone or not ours */ }
	}
	for (let grew = true; grew;) {
		grew = false;
		for (const pid of pids) {
			const st = procStat(pid);
			if (st && found.has(st.ppid) && !found.has(pid)) {
				add(pid, `child of ${st.ppid}`);
				if (found.has(pid)) grew = true;
			}
		}
	}
	return [...found.values()];
}

const stillRunning = (procs) => procs.filter((p) => {
	const st = procStat(p.pid);
	return st && st.state !== 'Z' && st.start === p.start;
});

// ---------------------------------------------------------------------------
// A tiny upstream that answers chat completions with the model named by the
// x-test-reply-model header and the usage given as JSON in x-test-usage (the
// proxy forwards both); model "fail-500" gets a 500; other paths get a 404.

async function startPricedUpstream() {
	const requests = [];
	const server = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const body = Buffer.concat(chunks);
			requests.push({ method: req.method, url: req.url, headers: req.headers, body });
			let j = null;
			try { j = JSON.parse(body.toString('utf8')); } catch { j = null; }
			const send = (status, obj) => {
				const b = Buffer.from(JSON.stringify(obj));
				res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
				res.end(b);
			};
			if (req.method === 'POST' && req.url === '/v1/chat/completions' && j) {
				if (j.model === 'fail-500')
					return send(500, { error: { message: 'The server had an error while processing your request.',
						type: 'server_error', param: null, code: null } });
				const model = req.headers['x-test-reply-model'] || j.model;
				const usage = req.headers['x-test-usage'] ? JSON.parse(req.headers['x-test-usage']) : undefined;
				return send(200, { id: `chatcmpl-priced${requests.length}`, object: 'chat.completion',
					created: Math.floor(Date.now() / 1000), model,
					choices: [{ index: 0, message: { role: 'assistant', content: `priced reply from ${model}`, refusal: null },
						logprobs: null, finish_reason: 'stop' }],
					...(usage ? { usage } : {}) });
			}
			return send(404, { error: { message: `Unknown request URL: ${req.method} ${req.url}.`,
				type: 'invalid_request_error', param: null, code: 'unknown_url' } });
		});
	});
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	return {
		url: `http://127.0.0.1:${server.address().port}`,
		requests,
		stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
	};
}

// ---------------------------------------------------------------------------

describe('many proxies, one database', () => {
	let up, shared, alpha, beta;

	before(async () => {
		up = await upstreamLib.start();
		shared = await createDatabase('team');
		// Both at once: their migrations meet on the empty database.
		const started = await Promise.allSettled(['alpha', 'beta'].map((name) => startStack({
			name, databaseUrl: shared.url, env: { OPENAI_API_BASE: up.url, INSTANCE_NAME: name } })));
		[alpha, beta] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
		const failed = started.filter((r) => r.status === 'rejected');
		if (failed.length) {
			await Promise.allSettled([alpha?.stop(), beta?.stop()]);
			throw failed[0].reason;
		}
	});
	after(async () => {
		try {
			await Promise.all([alpha?.stop(), beta?.stop()]);
		} finally {
			await up?.stop();
			if (shared) await dropDatabase(shared.db);
		}
	});

	test('two instances started together on an empty database: migrations applied once each', async () => {
		const files = fs.readdirSync(path.join(ROOT, 'sql')).filter((f) => /^\d{3}_.*\.sql$/.test(f))
			.map((f) => f.replace(/\.sql$/, '')).sort();
		const rows = await alpha.query('SELECT version FROM schema_migrations ORDER BY version');
		assert.deepEqual(rows.map((r) => r.version), files, 'every migration recorded once');
		const logs = alpha.log() + beta.log();
		for (const v of files) {
			const n = logs.split(`applying ${v}`).length - 1;
			assert.equal(n, 1, `"applying ${v}" appears ${n} times in the two run.sh logs (${alpha.logFile}, ${beta.logFile})`);
		}
		const [{ n }] = await alpha.query(`SELECT count(*)::int AS n FROM pg_inherits
			WHERE inhparent = 'captures'::regclass`);
		assert.ok(n >= 9, `daily partitions exist (${n})`);
	});

	test('each instance records its own calls: instance, key fingerprint and user on every row', async () => {
		const plan = [];
		const clientA = new OpenAI({ apiKey: KEY_A, baseURL: `${alpha.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });
		const clientB = new OpenAI({ apiKey: KEY_B, baseURL: `${beta.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });
		for (let i = 0; i < 8; i++) plan.push({ instance: 'alpha', client: clientA, key: KEY_A, user: i % 2 ? 'ann' : 'andy', stream: i % 3 === 0 });
		for (let i = 0; i < 6; i++) plan.push({ instance: 'beta', client: clientB, key: KEY_B, user: 'bea', stream: i % 3 === 1 });
		const results = await Promise.all(plan.map(async (p, i) => {
			const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call ${i} via ${p.instance}` }] };
			const headers = { 'X-Capture-User': p.user };
			if (p.stream) {
				const r = await streamChat(p.client, { ...body, stream_options: { include_usage: true } }, headers);
				assert.equal(r.text, STREAM_DELTAS.join(''), `call ${i}: streamed text`);
				return { ...p, id: assertCaptureId(captureId(r.response.headers), `call ${i}`) };
			}
			const { data, response } = await p.client.chat.completions.create(body, { headers }).withResponse();
			assert.equal(data.choices[0].message.content, CHAT_REPLY);
			return { ...p, id: assertCaptureId(captureId(response.headers), `call ${i}`) };
		}));
		assert.equal(new Set(results.map((r) => r.id)).size, results.length, 'capture ids are unique across instances');

		for (const r of results) {
			const row = await alpha.waitForCapture(r.id);
			const what = `${r.instance} call ${r.id}${r.stream ? ' (streamed)' : ''}`;
			assert.equal(row.instance, r.instance, `${what}: instance`);
			assert.equal(row.key_fingerprint, fingerprint(r.key), `${what}: key_fingerprint`);
			assert.equal(row.key_hint, keyHint(r.key), `${what}: key_hint`);
			assert.equal(row.capture_user, r.user, `${what}: capture_user`);
			assert.equal(row.streamed, r.stream, `${what}: streamed`);
			assert.equal(row.outcome, 'completed', `${what}: outcome`);
			assert.equal(row.total_tokens, r.stream ? 16 : 19, `${what}: total_tokens`);
		}
		await sleep(200); // a late duplicate would show up in the counts
		const counts = await beta.query(`SELECT instance, key_fingerprint, count(*)::int AS n FROM captures
			GROUP BY 1, 2 ORDER BY 1, 2`);
		assert.deepEqual(counts, [
			{ instance: 'alpha', key_fingerprint: fingerprint(KEY_A), n: 8 },
			{ instance: 'beta', key_fingerprint: fingerprint(KEY_B), n: 6 },
		]);
		const users = await alpha.query(`SELECT instance, capture_user, count(*)::int AS n FROM captures
			GROUP BY 1, 2 ORDER BY 1, 2`);
		assert.deepEqual(users, [
			{ instance: 'alpha', capture_user: 'andy', n: 4 },
			{ instance: 'alpha', capture_user: 'ann', n: 4 },
			{ instance: 'beta', capture_user: 'bea', n: 6 },
		]);
	});

	test('attribution headers are stored and not sent upstream; the body\'s user is end_user', async () => {
		const client = new OpenAI({ apiKey: KEY_A, baseURL: `${alpha.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });
		const headers = { 'X-Capture-User': 'alice', 'X-Capture-Session': 'conv-42', 'X-Capture-Tags': 'eval, nightly' };
		const { data, response } = await client.chat.completions.create({
			model: 'gpt-4o-mini', user: 'end-user-7', messages: [{ role: 'user', content: 'who am I?' }],
		}, { headers }).withResponse();
		assert.equal(data.choices[0].message.content, CHAT_REPLY);
		const u = up.bySeq(response.headers.get('x-upstream-seq'));
		assert.ok(u, 'upstream saw the request');
		const leaked = u.rawHeaders.filter(([k]) => /^x-capture-/i.test(k));
		assert.deepEqual(leaked, [], 'no X-Capture-* header reaches the upstream');
		assert.equal(u.json.user, 'end-user-7', 'the body goes upstream unchanged');
		const row = await alpha.waitForCapture(assertCaptureId(captureId(response.headers), 'attribution'));
		assert.equal(row.capture_user, 'alice');
		assert.equal(row.capture_session, 'conv-42');
		assert.deepEqual(row.capture_tags, ['eval', 'nightly']);
		assert.equal(row.end_user, 'end-user-7');
		const [{ t }] = await alpha.query('SELECT capture_tags::text AS t FROM captures WHERE id = $1', [row.id]);
		assert.equal(t, '{eval,nightly}');

		// Streamed, with awkward tags: blanks and empty items dropped, quotes and backslashes kept.
		const r = await streamChat(client, { model: 'gpt-4o-mini', user: 'end-user-8',
			messages: [{ role: 'user', content: 'stream with tags' }] },
		{ 'X-Capture-User': 'bob', 'X-Capture-Session': 'conv-43', 'X-Capture-Tags': ' a "quoted" tag ,, back\\slash ,' });
		assert.equal(r.text, STREAM_DELTAS.join(''));
		const u2 = up.bySeq(r.response.headers.get('x-upstream-seq'));
		assert.deepEqual(u2.rawHeaders.filter(([k]) => /^x-capture-/i.test(k)), [], 'streamed: no X-Capture-* upstream');
		const row2 = await alpha.waitForCapture(captureId(r.response.headers));
		assert.equal(row2.capture_user, 'bob');
		assert.equal(row2.capture_session, 'conv-43');
		assert.deepEqual(row2.capture_tags, ['a "quoted" tag', 'back\\slash']);
		assert.equal(row2.end_user, 'end-user-8');
		assert.equal(row2.streamed, true);

		// Without the headers the columns are NULL.
		const plain = await rawRequest(`${alpha.proxyUrl}/v1/models`, { headers: { Authorization: `Bearer ${KEY_A}` } });
		assert.equal(plain.status, 200);
		const row3 = await alpha.waitForCapture(assertCaptureId(plain.headers['x-capture-id'], 'no attribution'));
		assert.equal(row3.capture_user, null);
		assert.equal(row3.capture_session, null);
		assert.equal(row3.capture_tags, null);
		assert.equal(row3.end_user, null);
	});

	test('both instances stop cleanly on SIGTERM without sanitizer reports', async () => {
		await Promise.all([alpha.stop(), beta.stop()]);
	});
});

// ---------------------------------------------------------------------------

describe('cost, views and age retention', () => {
	let up, dbase, pool, s, s2;
	const calls = {};
	/* Queries the database directly (it outlives the stacks that use it). */
	const q = async (sql, params) => (await pool.query(sql, params)).rows;
	let gpt4o; // the gpt-4o row of model_prices that applies today

	const usage1 = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500,
		prompt_tokens_details: { cached_tokens: 400, audio_tokens: 0 } };
	const usage2 = { prompt_tokens: 2000, completion_tokens: 1000, total_tokens: 3000 };
	const usage3 = { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 };

	before(async () => {
		up = await startPricedUpstream();
		dbase = await createDatabase('cost');
		// A team server need not run in UTC: days and prices must still be UTC days.
		const admin = new pg.Client({ connectionString: dbase.url });
		await admin.connect();
		try { await admin.query(`ALTER DATABASE ${dbase.db} SET timezone TO 'Pacific/Kiritimati'`); } finally { await admin.end(); }
		pool = new pg.Pool({ connectionString: dbase.url, max: 2 });
		pool.on('error', () => {});
		s = await startStack({ name: 'cost', databaseUrl: dbase.url, env: { OPENAI_API_BASE: up.url, INSTANCE_NAME: 'costs' } });
	});
	after(async () => {
		try {
			await s?.stop();
			await s2?.stop();
		} finally {
			await up?.stop();
			await pool?.end().catch(() => {});
			if (dbase) await dropDatabase(dbase.db);
		}
	});

	async function call(name, key, { model = 'gpt-4o', replyModel, usage, user, endUser } = {}) {
		const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
		if (replyModel) headers['X-Test-Reply-Model'] = replyModel;
		if (usage) headers['X-Test-Usage'] = JSON.stringify(usage);
		if (user) headers['X-Capture-User'] = user;
		const body = JSON.stringify({ model, messages: [{ role: 'user', content: `cost call ${name}` }], ...(endUser ? { user: endUser } : {}) });
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body, headers });
		calls[name] = { id: assertCaptureId(r.headers['x-capture-id'], name), status: r.status, key, user: user || endUser || null };
		return r;
	}

	function gpt4oCost(prompt, cached, completion, p = gpt4o) {
		return ((prompt - cached) * Number(p.input_per_mtok) + cached * Number(p.cached_input_per_mtok) +
			completion * Number(p.output_per_mtok)) / 1e6;
	}

	test('cost of a call from model_prices: dated model name, cached tokens at the cached price; unknown model NULL', async () => {
		[gpt4o] = await s.query(`SELECT * FROM model_prices WHERE model = 'gpt-4o'
			AND valid_from <= (now() AT TIME ZONE 'UTC')::date ORDER BY valid_from DESC LIMIT 1`);
		assert.ok(gpt4o, 'model_prices has a gpt-4o row');
		assert.ok(gpt4o.cached_input_per_mtok !== null && Number(gpt4o.cached_input_per_mtok) < Number(gpt4o.input_per_mtok),
			`gpt-4o has a cached price below the input price: ${JSON.stringify(gpt4o)}`);
		const [mini] = await s.query(`SELECT * FROM model_prices WHERE model = 'gpt-4o-mini'
			AND valid_from <= (now() AT TIME ZONE 'UTC')::date ORDER BY valid_from DESC LIMIT 1`);

		let r = await call('c1', KEY_1, { replyModel: 'gpt-4o-2024-08-06', usage: usage1, user: 'alice' });
		assert.equal(r.status, 200, r.body.toString());
		r = await call('c2', KEY_1, { model: 'gpt-4o-mini', replyModel: 'gpt-4o-mini-2024-07-18', usage: usage2, endUser: 'bob' });
		assert.equal(r.status, 200);
		r = await call('c3', KEY_2, { replyModel: 'mystery-model-1', usage: usage3, user: 'alice' });
		assert.equal(r.status, 200);
		r = await call('c4', KEY_2, { model: 'fail-500', user: 'carol' });
		assert.equal(r.status, 500);
		const r5 = await rawRequest(`${s.proxyUrl}/v1/no/such/thing`, { headers: { Authorization: `Bearer ${KEY_2}` } });
		assert.equal(r5.status, 404);
		calls.c5 = { id: assertCaptureId(r5.headers['x-capture-id'], 'c5'), status: 404, key: KEY_2, user: null };

		const want1 = gpt4oCost(1000, 400, 500);
		const want2 = (2000 * Number(mini.input_per_mtok) + 1000 * Number(mini.output_per_mtok)) / 1e6;
		calls.c1.cost = want1; calls.c2.cost = want2; calls.c3.cost = null; calls.c4.cost = null; calls.c5.cost = null;

		const row1 = await s.waitForCapture(calls.c1.id);
		assert.equal(row1.model, 'gpt-4o-2024-08-06', 'model named by the response');
		assert.equal(row1.prompt_tokens, 1000);
		assert.equal(row1.cached_tokens, 400);
		assert.equal(row1.completion_tokens, 500);
		const [{ c }] = await s.query('SELECT capture_cost($1, $2, $3, $4, $5) AS c',
			[row1.model, row1.started_at, row1.prompt_tokens, row1.cached_tokens, row1.completion_tokens]);
		assertMoney(c, want1, 'capture_cost(gpt-4o-2024-08-06, 1000 in / 400 cached / 500 out)');
		const [{ c: cNoCache }] = await s.query("SELECT capture_cost('gpt-4o-2024-08-06', now(), 1000, NULL, 500) AS c");
		assertMoney(cNoCache, gpt4oCost(1000, 0, 500), 'capture_cost without cached tokens');
		const [{ c: cUnknown }] = await s.query("SELECT capture_cost('mystery-model-1', now(), 100, NULL, 50) AS c");
		assert.equal(cUnknown, null, 'unknown model: NULL cost');
		const [{ c: cNoUsage }] = await s.query("SELECT capture_cost('gpt-4o', now(), NULL, NULL, NULL) AS c");
		assert.equal(cNoUsage, null, 'no usage reported: NULL cost');

		for (const k of ['c2', 'c3', 'c4', 'c5']) await s.waitForCapture(calls[k].id);
		const rows = await s.query('SELECT id, model, cost_usd FROM captures_cost');
		assert.equal(rows.length, 5);
		for (const [k, v] of Object.entries(calls)) {
			const row = rows.find((x) => x.id === v.id);
			assert.ok(row, `${k} is in captures_cost`);
			assertMoney(row.cost_usd, v.cost, `captures_cost ${k} (${row.model})`);
		}
	});

	test('recent_calls: newest first, with cost, users and the start of the reply', async () => {
		const rows = await s.query('SELECT * FROM recent_calls');
		const order = ['c5', 'c4', 'c3', 'c2', 'c1'];
		assert.deepEqual(rows.map((r) => r.id), order.map((k) => calls[k].id), 'newest first');
		for (const [i, k] of order.entries()) {
			assertMoney(rows[i].cost_usd, calls[k].cost, `recent_calls ${k}`);
			assert.equal(rows[i].instance, 'costs');
			assert.equal(rows[i].key_hint, keyHint(calls[k].key));
		}
		const r1 = rows[4];
		assert.equal(r1.capture_user, 'alice');
		assert.equal(r1.model, 'gpt-4o-2024-08-06');
		assert.equal(r1.reply, 'priced reply from gpt-4o-2024-08-06');
		assert.equal(r1.status, 200);
		assert.equal(r1.outcome, 'completed');
		assert.equal(r1.prompt_tokens, 1000);
		assert.equal(r1.completion_tokens, 500);
		assert.equal(typeof num(r1.duration_ms), 'number');
		assert.equal(rows[3].end_user, 'bob');
		assert.equal(rows[3].capture_user, null);
	});

	/* Every SQL statement in the README's "Query with psql" section runs
	 * (each in a transaction rolled back), so a renamed column fails here. */
	test('the README\'s psql queries run against the views', async () => {
		const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
		const section = readme.slice(readme.indexOf('### Query with psql'), readme.indexOf('\n## Dashboard'));
		const blocks = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
		const statements = blocks.join('\n').replace(/^--.*$/gm, '').split(/;\s*\n/).map((x) => x.trim()).filter(Boolean);
		assert.ok(statements.length >= 6, `statements found: ${statements.length}`);
		const c = await pool.connect();
		try {
			const [{ n }] = (await c.query('SELECT count(*)::int AS n FROM captures')).rows;
			assert.ok(n > 0, 'captures to query');
			for (const sql of statements) {
				await c.query('BEGIN');
				try {
					const r = await c.query(sql.replace("'...'", '(SELECT id FROM captures LIMIT 1)'));
					if (/FROM recent_calls LIMIT 10/.test(sql)) assert.equal(r.rows.length, Math.min(n, 10), 'the last ten calls');
				} catch (e) {
					assert.fail(`README query failed: ${sql}\n${e.message}`);
				} finally {
					await c.query('ROLLBACK');
				}
			}
		} finally {
			c.release();
		}
	});

	test('usage_by_model_day, usage_by_key, usage_by_user and errors add up the calls made', async () => {
		const today = "(now() AT TIME ZONE 'UTC')::date";
		const byModel = await s.query(`SELECT * FROM usage_by_model_day WHERE day = ${today} ORDER BY model NULLS LAST`);
		const m = Object.fromEntries(byModel.map((r) => [r.model ?? '(null)', r]));
		assert.deepEqual(Object.keys(m).sort(), ['(null)', 'fail-500', 'gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'mystery-model-1'],
			`models today: ${JSON.stringify(byModel)}`);
		const g = m['gpt-4o-2024-08-06'];
		assert.deepEqual([num(g.calls), num(g.failed), num(g.prompt_tokens), num(g.completion_tokens), num(g.cached_tokens)],
			[1, 0, 1000, 500, 400]);
		assertMoney(g.cost_usd, calls.c1.cost, 'usage_by_model_day gpt-4o-2024-08-06');
		assert.ok(num(g.avg_ms) >= 0, `avg_ms ${g.avg_ms}`);
		assertMoney(m['gpt-4o-mini-2024-07-18'].cost_usd, calls.c2.cost, 'usage_by_model_day gpt-4o-mini');
		assert.equal(num(m['gpt-4o-mini-2024-07-18'].cached_tokens), null);
		assertMoney(m['mystery-model-1'].cost_usd, null, 'usage_by_model_day mystery-model-1');
		assert.equal(num(m['mystery-model-1'].prompt_tokens), 100);
		assert.deepEqual([num(m['fail-500'].calls), num(m['fail-500'].failed)], [1, 1]);
		assertMoney(m['fail-500'].cost_usd, null, 'usage_by_model_day fail-500');
		assert.deepEqual([num(m['(null)'].calls), num(m['(null)'].failed)], [1, 1], 'the upstream 404 (no model) counts as failed');

		const byKey = await s.query('SELECT * FROM usage_by_key ORDER BY key_fingerprint');
		assert.equal(byKey.length, 2, JSON.stringify(byKey));
		const k1 = byKey.find((r) => r.key_fingerprint === fingerprint(KEY_1));
		const k2 = byKey.find((r) => r.key_fingerprint === fingerprint(KEY_2));
		assert.ok(k1 && k2, `both keys: ${JSON.stringify(byKey)}`);
		assert.equal(k1.key_hint, keyHint(KEY_1));
		assert.equal(k2.key_hint, keyHint(KEY_2));
		assert.deepEqual([num(k1.calls), num(k1.prompt_tokens), num(k1.completion_tokens)], [2, 3000, 1500]);
		assertMoney(k1.cost_usd, calls.c1.cost + calls.c2.cost, 'usage_by_key KEY_1');
		assert.deepEqual([num(k2.calls), num(k2.prompt_tokens), num(k2.completion_tokens)], [3, 100, 50]);
		assertMoney(k2.cost_usd, null, 'usage_by_key KEY_2 (only unpriced calls)');
		assert.ok(k1.first_seen <= k1.last_seen);

		const byUser = await s.query('SELECT * FROM usage_by_user ORDER BY user_name NULLS LAST');
		const u = Object.fromEntries(byUser.map((r) => [r.user_name ?? '(null)', r]));
		assert.deepEqual(Object.keys(u).sort(), ['(null)', 'alice', 'bob', 'carol'], JSON.stringify(byUser));
		assert.deepEqual([num(u.alice.calls), num(u.alice.prompt_tokens), num(u.alice.completion_tokens)], [2, 1100, 550]);
		assertMoney(u.alice.cost_usd, calls.c1.cost, 'usage_by_user alice (one priced, one unknown model)');
		assert.equal(num(u.bob.calls), 1, 'the body\'s user counts when there is no X-Capture-User');
		assertMoney(u.bob.cost_usd, calls.c2.cost, 'usage_by_user bob');
		assert.equal(num(u.carol.calls), 1);
		assertMoney(u.carol.cost_usd, null, 'usage_by_user carol');
		assert.equal(num(u['(null)'].calls), 1);

		const errors = await s.query('SELECT * FROM errors ORDER BY started_at');
		assert.deepEqual(errors.map((r) => r.id), [calls.c4.id, calls.c5.id], 'errors holds the 500 and the 404 only');
		assert.equal(errors[0].status, 500);
		assert.equal(errors[0].outcome, 'upstream_error');
		assert.equal(errors[0].capture_user, 'carol');
		assert.equal(errors[0].model, 'fail-500');
		assert.equal(errors[0].key_hint, keyHint(KEY_2));
		assert.equal(errors[1].status, 404);
		assert.equal(errors[1].path, '/v1/no/such/thing');
		assert.equal(errors[1].outcome, 'upstream_error');
	});

	test('every view has a comment', async () => {
		const views = ['recent_calls', 'usage_by_model_day', 'usage_by_key', 'usage_by_user', 'errors', 'captures_cost',
			'usage_daily', 'usage_daily_cost'];
		const rows = await s.query(`SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') AS comment
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relname = ANY($1)`, [views]);
		for (const v of views) {
			const r = rows.find((x) => x.relname === v);
			assert.ok(r, `view ${v} exists`);
			assert.equal(r.relkind, 'v', `${v} is a view`);
			assert.ok(r.comment && r.comment.length > 20, `view ${v} has a comment (got ${JSON.stringify(r.comment)})`);
		}
		const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
			WHERE ns.nspname = 'public' AND c.relkind = 'v' AND obj_description(c.oid, 'pg_class') IS NULL`);
		assert.equal(n, 0, 'no view without a comment');
	});

	test('the statistics functions plan each call for its own filters', async () => {
		// a generic plan must allow every filter: no covering index, no pruning (sql/013)
		const rows = await s.query(`SELECT p.proname, p.proconfig FROM pg_proc p
			WHERE p.pronamespace = 'public'::regnamespace
			  AND p.proname IN ('captures_stats_totals', 'captures_stats_groups', 'captures_stats_group_by',
			                    'captures_search_count')`);
		assert.equal(rows.length, 4, JSON.stringify(rows));
		for (const r of rows)
			assert.ok((r.proconfig || []).includes('plan_cache_mode=force_custom_plan'), `${r.proname}: ${r.proconfig}`);
	});

	test('usage views add up more than 2^31 tokens in one group without an integer overflow', async () => {
		// A busy key on a cheap model: two calls of 1.5 billion prompt tokens each on one day.
		await s.query(`INSERT INTO captures (id, started_at, method, path, outcome, status, model,
				prompt_tokens, completion_tokens, key_fingerprint, capture_user)
			SELECT gen_random_uuid(), now(), 'POST', '/v1/chat/completions', 'completed', 200,
				'gpt-4o-mini-2024-07-18', 1500000000, 1000, 'bulk', 'bulk-user' FROM generate_series(1, 2)`);
		try {
			const [mini] = await s.query(`SELECT * FROM model_prices WHERE model = 'gpt-4o-mini'
				AND valid_from <= (now() AT TIME ZONE 'UTC')::date ORDER BY valid_from DESC LIMIT 1`);
			const want = (3e9 * Number(mini.input_per_mtok) + 2000 * Number(mini.output_per_mtok)) / 1e6;
			const views = {};
			for (const [v, where] of [['usage_by_key', "key_fingerprint = 'bulk'"], ['usage_by_user', "user_name = 'bulk-user'"],
				['usage_daily_cost', "key_fingerprint = 'bulk'"]]) {
				try {
					views[v] = await s.query(`SELECT * FROM ${v} WHERE ${where}`);
				} catch (e) {
					assert.fail(`SELECT FROM ${v} fails once a group holds 3e9 prompt tokens: ${e.message} ` +
						'(usage_daily_cost casts the summed tokens to integer for capture_cost)');
				}
				assert.equal(views[v].length, 1, v);
				assert.equal(num(views[v][0].prompt_tokens), 3e9, `${v} prompt_tokens`);
				assertMoney(views[v][0].cost_usd, want, `${v} cost`);
			}
			const day = await s.query(`SELECT * FROM usage_by_model_day WHERE day = (now() AT TIME ZONE 'UTC')::date
				AND model = 'gpt-4o-mini-2024-07-18'`).catch((e) => assert.fail(`usage_by_model_day: ${e.message}`));
			assert.equal(num(day[0].prompt_tokens), 3e9 + 2000);
		} finally {
			await s.query("DELETE FROM captures WHERE key_fingerprint = 'bulk'");
		}
	});

	test('a model_prices row with a later valid_from prices calls from that day on only', async () => {
		await s.query(`INSERT INTO model_prices (model, valid_from, input_per_mtok, cached_input_per_mtok, output_per_mtok, source)
			VALUES ('gpt-4o', (now() AT TIME ZONE 'UTC')::date + 2, 5.00, 2.50, 20.00, 'team.test.mjs')`);
		const newPrice = { input_per_mtok: 5, cached_input_per_mtok: 2.5, output_per_mtok: 20 };
		// Synthetic calls the day after tomorrow (new price) and tomorrow (old price).
		const ids = await s.query(`INSERT INTO captures (id, started_at, method, path, outcome, status, model,
				prompt_tokens, cached_tokens, completion_tokens, key_fingerprint)
			SELECT gen_random_uuid(), now() + d * interval '1 day', 'POST', '/v1/chat/completions', 'completed', 200,
				'gpt-4o-2024-08-06', 1000, 400, 500, 'synthetic'
			FROM unnest(ARRAY[1, 3]) AS d RETURNING id, started_at`);
		try {
			const rows = await s.query(`SELECT id, cost_usd FROM captures_cost WHERE key_fingerprint = 'synthetic'
				ORDER BY started_at`);
			assertMoney(rows[0].cost_usd, gpt4oCost(1000, 400, 500), 'a call tomorrow: the old price');
			assertMoney(rows[1].cost_usd, gpt4oCost(1000, 400, 500, newPrice), 'a call in three days: the new price');
			const [c1] = await s.query('SELECT cost_usd FROM captures_cost WHERE id = $1', [calls.c1.id]);
			assertMoney(c1.cost_usd, calls.c1.cost, 'today\'s call keeps the price of its day');
			const [{ c }] = await s.query("SELECT capture_cost('gpt-4o', now() + interval '3 days', 1000, 400, 500) AS c");
			assertMoney(c, gpt4oCost(1000, 400, 500, newPrice), 'capture_cost after valid_from');
			const later = await s.query(`SELECT cost_usd FROM usage_by_model_day
				WHERE day = (now() AT TIME ZONE 'UTC')::date + 3 AND model = 'gpt-4o-2024-08-06'`);
			assert.equal(later.length, 1);
			assertMoney(later[0].cost_usd, gpt4oCost(1000, 400, 500, newPrice), 'usage_by_model_day in three days');
		} finally {
			await s.query("DELETE FROM captures WHERE key_fingerprint = 'synthetic'");
			await s.query("DELETE FROM model_prices WHERE source = 'team.test.mjs'");
		}
		assert.equal(ids.length, 2);
	});

	/* Creates the partition of the day today+offset (UTC), as capture_partitions_ensure does. */
	async function makePartition(offset) {
		await q(`DO $$ DECLARE d date := (now() AT TIME ZONE 'UTC')::date + (${Number(offset)});
			BEGIN EXECUTE format('CREATE TABLE %I PARTITION OF captures FOR VALUES FROM (%L) TO (%L)',
				'captures_p' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
			END $$`);
		return partName(offset);
	}
	async function partName(offset) {
		const [{ n }] = await q(`SELECT 'captures_p' || to_char((now() AT TIME ZONE 'UTC')::date + $1::int, 'YYYYMMDD') AS n`, [offset]);
		return n;
	}
	/* A minimal capture row at noon (UTC) of the day today+offset; returns its id. */
	async function oldRow(offset, tag) {
		const [{ id }] = await q(`INSERT INTO captures (id, started_at, method, path, outcome, key_fingerprint)
			VALUES (gen_random_uuid(), ((now() AT TIME ZONE 'UTC')::date + $1::int + time '12:00') AT TIME ZONE 'UTC',
				'GET', '/v1/models', 'completed', $2) RETURNING id`, [offset, tag]);
		return id;
	}
	const exists = async (rel) => (await q('SELECT to_regclass($1) IS NOT NULL AS e', [rel]))[0].e;
	const where = async (id) => (await q('SELECT tableoid::regclass::text AS t FROM captures WHERE id = $1', [id]))[0]?.t ?? null;

	test('captures_drop_older_than(7) drops daily partitions wholly older than 7 days, keeps the rest', async () => {
		const [{ made }] = await s.query('SELECT capture_partitions_ensure(7) AS made');
		assert.equal(made, 0, 'the partitions from yesterday to a week ahead exist already');
		for (let d = -1; d <= 7; d++) assert.ok(await exists(await partName(d)), `partition for today${d >= 0 ? '+' : ''}${d}`);

		const p10 = await makePartition(-10), p8 = await makePartition(-8), p7 = await makePartition(-7);
		const id10 = await oldRow(-10, 'old'), id8 = await oldRow(-8, 'old'), id7 = await oldRow(-7, 'old');
		const id12 = await oldRow(-12, 'old'), id6 = await oldRow(-6, 'old'); // no partition: in captures_default
		assert.equal(await where(id10), p10);
		assert.equal(await where(id12), 'captures_default');
		assert.equal(await where(id6), 'captures_default');
		const [{ before }] = await s.query("SELECT count(*)::int AS before FROM captures WHERE key_fingerprint IS DISTINCT FROM 'old'");

		const [{ zero }] = await s.query('SELECT captures_drop_older_than(0) AS zero');
		assert.equal(zero, 0, 'keep_days 0 drops nothing');
		assert.ok(await exists(p10));

		const [{ dropped }] = await s.query('SELECT captures_drop_older_than(7) AS dropped');
		assert.equal(dropped, 2, 'the partitions of 10 and 8 days ago');
		assert.equal(await exists(p10), false, `${p10} dropped`);
		assert.equal(await exists(p8), false, `${p8} dropped`);
		assert.equal(await exists(p7), true, `${p7} (7 days ago) kept`);
		assert.equal(await where(id10), null);
		assert.equal(await where(id8), null);
		assert.equal(await where(id12), null, 'an old row in captures_default is deleted');
		assert.equal(await where(id7), p7, 'the row of 7 days ago is kept');
		assert.equal(await where(id6), 'captures_default', 'the row of 6 days ago is kept');
		const [{ after: kept }] = await s.query("SELECT count(*)::int AS after FROM captures WHERE key_fingerprint IS DISTINCT FROM 'old'");
		assert.equal(kept, before, 'recent captures are all kept');
		assert.ok(before >= 5);
		for (let d = -1; d <= 7; d++) assert.ok(await exists(await partName(d)), 'current partitions kept');

		const [{ again }] = await s.query('SELECT captures_drop_older_than(7) AS again');
		assert.equal(again, 0, 'a second run finds nothing more');
	});

	test('--check-config accepts MAX_REQUESTS_AGE_DAYS and refuses bad values, naming it', async () => {
		const env = { PROXY_PORT: String(await freePort()), WEB_PORT: String(await freePort()) };
		let r = checkConfig({ ...env, MAX_REQUESTS_AGE_DAYS: '30' });
		assert.equal(r.status, 0, r.stdout + r.stderr);
		assert.match(r.stdout, /^MAX_REQUESTS_AGE_DAYS='?30'?$/m);
		r = checkConfig(env);
		assert.match(r.stdout, /^MAX_REQUESTS_AGE_DAYS='?0'?$/m, 'default 0');
		for (const bad of ['abc', '-1', '7d']) {
			r = checkConfig({ ...env, MAX_REQUESTS_AGE_DAYS: bad });
			assert.notEqual(r.status, 0, `MAX_REQUESTS_AGE_DAYS=${bad} accepted`);
			assert.match(r.stdout + r.stderr, /MAX_REQUESTS_AGE_DAYS/);
		}
	});

	test('a proxy started with MAX_REQUESTS_AGE_DAYS=7 drops the old partitions at start', async () => {
		await s.stop();
		const p9 = await makePartition(-9), p3 = await makePartition(-3);
		const id9 = await oldRow(-9, 'old2'), id3 = await oldRow(-3, 'old2');
		assert.equal(await where(id9), p9);
		s2 = await startStack({ name: 'cost-age', databaseUrl: dbase.url,
			env: { OPENAI_API_BASE: up.url, INSTANCE_NAME: 'costs', MAX_REQUESTS_AGE_DAYS: '7' } });
		const t0 = Date.now();
		while ((await q('SELECT to_regclass($1) IS NOT NULL AS e', [p9]))[0].e) {
			assert.ok(Date.now() - t0 < 15000, `${p9} (9 days old) still there 15 s after start with MAX_REQUESTS_AGE_DAYS=7; log ${s2.logFile}`);
			await sleep(100);
		}
		assert.equal((await q('SELECT to_regclass($1) IS NOT NULL AS e', [p3]))[0].e, true, `${p3} (3 days old) kept`);
		assert.equal((await q('SELECT count(*)::int AS n FROM captures WHERE id = $1', [id3]))[0].n, 1);
		assert.equal((await q('SELECT count(*)::int AS n FROM captures WHERE id = $1', [id9]))[0].n, 0);
		// and it still proxies
		const r = await rawRequest(`${s2.proxyUrl}/v1/chat/completions`, { method: 'POST',
			body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
			headers: { Authorization: `Bearer ${KEY_1}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 200);
		await s2.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'after restart'));
		await s2.stop();
	});
});

// ---------------------------------------------------------------------------

describe('under nginx (CAPTURE_FRONT=nginx)', () => {
	let up, s, client;

	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'nginx', env: { CAPTURE_FRONT: 'nginx', OPENAI_API_BASE: up.url,
			MAX_REQUEST_BODY: '1M', INSTANCE_NAME: 'ngx' } });
		client = new OpenAI({ apiKey: KEY_N, baseURL: `${s.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });
	});
	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	test('nginx is the front server', async () => {
		const pidFile = path.join(s.varDir, 'run', 'nginx.pid');
		assert.ok(fs.existsSync(pidFile), `${pidFile} exists`);
		// nginx creates its pid file before it writes the pid: wait for the number
		let pid = 0;
		for (let i = 0; i < 50 && !pid; i++) {
			pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
			if (!pid) await new Promise((r) => setTimeout(r, 100));
		}
		assert.match(procCmd(pid), /nginx/, `pid ${pid} is nginx`);
		assert.equal(fs.existsSync(path.join(s.varDir, 'run', 'lighttpd.pid')), false, 'no lighttpd');
		// spawn-fcgi must not leave the programs' log on /dev/null
		for (const name of ['proxy_fcgi', 'dashboard_fcgi']) {
			const line = new RegExp(`${name} INFO serving with`);
			for (let i = 0; i < 50 && !line.test(s.log()); i++) await new Promise((r) => setTimeout(r, 100));
			assert.match(s.log(), line, `${name} logs to the service's log`);
		}
	});

	test('chat completion through the openai SDK, with its capture row', async () => {
		const { data, response } = await client.chat.completions.create({
			model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello through nginx ünïcødé' }],
		}, { headers: { 'X-Capture-User': 'nina' } }).withResponse();
		assert.equal(response.status, 200);
		assert.equal(data.choices[0].message.content, CHAT_REPLY);
		assert.equal(data.usage.total_tokens, 19);
		const id = assertCaptureId(captureId(response.headers), 'nginx chat');
		const u = up.bySeq(response.headers.get('x-upstream-seq'));
		assert.ok(u, 'upstream saw the request');
		assert.equal(u.url, '/v1/chat/completions');
		assert.equal(u.headers.authorization, `Bearer ${KEY_N}`);
		assert.equal(u.json.messages[0].content, 'hello through nginx ünïcødé');
		assert.deepEqual(u.rawHeaders.filter(([k]) => /^x-capture-/i.test(k)), []);
		const row = await s.waitForCapture(id);
		assert.equal(row.method, 'POST');
		assert.equal(row.path, '/v1/chat/completions');
		assert.equal(row.query, null);
		assert.equal(row.status, 200);
		assert.equal(row.outcome, 'completed');
		assert.equal(row.instance, 'ngx');
		assert.equal(row.model, responseModel('gpt-4o-mini'));
		assert.equal(row.total_tokens, 19);
		assert.equal(row.reply_text, CHAT_REPLY);
		assert.equal(row.request_body, u.body.toString('utf8'));
		assert.equal(row.request_body_size, u.body.length);
		assert.equal(row.client_addr, '127.0.0.1');
		assert.equal(row.key_fingerprint, fingerprint(KEY_N));
		assert.equal(row.capture_user, 'nina');
	});

	test('query strings pass through nginx', async () => {
		const r = await rawRequest(`${s.proxyUrl}/v1/files?purpose=fine-tune&limit=2`, { headers: { Authorization: `Bearer ${KEY_N}` } });
		assert.equal(r.status, 200);
		assert.equal(JSON.parse(r.body).url, '/v1/files?purpose=fine-tune&limit=2');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'query'));
		assert.equal(row.path, '/v1/files');
		assert.equal(row.query, 'purpose=fine-tune&limit=2');
	});

	test('a streamed chat arrives event by event, not buffered', async () => {
		const r = await streamChat(client, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'stream via nginx' }],
			stream_options: { include_usage: true } });
		const id = assertCaptureId(captureId(r.response.headers), 'nginx stream');
		assert.match(r.response.headers.get('content-type') || '', /^text\/event-stream/);
		assert.equal(r.text, STREAM_DELTAS.join(''));
		assert.equal(r.times.length, STREAM_DELTAS.length);
		const spread = r.times[r.times.length - 1] - r.times[0];
		assert.ok(spread >= 400, `first delta at ${r.times[0]} ms, last at ${r.times[r.times.length - 1]} ms: ` +
			`deltas sent ${STREAM_DELAY_MS} ms apart must not arrive together (arrivals ${r.times.join(', ')}, end ${r.end})`);
		const gaps = r.times.slice(1).map((t, i) => t - r.times[i]);
		assert.ok(gaps.filter((x) => x >= 75).length >= gaps.length - 1, `gaps ${gaps.join(', ')} ms (buffered?)`);
		assert.deepEqual(r.usage, { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 });
		const row = await s.waitForCapture(id);
		assert.equal(row.streamed, true);
		assert.equal(row.outcome, 'completed');
		assert.equal(row.reply_text, STREAM_DELTAS.join(''));
		assert.equal(row.total_tokens, 16);
		assert.ok(row.duration_ms - row.ttfb_ms >= 400, `ttfb ${row.ttfb_ms} ms, duration ${row.duration_ms} ms`);
	});

	test('a path outside /v1/ is a 404 in OpenAI error shape', async () => {
		const before = up.requests.length;
		for (const [method, p] of [['GET', '/'], ['GET', '/v2/models'], ['POST', '/chat/completions'], ['GET', '/v1x/models']]) {
			const r = await rawRequest(`${s.proxyUrl}${p}`, { method, headers: { Authorization: `Bearer ${KEY_N}` },
				body: method === 'POST' ? '{}' : undefined });
			assert.equal(r.status, 404, `${method} ${p}`);
			assert.match(r.headers['content-type'] || '', /^application\/json/, `${method} ${p} content-type`);
			assertOpenAIError(r.body, `${method} ${p}`);
		}
		assert.equal(up.requests.length, before, 'nothing outside /v1/ reached the upstream');
	});

	for (const [label, size] of [['1.5 MB', 1536 * 1024], ['5 MB', 5 * 1024 * 1024]]) {
		test(`a ${label} body over MAX_REQUEST_BODY (1M) is a 413 in OpenAI error shape, recorded`, async () => {
			const before = up.requests.length;
			const big = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'y'.repeat(size) }] }));
			const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body: big,
				headers: { Authorization: `Bearer ${KEY_N}`, 'Content-Type': 'application/json' } });
			assert.equal(r.status, 413, r.body.toString().slice(0, 300));
			assert.match(r.headers['content-type'] || '', /^application\/json/);
			assertOpenAIError(r.body, `413 ${label}`);
			assert.equal(up.requests.length, before, 'the refused body did not go upstream');
			const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], `413 ${label}`));
			assert.equal(row.status, 413);
			assert.equal(row.outcome, 'rejected');
			assert.equal(row.request_body_size, big.length);
		});
	}

	for (const [label, size, pieces] of [['10 KB in one piece', 10 * 1024, 1], ['300 KB in 6 pieces', 300 * 1024, 6]]) {
		test(`a chunked request body (no Content-Length), ${label}, reaches the upstream whole`, async () => {
			const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'c'.repeat(size) }] }));
			const n0 = up.requests.length;
			const r = await chunkedPost(`${s.proxyUrl}/v1/chat/completions`, body, { pieces, pause: 30,
				headers: { Authorization: `Bearer ${KEY_N}`, 'Content-Type': 'application/json' } });
			const u = up.requests[n0];
			assert.ok(u, `the upstream got no request (client got ${r.status} ${r.body.toString().slice(0, 200)})`);
			assert.equal(u.body.length, body.length, `the upstream got ${u.body.length} of the ${body.length} body bytes ` +
				`(client got ${r.status} ${r.body.toString().slice(0, 160)})`);
			assert.ok(u.body.equals(body), 'body forwarded byte for byte');
			assert.equal(r.status, 200);
			const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], `chunked ${label}`));
			assert.equal(row.request_body_size, body.length);
			assert.equal(row.outcome, 'completed');
		});
	}

	test('a chunked request body over MAX_REQUEST_BODY is a 413 in OpenAI error shape, recorded', async () => {
		const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'y'.repeat(1536 * 1024) }] }));
		const n0 = up.requests.length;
		const r = await chunkedPost(`${s.proxyUrl}/v1/chat/completions`, body, { pieces: 4,
			headers: { Authorization: `Bearer ${KEY_N}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 413, `got ${r.status} ${r.body.toString().slice(0, 200)}; the upstream saw ` +
			(up.requests[n0] ? `a ${up.requests[n0].body.length}-byte body` : 'nothing'));
		assertOpenAIError(r.body, '413 chunked');
		assert.equal(up.requests.length, n0, 'the refused body did not go upstream');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], '413 chunked'));
		assert.equal(row.outcome, 'rejected');
	});

	test('a body under the limit passes whole', async () => {
		const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'z'.repeat(700 * 1024) }] });
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY_N}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 200, r.body.toString().slice(0, 300));
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.equal(u.body.length, Buffer.byteLength(body));
		assert.ok(u.body.equals(Buffer.from(body)), 'body forwarded byte for byte');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], '700 KB'));
		assert.equal(row.request_body_size, Buffer.byteLength(body));
	});

	test('SIGTERM stops nginx, both FastCGI programs and run.sh: no process left', async () => {
		const procs = stackProcesses(s);
		const names = procs.map((p) => `${p.pid} (${p.why}) ${p.cmd}`).join('\n  ');
		assert.ok(procs.some((p) => /nginx: master/.test(p.cmd) || /\bnginx\b/.test(p.cmd)), `nginx among:\n  ${names}`);
		assert.ok(procs.some((p) => /proxy_fcgi/.test(p.cmd)), `proxy_fcgi among:\n  ${names}`);
		assert.ok(procs.length >= 4, `run.sh, nginx (master + worker), proxy_fcgi, dashboard_fcgi:\n  ${names}`);
		await s.stop();
		assert.ok(s.exited, 'run.sh exited');
		await sleep(300);
		const left = stillRunning(procs);
		assert.deepEqual(left.map((p) => `${p.pid} (${p.why}) ${p.cmd}`), [], 'processes left after the stop');
		const again = stackProcesses(s).filter((p) => p.pid !== s.pid);
		assert.deepEqual(again.map((p) => `${p.pid} (${p.why}) ${p.cmd}`), [], 'no process of the stack remains');
		const runDir = path.join(s.varDir, 'run');
		const pidFiles = fs.readdirSync(runDir).filter((f) => f.endsWith('.pid'));
		for (const f of pidFiles) {
			const pid = Number(fs.readFileSync(path.join(runDir, f), 'utf8').trim());
			assert.equal(procStat(pid) === null || procStat(pid).state === 'Z', true, `run/${f} names pid ${pid}, still running`);
		}
	});
});
