// tests/integration/proxy.test.mjs - the proxy end to end: the official openai SDK
// -> lighttpd -> proxy_fcgi -> fake upstream, and the captures row each call leaves.
//
// Three stacks: "proxy" (default settings), "limits" (small body limit, short
// upstream idle timeout, small capture cap, PASSTHROUGH_API_KEY=false) and
// "unreachable" (OPENAI_API_BASE on a closed port). Plus --check-config tests.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import OpenAI, { toFile } from 'openai';
import * as upstreamLib from '../lib/upstream.mjs';
import { STREAM_DELTAS, STREAM_DELAY_MS, CHAT_REPLY, RESPONSES_DELTAS, speechBytes, responseModel, sha256 }
	from '../lib/upstream.mjs';
import { startStack, checkConfig, freePort, rawRequest, runShExpectFail, binDir, UUID_RE } from '../lib/stack.mjs';

const KEY = 'sk-proj-TESTKEY1234567890abcdWXYZ';
const KEY_SECRET_PART = 'TESTKEY1234567890';
const DEFAULT_KEY = 'sk-default-FALLBACK0987654321zzQQ';
const DEFAULT_SECRET_PART = 'FALLBACK0987654321';
const LIMITS_KEY = 'sk-limits-SERVERSIDE5555666677ppRR';
const LIMITS_SECRET_PART = 'SERVERSIDE5555666677';

/* The hint keymask.h documents: the prefix up to its last '-' or '_' in the
 * first 8 chars, "…", the last 4 chars. */
function keyHint(k) {
	if (k.length < 12) return '…';
	let pre = 0;
	for (let i = 0; i < 8 && i < k.length - 8; i++) if (k[i] === '-' || k[i] === '_') pre = i + 1;
	return `${k.slice(0, pre)}…${k.slice(-4)}`;
}
const fingerprint = (k) => sha256(Buffer.from(k)).slice(0, 16);

/* A header's value from a captured [[name, value], ...] array (name case-insensitive). */
function hdr(pairs, name) {
	assert.ok(Array.isArray(pairs), `headers column is a JSON array, got ${JSON.stringify(pairs)}`);
	const p = pairs.find((x) => String(x[0]).toLowerCase() === name.toLowerCase());
	return p ? p[1] : undefined;
}

