// tests/integration/export.test.mjs - GET /api/export end to end: captures made through
// the proxy (openai SDK -> lighttpd -> proxy_fcgi -> fake upstream) plus rows written
// with SQL (tool calls, odd text, a bulk of large bodies), exported by dashboard_fcgi
// as JSONL, fine-tuning messages, CSV and HAR and checked field by field.
//
// Also: the filters and limit, 400s, a database outage (503), a stream cut by the
// database (a last error line), a client that leaves, back-pressure from a paused
// reader, the cap on concurrent exports, and flat memory (VmHWM) over ~200 MB.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import OpenAI, { toFile } from 'openai';
import * as upstreamLib from '../lib/upstream.mjs';
import { STREAM_DELTAS, CHAT_REPLY, RESPONSES_DELTAS, speechBytes, responseModel, sha256 } from '../lib/upstream.mjs';
import { startStack, rawRequest, UUID_RE } from '../lib/stack.mjs';

const KEY = 'sk-proj-EXPORTKEY0123456789abcdWXYZ';
const KEY_SECRET = 'EXPORTKEY0123456789';
const FORMULA_USER = '=HYPERLINK("http://evil.example","x")';
const BULK_KEY = 'b0b0b0b0b0b0b0b0';
const BULK_ROWS = 2000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* GET on the web port: {status, headers, body (Buffer), text}. */
async function get(s, p, opts = {}) {
	const r = await rawRequest(s.webUrl + p, { timeout: 120000, ...opts });
	return { ...r, text: r.body.toString('utf8') };
}

function assertJsonError(r, status, what) {
	assert.equal(r.status, status, `${what}: status ${r.status} ${r.text.slice(0, 200)}`);
	assert.match(r.headers['content-type'] || '', /^application\/json/, `${what}: JSON error`);
	const j = JSON.parse(r.text);
	for (const k of ['message', 'type', 'code']) assert.equal(typeof j.error[k], 'string', `${what}: error.${k}`);
	return j;
}

/* An export that must answer 200: checks the download headers, returns the text. */
async function exportOk(s, query, type) {
	const r = await get(s, `/api/export?${query}`);
	assert.equal(r.status, 200, `${query}: ${r.status} ${r.text.slice(0, 300)}`);
	assert.match(r.headers['content-type'] || '', type, `${query}: content type`);
	assert.match(r.headers['content-disposition'] || '',
		/^attachment; filename="captures-\d{8}T\d{6}Z\.(jsonl|csv|har)"$/, `${query}: disposition`);
	assert.equal(r.headers['cache-control'], 'no-store');
	assert.equal(r.headers['x-content-type-options'], 'nosniff');
	// valid UTF-8 throughout
	new TextDecoder('utf-8', { fatal: true }).decode(r.body);
	return r.text;
}

const jsonl = async (s, q = '') => (await exportOk(s, `format=jsonl${q ? `&${q}` : ''}`, /^application\/x-ndjson/))
	.split('\n').filter((l) => l.length).map((l) => JSON.parse(l));

/* RFC 4180: rows of fields; quoted fields may hold commas, CRLF and "". */
function parseCsv(text) {
	const rows = [];
	let row = [], field = '', i = 0, quoted = false;
	while (i < text.length) {
		const c = text[i];
		if (quoted) {
			if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
			if (c === '"') { quoted = false; i++; continue; }
			field += c; i++; continue;
		}
		if (c === '"') {
			assert.equal(field, '', 'a quote only opens a field');
			quoted = true; i++; continue;
		}
		if (c === ',') { row.push(field); field = ''; i++; continue; }
		if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
		assert.ok(c !== '\n' && c !== '\r', `bare line break at ${i} outside quotes`);
		field += c; i++;
	}
	assert.equal(quoted, false, 'no open quote at the end');
	assert.ok(row.length === 0 && field === '', 'the last row ends in CRLF');
	return rows;
}

async function csvObjects(s, q = '') {
	const rows = parseCsv(await exportOk(s, `format=csv${q ? `&${q}` : ''}`, /^text\/csv; charset=utf-8/));
	const [head, ...body] = rows;
	for (const r of body) assert.equal(r.length, head.length, 'every row has every column');
	return { head, rows: body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]]))) };
}

/* The fields HAR 1.2 requires, with their types. */
function assertHar(har) {
	const str = (v, w) => assert.equal(typeof v, 'string', w);
	const num = (v, w) => assert.ok(typeof v === 'number' && Number.isFinite(v), `${w}: ${v}`);
	const pairs = (a, w) => {
		assert.ok(Array.isArray(a), w);
		for (const p of a) { str(p.name, `${w} name`); str(p.value, `${w} value`); }
	};
	assert.equal(har.log.version, '1.2');
	str(har.log.creator.name, 'creator.name');
	str(har.log.creator.version, 'creator.version');
	assert.ok(Array.isArray(har.log.entries));
	for (const e of har.log.entries) {
		const w = e._capture?.id || 'entry';
		str(e.startedDateTime, `${w} startedDateTime`);
		assert.ok(!Number.isNaN(Date.parse(e.startedDateTime)), `${w}: startedDateTime parses`);
		num(e.time, `${w} time`);
		assert.equal(typeof e.cache, 'object');
		for (const k of ['send', 'wait', 'receive']) {
			num(e.timings[k], `${w} timings.${k}`);
			assert.ok(e.timings[k] >= 0, `${w} timings.${k} >= 0`);
		}
		for (const k of ['blocked', 'dns', 'connect', 'ssl']) if (k in e.timings) assert.ok(e.timings[k] >= -1);
		const sum = e.timings.send + e.timings.wait + e.timings.receive;
		assert.ok(Math.abs(sum - e.time) < 0.002, `${w}: time ${e.time} = send + wait + receive ${sum}`);
		const q = e.request;
		str(q.method, 'method'); str(q.url, 'url'); new URL(q.url); str(q.httpVersion, 'httpVersion');
		assert.ok(Array.isArray(q.cookies));
		pairs(q.headers, `${w} request headers`);
		pairs(q.queryString, `${w} queryString`);
		num(q.headersSize, 'headersSize'); num(q.bodySize, 'bodySize');
		if (q.postData) { str(q.postData.mimeType, 'postData.mimeType'); str(q.postData.text, 'postData.text'); }
		const p = e.response;
		num(p.status, 'status'); str(p.statusText, 'statusText'); str(p.httpVersion, 'httpVersion');
		assert.ok(Array.isArray(p.cookies));
		pairs(p.headers, `${w} response headers`);
		num(p.content.size, 'content.size'); str(p.content.mimeType, 'content.mimeType');
		if ('text' in p.content) str(p.content.text, 'content.text');
		if ('encoding' in p.content) assert.equal(p.content.encoding, 'base64');
		str(p.redirectURL, 'redirectURL');
		num(p.headersSize, 'headersSize'); num(p.bodySize, 'bodySize');
	}
}

