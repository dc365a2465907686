// tests/integration/dashboard.test.mjs - the dashboard's JSON API and pages end to end:
// captures made through the proxy (openai SDK -> lighttpd -> proxy_fcgi -> fake
// upstream), then read back through dashboard_fcgi on the web port.
//
// One stack with PAGE_SIZE=5 and a known set of captures: plain and streamed
// chats, a Responses API stream, embeddings, a model list with a query string,
// binary speech, upstream errors, and a prompt full of HTML and SQL syntax.
// Two more stacks check the optional login (DASHBOARD_AUTH_FILE) under lighttpd (mod_auth) and nginx (auth_basic).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import * as upstreamLib from '../lib/upstream.mjs';
import { STREAM_DELTAS, speechBytes, responseModel, sha256 } from '../lib/upstream.mjs';
import { startStack, rawRequest, UUID_RE } from '../lib/stack.mjs';

const KEY = 'sk-proj-DASHKEY0123456789abcdQRST';
const KEY_SECRET = 'DASHKEY0123456789';
const OTHER_KEY = 'sk-other-SECONDKEY99887766zzYY';
const PAGE_SIZE = 5;
const STREAM_REPLY = STREAM_DELTAS.join('');
const HOSTILE_PROMPT = `<script>window.__xss=1</script><img src=x onerror="alert(1)"> ' OR 1=1; -- "quoted" 100% _under_ \\back`;

const fingerprint = (k) => sha256(Buffer.from(k)).slice(0, 16);

/* GET on the web port; resolves to {status, headers, body (Buffer), json (or null)}. */
async function get(s, path, headers = {}) {
	const r = await rawRequest(s.webUrl + path, { headers });
	let json = null;
	try { json = JSON.parse(r.body.toString('utf8')); } catch { json = null; }
	return { ...r, json };
}

/* GET that must answer 200 with JSON. */
async function getOk(s, path) {
	const r = await get(s, path);
	assert.equal(r.status, 200, `${path}: ${r.status} ${r.body.toString().slice(0, 300)}`);
	assert.match(r.headers['content-type'] || '', /^application\/json/, `${path}: JSON content type`);
	assert.ok(r.json, `${path}: body is JSON`);
	return r.json;
}

function assertJsonError(r, status, what) {
	assert.equal(r.status, status, `${what}: status ${r.status} ${r.body.toString().slice(0, 200)}`);
	assert.match(r.headers['content-type'] || '', /^application\/json/, `${what}: JSON error`);
	assert.ok(r.json && r.json.error, `${what}: {"error": ...}`);
	assert.equal(typeof r.json.error.message, 'string');
	assert.equal(typeof r.json.error.type, 'string');
	assert.equal(typeof r.json.error.code, 'string');
}

const ids = (list) => list.requests.map((x) => x.id);