/* A body with every byte value, NULs, CRLFs and multipart-boundary look-alikes. */
function binaryBytes(size, seed = 7) {
	const b = Buffer.alloc(size);
	let x = seed;
	for (let i = 0; i < size; i++) {
		x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
		b[i] = x >>> 24;
	}
	for (let i = 0; i < 256 && i < size; i++) b[i] = i;
	const tricky = Buffer.from('\r\n--\r\n\0\0--boundary\r\n\r\n');
	for (let at = 300; at + tricky.length < size; at += 4096) tricky.copy(b, at);
	return b;
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

function assertTimings(row, what) {
	assert.equal(typeof row.duration_ms, 'number', `${what}: duration_ms`);
	assert.ok(row.duration_ms >= 0, `${what}: duration_ms ${row.duration_ms}`);
	assert.equal(typeof row.ttfb_ms, 'number', `${what}: ttfb_ms`);
	assert.ok(row.ttfb_ms >= 0 && row.ttfb_ms <= row.duration_ms + 1,
		`${what}: ttfb_ms ${row.ttfb_ms} vs duration_ms ${row.duration_ms}`);
}

function assertKeyColumns(row, key, what) {
	assert.equal(row.key_hint, keyHint(key), `${what}: key_hint`);
	assert.match(row.key_fingerprint || '', /^[0-9a-f]{16}$/, `${what}: key_fingerprint`);
	assert.equal(row.key_fingerprint, fingerprint(key), `${what}: key_fingerprint = sha256(key)[0..16]`);
}

/* Fails naming the rows and columns when secret appears anywhere in captures. */
async function assertNoSecret(s, secret) {
	const hits = await s.query(`SELECT x.method, x.path, x.query,
		(SELECT array_agg(j.key) FROM jsonb_each_text(to_jsonb(x)) j WHERE j.value LIKE $1) AS cols
		FROM captures x WHERE x::text LIKE $1`, [`%${secret}%`]);
	assert.equal(hits.length, 0, `a full key (…${secret}…) is stored in ${hits.length} captures row(s): ` +
		hits.slice(0, 5).map((h) => `${h.method} ${h.path}${h.query ? '?' + h.query : ''} in ${h.cols}`).join('; '));
}

const captureId = (headers) => (typeof headers.get === 'function' ? headers.get('x-capture-id') : headers['x-capture-id']);

function assertCaptureId(id, what) {
	assert.ok(id, `${what}: response has no X-Capture-Id`);
	assert.match(id, UUID_RE, `${what}: X-Capture-Id is a UUID`);
	return id;
}

// ---------------------------------------------------------------------------

describe('proxy with default settings', () => {
	let up, s, client;
	const ORG = 'org-TESTORG123', PROJECT = 'proj_TESTPROJ456', BETA = 'assistants=v2';

	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'proxy', env: { OPENAI_API_BASE: up.url, DEFAULT_API_KEY: DEFAULT_KEY } });
		client = new OpenAI({ apiKey: KEY, baseURL: `${s.proxyUrl}/v1`, organization: ORG, project: PROJECT,
			defaultHeaders: { 'OpenAI-Beta': BETA }, maxRetries: 0, timeout: 30000 });
	});
	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	test('chat completion: answer, headers up and down, capture row', async () => {
		const { data, response } = await client.chat.completions.create({
			model: 'gpt-4o-mini',
			messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say marmalade ünïcødé 😀' }],
			temperature: 0.2,
		}).withResponse();
		assert.equal(response.status, 200);
		assert.equal(data.choices[0].message.content, CHAT_REPLY);
		assert.equal(data.model, responseModel('gpt-4o-mini'));
		assert.equal(data.usage.total_tokens, 19);
		const id = assertCaptureId(captureId(response.headers), 'chat');
		const seq = response.headers.get('x-upstream-seq');
		assert.equal(response.headers.get('x-request-id'), `req_fake_${seq}`, 'end-to-end response header x-request-id');
		assert.equal(response.headers.get('openai-processing-ms'), '42');

		const u = up.bySeq(seq);
		assert.ok(u, 'upstream saw the request');
		assert.equal(u.method, 'POST');
		assert.equal(u.url, '/v1/chat/completions');
		assert.equal(u.headers.authorization, `Bearer ${KEY}`);
		assert.equal(u.headers['openai-organization'], ORG);
		assert.equal(u.headers['openai-project'], PROJECT);
		assert.equal(u.headers['openai-beta'], BETA);
		assert.match(u.headers['content-type'] || '', /^application\/json/);
		assert.match(u.headers['user-agent'] || '', /^OpenAI\/JS /);
		assert.equal(u.json.messages[1].content, 'Say marmalade ünïcødé 😀');

		const row = await s.waitForCapture(id);
		assert.equal(row.instance, process.env.INSTANCE_NAME || os.hostname(), 'INSTANCE_NAME unset: the host name');
		assert.equal(row.method, 'POST');
		assert.equal(row.path, '/v1/chat/completions');
		assert.equal(row.query, null);
		assert.equal(row.status, 200);
		assert.equal(row.streamed, false);
		assert.equal(row.sse_events, null);
		assert.equal(row.outcome, 'completed');
		assert.equal(row.error, null);
		assert.equal(row.model, responseModel('gpt-4o-mini'));
		assert.equal(row.prompt_tokens, 12);
		assert.equal(row.completion_tokens, 7);
		assert.equal(row.total_tokens, 19);
		assert.equal(row.cached_tokens, 3);
		assert.equal(row.reasoning_tokens, 2);
		assert.equal(row.finish_reason, 'stop');
		assert.equal(row.reply_text, CHAT_REPLY);
		assert.equal(row.request_body, u.body.toString('utf8'), 'request body stored as sent');
		assert.equal(row.request_body_bin, null);
		assert.equal(row.request_body_size, u.body.length);
		assert.equal(row.request_body_truncated, false);
		assert.match(row.request_content_type || '', /^application\/json/);
		assert.equal(JSON.parse(row.response_body).choices[0].message.content, CHAT_REPLY);
		assert.equal(row.response_body_size, Buffer.byteLength(row.response_body));
		assert.equal(row.response_body_bin, null);
		assert.match(row.response_content_type || '', /^application\/json/);
		assert.equal(row.client_addr, '127.0.0.1');
		assertTimings(row, 'chat');
		assertKeyColumns(row, KEY, 'chat');
		assert.equal(hdr(row.request_headers, 'authorization'), `Bearer ${keyHint(KEY)}`, 'Authorization masked in request_headers');
		assert.equal(hdr(row.request_headers, 'openai-organization'), ORG);
		assert.equal(hdr(row.response_headers, 'x-request-id'), `req_fake_${seq}`);
		assert.match(row.search_text || '', /marmalade/, 'search_text holds the prompt');
	});

	test('streamed chat completion arrives chunk by chunk, usage from the last chunk', async () => {
		const t0 = Date.now();
		const { data: stream, response } = await client.chat.completions.create({
			model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'stream please' }],
			stream: true, stream_options: { include_usage: true },
		}).withResponse();
		const id = assertCaptureId(captureId(response.headers), 'stream');
		assert.match(response.headers.get('content-type') || '', /^text\/event-stream/);
		const times = [];
		let text = '', usage = null, finish = null;
		for await (const chunk of stream) {
			const c = chunk.choices[0];
			if (c && c.delta && c.delta.content) {
				times.push(Date.now() - t0);
				text += c.delta.content;
			}
			if (c && c.finish_reason) finish = c.finish_reason;
			if (chunk.usage) usage = chunk.usage;
		}
		const end = Date.now() - t0;
		assert.equal(text, STREAM_DELTAS.join(''));
		assert.equal(times.length, STREAM_DELTAS.length);
		assert.equal(finish, 'stop');
		assert.deepEqual(usage, { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 });
		const spread = times[times.length - 1] - times[0];
		assert.ok(spread >= (STREAM_DELTAS.length - 1) * STREAM_DELAY_MS - 200,
			`deltas must arrive as the upstream sends them (${STREAM_DELAY_MS} ms apart); arrival times ms: ${times.join(', ')} (end ${end})`);
		const gaps = times.slice(1).map((t, i) => t - times[i]);
		assert.ok(gaps.filter((g) => g >= 75).length >= gaps.length - 1,
			`deltas sent ${STREAM_DELAY_MS} ms apart arrived with gaps ${gaps.join(', ')} ms (buffered?)`);

		const row = await s.waitForCapture(id);
		assert.equal(row.streamed, true);
		assert.equal(row.status, 200);
		assert.equal(row.outcome, 'completed');
		assert.equal(row.reply_text, STREAM_DELTAS.join(''));
		assert.equal(row.prompt_tokens, 11);
		assert.equal(row.completion_tokens, 5);
		assert.equal(row.total_tokens, 16);
		assert.equal(row.finish_reason, 'stop');
		assert.equal(row.model, responseModel('gpt-4o-mini'));
		// role chunk + 5 deltas + finish chunk + usage chunk (+ [DONE], if counted)
		assert.ok(row.sse_events === 8 || row.sse_events === 9, `sse_events ${row.sse_events}`);
		assert.match(row.response_content_type || '', /^text\/event-stream/);
		assert.ok(row.response_body.startsWith('data: {'), 'raw SSE stored');
		assert.ok(row.response_body.trimEnd().endsWith('data: [DONE]'), 'raw SSE stored to the end');
		assert.equal(row.response_body_size, Buffer.byteLength(row.response_body));
		assertTimings(row, 'stream');
		assert.ok(row.duration_ms - row.ttfb_ms >= 400, `ttfb ${row.ttfb_ms} ms is the first byte, not the last (duration ${row.duration_ms})`);
		assertKeyColumns(row, KEY, 'stream');
	});

	test('streamed chat without include_usage: tokens NULL, reply assembled', async () => {
		const { data: stream, response } = await client.chat.completions.create({
			model: 'gpt-4o', messages: [{ role: 'user', content: 'no usage' }], stream: true,
		}).withResponse();
		let text = '';
		for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
		assert.equal(text, STREAM_DELTAS.join(''));
		const row = await s.waitForCapture(captureId(response.headers));
		assert.equal(row.streamed, true);
		assert.equal(row.reply_text, STREAM_DELTAS.join(''));
		assert.equal(row.prompt_tokens, null);
		assert.equal(row.completion_tokens, null);
		assert.equal(row.total_tokens, null);
		assert.equal(row.model, responseModel('gpt-4o'));
		assert.equal(row.outcome, 'completed');
	});

	test('legacy completion', async () => {
		const { data, response } = await client.completions.create({
			model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon', max_tokens: 3,
		}).withResponse();
		assert.equal(data.choices[0].text, ' completed text');
		const row = await s.waitForCapture(captureId(response.headers));
		assert.equal(row.path, '/v1/completions');
		assert.equal(row.prompt_tokens, 4);
		assert.equal(row.completion_tokens, 3);
		assert.equal(row.total_tokens, 7);
		assert.equal(row.finish_reason, 'length');
		assert.equal(row.reply_text, ' completed text');
	});

	test('embeddings', async () => {
		const { data, response } = await client.embeddings.create({
			model: 'text-embedding-3-small', input: ['alpha', 'beta'],
		}).withResponse();
		assert.equal(data.data.length, 2);
		assert.equal(data.data[0].embedding.length, 8);
		assert.equal(data.data[1].embedding[0], 0.25);
		const row = await s.waitForCapture(assertCaptureId(captureId(response.headers), 'embeddings'));
		assert.equal(row.path, '/v1/embeddings');
		assert.equal(row.status, 200);
		assert.equal(row.model, responseModel('text-embedding-3-small'));
		assert.equal(row.prompt_tokens, 10);
		assert.equal(row.total_tokens, 10);
		assert.equal(row.completion_tokens, null);
		assert.equal(row.outcome, 'completed');
		assertTimings(row, 'embeddings');
	});

	test('models list (GET without a body)', async () => {
		const { data, response } = await client.models.list().withResponse();
		assert.deepEqual(data.data.map((m) => m.id), ['gpt-4o-mini', 'text-embedding-3-small']);
		const row = await s.waitForCapture(assertCaptureId(captureId(response.headers), 'models'));
		assert.equal(row.method, 'GET');
		assert.equal(row.path, '/v1/models');
		assert.equal(row.request_body_size, 0);
		assert.equal(row.prompt_tokens, null);
		assert.equal(row.outcome, 'completed');
	});

	test('Responses API, plain and streamed', async () => {
		const { data, response } = await client.responses.create({ model: 'gpt-4.1-mini', input: 'hello responses' }).withResponse();
		assert.equal(data.output_text, RESPONSES_DELTAS.join(''));
		let row = await s.waitForCapture(captureId(response.headers));
		assert.equal(row.path, '/v1/responses');
		assert.equal(row.streamed, false);
		assert.equal(row.reply_text, RESPONSES_DELTAS.join(''));
		assert.equal(row.prompt_tokens, 8);
		assert.equal(row.completion_tokens, 4);
		assert.equal(row.total_tokens, 12);
		assert.equal(row.reasoning_tokens, 1);
		assert.equal(row.model, responseModel('gpt-4.1-mini'));

		const { data: stream, response: r2 } = await client.responses.create({
			model: 'gpt-4.1-mini', input: 'stream responses', stream: true }).withResponse();
		let text = '', completed = null;
		for await (const ev of stream) {
			if (ev.type === 'response.output_text.delta') text += ev.delta;
			if (ev.type === 'response.completed') completed = ev.response;
		}
		assert.equal(text, RESPONSES_DELTAS.join(''));
		assert.equal(completed.usage.total_tokens, 12);
		row = await s.waitForCapture(captureId(r2.headers));
		assert.equal(row.streamed, true);
		assert.equal(row.reply_text, RESPONSES_DELTAS.join(''));
		assert.equal(row.prompt_tokens, 8);
		assert.equal(row.completion_tokens, 4);
		assert.equal(row.total_tokens, 12);
		assert.equal(row.finish_reason, 'completed');
		assert.equal(row.outcome, 'completed');
	});

	test('multipart audio upload reaches the upstream byte for byte', async () => {
		const audio = binaryBytes(150 * 1024, 11);
		const { data, response } = await client.audio.transcriptions.create({
			file: await toFile(audio, 'clip.mp3', { type: 'audio/mpeg' }), model: 'whisper-1',
		}).withResponse();
		assert.equal(data.text, `fake transcript of ${audio.length} bytes`);
		const u = up.bySeq(response.headers.get('x-upstream-seq'));
		assert.ok(u.file, 'upstream found the file part');
		assert.ok(u.file.data.equals(audio), `file bytes differ upstream (got ${u.file.data.length} bytes, sha ${sha256(u.file.data)}, want ${audio.length}, ${sha256(audio)})`);
		assert.equal(u.file.filename, 'clip.mp3');
		const row = await s.waitForCapture(captureId(response.headers));
		assert.equal(row.path, '/v1/audio/transcriptions');
		assert.match(row.request_content_type || '', /^multipart\/form-data; *boundary=/);
		assert.equal(row.request_content_type, u.headers['content-type']);
		assert.equal(row.request_body, null, 'binary request body is not stored as text');
		assert.ok(Buffer.isBuffer(row.request_body_bin), 'request_body_bin holds the bytes');
		assert.ok(row.request_body_bin.equals(u.body), 'stored multipart body equals what the upstream received');
		assert.equal(row.request_body_size, u.body.length);
		assert.equal(row.outcome, 'completed');
	});

	test('raw multipart body is forwarded byte-exact (hand-built body)', async () => {
		const file = binaryBytes(40 * 1024, 3);
		const boundary = '----capture-test-boundary-0x00ff';
		const body = Buffer.concat([
			Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n`),
			Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
			file, Buffer.from(`\r\n--${boundary}--\r\n`)]);
		const r = await rawRequest(`${s.proxyUrl}/v1/audio/transcriptions`, { method: 'POST', body, headers: {
			Authorization: `Bearer ${KEY}`, 'Content-Type': `multipart/form-data; boundary=${boundary}` } });
		assert.equal(r.status, 200, r.body.toString());
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.ok(u.body.equals(body), `upstream body differs: ${u.body.length} bytes sha ${sha256(u.body)} vs ${body.length} ${sha256(body)}`);
		assert.equal(JSON.parse(r.body).file_sha256, sha256(file));
	});

	test('binary upload and echo under an arbitrary /v1 path, byte-exact both ways', async () => {
		const body = binaryBytes(300 * 1024, 5);
		const r = await rawRequest(`${s.proxyUrl}/v1/uploads/upl_1/parts?part=1`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/octet-stream' } });
		assert.equal(r.status, 200);
		const echo = JSON.parse(r.body);
		assert.equal(echo.body_size, body.length);
		assert.equal(echo.body_sha256, sha256(body));
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'upload'));
		assert.equal(row.query, 'part=1');
		assert.equal(row.request_body, null);
		assert.ok(row.request_body_bin && row.request_body_bin.equals(body), 'request_body_bin equals the upload');
		assert.equal(row.request_body_size, body.length);
		assert.equal(row.response_body, r.body.toString('utf8'));
		assert.equal(row.response_body_size, r.body.length);
	});

	test('binary audio response (speech) comes back byte for byte', async () => {
		const { data, response } = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hello' }).withResponse();
		const bytes = Buffer.from(await data.arrayBuffer());
		const want = speechBytes();
		assert.equal(bytes.length, want.length, 'speech length');
		assert.ok(bytes.equals(want), `speech bytes differ (sha ${sha256(bytes)} vs ${sha256(want)})`);
		assert.equal(response.headers.get('content-type'), 'audio/mpeg');
		const row = await s.waitForCapture(captureId(response.headers));
		assert.equal(row.path, '/v1/audio/speech');
		assert.equal(row.response_content_type, 'audio/mpeg');
		assert.equal(row.response_body, null, 'binary response is not stored as text');
		assert.ok(row.response_body_bin && row.response_body_bin.equals(want), 'response_body_bin holds the audio');
		assert.equal(row.response_body_size, want.length);
		assert.equal(row.outcome, 'completed');
	});

	test('gzip-encoded upstream response is decoded', async () => {
		const r = await rawRequest(`${s.proxyUrl}/v1/test/gzip`, { headers: { Authorization: `Bearer ${KEY}` } });
		assert.equal(r.status, 200);
		const enc = r.headers['content-encoding'];
		const text = enc === 'gzip' ? (await import('node:zlib')).gunzipSync(r.body).toString() : r.body.toString();
		assert.equal(enc, undefined, 'the client did not ask for gzip: the proxy relays the decoded body without Content-Encoding');
		const j = JSON.parse(text);
		assert.equal(j.message, 'décodé ✓ from gzip');
		if (r.headers['content-length'] !== undefined)
			assert.equal(Number(r.headers['content-length']), r.body.length, 'Content-Length matches the relayed body');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'gzip'));
		assert.equal(JSON.parse(row.response_body).message, 'décodé ✓ from gzip', 'capture holds the decoded text');
		assert.equal(row.response_body_size, Buffer.byteLength(row.response_body));

		const { data, response } = await client.chat.completions.create({
			model: 'gzip-model', messages: [{ role: 'user', content: 'zip it' }] }).withResponse();
		assert.equal(data.choices[0].message.content, CHAT_REPLY);
		const row2 = await s.waitForCapture(captureId(response.headers));
		assert.equal(row2.total_tokens, 19, 'usage read from the decoded body');
		assert.equal(row2.reply_text, CHAT_REPLY);
	});

	for (const [model, status, code] of [['fail-429', 429, 'rate_limit_exceeded'], ['fail-401', 401, 'invalid_api_key'], ['fail-500', 500, null]]) {
		test(`upstream ${status} passes through unchanged`, async () => {
			const err = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] })
				.then(() => null, (e) => e);
			assert.ok(err instanceof OpenAI.APIError, `SDK error, got ${err}`);
			assert.equal(err.status, status);
			assert.equal(err.code, code);
			const id = assertCaptureId(err.headers.get('x-capture-id'), `${status}`);
			if (status === 429) {
				assert.equal(err.headers.get('retry-after'), '7');
				assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
			}
			// The same call raw: body bytes as the upstream sent them.
			const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] });
			const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
				headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
			assert.equal(r.status, status);
			assertOpenAIError(r.body, `${status}`);
			assert.match(r.headers['content-type'] || '', /^application\/json/);
			if (status === 429) assert.equal(r.headers['retry-after'], '7');

			const row = await s.waitForCapture(id);
			assert.equal(row.status, status);
			assert.equal(row.outcome, 'upstream_error');
			assert.equal(row.model, model, 'model from the request when the response names none');
			assert.equal(row.total_tokens, null);
			assert.equal(JSON.parse(row.response_body).error.code, code);
			assertKeyColumns(row, KEY, `${status}`);
			if (status === 429) assert.equal(hdr(row.response_headers, 'retry-after'), '7');
			assert.ok(row.error, `error column says what went wrong (outcome ${row.outcome}, error ${row.error})`);
		});
	}

	test('concurrent streams are relayed independently, each as it comes', async () => {
		const t0 = Date.now();
		const one = async (i) => {
			const stream = await client.chat.completions.create({ model: `gpt-4o-mini`, stream: true,
				messages: [{ role: 'user', content: `parallel ${i}` }] });
			const times = [];
			let text = '';
			for await (const c of stream) {
				const d = c.choices[0]?.delta?.content;
				if (d) { times.push(Date.now() - t0); text += d; }
			}
			return { text, times };
		};
		const res = await Promise.all([0, 1, 2, 3, 4, 5].map(one));
		const total = Date.now() - t0;
		for (const r of res) {
			assert.equal(r.text, STREAM_DELTAS.join(''));
			assert.ok(r.times[r.times.length - 1] - r.times[0] >= 400, `a stream's deltas arrived at ${r.times.join(', ')}`);
		}
		assert.ok(total < 3 * STREAM_DELTAS.length * STREAM_DELAY_MS,
			`6 streams of ~${STREAM_DELTAS.length * STREAM_DELAY_MS} ms took ${total} ms together: were they serialised?`);
	});

	test('client that leaves mid-stream: upstream call is ended, capture says client_aborted', async () => {
		const ac = new AbortController();
		const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'leave early' }] });
		const res = await fetch(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body, signal: ac.signal,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		assert.equal(res.status, 200);
		const id = assertCaptureId(res.headers.get('x-capture-id'), 'abort');
		const seq = res.headers.get('x-upstream-seq');
		const reader = res.body.getReader();
		const first = await reader.read();
		assert.ok(!first.done && first.value.length > 0, 'got a first chunk');
		ac.abort();
		await reader.cancel().catch(() => {});
		const row = await s.waitForCapture(id, 15000);
		assert.equal(row.outcome, 'client_aborted');
		assert.equal(row.streamed, true);
		const u = up.bySeq(seq);
		assert.ok(u.abortedAt, 'the proxy closed the upstream connection before the stream ended');
		assert.ok(row.duration_ms < (STREAM_DELTAS.length + 2) * STREAM_DELAY_MS,
			`capture ended at ${row.duration_ms} ms, the full stream would take ${(STREAM_DELTAS.length + 1) * STREAM_DELAY_MS} ms`);
	});

	test('upstream stream cut off mid-way: client sees the cut, capture says upstream_error', async () => {
		const body = JSON.stringify({ model: 'cut-stream', stream: true, stream_options: { include_usage: true },
			messages: [{ role: 'user', content: 'cut' }] });
		const res = await fetch(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		assert.equal(res.status, 200);
		const id = assertCaptureId(res.headers.get('x-capture-id'), 'cut');
		let text = '', failed = false;
		try { text = await res.text(); } catch { failed = true; }
		assert.ok(failed || !text.includes('[DONE]'), 'the client must not see a complete stream');
		const row = await s.waitForCapture(id);
		assert.equal(row.outcome, 'upstream_error');
		assert.equal(row.streamed, true);
		assert.equal(row.reply_text, STREAM_DELTAS.slice(0, 2).join(''), 'reply assembled up to the cut');
		assert.equal(row.total_tokens, null);
		assert.ok(row.error, 'error text recorded');
	});

	test('a response bigger than CAPTURE_BODY_MAX reaches the client whole; the capture is cut with the true size', async () => {
		const n = 6 * 1024 * 1024 + 123;
		const r = await rawRequest(`${s.proxyUrl}/v1/test/big?bytes=${n}`, { headers: { Authorization: `Bearer ${KEY}` } });
		assert.equal(r.status, 200);
		assert.equal(r.body.length, n);
		assert.equal(sha256(r.body), sha256(upstreamLib.bigText(n)), 'body relayed byte for byte');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'big'));
		assert.equal(row.response_body_size, n);
		assert.equal(row.response_body_truncated, true);
		const stored = row.response_body != null ? Buffer.byteLength(row.response_body) : row.response_body_bin.length;
		assert.ok(stored <= 4 * 1024 * 1024 && stored >= 4 * 1024 * 1024 - 4, `stored ${stored} bytes, CAPTURE_BODY_MAX is 4M`);
		// the 64 KB FastCGI records (fcgiio.c) depend on libfcgi 2.4's layout
		assert.doesNotMatch(s.log(), /not laid out as in 2\.4/, 'big responses went out in 64 KB records');
	});

	test('a binary upload bigger than CAPTURE_BODY_MAX goes upstream whole; the capture holds its head byte for byte', async () => {
		// every byte value, NUL, tab, newline and backslash included: the
		// capture goes to PostgreSQL by COPY, which escapes them
		const n = 9 * 1024 * 1024 + 7;
		const body = Buffer.alloc(n);
		for (let i = 0; i < n; i++) body[i] = (i * 7 + (i >> 11)) & 255;
		const r = await rawRequest(`${s.proxyUrl}/v1/files?big=upload`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/octet-stream' } });
		assert.equal(r.status, 200, r.body.toString().slice(0, 300));
		const echoed = JSON.parse(r.body);
		assert.equal(echoed.body_size, n);
		assert.equal(echoed.body_sha256, sha256(body), 'upstream got the body byte for byte');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'big upload'));
		assert.equal(row.request_body_size, n);
		assert.equal(row.request_body_truncated, true);
		assert.equal(row.request_body, null);
		assert.ok(row.request_body_bin.equals(body.subarray(0, 4 * 1024 * 1024)), 'stored head equals the first 4 MB');
	});

	test('a big text body with tabs, newlines and backslashes is stored exactly', async () => {
		const content = 'tab\there, line\nnext, CR\r, back\\slash, quote " ✓ '.repeat(4000);
		const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 200, r.body.toString().slice(0, 300));
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'big text'));
		assert.equal(row.request_body, body);
		assert.equal(row.request_body_truncated, false);
		assert.equal(row.total_tokens, 19);
	});

	test('a big capture is stored even when its COPY is refused (no new tables allowed): the INSERT takes it', async () => {
		// an event trigger refuses CREATE TABLE, temporary ones included, as a
		// database without the TEMP right would refuse the COPY's staging table
		await s.query(`CREATE OR REPLACE FUNCTION test_no_tables() RETURNS event_trigger LANGUAGE plpgsql
			AS $$ BEGIN RAISE EXCEPTION 'no new tables (test)'; END $$`);
		await s.query(`CREATE EVENT TRIGGER test_no_tables ON ddl_command_start WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS')
			EXECUTE FUNCTION test_no_tables()`);
		try {
			const content = 'refused copy ✓ '.repeat(5000);
			const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
			const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
				headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
			assert.equal(r.status, 200, r.body.toString().slice(0, 300));
			const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'refused copy'));
			assert.equal(row.request_body, body);
			assert.match(s.log(), /no new tables \(test\)/, 'the COPY path was tried and refused');
		} finally {
			await s.query('DROP EVENT TRIGGER test_no_tables');
			await s.query('DROP FUNCTION test_no_tables()');
		}
	});

	test('a chunked request body (no Content-Length) is forwarded whole', async () => {
		const part = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'chunked ✓' }] });
		const body = Buffer.from(part);
		// node's http client does the chunked framing when the header says so.
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body, headers: {
			Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } });
		assert.equal(r.status, 200, r.body.toString());
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.ok(u.body.equals(body), `upstream got ${JSON.stringify(u.body.toString())}`);
		assert.equal(u.headers['transfer-encoding'] === 'chunked' && u.headers['content-length'] !== undefined, false);
		const row = await s.waitForCapture(r.headers['x-capture-id']);
		assert.equal(row.request_body, part);
		assert.equal(row.request_body_size, body.length);
	});

	test('keys in Api-Key headers and key query parameters are masked in the capture', async () => {
		const r = await rawRequest(`${s.proxyUrl}/v1/models?api-key=${KEY}&limit=3`, { headers: { 'Api-Key': KEY } });
		assert.equal(r.status, 200);
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.equal(u.query, `api-key=${KEY}&limit=3`, 'the query goes upstream unchanged');
		assert.equal(u.headers['api-key'], KEY, 'Api-Key goes upstream unchanged');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'api-key'));
		assert.ok(!row.query.includes(KEY_SECRET_PART), `query stored masked: ${row.query}`);
		assert.match(row.query, /limit=3/);
		assert.ok(!String(hdr(row.request_headers, 'api-key')).includes(KEY_SECRET_PART), 'Api-Key header stored masked');
	});

	test('path outside /v1/ is a 404 in OpenAI error shape', async () => {
		const before = up.requests.length;
		for (const [method, p] of [['GET', '/'], ['GET', '/v2/models'], ['POST', '/chat/completions'], ['GET', '/v1x/models'], ['GET', '/static/app.js']]) {
			const r = await rawRequest(`${s.proxyUrl}${p}`, { method, headers: { Authorization: `Bearer ${KEY}` },
				body: method === 'POST' ? '{}' : undefined });
			assert.equal(r.status, 404, `${method} ${p}`);
			assert.match(r.headers['content-type'] || '', /^application\/json/, `${method} ${p} content-type`);
			assertOpenAIError(r.body, `${method} ${p}`);
		}
		assert.equal(up.requests.length, before, 'nothing outside /v1/ reached the upstream');
	});

	test('end-to-end request headers go upstream, hop-by-hop ones do not', async () => {
		const r = await rawRequest(`${s.proxyUrl}/v1/echo/headers`, { method: 'POST', body: '{"model":"x"}', headers: [
			['Authorization', `Bearer ${KEY}`],
			['OpenAI-Organization', 'org-HDR'],
			['OpenAI-Project', 'proj_HDR'],
			['OpenAI-Beta', 'realtime=v1'],
			['User-Agent', 'capture-test/1.0 (+node)'],
			['Content-Type', 'application/json; charset=utf-8'],
			['X-Stainless-Lang', 'js'],
			['X-Custom-End', 'end-to-end value'],
			['Idempotency-Key', 'idem-42'],
			['Connection', 'keep-alive, X-Hop-Named'],
			['X-Hop-Named', 'must not pass'],
			['Keep-Alive', 'timeout=5, max=100'],
			['TE', 'trailers'],
			['Accept-Encoding', 'x-client-encoding'],
			['Proxy-Authorization', 'Basic cHJveHk6c2VjcmV0'],
		] });
		assert.equal(r.status, 200, r.body.toString());
		const u = up.bySeq(r.headers['x-upstream-seq']);
		const h = u.headers;
		assert.equal(h.authorization, `Bearer ${KEY}`);
		assert.equal(h['openai-organization'], 'org-HDR');
		assert.equal(h['openai-project'], 'proj_HDR');
		assert.equal(h['openai-beta'], 'realtime=v1');
		assert.equal(h['user-agent'], 'capture-test/1.0 (+node)');
		assert.equal(h['content-type'], 'application/json; charset=utf-8');
		assert.equal(h['x-stainless-lang'], 'js');
		assert.equal(h['x-custom-end'], 'end-to-end value');
		assert.equal(h['idempotency-key'], 'idem-42');
		assert.equal(h['keep-alive'], undefined, 'Keep-Alive is hop-by-hop');
		assert.equal(h.te, undefined, 'TE is hop-by-hop');
		assert.equal(h['x-hop-named'], undefined, 'a header named in Connection is hop-by-hop');
		assert.equal(h['proxy-authorization'], undefined, 'Proxy-Authorization is hop-by-hop');
		assert.ok(!/x-hop-named/i.test(h.connection || ''), `Connection not forwarded: ${h.connection}`);
		assert.notEqual(h['accept-encoding'], 'x-client-encoding', "the client's Accept-Encoding is not forwarded");
		assert.equal(u.body.toString(), '{"model":"x"}');
		// response side
		assertCaptureId(r.headers['x-capture-id'], 'headers');
		assert.equal(r.headers['x-request-id'], `req_fake_${u.seq}`);
		assert.equal(r.headers['openai-version'], '2020-10-01');
		assert.equal(r.headers['keep-alive'], undefined, "upstream's Keep-Alive is not relayed");
		const ct = r.rawHeaders.filter((x, i) => i % 2 === 0 && x.toLowerCase() === 'content-type');
		assert.equal(ct.length, 1, 'one Content-Type');
		const row = await s.waitForCapture(r.headers['x-capture-id']);
		assert.equal(hdr(row.request_headers, 'openai-beta'), 'realtime=v1');
		assert.equal(hdr(row.request_headers, 'authorization'), `Bearer ${keyHint(KEY)}`);
		assert.equal(hdr(row.request_headers, 'proxy-authorization') === 'Basic cHJveHk6c2VjcmV0', false,
			'Proxy-Authorization is not stored in clear');
	});

	test('response headers named in the upstream Connection header are dropped', async () => {
		const r = await rawRequest(`${s.proxyUrl}/v1/test/hop`, { headers: { Authorization: `Bearer ${KEY}` } });
		assert.equal(r.status, 200);
		assert.equal(r.headers['x-upstream-e2e'], 'keep me');
		assert.equal(r.headers['x-upstream-hop'], undefined, 'X-Upstream-Hop was named in the upstream Connection header');
	});

	test('upstream statuses other than 200 come back as sent (201, 404 under /v1/)', async () => {
		let r = await rawRequest(`${s.proxyUrl}/v1/test/status/201`, { method: 'PUT', body: 'x',
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'text/plain' } });
		assert.equal(r.status, 201);
		assert.equal(JSON.parse(r.body).method, 'PUT');
		assertCaptureId(r.headers['x-capture-id'], '201');
		r = await rawRequest(`${s.proxyUrl}/v1/test/status/404`, { headers: { Authorization: `Bearer ${KEY}` } });
		assert.equal(r.status, 404);
		assert.equal(JSON.parse(r.body).object, 'echo', "the upstream's own 404 body is relayed");
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], '404'));
		assert.equal(row.status, 404);
		assert.equal(row.outcome, 'upstream_error');
	});

	const cases = [
		['GET', '/v1/files?purpose=x&limit=2'],
		['DELETE', '/v1/files/abc'],
		['GET', '/v1/files/file-abc/content'],
		['POST', '/v1/threads/thread_1/runs?include[]=step_details.tool_calls'],
		['PUT', '/v1/organization/projects/p1?x=%2F%3F%26&y=a+b&z=%E2%9C%93&flag'],
		['PATCH', '/v1/fine_tuning/jobs/ftjob-1?after=x'],
		['OPTIONS', '/v1/models'],
		['GET', '/v1/vector_stores?order=desc&limit=20&after=vs_123&before='],
	];
	for (const [method, url] of cases) {
		test(`${method} ${url} is forwarded with its query string`, async () => {
			const body = ['POST', 'PUT', 'PATCH'].includes(method) ? JSON.stringify({ method, n: 1 }) : undefined;
			const r = await rawRequest(`${s.proxyUrl}${url}`, { method, body, headers: {
				Authorization: `Bearer ${KEY}`, ...(body ? { 'Content-Type': 'application/json' } : {}) } });
			assert.equal(r.status, 200, `${method} ${url}: ${r.body.toString().slice(0, 300)}`);
			const echo = JSON.parse(r.body);
			assert.equal(echo.method, method);
			assert.equal(echo.url, url, 'path and query reach the upstream unchanged');
			const u = up.bySeq(r.headers['x-upstream-seq']);
			assert.equal(u.body.toString(), body || '');
			const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], url));
			const q = url.indexOf('?');
			assert.equal(row.method, method);
			assert.equal(row.path, q < 0 ? url : url.slice(0, q));
			assert.equal(row.query, q < 0 ? null : url.slice(q + 1));
			assert.equal(row.status, 200);
			assert.equal(row.outcome, 'completed');
			assert.equal(row.response_body, r.body.toString());
			assert.equal(row.request_body_size, body ? Buffer.byteLength(body) : 0);
		});
	}

	test('HEAD is forwarded and answers without a body', async () => {
		const r = await rawRequest(`${s.proxyUrl}/v1/models`, { method: 'HEAD', headers: { Authorization: `Bearer ${KEY}` } });
		assert.equal(r.status, 200);
		assert.equal(r.body.length, 0);
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.equal(u && u.method, 'HEAD');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'HEAD'));
		assert.equal(row.method, 'HEAD');
		assert.equal(row.outcome, 'completed');
	});

	test('a request without a key uses DEFAULT_API_KEY', async () => {
		const r = await rawRequest(`${s.proxyUrl}/v1/models`, { headers: {} });
		assert.equal(r.status, 200);
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.equal(u.headers.authorization, `Bearer ${DEFAULT_KEY}`);
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], 'no key'));
		assertKeyColumns(row, DEFAULT_KEY, 'no key');
	});

	test('one row per proxied request, and no full key anywhere in the table or the log', async () => {
		// Every request the upstream answered carries x-upstream-seq in its response
		// headers: each seq must be in exactly one captures row.
		const seqs = up.requests.map((r) => String(r.seq));
		const seqOf = (row) => (Array.isArray(row.response_headers) ? hdr(row.response_headers, 'x-upstream-seq') : undefined);
		let rows;
		try {
			rows = await s.waitForCaptures((rs) => seqs.every((q) => rs.some((x) => seqOf(x) === q)));
		} catch (e) {
			rows = await s.query('SELECT * FROM captures');
			const missing = up.requests.filter((r) => !rows.some((x) => seqOf(x) === String(r.seq)));
			assert.fail(`no captures row for ${missing.length} proxied request(s): ${missing.map((r) => `${r.method} ${r.url}`).join(', ')}`);
		}
		await new Promise((r) => setTimeout(r, 300));
		rows = await s.query('SELECT * FROM captures');
		for (const q of seqs) {
			const n = rows.filter((x) => seqOf(x) === q).length;
			assert.equal(n, 1, `upstream request #${q} (${up.bySeq(q).method} ${up.bySeq(q).url}) has ${n} captures rows`);
		}
		for (const secret of [KEY_SECRET_PART, DEFAULT_SECRET_PART]) {
			await assertNoSecret(s, secret);
			const [{ b }] = await s.query('SELECT count(*)::int AS b FROM captures WHERE position($1::bytea IN coalesce(request_body_bin, \'\'::bytea)) > 0', [Buffer.from(secret)]);
			assert.equal(b, 0, 'no key in binary bodies');
		}
		const ids = new Set(rows.map((x) => x.id));
		assert.equal(ids.size, rows.length, 'capture ids are unique');
		const log = s.log();
		assert.ok(!log.includes(KEY_SECRET_PART), `the full key appears in the service log ${s.logFile}`);
		assert.ok(!log.includes(DEFAULT_SECRET_PART), `DEFAULT_API_KEY appears in the service log ${s.logFile}`);
	});

	test('stops cleanly on SIGTERM without sanitizer reports', async () => {
		await s.stop();
		assert.ok(s.exited, 'run.sh exited');
	});
});