/* The OpenAI chat fine-tuning line format. */
function assertFineTuning(line) {
	assert.deepEqual(Object.keys(line).filter((k) => !['messages', 'tools', 'parallel_tool_calls'].includes(k)), []);
	assert.ok(Array.isArray(line.messages) && line.messages.length >= 2);
	for (const m of line.messages) {
		assert.ok(['system', 'user', 'assistant', 'tool'].includes(m.role), `role ${m.role}`);
		if (m.role === 'assistant') {
			assert.ok(typeof m.content === 'string' || (m.content === null && m.tool_calls?.length), 'assistant content');
			for (const tc of m.tool_calls || []) {
				assert.equal(typeof tc.id, 'string');
				assert.equal(tc.type, 'function');
				assert.equal(typeof tc.function.name, 'string');
				assert.equal(typeof tc.function.arguments, 'string');
			}
		} else if (m.role === 'tool') {
			assert.equal(typeof m.tool_call_id, 'string');
			assert.equal(typeof m.content, 'string');
		} else {
			assert.ok(typeof m.content === 'string' || Array.isArray(m.content), `${m.role} content`);
		}
	}
	assert.equal(line.messages.at(-1).role, 'assistant', 'ends with the reply');
	for (const t of line.tools || []) {
		assert.equal(t.type, 'function');
		assert.equal(typeof t.function.name, 'string');
	}
}