describe('dashboard API over captures made through the proxy', () => {
	let up, s, client, other;
	const c = {};          // capture ids by role
	let total = 0;

	/* Runs a call and returns the capture id from X-Capture-Id. */
	async function capture(role, fn) {
		const { response, data } = await fn().withResponse();
		if (data && typeof data[Symbol.asyncIterator] === 'function') {
			for await (const _ of data) { /* drain the stream */ }
		}
		const id = response.headers.get('x-capture-id');
		assert.match(id || '', UUID_RE, `${role}: X-Capture-Id`);
		c[role] = id;
		total++;
		return id;
	}

	async function failing(role, model) {
		try {
			await client.chat.completions.create({ model, messages: [{ role: 'user', content: `please fail ${role}` }] });
			assert.fail(`${role}: expected an error`);
		} catch (e) {
			assert.ok(e.status >= 400, `${role}: ${e.message}`);
			const id = e.headers?.get ? e.headers.get('x-capture-id') : e.headers?.['x-capture-id'];
			assert.match(id || '', UUID_RE, `${role}: X-Capture-Id on the error`);
			c[role] = id;
			total++;
		}
	}

	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'dashboard', env: { OPENAI_API_BASE: up.url, PAGE_SIZE: String(PAGE_SIZE) } });
		client = new OpenAI({ apiKey: KEY, baseURL: `${s.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });
		other = new OpenAI({ apiKey: OTHER_KEY, baseURL: `${s.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });

		await capture('chat', () => client.chat.completions.create({
			model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Tell me about the zebracorn please' }] }));
		await capture('stream', () => client.chat.completions.create({
			model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'A streamed flamingo question' }],
			stream: true, stream_options: { include_usage: true } }));
		await capture('responses', () => client.responses.create({
			model: 'gpt-4.1-mini', input: 'responses api pelican', stream: true }));
		await capture('embeddings', () => client.embeddings.create({
			model: 'text-embedding-3-small', input: 'embedding of a walrus' }));
		await capture('models', () => client.models.list({ query: { limit: 2 } }));
		await capture('speech', () => client.audio.speech.create({
			model: 'tts-1', voice: 'alloy', input: 'speak binary' }));
		await capture('hostile', () => client.chat.completions.create({
			model: 'gpt-4o-mini', messages: [{ role: 'user', content: HOSTILE_PROMPT }] }));
		for (let i = 1; i <= 5; i++) {
			await capture(`page${i}`, () => other.chat.completions.create({
				model: 'gpt-4o', messages: [{ role: 'user', content: `pagingword number${i}` }] }));
		}
		await failing('e429', 'fail-429');
		await failing('e500', 'fail-500');
		await s.waitForCaptures(total, 20000);
	});

	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	test('GET /api/requests: the guide shape, newest first, no-store', async () => {
		const r = await get(s, '/api/requests');
		assert.equal(r.status, 200);
		assert.match(r.headers['cache-control'] || '', /no-store/);
		assert.equal(r.headers['x-content-type-options'], 'nosniff');
		const list = r.json;
		assert.equal(list.page, 1);
		assert.equal(list.page_size, PAGE_SIZE);
		assert.equal(list.total, total);
		assert.equal(list.total_exact, true);
		assert.equal(list.pages, Math.ceil(total / PAGE_SIZE));
		assert.equal(list.requests.length, PAGE_SIZE);
		assert.equal(list.has_more, true);
		assert.equal(typeof list.next_cursor, 'string');
		const rows = await s.query('SELECT id::text FROM captures ORDER BY started_at DESC, id DESC');
		assert.deepEqual(ids(list), rows.slice(0, PAGE_SIZE).map((x) => x.id), 'newest first');
		for (const item of list.requests) {
			for (const k of ['id', 'timestamp', 'method', 'path', 'status', 'duration_ms', 'model', 'streamed',
				'prompt_tokens', 'completion_tokens', 'total_tokens', 'outcome', 'key_hint'])
				assert.ok(k in item, `item has ${k}`);
			assert.match(item.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
			assert.ok(!('snippet' in item), 'no snippet without a search');
		}
	});

	test('paging: page=N and the keyset cursor walk every capture once, in order', async () => {
		const rows = (await s.query('SELECT id::text FROM captures ORDER BY started_at DESC, id DESC')).map((x) => x.id);
		const p2 = await getOk(s, '/api/requests?page=2');
		assert.deepEqual(ids(p2), rows.slice(PAGE_SIZE, 2 * PAGE_SIZE));
		const last = await getOk(s, `/api/requests?page=${Math.ceil(total / PAGE_SIZE)}`);
		assert.equal(last.has_more, false);
		assert.equal(last.next_cursor, null);
		const beyond = await getOk(s, '/api/requests?page=99');
		assert.deepEqual(beyond.requests, []);

		const seen = [];
		let cursor = '', pages = 0;
		for (;;) {
			const l = await getOk(s, `/api/requests${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
			seen.push(...ids(l));
			pages++;
			if (!l.next_cursor) break;
			cursor = l.next_cursor;
			assert.ok(pages < 20, 'cursor paging ends');
		}
		assert.deepEqual(seen, rows, 'cursor pages hold every capture exactly once, newest first');

		const big = await getOk(s, '/api/requests?page_size=500');
		assert.equal(big.requests.length, total);
		for (const bad of ['page=0', 'page=-1', 'page=abc', 'page_size=0', 'page_size=501', 'cursor=nope',
			'cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%21'])
			assertJsonError(await get(s, `/api/requests?${bad}`), 400, bad);
	});

	test('search: full-text over prompts and replies, streamed replies included, with snippets', async () => {
		const zebra = await getOk(s, '/api/requests?search=zebracorn');
		assert.deepEqual(ids(zebra), [c.chat]);
		const snip = zebra.requests[0].snippet;
		assert.ok(Array.isArray(snip) && snip.some((p) => p.match && /zebracorn/i.test(p.text)), JSON.stringify(snip));
		assert.ok(snip.every((p) => typeof p.text === 'string' && typeof p.match === 'boolean'));

		// the assembled reply of a stream is searchable; a phrase keeps word order
		const streamed = await getOk(s, `/api/requests?search=${encodeURIComponent('"fake upstream"')}`);
		assert.deepEqual(ids(streamed), [c.stream]);
		const prompt = await getOk(s, '/api/requests?search=flamingo');
		assert.deepEqual(ids(prompt), [c.stream]);
		const responses = await getOk(s, '/api/requests?search=pelican');
		assert.deepEqual(ids(responses), [c.responses]);

		// web-search syntax: or, -word, quotes
		const either = await getOk(s, '/api/requests?search=zebracorn%20or%20flamingo&page_size=50');
		assert.deepEqual(new Set(ids(either)), new Set([c.chat, c.stream]));
		const paging = await getOk(s, '/api/requests?search=pagingword&page_size=50');
		assert.equal(paging.total, 5);
		const minus = await getOk(s, '/api/requests?search=pagingword%20-number3&page_size=50');
		assert.equal(minus.total, 4);
		assert.ok(!ids(minus).includes(c.page3));
		const phraseMiss = await getOk(s, `/api/requests?search=${encodeURIComponent('"number3 pagingword"')}`);
		assert.equal(phraseMiss.total, 0);

		// substrings of a path and of an id (pg_trgm), and the method
		const path = await getOk(s, '/api/requests?search=mbeddin');
		assert.deepEqual(ids(path), [c.embeddings]);
		const idPart = c.speech.slice(9, 23);
		const byId = await getOk(s, `/api/requests?search=${idPart}`);
		assert.deepEqual(ids(byId), [c.speech]);
		const method = await getOk(s, '/api/requests?search=get&page_size=50');
		assert.ok(ids(method).includes(c.models), 'search by method');

		// searching is combined with filters and paging
		const paged = await getOk(s, '/api/requests?search=pagingword&page_size=2');
		assert.equal(paged.pages, 3);
		const paged2 = await getOk(s, `/api/requests?search=pagingword&page_size=2&cursor=${paged.next_cursor}`);
		assert.equal(paged2.requests.length, 2);
		assert.ok(!ids(paged2).some((x) => ids(paged).includes(x)));
	});

	test('search: hostile input answers 200 or a JSON 400, never 500 or SQL text', async () => {
		const inputs = [
			"'", '"', '""', "'; DROP TABLE captures; --", '\\', '%', '%%', '_', '*', ':*', '!', '!!', '&', '|',
			'(', ')', '<->', '<2>', 'a & | b', 'or', 'or or', '-', '--', '- -x', '"unclosed', "o'reilly",
			'<script>alert(1)</script>', '${x}', '\u00e9\u00e8', '😀', '\u2028', 'x'.repeat(999),
			'a '.repeat(400), HOSTILE_PROMPT,
		];
		for (const q of inputs) {
			const r = await get(s, `/api/requests?search=${encodeURIComponent(q)}`);
			assert.ok(r.status === 200 || r.status === 400, `search ${JSON.stringify(q.slice(0, 40))}: ${r.status}`);
			assert.match(r.headers['content-type'] || '', /^application\/json/);
			assert.doesNotMatch(r.body.toString(), /syntax error|SQLSTATE|tsquery|ERROR:|relation /i);
		}
		// the hostile prompt itself is found, and comes back as inert JSON text
		// (the parser drops what looks like HTML tags, so its plain words are searched)
		const found = await getOk(s, '/api/requests?search=%22quoted%22%20under');
		assert.deepEqual(ids(found), [c.hostile], 'hostile prompt found by its words');
		const raw = (await get(s, `/api/requests?search=${encodeURIComponent(c.hostile)}`)).body.toString();
		assert.ok(raw.includes(c.hostile), 'found by its id');
		assert.ok(!/[<>]/.test(raw), 'angle brackets are \\u escapes in JSON strings');

		// too long, NUL, invalid UTF-8: a 400 (lighttpd itself refuses control bytes in URLs)
		for (const q of ['x'.repeat(6000), '%00', 'a%00b', '%FF', '%C3%28', '%ED%A0%80']) {
			const r = await get(s, `/api/requests?search=${q}`);
			assert.equal(r.status, 400, `search=${q.slice(0, 20)}: ${r.status}`);
			if (/json/.test(r.headers['content-type'] || '')) assertJsonError(r, 400, q.slice(0, 20));
		}
		assertJsonError(await get(s, '/api/requests?search=%E2%82'), 400, 'cut UTF-8 sequence');
		assertJsonError(await get(s, '/api/requests?search=%G1'), 400, 'bad %-escape');
	});

	test('filters: model, status class, method, path, streamed, key, outcome, time range', async () => {
		const count = async (q) => (await getOk(s, `/api/requests?${q}&page_size=500`)).total;
		const db = async (sql) => Number((await s.query(`SELECT count(*)::int AS n FROM captures WHERE ${sql}`))[0].n);
		assert.equal(await count(`model=${encodeURIComponent(responseModel('gpt-4o'))}`), 5);
		assert.equal(await count('model=no-such-model'), 0);
		assert.equal(await count('status=2xx'), await db('status BETWEEN 200 AND 299'));
		assert.equal(await count('status=4xx'), 1);
		assert.equal(await count('status=5xx'), 1);
		assert.equal(await count('status=429'), 1);
		assert.equal(await count('status=error'), 2);
		assert.equal(await count('method=GET'), 1);
		assert.equal(await count('method=get'), 1);
		assert.equal(await count('path=%2Fv1%2Fembeddings'), 1);
		assert.equal(await count('path=chat'), await db("path LIKE '%chat%'"));
		assert.equal(await count('streamed=true'), await db('streamed'));
		assert.equal(await count('streamed=false'), await db('NOT streamed'));
		assert.equal(await count(`key=${fingerprint(OTHER_KEY)}`), 5);
		assert.equal(await count(`key=${fingerprint(KEY).toUpperCase()}`), await db(`key_fingerprint = '${fingerprint(KEY)}'`));
		assert.equal(await count('outcome=upstream_error'), 2);
		assert.equal(await count('model=' + encodeURIComponent(responseModel('gpt-4o')) + '&search=number2'), 1);
		const future = new Date(Date.now() + 3600e3).toISOString();
		assert.equal(await count(`from=${future}`), 0);
		assert.equal(await count(`to=${future}`), total);
		assert.equal(await count(`from=${Date.now() - 3600e3}`), total, 'Unix milliseconds');
		assert.equal(await count('from=2000-01-01&to=2000-01-02'), 0);
		for (const bad of ['status=6xx', 'status=abc', 'method=P0ST', 'streamed=maybe', 'key=xyz', 'outcome=great',
			'from=yesterday', 'from=2025-13-01', 'from=2025-02-30', 'to=2020-01-01&from=2021-01-01'])
			assertJsonError(await get(s, `/api/requests?${bad}`), 400, bad);
	});

	test('GET /api/request/{id}: a streamed chat with headers, bodies, events and reply', async () => {
		const d = await getOk(s, `/api/request/${c.stream}`);
		const row = (await s.query('SELECT * FROM captures WHERE id = $1', [c.stream]))[0];
		assert.equal(d.id, c.stream);
		assert.equal(d.method, 'POST');
		assert.equal(d.path, '/v1/chat/completions');
		assert.equal(d.status, 200);
		assert.equal(d.outcome, 'completed');
		assert.equal(d.streamed, true);
		assert.equal(d.model, row.model);
		assert.equal(d.reply_text, STREAM_REPLY);
		assert.equal(typeof d.ttfb_ms, 'number');
		assert.equal(typeof d.duration_ms, 'number');
		assert.ok(d.duration_ms >= d.ttfb_ms);
		assert.equal(d.usage.prompt_tokens, row.prompt_tokens);
		assert.equal(d.usage.completion_tokens, row.completion_tokens);
		assert.equal(d.key_fingerprint, fingerprint(KEY));
		// headers as [name, value] pairs; the key is masked
		assert.ok(Array.isArray(d.request.headers) && d.request.headers.every((h) => h.length === 2));
		const auth = d.request.headers.find((h) => h[0].toLowerCase() === 'authorization');
		assert.ok(auth && !auth[1].includes(KEY_SECRET), `masked Authorization: ${auth && auth[1]}`);
		assert.ok(!JSON.stringify(d).includes(KEY_SECRET), 'no full key anywhere in the detail');
		assert.ok(d.response.headers.some((h) => /content-type/i.test(h[0]) && /event-stream/.test(h[1])));
		// bodies: the request as JSON, the response as the raw stream plus its events
		assert.equal(d.request.format, 'json');
		assert.equal(d.request.body.messages[0].content, 'A streamed flamingo question');
		assert.equal(d.request.size, row.request_body_size);
		assert.equal(d.response.format, 'sse');
		assert.equal(d.response.body, row.response_body);
		assert.equal(d.response.events.length, row.sse_events);
		const deltas = d.response.events.map((e) => { try { return JSON.parse(e.data); } catch { return null; } })
			.filter((x) => x && x.choices && x.choices[0] && x.choices[0].delta && x.choices[0].delta.content)
			.map((x) => x.choices[0].delta.content);
		assert.deepEqual(deltas, STREAM_DELTAS);
		assert.equal(d.response.events.at(-1).data, '[DONE]');
		assert.equal(d.request.download_url, `/api/request/${c.stream}/body/request`);
	});

	test('GET /api/request/{id}: Responses API events keep their names; JSON and text bodies', async () => {
		const d = await getOk(s, `/api/request/${c.responses}`);
		assert.equal(d.response.format, 'sse');
		assert.ok(d.response.events.some((e) => e.event === 'response.output_text.delta'));
		assert.ok(d.response.events.some((e) => e.event === 'response.completed'));
		const chat = await getOk(s, `/api/request/${c.chat}`);
		assert.equal(chat.response.format, 'json');
		assert.equal(chat.response.body.object, 'chat.completion');
		const models = await getOk(s, `/api/request/${c.models}`);
		assert.equal(models.method, 'GET');
		assert.equal(models.query, 'limit=2');
		assert.equal(models.request.format, 'empty');
		assert.equal(models.request.download_url, null);
		const err = await getOk(s, `/api/request/${c.e429}`);
		assert.equal(err.status, 429);
		assert.equal(err.outcome, 'upstream_error');
		assert.equal(err.response.format, 'json');
		assert.ok(err.response.body.error, 'OpenAI error body as JSON');
		const hostile = await getOk(s, `/api/request/${c.hostile}`);
		assert.equal(hostile.request.body.messages[0].content, HOSTILE_PROMPT);
	});

	test('binary bodies: size, type and a download of the exact bytes', async () => {
		const d = await getOk(s, `/api/request/${c.speech}`);
		assert.equal(d.response.format, 'binary');
		assert.equal(d.response.body, null);
		assert.equal(d.response.size, speechBytes().length);
		assert.match(d.response.content_type, /audio\/mpeg/);
		const r = await get(s, d.response.download_url);
		assert.equal(r.status, 200);
		assert.equal(sha256(r.body), sha256(speechBytes()), 'downloaded bytes are the captured bytes');
		assert.match(r.headers['content-type'], /^audio\/mpeg/);
		assert.match(r.headers['content-disposition'], /^attachment; filename="capture-[0-9a-f-]{36}-response\.mp3"$/);
		assert.equal(r.headers['x-content-type-options'], 'nosniff');
		assert.match(String(r.headers['content-security-policy']), /sandbox/);
		const req = await get(s, `/api/request/${c.chat}/body/request`);
		assert.equal(req.status, 200);
		assert.equal(JSON.parse(req.body.toString()).messages[0].content, 'Tell me about the zebracorn please');
		assertJsonError(await get(s, `/api/request/${c.models}/body/request`), 404, 'no request body stored');
	});

	test('unknown and malformed ids, unknown paths, other methods, other hosts', async () => {
		assertJsonError(await get(s, '/api/request/01900000-0000-7000-8000-000000000000'), 404, 'unknown v7 id');
		assertJsonError(await get(s, '/api/request/eff79fe3-993d-4201-87b6-f6f26657fed9'), 404, 'unknown v4 id');
		for (const p of ['/api/request/abc', '/api/request/', '/api/request/%27%3B--', `/api/request/${c.chat}x`,
			`/api/request/${c.chat}/body/other`, '/api/nope', '/api', '/api/requests/extra', '/api/stats/x'])
			assertJsonError(await get(s, p), 404, p);
		for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
			const r = await rawRequest(`${s.webUrl}/api/requests`, { method, body: '{}', headers: { 'Content-Type': 'application/json' } });
			const j = JSON.parse(r.body.toString());
			assert.equal(r.status, 405, method);
			assert.ok(j.error && j.error.code === 'method_not_allowed');
			assert.match(r.headers.allow || '', /GET/);
		}
		const head = await rawRequest(`${s.webUrl}/api/stats`, { method: 'HEAD' });
		assert.equal(head.status, 200);
		assert.equal(head.body.length, 0);
		const rebinding = await get(s, '/api/requests', { Host: 'attacker.example:8081' });
		assertJsonError(rebinding, 403, 'a DNS-rebinding Host');
		assert.equal((await get(s, '/api/requests', { Host: `localhost:${s.webPort}` })).status, 200);
	});

	test('GET /api/stats: totals, percentiles, errors, tokens, per model, timeline, time range', async () => {
		const st = await getOk(s, '/api/stats');
		const agg = (await s.query(`SELECT count(*)::int AS n,
			count(*) FILTER (WHERE status < 400 AND outcome = 'completed')::int AS ok,
			avg(duration_ms) AS avg, coalesce(sum(prompt_tokens), 0)::int AS pin,
			coalesce(sum(completion_tokens), 0)::int AS pout FROM captures`))[0];
		assert.equal(st.total_requests, total);
		assert.equal(st.total_requests, agg.n);
		assert.equal(st.success_rate, Math.round((agg.ok * 10000) / agg.n) / 100);
		assert.ok(Math.abs(st.avg_response_time_ms - agg.avg) < 0.01);
		assert.ok(st.p50_response_time_ms <= st.p95_response_time_ms);
		assert.equal(st.errors.client_4xx, 1);
		assert.equal(st.errors.server_5xx, 1);
		assert.equal(st.failed_requests, 2);
		assert.equal(st.tokens.prompt, agg.pin);
		assert.equal(st.tokens.completion, agg.pout);
		assert.equal(st.tokens.total, agg.pin + agg.pout);
		const gpt4o = st.models.find((m) => m.model === responseModel('gpt-4o'));
		assert.ok(gpt4o, JSON.stringify(st.models));
		assert.equal(gpt4o.requests, 5);
		assert.equal(st.models.reduce((a, m) => a + m.requests, 0), total);
		assert.equal(st.timeline.points.reduce((a, p) => a + p.requests, 0), total);
		assert.ok(st.timeline.bucket_seconds >= 60);
		assert.ok(st.timeline.points.every((p) => p.t % (st.timeline.bucket_seconds * 1000) === 0));
		const future = await getOk(s, `/api/stats?from=${new Date(Date.now() + 3600e3).toISOString()}`);
		assert.equal(future.total_requests, 0);
		assert.equal(future.success_rate, 0);
		assert.equal(future.avg_response_time_ms, null);
		assert.deepEqual(future.models, []);
		const hour = await getOk(s, `/api/stats?from=${new Date(Date.now() - 3600e3).toISOString()}&to=${new Date(Date.now() + 60e3).toISOString()}`);
		assert.equal(hour.total_requests, total);
		const oneModel = await getOk(s, `/api/stats?model=${encodeURIComponent(responseModel('gpt-4o'))}`);
		assert.equal(oneModel.total_requests, 5);
		assertJsonError(await get(s, '/api/stats?from=garbage'), 400, 'bad from');
	});

	test('pages: HTML shells under a strict CSP, scripts and styles from /static/', async () => {
		for (const p of ['/', `/request/${c.chat}`]) {
			const r = await get(s, p);
			assert.equal(r.status, 200, p);
			assert.match(r.headers['content-type'], /^text\/html/);
			const csp = String(r.headers['content-security-policy']);
			for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"])
				assert.ok(csp.includes(d), `${p}: CSP has ${d}`);
			assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
			assert.equal(r.headers['x-content-type-options'], 'nosniff');
			const html = r.body.toString();
			assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=/i, `${p}: no inline script or style`);
			for (const m of html.matchAll(/(?:src|href)="(\/static\/[^"]+)"/g)) {
				const a = await get(s, m[1]);
				assert.equal(a.status, 200, `${m[1]} is served`);
			}
		}
		const missing = await get(s, '/no/such/page');
		assert.equal(missing.status, 404);
		assert.match(missing.headers['content-type'], /^text\/html/);
		assert.equal((await get(s, '/request/not-a-uuid')).status, 404);
		assert.equal((await get(s, '/api/info')).json.page_size, PAGE_SIZE);
	});
});

describe('filtered counts stop at 1,000', () => {
	let s;

	before(async () => {
		s = await startStack({ name: 'countcap', env: { OPENAI_API_BASE: 'http://127.0.0.1:9', PAGE_SIZE: '50' } });
		// 1,005 embeddings calls with a word in their search text, 10 model lists
		await s.query(`INSERT INTO captures (id, started_at, method, path, status, outcome, search_text)
			SELECT gen_random_uuid(), now() - i * interval '1 second', 'POST', '/v1/embeddings', 200,
				'completed', 'capword number ' || i
			FROM generate_series(1, 1005) i`);
		await s.query(`INSERT INTO captures (id, started_at, method, path, status, outcome)
			SELECT gen_random_uuid(), now() - i * interval '1 second', 'GET', '/v1/models', 200, 'completed'
			FROM generate_series(1, 10) i`);
	});

	after(async () => {
		await s?.stop();
	});

	test('more than 1,000 matches: total 1,000, not exact; the pages still walk past it', async () => {
		for (const q of ['path=embeddings', 'search=capword', 'search=capword&method=POST']) {
			const list = await getOk(s, `/api/requests?${q}`);
			assert.equal(list.total, 1000, `${q}: total`);
			assert.equal(list.total_exact, false, `${q}: total_exact`);
			assert.equal(list.pages, 20, `${q}: pages`);
			assert.equal(list.requests.length, 50, `${q}: a full page`);
			assert.equal(list.has_more, true, `${q}: has_more`);
			const last = await getOk(s, `/api/requests?${q}&page=21`);
			assert.equal(last.requests.length, 5, `${q}: page 21 holds the last 5 of 1,005`);
			assert.equal(last.has_more, false, `${q}: nothing after page 21`);
		}
	});

	test('1,000 matches or fewer: the exact count', async () => {
		const few = await getOk(s, '/api/requests?path=models');
		assert.equal(few.total, 10);
		assert.equal(few.total_exact, true);
		const exact = await getOk(s, `/api/requests?search=capword&from=${new Date(Date.now() - 1000.5 * 1000).toISOString()}`);
		assert.ok(exact.total_exact && exact.total >= 900 && exact.total <= 1000, JSON.stringify([exact.total, exact.total_exact]));
	});
});

describe('few matches are looked for in the last day, then the week, then before', () => {
	let s;
	const ids = [];        // the matches, newest first

	before(async () => {
		s = await startStack({ name: 'slices', env: { OPENAI_API_BASE: 'http://127.0.0.1:9' } });
		// 7 matches in the last day, 7 between 1 and 7 days ago (2 of them at
		// the same instant), 7 older; other rows between them
		const ago = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.99, 1.01, 2, 3, 3, 4, 5, 6.99, 7.01, 8, 10, 12, 15, 20, 25];
		const rows = await s.query(`INSERT INTO captures (id, started_at, method, path, status, outcome, search_text)
			SELECT gen_random_uuid(), now() - d * interval '1 day', 'POST', '/v1/chat/completions', 200,
				'completed', 'sliceword ' || d
			FROM unnest($1::float8[]) d RETURNING id, started_at`, [ago]);
		rows.sort((a, b) => (b.started_at - a.started_at) || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0));
		ids.push(...rows.map((r) => r.id));
		await s.query(`INSERT INTO captures (id, started_at, method, path, status, outcome, search_text)
			SELECT gen_random_uuid(), now() - i * interval '1 hour', 'POST', '/v1/chat/completions', 200,
				'completed', 'other words' FROM generate_series(1, 40) i`);
	});

	after(async () => {
		await s?.stop();
	});

	test('pages by number and by cursor return every match once, newest first', async () => {
		for (const size of [3, 5, 8, 21, 30]) {
			const byPage = [];
			for (let page = 1; page <= Math.ceil(ids.length / size); page++) {
				const l = await getOk(s, `/api/requests?search=sliceword&page_size=${size}&page=${page}`);
				assert.equal(l.total, ids.length);
				assert.equal(l.total_exact, true);
				byPage.push(...l.requests.map((r) => r.id));
			}
			assert.deepEqual(byPage, ids, `page_size=${size}, by page number`);
			const byCursor = [];
			let url = `/api/requests?search=sliceword&page_size=${size}`;
			for (;;) {
				const l = await getOk(s, url);
				byCursor.push(...l.requests.map((r) => r.id));
				assert.equal(l.has_more, byCursor.length < ids.length, `page_size=${size}: has_more`);
				if (!l.next_cursor) break;
				url = `/api/requests?search=sliceword&page_size=${size}&cursor=${l.next_cursor}&page=2`;
			}
			assert.deepEqual(byCursor, ids, `page_size=${size}, by cursor`);
		}
	});

	test('every filter at once, with a cursor, in every slice', async () => {
		// the slices repeat the filters three times: 60-odd parameters
		const [row] = await s.query(`INSERT INTO captures (id, started_at, method, path, status, outcome, model,
				streamed, key_fingerprint, instance, capture_user, end_user, capture_session, capture_tags, search_text)
			VALUES (gen_random_uuid(), now() - interval '30 days', 'POST', '/v1/chat/completions', 200, 'completed',
				'gpt-4o', true, '0123456789abcdef', 'slice-proxy', 'ann', 'end-ann', 'sess-1', ARRAY['t1'],
				'sliceword with every filter') RETURNING id`);
		try {
			const first = await getOk(s, '/api/requests?search=sliceword&page_size=1');
			const all = 'search=sliceword&model=gpt-4o&status=2xx&method=POST&path=chat&streamed=true' +
				'&key=0123456789ABCDEF&outcome=completed&instance=slice-proxy&user=ann&end_user=end-ann' +
				`&session=sess-1&tag=t1&from=${encodeURIComponent(new Date(Date.now() - 40 * 86400e3).toISOString())}` +
				`&to=${encodeURIComponent(new Date(Date.now() + 60e3).toISOString())}`;
			for (const q of [all, `${all}&cursor=${first.next_cursor}&page=2`, `${all}&page=1&page_size=2`]) {
				const l = await getOk(s, `/api/requests?${q}`);
				assert.deepEqual(l.requests.map((r) => r.id), [row.id], q);
				assert.equal(l.total, 1, q);
			}
		} finally {
			await s.query('DELETE FROM captures WHERE id = $1', [row.id]);
		}
	});

	test('nothing matches: an empty page', async () => {
		const l = await getOk(s, '/api/requests?search=nosuchsliceword&page_size=4');
		assert.deepEqual([l.requests, l.total, l.total_exact, l.pages, l.has_more, l.next_cursor],
			[[], 0, true, 0, false, null]);
	});

	test('the slices count back from the end of the range', async () => {
		const to = new Date(Date.now() - 9 * 86400e3).toISOString();
		const l = await getOk(s, `/api/requests?search=sliceword&page_size=3&to=${encodeURIComponent(to)}`);
		assert.deepEqual(l.requests.map((r) => r.id), ids.slice(16, 19), 'the newest 3 matches before to=');
		assert.equal(l.total, 5);
	});
});

for (const front of ['lighttpd', 'nginx']) describe(`dashboard login (DASHBOARD_AUTH_FILE) under ${front}`, () => {
	let s, dir;

	before(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dash-auth-'));
		const hash = execFileSync('openssl', ['passwd', '-apr1', 'correct horse'], { encoding: 'utf8' }).trim();
		fs.writeFileSync(path.join(dir, 'htpasswd'), `admin:${hash}\n`);
		s = await startStack({ name: `dashauth-${front}`, env: { CAPTURE_FRONT: front, DASHBOARD_AUTH_FILE: path.join(dir, 'htpasswd') } });
	});
	after(async () => {
		try { await s?.stop(); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
	});

	test('pages, API and static files need the password; the proxy port does not', async () => {
		const basic = (u, p) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
		for (const p of ['/', '/api/stats', '/api/requests', '/static/css/app.css']) {
			const anon = await get(s, p);
			assert.equal(anon.status, 401, `${p} without a login`);
			assert.match(String(anon.headers['www-authenticate']), /^Basic realm="capture dashboard"/);
			assert.equal((await get(s, p, basic('admin', 'wrong'))).status, 401, `${p} with a wrong password`);
			assert.equal((await get(s, p, basic('admin', 'correct horse'))).status, 200, `${p} with the password`);
		}
		const css = await get(s, '/static/css/app.css', basic('admin', 'correct horse'));
		assert.equal(css.headers['cache-control'], 'no-cache', 'static files are revalidated');
		assert.match(String(css.headers['content-security-policy']), /^default-src 'none'/);
		assert.equal(css.headers['x-content-type-options'], 'nosniff');
		const proxied = await rawRequest(`${s.proxyUrl}/v1/models`);
		assert.notEqual(proxied.status, 401, 'the proxy port has no dashboard login');
	});
});

describe('dashboard while its database is unreachable', () => {
	let s;

	before(async () => {
		s = await startStack({ name: 'dashnodb', env: {
			DASHBOARD_DATABASE_URL: 'postgresql:///nosuchdb?host=/nonexistent-socket-dir&connect_timeout=2' } });
	});
	after(async () => { await s?.stop(); });

	test('the API answers 503 in the JSON error shape; the pages still load', async () => {
		for (const p of ['/api/requests', '/api/stats', '/api/request/01900000-0000-7000-8000-000000000000']) {
			const r = await get(s, p);
			assertJsonError(r, 503, p);
			assert.equal(r.json.error.code, 'database_unavailable');
			assert.doesNotMatch(r.body.toString(), /nosuchdb|nonexistent/, 'no connection details leak');
		}
		assert.equal((await get(s, '/')).status, 200);
		assert.equal((await get(s, '/api/info')).status, 200);
	});
});