// ---------------------------------------------------------------------------

describe('proxy limits: body size, idle timeout, capture cap, fixed key', () => {
	let up, s;
	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'limits', env: {
			OPENAI_API_BASE: up.url, MAX_REQUEST_BODY: '1M', UPSTREAM_IDLE_TIMEOUT: '1', CAPTURE_BODY_MAX: '64K',
			PASSTHROUGH_API_KEY: 'false', DEFAULT_API_KEY: LIMITS_KEY } });
	});
	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	test('a body over MAX_REQUEST_BODY is refused with 413 and recorded', async () => {
		const before = up.requests.length;
		const big = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'y'.repeat(1536 * 1024) }] }));
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body: big,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 413);
		assertOpenAIError(r.body, '413');
		assert.equal(up.requests.length, before, 'the refused body did not go upstream');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], '413'));
		assert.equal(row.status, 413);
		assert.equal(row.outcome, 'rejected');
		assert.equal(row.request_body_size, big.length, 'true size recorded');
		assert.equal(row.path, '/v1/chat/completions');
	});

	test('a body far over MAX_REQUEST_BODY (5 MB vs 1M) is also a 413 in OpenAI error shape, recorded', async () => {
		const before = up.requests.length;
		const big = Buffer.alloc(5 * 1024 * 1024, 'a');
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body: big,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 413);
		assert.equal(up.requests.length, before, 'the refused body did not go upstream');
		assert.match(r.headers['content-type'] || '', /^application\/json/, `content-type ${r.headers['content-type']}`);
		assertOpenAIError(r.body, '413 (5 MB)');
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], '413 (5 MB)'));
		assert.equal(row.outcome, 'rejected');
	});

	test('a body under the limit passes; its capture is cut at CAPTURE_BODY_MAX with the true size', async () => {
		const content = 'z'.repeat(900 * 1024);
		const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 200, r.body.toString().slice(0, 300));
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.equal(u.body.toString(), body, 'whole body forwarded');
		const row = await s.waitForCapture(r.headers['x-capture-id']);
		assert.equal(row.request_body_truncated, true);
		assert.equal(row.request_body_size, Buffer.byteLength(body));
		const stored = row.request_body != null ? Buffer.byteLength(row.request_body) : row.request_body_bin.length;
		assert.ok(stored <= 64 * 1024, `stored ${stored} bytes, cap 64K`);
		assert.ok(stored > 0);
		assert.equal(row.response_body_truncated, false);
		assert.equal(row.total_tokens, 19);
	});

	test('PASSTHROUGH_API_KEY=false sends DEFAULT_API_KEY upstream, not the client key', async () => {
		const client = new OpenAI({ apiKey: KEY, baseURL: `${s.proxyUrl}/v1`, maxRetries: 0 });
		const { data, response } = await client.chat.completions.create({
			model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'whose key?' }] }).withResponse();
		assert.equal(data.choices[0].message.content, CHAT_REPLY);
		const u = up.bySeq(response.headers.get('x-upstream-seq'));
		assert.equal(u.headers.authorization, `Bearer ${LIMITS_KEY}`);
		assert.ok(!JSON.stringify(u.rawHeaders).includes(KEY_SECRET_PART), 'client key not sent upstream');
		const row = await s.waitForCapture(captureId(response.headers));
		assert.ok([keyHint(LIMITS_KEY), keyHint(KEY)].includes(row.key_hint), `key_hint ${row.key_hint}`);
		assert.match(row.key_fingerprint || '', /^[0-9a-f]{16}$/);
	});

	test('upstream silent past UPSTREAM_IDLE_TIMEOUT gives 504 in OpenAI error shape', async () => {
		const body = JSON.stringify({ model: 'slow-3000', messages: [{ role: 'user', content: 'wait' }] });
		const t0 = Date.now();
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		const ms = Date.now() - t0;
		assert.equal(r.status, 504, r.body.toString());
		assertOpenAIError(r.body, '504');
		assert.ok(ms < 2900, `504 after ${ms} ms: the 1 s idle timeout should fire before the upstream's 3 s answer`);
		const row = await s.waitForCapture(assertCaptureId(r.headers['x-capture-id'], '504'));
		assert.equal(row.status, 504);
		assert.equal(row.outcome, 'timeout');
		assert.equal(row.model, 'slow-3000');
		assert.ok(row.error, 'error text recorded');
	});

	test('no full key in the table', async () => {
		await s.waitForCaptures(3);
		for (const secret of [KEY_SECRET_PART, LIMITS_SECRET_PART]) {
			await assertNoSecret(s, secret);
		}
	});

	test('stops cleanly on SIGTERM without sanitizer reports', async () => {
		await s.stop();
	});
});