/* Rows written with SQL, oldest of all (2020-01-01), in this order, newest first. */
const toolsChat = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city',
	parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const SEEDED = [
	{ tag: 'chat_tools', streamed: false, path: '/v1/chat/completions',
		request: { model: 'gpt-4o', messages: [{ role: 'developer', content: 'use tools' }, { role: 'user', content: 'weather in Paris?' }],
			tools: toolsChat, parallel_tool_calls: false, temperature: 0.25 },
		response: JSON.stringify({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, finish_reason: 'tool_calls',
			message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
				function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }] }),
		reply: '[tool_call get_weather] {"city":"Paris"}' },
	{ tag: 'stream_tools', streamed: true, path: '/v1/chat/completions',
		request: { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Oslo weather and time' }], tools: toolsChat },
		response: [
			{ choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] } }] },
			{ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } }] },
			{ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] } }] },
			{ choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] } }] },
			{ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
		].map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n',
		reply: '[tool_call get_weather] {"city":"Oslo"}\n[tool_call get_time] {}' },
	{ tag: 'responses_items', streamed: false, path: '/v1/responses',
		request: { model: 'gpt-4.1', instructions: 'be nice', input: [
			{ role: 'user', content: [{ type: 'input_text', text: 'weather?' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA' }] },
			{ type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '{"city":"Rome"}' },
			{ type: 'function_call_output', call_id: 'call_9', output: '{"sky":"clear"}' }],
			tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' }, strict: true }, { type: 'web_search' }] },
		response: JSON.stringify({ object: 'response', status: 'completed', output: [{ type: 'reasoning', summary: [] },
			{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is sunny.' }] }] }),
		reply: 'It is sunny.' },
	{ tag: 'responses_call', streamed: false, path: '/v1/responses',
		request: { model: 'gpt-4.1', input: 'find q' },
		response: JSON.stringify({ object: 'response', status: 'completed',
			output: [{ type: 'function_call', call_id: 'call_r', name: 'lookup', arguments: '{"q":1}' }] }),
		reply: '[tool_call lookup] {"q":1}' },
	{ tag: 'odd_text', streamed: false, path: '/v1/chat/completions', request: 'not json {', user: '@SUM(1+1)',
		end_user: '-2+3', session: '+cmd', tags: ['=1+1', 'plain'],
		response: 'plain text', reply: 'multi, "quoted"\nline\r\nand\ttab' },
	{ tag: 'nul_escape', streamed: false, path: '/v1/chat/completions',
		request: '{"model":"m","messages":[{"role":"user","content":"nul\\u0000 here \\ud800 lone"}]}',
		response: JSON.stringify({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'fine' } }] }),
		reply: 'fine' },
];

async function seed(s) {
	for (let i = 0; i < SEEDED.length; i++) {
		const r = SEEDED[i];
		const body = typeof r.request === 'string' ? r.request : JSON.stringify(r.request);
		const [{ id }] = await s.query(`INSERT INTO captures (id, started_at, method, path, outcome, status, model, streamed,
				request_content_type, request_body, request_body_size, response_content_type, response_body, response_body_size,
				reply_text, capture_user, end_user, capture_session, capture_tags, key_hint)
			VALUES (gen_random_uuid(), timestamptz '2020-01-01T00:00:00Z' - $1 * interval '1 second', 'POST', $2,
				'completed', 200, 'seeded', $3, 'application/json', $4, octet_length($4), $5, $6, octet_length($6), $7,
				$8, $9, $10, $11, 'sk-…seed') RETURNING id::text`,
		[i, r.path, r.streamed, body, r.streamed ? 'text/event-stream' : 'application/json', r.response, r.reply,
			r.user ?? null, r.end_user ?? null, r.session ?? null, r.tags ?? null]);
		r.id = id;
	}
}

/* GET an export on a fresh connection and drop the connection after the
 * first bytes (calling onLeave just before). */
function streamExportOnce(s, q, onLeave) {
	return new Promise((resolve, reject) => {
		const req = http.get(`${s.webUrl}/api/export?${q}`, { agent: false }, (res) => {
			res.once('data', () => { onLeave(); req.destroy(); });
			res.on('end', () => resolve({ ended: true }));
			res.on('aborted', () => resolve({ aborted: true }));
			res.on('close', () => resolve({ closed: true }));
		});
		req.on('error', (e) => (e.code === 'ECONNRESET' ? resolve({ reset: true }) : reject(e)));
	});
}

describe('GET /api/export', () => {
	let up, s, client;
	const c = {};          // capture ids by role
	let total = 0;

	async function capture(role, fn) {
		const { response, data } = await fn().withResponse();
		if (data && typeof data[Symbol.asyncIterator] === 'function') for await (const _ of data) { /* drain */ }
		c[role] = response.headers.get('x-capture-id');
		assert.match(c[role] || '', UUID_RE, `${role}: X-Capture-Id`);
		total++;
	}

	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'export', env: { OPENAI_API_BASE: up.url, INSTANCE_NAME: 'exp-a' } });
		client = new OpenAI({ apiKey: KEY, baseURL: `${s.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });
		const who = { headers: { 'X-Capture-User': FORMULA_USER, 'X-Capture-Session': 'sess-1', 'X-Capture-Tags': 'eval, nightly' } };
		await capture('chat', () => client.chat.completions.create({ model: 'gpt-4o-mini', user: 'end-user-7',
			messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell me, "please", about the zebracorn\nin two lines' }],
			temperature: 0.5 }, who));
		await capture('stream', () => client.chat.completions.create({ model: 'gpt-4o-mini', stream: true,
			stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'A streamed flamingo question' }] }));
		await capture('responses', () => client.responses.create({ model: 'gpt-4.1-mini', instructions: 'Answer as a pelican.',
			input: 'responses api pelican' }));
		await capture('responses_stream', () => client.responses.create({ model: 'gpt-4.1-mini', stream: true,
			input: [{ role: 'user', content: [{ type: 'input_text', text: 'streamed ' }, { type: 'input_text', text: 'heron' }] }] }));
		await capture('embeddings', () => client.embeddings.create({ model: 'text-embedding-3-small', input: 'a walrus' }));
		await capture('models', () => client.models.list({ query: { limit: 2 } }));
		await capture('speech', () => client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'speak binary' }));
		const clip = await toFile(speechBytes(4096), 'clip.mp3', { type: 'audio/mpeg' });
		await capture('transcription', () => client.audio.transcriptions.create({ file: clip, model: 'whisper-1' }));
		try {
			await client.chat.completions.create({ model: 'fail-429', messages: [{ role: 'user', content: 'please fail' }] });
			assert.fail('expected a 429');
		} catch (e) {
			assert.equal(e.status, 429);
			c.e429 = e.headers.get('x-capture-id');
			total++;
		}
		await s.waitForCaptures(total, 20000);
		await seed(s);
		total += SEEDED.length;
	});

	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	const allIds = async () => (await s.query('SELECT id::text FROM captures ORDER BY started_at DESC, id DESC')).map((r) => r.id);
	const seeded = (tag) => SEEDED.find((r) => r.tag === tag);

	test('JSONL: every capture newest first, metadata and the conversation with its reply', async () => {
		const lines = await jsonl(s);
		assert.deepEqual(lines.map((l) => l.id), await allIds());
		const by = Object.fromEntries(lines.map((l) => [l.id, l]));
		const [row] = await s.query(`SELECT *, capture_cost(model, started_at, prompt_tokens, cached_tokens, completion_tokens)::float8 AS cost
			FROM captures WHERE id = $1`, [c.chat]);

		const chat = by[c.chat];
		assert.deepEqual(chat.messages, [
			{ role: 'system', content: 'Be brief.' },
			{ role: 'user', content: 'Tell me, "please", about the zebracorn\nin two lines' },
			{ role: 'assistant', content: CHAT_REPLY }]);
		assert.equal(chat.timestamp.length, 27);
		assert.match(chat.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
		assert.equal(chat.instance, 'exp-a');
		assert.equal(chat.method, 'POST');
		assert.equal(chat.path, '/v1/chat/completions');
		assert.equal(chat.status, 200);
		assert.equal(chat.outcome, 'completed');
		assert.equal(chat.model, responseModel('gpt-4o-mini'));
		assert.equal(chat.streamed, false);
		assert.equal(chat.finish_reason, 'stop');
		assert.deepEqual(chat.usage, { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, cached_tokens: 3, reasoning_tokens: 2 });
		assert.ok(row.cost > 0);
		assert.ok(Math.abs(chat.cost_usd - row.cost) < 1e-12, `cost ${chat.cost_usd} vs ${row.cost}`);
		assert.equal(chat.duration_ms, row.duration_ms);
		assert.equal(chat.ttfb_ms, row.ttfb_ms);
		assert.equal(chat.key_hint, row.key_hint);
		assert.equal(chat.user, FORMULA_USER);
		assert.equal(chat.session, 'sess-1');
		assert.deepEqual(chat.tags, ['eval', 'nightly']);
		assert.equal(chat.end_user, 'end-user-7');
		assert.equal(chat.request_size, row.request_body_size);
		assert.deepEqual(chat.params, { temperature: 0.5, user: 'end-user-7' });

		assert.deepEqual(by[c.stream].messages, [{ role: 'user', content: 'A streamed flamingo question' },
			{ role: 'assistant', content: STREAM_DELTAS.join('') }]);
		assert.equal(by[c.stream].streamed, true);
		assert.deepEqual(by[c.stream].params, { stream: true, stream_options: { include_usage: true } });
		assert.deepEqual(by[c.responses].messages, [{ role: 'system', content: 'Answer as a pelican.' },
			{ role: 'user', content: 'responses api pelican' }, { role: 'assistant', content: RESPONSES_DELTAS.join('') }]);
		assert.deepEqual(by[c.responses_stream].messages, [{ role: 'user', content: 'streamed heron' },
			{ role: 'assistant', content: RESPONSES_DELTAS.join('') }]);
		// a failed call: the question without an answer
		assert.deepEqual(by[c.e429].messages, [{ role: 'user', content: 'please fail' }]);
		assert.equal(by[c.e429].status, 429);
		assert.equal(by[c.e429].outcome, 'upstream_error');
		assert.match(by[c.e429].error, /429/);
		// no conversation: embeddings, a GET, binary bodies; metadata still there
		for (const role of ['embeddings', 'models', 'speech', 'transcription']) {
			assert.equal(by[c[role]].messages, null, role);
			assert.equal(by[c[role]].status, 200, role);
		}
		assert.equal(by[c.embeddings].params.input, 'a walrus', 'a request that is no conversation keeps its input');
		assert.equal(by[c.models].query, 'limit=2');
		assert.equal(by[c.models].params, undefined, 'no JSON body, no params');
		assert.equal(by[seeded('odd_text').id].messages, null, 'a body that is not JSON: metadata only');
	});

	test('JSONL: tool calls from bodies and streams, Responses items converted, odd bytes escaped', async () => {
		const by = Object.fromEntries((await jsonl(s)).map((l) => [l.id, l]));
		const call = (id, name, args) => ({ id, type: 'function', function: { name, arguments: args } });
		const t1 = by[seeded('chat_tools').id];
		assert.deepEqual(t1.messages.at(-1), { role: 'assistant', content: null, tool_calls: [call('call_1', 'get_weather', '{"city":"Paris"}')] });
		assert.deepEqual(t1.tools, toolsChat);
		assert.deepEqual(t1.params, { parallel_tool_calls: false, temperature: 0.25 });
		const t2 = by[seeded('stream_tools').id];
		assert.deepEqual(t2.messages.at(-1), { role: 'assistant', content: null,
			tool_calls: [call('call_a', 'get_weather', '{"city":"Oslo"}'), call('call_b', 'get_time', '{}')] });
		const t3 = by[seeded('responses_items').id];
		assert.deepEqual(t3.messages, [
			{ role: 'system', content: 'be nice' },
			{ role: 'user', content: [{ type: 'text', text: 'weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
			{ role: 'assistant', content: null, tool_calls: [call('call_9', 'get_weather', '{"city":"Rome"}')] },
			{ role: 'tool', content: '{"sky":"clear"}', tool_call_id: 'call_9' },
			{ role: 'assistant', content: 'It is sunny.' }]);
		assert.deepEqual(t3.tools, [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' }, strict: true } }],
			'function tools in chat form; built-in tools dropped');
		const t4 = by[seeded('responses_call').id];
		assert.deepEqual(t4.messages, [{ role: 'user', content: 'find q' },
			{ role: 'assistant', content: null, tool_calls: [call('call_r', 'lookup', '{"q":1}')] }]);
		const nul = by[seeded('nul_escape').id];
		assert.ok(nul.messages[0].content.startsWith('nul\u0000 here '), JSON.stringify(nul.messages[0].content));
		assert.ok(nul.messages[0].content.endsWith(' lone'));
		assert.equal(nul.messages[1].content, 'fine');
	});

	test('JSONL shape=messages: OpenAI fine-tuning lines, only calls with a usable reply', async () => {
		const text = await exportOk(s, 'format=jsonl&shape=messages', /^application\/x-ndjson/);
		const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
		lines.forEach(assertFineTuning);
		// chat, stream, two Responses calls, four seeded tool-call rows and the nul row
		assert.equal(lines.length, 9, text.slice(0, 500));
		const first = lines.find((l) => l.messages.some((m) => /zebracorn/.test(m.content)));
		assert.deepEqual(first, { messages: [{ role: 'system', content: 'Be brief.' },
			{ role: 'user', content: 'Tell me, "please", about the zebracorn\nin two lines' }, { role: 'assistant', content: CHAT_REPLY }] });
		const tools = lines.find((l) => l.messages.some((m) => m.content === 'use tools'));
		assert.equal(tools.messages[0].role, 'system', 'a developer message is a system one for fine-tuning');
		assert.deepEqual(tools.tools, toolsChat);
		assert.equal(tools.parallel_tool_calls, false);
		assert.ok(!text.includes('please fail'), 'failed calls are left out');
		assert.ok(!text.includes('walrus'), 'embeddings are left out');
	});

	test('CSV: RFC 4180 with a header row, every capture, formulas defused', async () => {
		const { head, rows } = await csvObjects(s);
		assert.deepEqual(head, ['id', 'timestamp', 'instance', 'method', 'path', 'query', 'status', 'outcome', 'error', 'model',
			'streamed', 'finish_reason', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'cached_tokens', 'reasoning_tokens',
			'cost_usd', 'duration_ms', 'ttfb_ms', 'key_hint', 'user', 'session', 'tags', 'end_user', 'request_size',
			'response_size', 'reply_preview']);
		assert.deepEqual(rows.map((r) => r.id), await allIds());
		const by = Object.fromEntries(rows.map((r) => [r.id, r]));
		const cost = 'capture_cost(model, started_at, prompt_tokens, cached_tokens, completion_tokens)::text';
		const [row] = await s.query(`SELECT *, ${cost} AS cost,
			(SELECT ${cost} FROM captures WHERE id = $2) AS stream_cost FROM captures WHERE id = $1`, [c.chat, c.stream]);
		assert.ok(Number(row.stream_cost) > 0);
		const chat = by[c.chat];
		assert.equal(chat.status, '200');
		assert.equal(chat.streamed, 'false');
		assert.equal(chat.prompt_tokens, '12');
		assert.equal(chat.cost_usd, row.cost);
		assert.equal(Number(chat.duration_ms), row.duration_ms);
		assert.equal(chat.reply_preview, CHAT_REPLY);
		assert.equal(chat.user, `'${FORMULA_USER}`, 'a formula gets a leading apostrophe');
		assert.equal(chat.tags, 'eval;nightly');
		assert.equal(chat.instance, 'exp-a');
		assert.equal(by[c.stream].streamed, 'true');
		assert.equal(by[c.stream].cost_usd, row.stream_cost ?? '', 'the stream reported usage: priced');
		assert.equal(by[seeded('chat_tools').id].cost_usd, '', 'no price: an empty cell');
		assert.match(by[c.e429].error, /Limit 500, Used 500/, 'commas inside a quoted field');
		const odd = by[seeded('odd_text').id];
		assert.equal(odd.reply_preview, 'multi, "quoted"\nline\r\nand\ttab', 'comma, quotes, LF, CRLF and tab survive');
		assert.equal(odd.user, "'@SUM(1+1)");
		assert.equal(odd.end_user, "'-2+3");
		assert.equal(odd.session, "'+cmd");
		assert.equal(odd.tags, "'=1+1;plain");
		const long = await s.query("SELECT left(reply_text, 200) AS p FROM captures WHERE id = $1", [c.stream]);
		assert.equal(by[c.stream].reply_preview, long[0].p);
	});

	test('HAR 1.2: entries with request, response, timings and bodies (base64 for binary)', async () => {
		const har = JSON.parse(await exportOk(s, 'format=har', /^application\/json/));
		assertHar(har);
		assert.deepEqual(har.log.entries.map((e) => e._capture.id), await allIds());
		const by = Object.fromEntries(har.log.entries.map((e) => [e._capture.id, e]));
		const [row] = await s.query('SELECT * FROM captures WHERE id = $1', [c.chat]);
		const chat = by[c.chat];
		assert.equal(chat.request.method, 'POST');
		assert.equal(chat.request.url, `${up.url}/v1/chat/completions`);
		assert.equal(chat.request.postData.mimeType, 'application/json');
		assert.equal(chat.request.postData.text, row.request_body);
		assert.equal(chat.request.bodySize, row.request_body_size);
		const auth = chat.request.headers.find((h) => h.name.toLowerCase() === 'authorization');
		assert.ok(auth && !auth.value.includes(KEY_SECRET), `masked: ${auth && auth.value}`);
		assert.equal(chat.response.status, 200);
		assert.equal(chat.response.statusText, 'OK');
		assert.equal(chat.response.content.text, row.response_body);
		assert.equal(chat.response.content.size, row.response_body_size);
		assert.ok(chat.response.headers.some((h) => h.name === 'x-request-id'));
		assert.equal(chat.time, Math.round(row.duration_ms * 1000) / 1000);
		assert.equal(chat.timings.wait, Math.round(row.ttfb_ms * 1000) / 1000);
		assert.equal(new Date(chat.startedDateTime).getTime(), new Date(row.started_at).getTime());
		assert.equal(chat._capture.instance, 'exp-a');
		assert.equal(chat._capture.outcome, 'completed');
		assert.deepEqual(chat._capture.tags, ['eval', 'nightly']);

		const speech = by[c.speech].response.content;
		assert.equal(speech.encoding, 'base64');
		assert.equal(speech.mimeType, 'audio/mpeg');
		assert.equal(sha256(Buffer.from(speech.text, 'base64')), sha256(speechBytes()), 'the binary response, byte for byte');
		const tr = by[c.transcription].request.postData;
		assert.equal(tr._encoding, 'base64');
		assert.match(tr.mimeType, /^multipart\/form-data; boundary=/);
		assert.equal(sha256(Buffer.from(tr.text, 'base64')), sha256(up.last('/v1/audio/transcriptions').body),
			'the binary request, byte for byte');
		const models = by[c.models];
		assert.equal(models.request.url, `${up.url}/v1/models?limit=2`);
		assert.deepEqual(models.request.queryString, [{ name: 'limit', value: '2' }]);
		assert.equal(models.request.postData, undefined, 'no body, no postData');
		assert.equal(by[c.e429].response.statusText, 'Too Many Requests');
		assert.match(by[c.stream].response.content.mimeType, /^text\/event-stream/);
		assert.match(by[c.stream].response.content.text, /data: \[DONE\]/);
	});

	test('no full API key anywhere in any format', async () => {
		for (const q of ['format=jsonl', 'format=csv', 'format=har', 'format=jsonl&shape=messages']) {
			const r = await get(s, `/api/export?${q}`);
			assert.equal(r.status, 200);
			assert.ok(!r.text.includes(KEY_SECRET), `${q}: the key is masked`);
		}
	});

	test('filters as on /api/requests, and limit', async () => {
		const ids = async (q) => (await jsonl(s, q)).map((l) => l.id);
		const listIds = async (q) => {
			const r = JSON.parse((await get(s, `/api/requests?page_size=500&${q}`)).text);
			return r.requests.map((x) => x.id);
		};
		for (const q of [`model=${encodeURIComponent(responseModel('gpt-4o-mini'))}`, 'status=4xx', 'status=200',
			'search=zebracorn', 'search=flamingo', 'streamed=true', 'method=GET', 'path=responses', 'outcome=upstream_error',
			'from=2019-12-31&to=2020-01-02', `from=${Date.now() - 3600e3}`, 'model=no-such-model']) {
			const got = await ids(q);
			assert.deepEqual(got, await listIds(q), `${q}: the same captures as the list`);
			const csv = await csvObjects(s, q);
			assert.deepEqual(csv.rows.map((r) => r.id), got, `${q}: CSV`);
		}
		assert.deepEqual(await ids('search=zebracorn'), [c.chat]);
		assert.deepEqual(await ids('status=4xx'), [c.e429]);
		assert.deepEqual(await ids('model=no-such-model'), []);
		const har = JSON.parse(await exportOk(s, 'format=har&model=no-such-model', /json/));
		assertHar(har);
		assert.deepEqual(har.log.entries, [], 'an empty HAR is still a HAR');
		const csv = await exportOk(s, 'format=csv&model=no-such-model', /csv/);
		assert.equal(parseCsv(csv).length, 1, 'the header row only');

		const all = await allIds();
		assert.deepEqual(await ids('limit=3'), all.slice(0, 3));
		assert.deepEqual(await ids('limit=1'), all.slice(0, 1));
		assert.deepEqual(await ids(`limit=${all.length + 5}`), all);
		assert.deepEqual(await ids('limit=2&status=200'), (await listIds('status=200')).slice(0, 2));
		const msgs = await jsonl(s, 'shape=messages&limit=2');
		assert.equal(msgs.length, 2, 'limit counts lines written');
		assert.equal((await csvObjects(s, 'limit=4')).rows.length, 4);
		assert.equal(JSON.parse(await exportOk(s, 'format=har&limit=2', /json/)).log.entries.length, 2);

		// the attribution filters, once /api/requests has them
		const has = async (p) => (await get(s, `/api/requests?${p}=x`)).status !== 400;
		if (await has('instance')) {
			assert.equal((await ids('instance=exp-a')).length, total - SEEDED.length);
			assert.deepEqual(await ids('instance=nope'), []);
		}
		if (await has('user')) {
			assert.deepEqual(await ids(`user=${encodeURIComponent(FORMULA_USER)}`), [c.chat]);
			assert.deepEqual(await ids('user=%40SUM(1%2B1)'), [seeded('odd_text').id]);
		}
		if (await has('tag')) assert.deepEqual(await ids('tag=nightly'), [c.chat]);
		if (await has('session')) assert.deepEqual(await ids('session=sess-1'), [c.chat]);
		if (await has('end_user')) assert.deepEqual(await ids('end_user=end-user-7'), [c.chat]);
	});

	test('bad parameters: a JSON 400 naming the parameter; HEAD sends the headers only', async () => {
		for (const [q, word] of [['format=xml', 'format'], ['format=JSONL', 'format'], ['format=jsonl%2500', 'format'],
			['limit=0', 'limit'], ['limit=-1', 'limit'], ['limit=abc', 'limit'], ['limit=1.5', 'limit'], ['limit=', 'limit'],
			['limit=99999999999999999999', 'limit'], ['shape=chat', 'shape'], ['format=csv&shape=messages', 'shape'],
			['status=6xx', 'status'], ['from=yesterday', 'from'], ['search=%E2%82', 'search']]) {
			const j = assertJsonError(await get(s, `/api/export?${q}`), 400, q);
			assert.match(j.error.message, new RegExp(word), `${q}: ${j.error.message}`);
		}
		const dflt = await get(s, '/api/export?limit=1');
		assert.equal(dflt.status, 200);
		assert.match(dflt.headers['content-type'], /^application\/x-ndjson/, 'format defaults to jsonl');
		const head = await rawRequest(`${s.webUrl}/api/export?format=csv`, { method: 'HEAD' });
		assert.equal(head.status, 200);
		assert.match(head.headers['content-disposition'], /\.csv"$/);
		assert.equal(head.body.length, 0);
		const post = await rawRequest(`${s.webUrl}/api/export`, { method: 'POST', body: '{}' });
		assert.equal(post.status, 405);
	});

	describe('at size', () => {
		let pid, exportBytes = 0;

		before(async () => {
			// BULK_ROWS calls of ~100 KB each, written straight into the table
			await s.query(`INSERT INTO captures (id, started_at, method, path, outcome, status, model, streamed,
					request_content_type, request_body, request_body_size, response_content_type, response_body,
					response_body_size, reply_text, key_fingerprint)
				SELECT gen_random_uuid(), timestamptz '2019-06-01' + i * interval '1 second', 'POST', '/v1/chat/completions',
					'completed', 200, 'gpt-4o-mini', false, 'application/json', b, octet_length(b), 'application/json',
					'{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok ' || i || '"}}]}',
					60, 'ok ' || i, $1
				FROM generate_series(1, $2::int) i,
				LATERAL (SELECT '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' ||
					repeat('bulk export row ' || i || ' ', 5000) || '"}]}' AS b) x`, [BULK_KEY, BULK_ROWS]);
			pid = Number(fs.readFileSync(path.join(s.varDir, 'run', 'dashboard_fcgi.pid'), 'utf8'));
			assert.ok(pid > 0);
		});

		const hwm = () => {
			const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
			return Number(m[1]) * 1024;
		};

		/* Streams an export, counting bytes and lines; the body is not kept. */
		function streamExport(q, { onFirst } = {}) {
			return new Promise((resolve, reject) => {
				const req = http.get(`${s.webUrl}/api/export?${q}`, { agent: false }, (res) => {
					let bytes = 0, lines = 0, tail = '', first = true;
					res.on('data', (d) => {
						bytes += d.length;
						for (let i = 0; i < d.length; i++) if (d[i] === 10) lines++;
						tail = (tail + d.toString('utf8')).slice(-4096);
						if (first && onFirst) { first = false; onFirst(res, req); }
					});
					res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, lines, tail }));
					res.on('error', reject);
					res.on('aborted', () => resolve({ aborted: true, bytes, lines, tail }));
					res.on('close', () => resolve({ closed: true, bytes, lines, tail }));
				});
				req.on('error', (e) => (e.code === 'ECONNRESET' ? resolve({ reset: true }) : reject(e)));
			});
		}

		test('flat memory: ~200 MB of JSONL and of HAR grow dashboard_fcgi by far less', async () => {
			const before = hwm();
			for (const format of ['jsonl', 'har']) {
				const t0 = Date.now();
				const r = await streamExport(`format=${format}&key=${BULK_KEY}`);
				assert.equal(r.status, 200);
				assert.ok(r.bytes > BULK_ROWS * 80000, `${format}: ${r.bytes} bytes`);
				if (format === 'jsonl') {
					assert.equal(r.lines, BULK_ROWS);
					assert.match(r.tail.trim().split('\n').at(-1), /"content":"ok 1"\}\]/, 'the oldest row comes last, whole');
				} else {
					assert.match(r.tail, /\]\}\}\n$/, 'the HAR is closed');
				}
				exportBytes = Math.max(exportBytes, r.bytes);
				console.log(`# export ${format}: ${(r.bytes / 1e6).toFixed(1)} MB in ${Date.now() - t0} ms`);
			}
			const grew = hwm() - before;
			console.log(`# dashboard_fcgi VmHWM ${(before / 1e6).toFixed(1)} MB -> +${(grew / 1e6).toFixed(1)} MB over a ${(exportBytes / 1e6).toFixed(0)} MB export`);
			// One row is ~100 KB: 8 MB would already be a whole first batch held in
			// memory. (Under ASan freed memory waits in a 256 MB quarantine and
			// shadow memory comes on top: the bound is checked in the plain build.)
			if (!/asan/.test(process.env.CAPTURE_BIN || ''))
				assert.ok(grew < 8 * 1024 * 1024,
					`VmHWM grew ${grew} bytes for a ${exportBytes}-byte export`);
		});

		test('back-pressure: a paused reader holds the export; lighttpd spools nothing', async () => {
			let paused;
			const done = streamExport(`format=jsonl&key=${BULK_KEY}`, { onFirst: (res) => { res.pause(); paused = res; } });
			while (!paused) await sleep(20);
			await sleep(1500);
			const tmp = path.join(s.varDir, 'tmp');
			const spooled = fs.readdirSync(tmp, { recursive: true }).map((f) => path.join(tmp, f))
				.filter((f) => fs.statSync(f).isFile()).reduce((a, f) => a + fs.statSync(f).size, 0);
			assert.ok(spooled < 4 * 1024 * 1024, `lighttpd spooled ${spooled} bytes to ${tmp}`);
			const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM pg_stat_activity
				WHERE application_name = 'dashboard_fcgi' AND query LIKE '%capture_cost%' AND state <> 'idle'`);
			assert.equal(n, 1, 'the export is still running, waiting for the reader');
			// other requests are served meanwhile
			assert.equal((await get(s, '/api/requests?page_size=1')).status, 200);
			paused.resume();
			const r = await done;
			assert.equal(r.lines, BULK_ROWS);
		});

		test('at most 4 exports at once; the 5th gets a 503 while the pages keep answering', async () => {
			const held = [];
			const runs = [];
			for (let i = 0; i < 4; i++)
				runs.push(streamExport(`format=jsonl&key=${BULK_KEY}`, { onFirst: (res) => { res.pause(); held[i] = res; } }));
			while (held.filter(Boolean).length < 4) await sleep(20);
			const fifth = await get(s, '/api/export?format=csv&limit=1');
			const j = assertJsonError(fifth, 503, 'fifth export');
			assert.equal(j.error.code, 'too_many_exports');
			assert.equal((await get(s, '/api/stats')).status, 200);
			held[0].resume();
			assert.equal((await runs[0]).lines, BULK_ROWS, 'a held export completes once read');
			for (const res of held.slice(1)) res.destroy();
			await Promise.all(runs);
			for (const t0 = Date.now(); ;) {
				const r = await get(s, '/api/export?format=csv&limit=1');
				if (r.status === 200) break;
				assert.ok(Date.now() - t0 < 10000, `still ${r.status} 10 s after the readers left`);
				await sleep(100);
			}
		});

		test('a client that leaves ends the export: the dashboard stops reading rows', async () => {
			const r = await streamExport(`format=har&key=${BULK_KEY}`, { onFirst: (res, req) => req.destroy() });
			assert.ok(r.aborted || r.reset || r.bytes < exportBytes, 'cut by the client');
			const t0 = Date.now();
			for (;;) {
				const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM pg_stat_activity
					WHERE application_name = 'dashboard_fcgi' AND query LIKE '%capture_cost%' AND state <> 'idle'`);
				if (n === 0) break;
				assert.ok(Date.now() - t0 < 10000, 'the export query ends within 10 s of the client leaving');
				await sleep(100);
			}
			assert.match(s.log(), /export har: the client left after \d+ records/);
			assert.equal((await get(s, '/api/export?format=jsonl&limit=1')).status, 200);
		});

		test('a database failure mid-stream: JSONL ends with an error line, HAR is left unclosed', async () => {
			for (const format of ['jsonl', 'har']) {
				let paused;
				const done = streamExport(`format=${format}&key=${BULK_KEY}`, { onFirst: (res) => { res.pause(); paused = res; } });
				while (!paused) await sleep(20);
				const killed = await s.query(`SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity
					WHERE application_name = 'dashboard_fcgi' AND query LIKE '%capture_cost%' AND state <> 'idle'`);
				assert.equal(killed.length, 1);
				paused.resume();
				const r = await done;
				assert.ok(r.lines < BULK_ROWS + 2, `${format}: cut short (${r.lines} lines)`);
				if (format === 'jsonl') {
					const last = JSON.parse(r.tail.trim().split('\n').at(-1));
					assert.equal(last.error.code, 'incomplete');
					assert.equal(typeof last.records, 'number');
				} else {
					assert.doesNotMatch(r.tail, /\]\}\}\n$/, 'an unfinished HAR does not parse');
				}
			}
			assert.match(s.log(), /export jsonl cut short after \d+ records/);
			assert.equal((await get(s, '/api/export?format=jsonl&limit=1')).status, 200, 'the next export works');
		});
	});

	describe('cost and departures', () => {
		const COST_KEY = 'c0c0c0c0c0c0c0c0', COST_ROWS = 3000;
		const BIG_KEY = 'd1d1d1d1d1d1d1d1', BIG_ROWS = 100, BIG_BYTES = 8 << 20;

		before(async () => {
			// priced, unpriced (unknown model; a dated name before its price's
			// valid_from) and usage-less calls over a year of days
			await s.query(`INSERT INTO captures (id, started_at, method, path, outcome, status, model, streamed,
					prompt_tokens, cached_tokens, completion_tokens, key_fingerprint)
				SELECT gen_random_uuid(), timestamptz '2024-09-20' + i * interval '3 hours', 'POST',
					'/v1/chat/completions', 'completed', 200,
					(ARRAY['gpt-4o-mini', 'gpt-4o-2024-08-06', 'gpt-5', 'no-such-model', 'gpt-4'])[i % 5 + 1], false,
					CASE WHEN i % 7 = 0 THEN NULL ELSE 1000 + i * 37 % 90000 END,
					CASE WHEN i % 3 = 0 THEN i * 11 % 900 END,
					CASE WHEN i % 7 = 0 THEN NULL ELSE 10 + i * 13 % 5000 END, $1
				FROM generate_series(1, $2::int) i`, [COST_KEY, COST_ROWS]);
			// a first batch of large rows (compressible: small on disk)
			await s.query(`INSERT INTO captures (id, started_at, method, path, outcome, status, model, streamed,
					request_content_type, request_body, request_body_size, key_fingerprint)
				SELECT gen_random_uuid(), timestamptz '2019-01-01' + i * interval '1 second', 'POST',
					'/v1/chat/completions', 'completed', 200, 'gpt-4o-mini', false, 'application/json', b,
					octet_length(b), $1
				FROM generate_series(1, $2::int) i,
				LATERAL (SELECT '{"messages":[{"role":"user","content":"' ||
					repeat('big row ' || i || ' ', $3::int / 10) || '"}]}' AS b) x`, [BIG_KEY, BIG_ROWS, BIG_BYTES]);
		});

		test('cost_usd in every export equals the list\'s, for the same ids; rows per second', async () => {
			const list = new Map();
			for (let cursor = ''; ;) {
				const r = await get(s, `/api/requests?key=${COST_KEY}&page_size=500${cursor}`);
				assert.equal(r.status, 200, r.text.slice(0, 200));
				const j = JSON.parse(r.text);
				for (const it of j.requests) list.set(it.id, it.cost_usd);
				if (!j.next_cursor) break;
				cursor = `&cursor=${encodeURIComponent(j.next_cursor)}`;
			}
			assert.equal(list.size, COST_ROWS);
			const values = [...list.values()];
			assert.ok(values.filter((v) => v === null).length > COST_ROWS / 5, 'unpriced calls are null');
			assert.ok(values.filter((v) => typeof v === 'number' && v > 0).length > COST_ROWS / 2, 'priced calls');
			const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM captures WHERE key_fingerprint = $1
				AND capture_cost(model, started_at, prompt_tokens, cached_tokens, completion_tokens) IS DISTINCT FROM
				(SELECT cost_usd FROM captures_cost cc WHERE cc.id = captures.id)`, [COST_KEY]);
			assert.equal(n, 0);

			const t0 = Date.now();
			const lines = await jsonl(s, `key=${COST_KEY}`);
			const ms = Date.now() - t0;
			assert.equal(lines.length, COST_ROWS);
			for (const l of lines) assert.equal(l.cost_usd, list.get(l.id), `jsonl cost of ${l.id} (${l.model})`);
			const t1 = Date.now();
			const rows = parseCsv(await exportOk(s, `format=csv&key=${COST_KEY}`, /^text\/csv/));
			const csvMs = Date.now() - t1;
			const col = rows[0].indexOf('cost_usd');
			assert.ok(col > 0);
			for (const row of rows.slice(1).filter((x) => x.length > 1)) {
				const want = list.get(row[0]);
				assert.equal(row[col] === '' ? null : Number(row[col]), want, `csv cost of ${row[0]}`);
			}
			const har = JSON.parse(await exportOk(s, `format=har&key=${COST_KEY}&limit=500`, /json/));
			for (const e of har.log.entries) assert.equal(e._capture.cost_usd, list.get(e._capture.id), 'har cost');
			console.log(`# export of ${COST_ROWS} rows: jsonl ${Math.round(COST_ROWS / ms * 1000)} rows/s,` +
				` csv ${Math.round(COST_ROWS / csvMs * 1000)} rows/s`);
		});

		/* A key filter is not rolled up: these are read from the captures by
		 * the dashboard's own queries (queries_stats_once, queries_group_by),
		 * which price per model and UTC day in SQL of their own. */
		test('/api/stats over a year of calls, read from the captures: cost per call\'s day, per model, per bucket', async () => {
			// captures_cost rounds each call to 8 decimals; the statistics price sums
			const money = (got, want, n, what) => assert.ok(want === null ? got === null : Math.abs(got - want) <= n * 1e-8,
				`${what}: cost ${got}, want ${want}`);
			const st = JSON.parse((await get(s, `/api/stats?key=${COST_KEY}`)).text);
			const byModel = await s.query(`SELECT model, count(*)::int AS n, sum(cost_usd)::float8 AS cost
				FROM captures_cost WHERE key_fingerprint = $1 GROUP BY model`, [COST_KEY]);
			const [all] = await s.query(`SELECT count(*)::int AS n, sum(cost_usd)::float8 AS cost
				FROM captures_cost WHERE key_fingerprint = $1`, [COST_KEY]);
			assert.equal(st.total_requests, COST_ROWS);
			money(st.cost_usd, all.cost, all.n, 'total');
			assert.equal(st.models.length, byModel.length);
			for (const m of byModel) {
				const got = st.models.find((x) => x.model === m.model);
				assert.equal(got?.requests, m.n, `models: ${m.model}`);
				money(got.cost_usd, m.cost, m.n, `models: ${m.model}`);
			}
			const width = st.timeline.bucket_seconds;
			assert.ok(width > 86400, `a year in buckets of days or more (got ${width} s)`);
			const buckets = await s.query(`SELECT (extract(epoch FROM date_bin($2 * interval '1 second', started_at,
					timestamptz 'epoch')) * 1000)::int8::text AS t, count(*)::int AS n, sum(cost_usd)::float8 AS cost
				FROM captures_cost WHERE key_fingerprint = $1 GROUP BY 1`, [COST_KEY, width]);
			const points = new Map(st.timeline.points.map((p) => [String(p.t), p]));
			for (const b of buckets) {
				assert.equal(points.get(b.t)?.requests, b.n, `timeline at ${b.t}`);
				money(points.get(b.t).cost_usd, b.cost, b.n, `timeline at ${b.t}`);
			}
			const grouped = JSON.parse((await get(s, `/api/stats?group_by=model&key=${COST_KEY}`)).text).groups;
			assert.equal(grouped.length, byModel.length);
			for (const m of byModel) {
				const got = grouped.find((x) => x.key === m.model);
				assert.equal(got?.requests, m.n, `group_by=model: ${m.model}`);
				money(got.cost_usd, m.cost, m.n, `group_by=model: ${m.model}`);
			}
		});

		test('a client that leaves mid-batch frees the thread at once: the batch is cancelled, not read out', async () => {
			const mark = s.log().length;
			let left = 0;
			const r = await streamExportOnce(s, `format=jsonl&key=${BIG_KEY}`, () => { left = Date.now(); });
			assert.ok(r.aborted || r.reset || r.closed, 'cut by the client');
			let line;
			for (;;) {
				line = /export jsonl: the client left after (\d+) records, (\d+) rows read/.exec(s.log().slice(mark));
				if (line) break;
				assert.ok(Date.now() - left < 30000, 'no "client left" log line');
				await sleep(10);
			}
			const ms = Date.now() - left;
			console.log(`# client left after ${line[1]} records: thread free ${ms} ms later, ${line[2]} rows read`);
			assert.ok(Number(line[2]) < BIG_ROWS / 2, `${line[2]} of the batch's ${BIG_ROWS} rows read after the client left`);
			assert.ok(ms < 1000, `the thread was busy ${ms} ms after the client left`);
			assert.equal((await get(s, '/api/export?format=jsonl&limit=1')).status, 200, 'the connection still works');
			const [{ n }] = await s.query(`SELECT count(*)::int AS n FROM pg_stat_activity
				WHERE application_name = 'dashboard_fcgi' AND state <> 'idle'`);
			assert.equal(n, 0, 'no query left running');
		});
	});
});