// ---------------------------------------------------------------------------

describe('upstream unreachable', () => {
	let s, client;
	before(async () => {
		const closed = await freePort(); // nothing listens there
		s = await startStack({ name: 'unreachable', env: { OPENAI_API_BASE: `http://127.0.0.1:${closed}`, UPSTREAM_CONNECT_TIMEOUT: '2' } });
		client = new OpenAI({ apiKey: KEY, baseURL: `${s.proxyUrl}/v1`, maxRetries: 0 });
	});
	after(async () => { await s?.stop(); });

	test('502 in OpenAI error shape, recorded as unreachable', async () => {
		const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'anyone?' }] })
			.then(() => null, (e) => e);
		assert.ok(err instanceof OpenAI.APIError, `SDK error, got ${err}`);
		assert.equal(err.status, 502);
		assert.equal(typeof err.error?.message, 'string');
		const id = assertCaptureId(err.headers.get('x-capture-id'), '502');

		const r = await rawRequest(`${s.proxyUrl}/v1/models?limit=1`, { headers: { Authorization: `Bearer ${KEY}` } });
		assert.equal(r.status, 502);
		assert.match(r.headers['content-type'] || '', /^application\/json/);
		assertOpenAIError(r.body, '502');

		const row = await s.waitForCapture(id);
		assert.equal(row.status, 502);
		assert.equal(row.outcome, 'unreachable');
		assert.equal(row.model, 'gpt-4o-mini');
		assert.ok(row.error, 'error text recorded');
		assert.equal(typeof row.duration_ms, 'number');
		assertKeyColumns(row, KEY, '502');
		const row2 = await s.waitForCapture(r.headers['x-capture-id']);
		assert.equal(row2.query, 'limit=1');
		assert.equal(row2.outcome, 'unreachable');
	});

	test('a streamed request to an unreachable upstream also gets 502', async () => {
		const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'x' }] });
		const r = await rawRequest(`${s.proxyUrl}/v1/chat/completions`, { method: 'POST', body,
			headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' } });
		assert.equal(r.status, 502);
		assertOpenAIError(r.body, '502 stream');
		const row = await s.waitForCapture(r.headers['x-capture-id']);
		assert.equal(row.outcome, 'unreachable');
	});

	test('stops cleanly on SIGTERM without sanitizer reports', async () => {
		await s.stop();
	});
});

// ---------------------------------------------------------------------------

describe('configuration checks', () => {
	const out = (r) => r.stdout + r.stderr;

	test('--check-config accepts the defaults and prints NAME=value lines', async () => {
		const [p, w] = [await freePort(), await freePort()];
		const r = checkConfig({ PROXY_PORT: String(p), WEB_PORT: String(w) });
		assert.equal(r.status, 0, out(r));
		assert.match(r.stdout, new RegExp(`^PROXY_PORT='?${p}'?$`, 'm'));
		assert.match(r.stdout, /^OPENAI_API_BASE='?https:\/\/api\.openai\.com'?$/m);
		assert.match(r.stdout, /^LOG_LEVEL='?INFO'?$/m);
	});

	test('PROXY_PORT=abc is refused, naming PROXY_PORT', () => {
		const r = checkConfig({ PROXY_PORT: 'abc' });
		assert.notEqual(r.status, 0);
		assert.match(out(r), /PROXY_PORT/);
	});

	test('PROXY_PORT=70000 is refused, naming PROXY_PORT', () => {
		const r = checkConfig({ PROXY_PORT: '70000' });
		assert.notEqual(r.status, 0);
		assert.match(out(r), /PROXY_PORT/);
	});

	test('LOG_LEVEL=LOUD is refused, naming LOG_LEVEL', () => {
		const r = checkConfig({ LOG_LEVEL: 'LOUD' });
		assert.notEqual(r.status, 0);
		assert.match(out(r), /LOG_LEVEL/);
	});

	test('MAX_REQUEST_BODY=lots is refused, naming MAX_REQUEST_BODY', () => {
		const r = checkConfig({ MAX_REQUEST_BODY: 'lots' });
		assert.notEqual(r.status, 0);
		assert.match(out(r), /MAX_REQUEST_BODY/);
	});

	test('a bad value in the config file names the option', () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-cfg-'));
		const f = path.join(dir, 'bad.env');
		fs.writeFileSync(f, 'PROXY_HOST=127.0.0.1\nPASSTHROUGH_API_KEY=maybe\n');
		const r = checkConfig({ CAPTURE_CONFIG: f });
		fs.rmSync(dir, { recursive: true, force: true });
		assert.notEqual(r.status, 0);
		assert.match(out(r), /PASSTHROUGH_API_KEY/);
	});

	for (const opt of ['PROXY_PORT', 'WEB_PORT']) {
		test(`${opt} already in use is refused, naming the port and ${opt}`, async () => {
			const busy = net.createServer();
			await new Promise((r) => busy.listen(0, '127.0.0.1', r));
			const port = busy.address().port;
			try {
				const other = await freePort();
				const env = opt === 'PROXY_PORT' ? { PROXY_PORT: String(port), WEB_PORT: String(other) }
					: { PROXY_PORT: String(other), WEB_PORT: String(port) };
				const r = checkConfig(env);
				assert.notEqual(r.status, 0, `--check-config passed with ${opt} ${port} in use: ${out(r)}`);
				assert.match(out(r), new RegExp(opt));
				assert.match(out(r), new RegExp(`\\b${port}\\b`));
				if (opt === 'PROXY_PORT') {
					const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-var-'));
					const rs = runShExpectFail({ ...env, CAPTURE_BIN: binDir(), CAPTURE_VAR: dir,
						DATABASE_URL: 'postgresql:///none?host=/nonexistent' });
					fs.rmSync(dir, { recursive: true, force: true });
					assert.notEqual(rs.status, 0, 'run.sh refuses to start');
					assert.match(rs.output, /PROXY_PORT/);
					assert.match(rs.output, new RegExp(`\\b${port}\\b`));
				}
			} finally {
				busy.close();
			}
		});
	}
});