describe('GET /api/export while the database is unreachable', () => {
	let s;

	before(async () => {
		s = await startStack({ name: 'exportnodb', env: {
			DASHBOARD_DATABASE_URL: 'postgresql:///nosuchdb?host=/nonexistent-socket-dir&connect_timeout=2' } });
	});
	after(async () => { await s?.stop(); });

	test('503 in the JSON error shape, for every format', async () => {
		for (const q of ['format=jsonl', 'format=csv', 'format=har&model=x']) {
			const r = await get(s, `/api/export?${q}`);
			const j = assertJsonError(r, 503, q);
			assert.equal(j.error.code, 'database_unavailable');
			assert.equal(r.headers['content-disposition'], undefined);
		}
		assertJsonError(await get(s, '/api/export?format=bad'), 400, 'parameters are checked first');
	});
});

describe('GET /api/export under nginx (CAPTURE_FRONT=nginx)', () => {
	let s;

	before(async () => {
		s = await startStack({ name: 'exportnginx', env: { CAPTURE_FRONT: 'nginx' } });
		await s.query(`INSERT INTO captures (id, started_at, method, path, outcome, status, request_content_type,
				request_body, request_body_size)
			SELECT gen_random_uuid(), timestamptz '2019-06-01' + i * interval '1 second', 'POST', '/v1/chat/completions',
				'completed', 200, 'text/plain', repeat('n', 100000), 100000 FROM generate_series(1, 300) i`);
	});
	after(async () => { await s?.stop(); });

	test('a paused download is held back, not spooled to nginx temp files', async () => {
		let spooled = null;
		const r = await new Promise((resolve, reject) => {
			http.get(`${s.webUrl}/api/export?format=har`, { agent: false }, (res) => {
				const chunks = [];
				let first = true;
				res.on('data', (d) => {
					chunks.push(d);
					if (!first) return;
					first = false;
					res.pause();
					setTimeout(() => {
						const tmp = path.join(s.varDir, 'tmp');
						spooled = fs.readdirSync(tmp, { recursive: true }).map((f) => path.join(tmp, f))
							.filter((f) => fs.statSync(f).isFile() && fs.statSync(f).size > 0);
						res.resume();
					}, 1000);
				});
				res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
				res.on('error', reject);
			}).on('error', reject);
		});
		assert.deepEqual(spooled, [], 'nothing spooled while the reader paused');
		assert.equal(r.res.statusCode, 200);
		assert.match(r.res.headers.server || '', /nginx/);
		assert.match(r.res.headers['content-disposition'], /^attachment; filename="captures-\d{8}T\d{6}Z\.har"$/);
		assert.equal(r.res.headers['x-accel-buffering'], undefined, 'nginx takes X-Accel-Buffering for itself');
		const har = JSON.parse(r.body.toString('utf8'));
		assertHar(har);
		assert.equal(har.log.entries.length, 300);
		assert.equal(har.log.entries[0].request.postData.text.length, 100000);
	});
});
