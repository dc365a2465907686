// tests/integration/reliability.test.mjs - issue 5, "the proxy keeps serving and loses
// nothing": database outages and the spool, shutdown and kill -9, upstream faults,
// client faults, retention under load, secrets at rest and in logs, header injection.
//
// Three groups, each with its own stack(s):
//   faults     PROXY_THREADS=4, UPSTREAM_IDLE_TIMEOUT=1 against the fake upstream's
//              fault models (stall, reset-stream, garbage, huge-headers, ...), client
//              hang-ups and slow readers, 12 streams queued on 4 threads, header
//              injection and oversized requests, then a check that no worker leaked
//   durable    a PostgreSQL cluster of its own (deploy/pg.sh, stopped and started by the
//              tests) reached through a DATABASE_URL with a password; three stacks in a
//              row on one state directory and spool: outage, spool across a restart,
//              replay twice, kill -9, SIGTERM under traffic, then pg_dump/spool/log greps
//   retention  MAX_REQUESTS_HISTORY=50 under 400 calls
//
// Measured numbers (outage, replay time, captures lost on kill -9, cancel latency, ...)
// are printed as test diagnostics and written to tests/out/<run>/reliability-numbers-<bin>.json.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import * as upstreamLib from '../lib/upstream.mjs';
import { STREAM_DELTAS, STREAM_DELAY_MS, CHAT_REPLY, LONG_STREAM_DELTAS, TRICKLE_PIECES, bigText, sha256 }
	from '../lib/upstream.mjs';
import { startStack, freePort, binDir, ROOT, OUT, UUID_RE } from '../lib/stack.mjs';

const execFileP = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Database outage length. The issue asks for ~30 s; 12 s keeps the whole file (run twice,
// plain and ASan) near its 3-minute budget and still spans several writer reconnect
// back-offs (1, 2, 4, 8 s). RELIABILITY_OUTAGE_MS=30000 runs the 30 s.
const OUTAGE_MS = Number(process.env.RELIABILITY_OUTAGE_MS) || 12000;

// Keys, one per place a key can travel; the middle parts must never be stored or logged.
const KEYS = {
	auth: 'sk-proj-RELAUTH1111222233334444aaaa',
	apiKey: 'sk-RELAPIKEY5555666677778888bbbb',
	xApiKey: 'sk-RELXAPIKEY9999000011112222cccc',
	query: 'sk-RELQUERY3333444455556666dddd',
};
const SECRETS = ['RELAUTH1111222233334444', 'RELAPIKEY5555666677778888', 'RELXAPIKEY9999000011112222',
	'RELQUERY3333444455556666'];
const ORG = 'org-RELORG7777visible', PROJECT = 'proj_RELPROJ8888visible';
const DB_PASSWORD = 'PwRELIABILITY-9f8e7d6c5b4a';

const FULL_LONG = Array.from({ length: LONG_STREAM_DELTAS }, (_, i) => `d${i} `).join('');

/* Measured numbers for the README's reliability table. */
const numbers = {};
function note(t, key, value, text) {
	numbers[key] = value;
	t.diagnostic(`${key}: ${text || JSON.stringify(value)}`);
	try {
		fs.mkdirSync(OUT, { recursive: true });
		fs.writeFileSync(path.join(OUT, `reliability-numbers-${path.basename(binDir())}.json`),
			JSON.stringify(numbers, null, 2) + '\n');
	} catch { /* best effort */ }
}

// ---------------------------------------------------------------------------
// HTTP helpers

/* One request on a fresh connection; never rejects. Resolves to {status, headers,
 * body, complete (the response ended cleanly), error, firstMs, ms}. onData(chunk,
 * req, res) sees each body chunk (it may destroy req or pause res). */
function httpCall(url, { method = 'POST', headers = {}, body, timeout = 30000, onData } = {}) {
	const u = new URL(url);
	const t0 = Date.now();
	return new Promise((resolve) => {
		let res = null, done = false, firstMs = null;
		const chunks = [];
		const finish = (error) => {
			if (done) return;
			done = true;
			resolve({ status: res ? res.statusCode : 0, headers: res ? res.headers : {},
				body: Buffer.concat(chunks), complete: !error && !!res && res.complete,
				error: error ? error.message || String(error) : null, firstMs, ms: Date.now() - t0 });
		};
		const h = { ...headers };
		if (body !== undefined) h['Content-Length'] = String(Buffer.byteLength(body));
		const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method,
			headers: h, agent: false, timeout });
		req.on('response', (r) => {
			res = r;
			r.on('data', (c) => {
				if (firstMs === null) firstMs = Date.now() - t0;
				chunks.push(c);
				if (onData) onData(c, req, r);
			});
			r.on('end', () => finish(r.complete ? null : new Error('response cut')));
			r.on('error', (e) => finish(e));
			r.on('close', () => finish(r.complete ? null : new Error('response cut (closed)')));
		});
		req.on('timeout', () => req.destroy(new Error(`no answer in ${timeout} ms`)));
		req.on('error', (e) => finish(e));
		req.end(body);
	});
}

const chat = (model, stream = false, extra = {}) => JSON.stringify({ model, stream,
	messages: [{ role: 'user', content: `reliability ${model}` }], ...extra });

const jsonHeaders = (key = KEYS.auth) => ({ Authorization: `Bearer ${key}`, 'Content-Type': 'application/json',
	'OpenAI-Organization': ORG, 'OpenAI-Project': PROJECT });

/* The text assembled from a chat SSE body. */
function sseText(buf) {
	let text = '';
	for (const line of buf.toString('utf8').split('\n')) {
		if (!line.startsWith('data: {')) continue;
		try { text += JSON.parse(line.slice(6)).choices?.[0]?.delta?.content || ''; } catch { /* partial line */ }
	}
	return text;
}

function assertOpenAIError(r, status, what) {
	assert.equal(r.status, status, `${what}: status (body ${r.body.toString('utf8').slice(0, 300)})`);
	assert.match(r.headers['content-type'] || '', /^application\/json/, `${what}: content-type ${r.headers['content-type']}`);
	let j;
	try { j = JSON.parse(r.body.toString('utf8')); } catch {
		assert.fail(`${what}: body is not JSON: ${JSON.stringify(r.body.toString('utf8').slice(0, 300))}`);
	}
	assert.ok(j && j.error && typeof j.error.message === 'string' && j.error.message, `${what}: OpenAI error shape: ${JSON.stringify(j)}`);
	assert.equal(typeof j.error.type, 'string', `${what}: error.type`);
	assert.ok('code' in j.error, `${what}: error.code`);
	return j.error;
}

function captureIdOf(r, what) {
	const id = r.headers['x-capture-id'];
	assert.ok(id, `${what}: no X-Capture-Id (status ${r.status}, body ${r.body.toString('utf8').slice(0, 200)})`);
	assert.match(id, UUID_RE, `${what}: X-Capture-Id`);
	return id;
}

/* Sends raw bytes on a fresh TCP connection, returns everything read until the
 * server closes (or timeout). */
function rawExchange(port, bytes, timeout = 10000) {
	return new Promise((resolve) => {
		const chunks = [];
		const so = net.connect({ port, host: '127.0.0.1' }, () => so.write(bytes));
		const timer = setTimeout(() => so.destroy(), timeout);
		so.on('data', (c) => chunks.push(c));
		so.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)); });
		so.on('error', () => {});
	});
}

/* Splits a raw HTTP/1.1 response: {statusLine, status, head (latin1), headerLines, body}. */
function splitResponse(buf) {
	const end = buf.indexOf('\r\n\r\n');
	const head = (end < 0 ? buf : buf.subarray(0, end)).toString('latin1');
	const lines = head.split('\r\n');
	return { statusLine: lines[0], status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] || 0),
		head, headerLines: lines.slice(1), body: end < 0 ? Buffer.alloc(0) : buf.subarray(end + 4) };
}

// ---------------------------------------------------------------------------
// Processes, spool files, traffic

const readPid = (file) => { try { return Number(fs.readFileSync(file, 'utf8').trim()) || 0; } catch { return 0; } };

/* true if pid runs (a zombie waiting for its parent counts as gone). */
function alive(pid) {
	if (!pid) return false;
	try { process.kill(pid, 0); } catch { return false; }
	try { return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

async function waitFor(pred, timeout, what) {
	const t0 = Date.now();
	for (;;) {
		const v = await pred();
		if (v) return v;
		if (Date.now() - t0 > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
		await sleep(50);
	}
}

/* The spool files in dir (.cap, plus .tmp/.bad leftovers) and the capture ids they hold
 * (the format of proxy_fcgi/spool.c: magic, then rows of u32 n, n x {u8 fmt, i32 len, bytes};
 * parameter 0 is the id, as NUL-terminated text). */
function readSpool(dir) {
	let names = [];
	try { names = fs.readdirSync(dir); } catch { return { files: [], ids: [], bytes: [] }; }
	const files = names.filter((n) => /\.(cap|tmp|bad)$/.test(n)).sort().map((n) => path.join(dir, n));
	const ids = [], bytes = [];
	for (const f of files) {
		let b;
		try { b = fs.readFileSync(f); } catch { continue; }
		bytes.push(b);
		if (!f.endsWith('.cap') || b.subarray(0, 10).toString() !== 'CAPSPOOL1\n') continue;
		let at = 10;
		while (at + 4 <= b.length) {
			const n = b.readUInt32LE(at); at += 4;
			for (let i = 0; i < n && at + 5 <= b.length; i++) {
				const len = b.readInt32LE(at + 1); at += 5;
				if (len > 0) {
					if (i === 0) ids.push(b.subarray(at, at + len - 1).toString());
					at += len;
				}
			}
		}
	}
	return { files, ids, bytes };
}

/* Steady traffic: `clients` loops, each cycling through the four key placements and
 * streamed/plain calls (gapMs apart), plus `blasters` loops of back-to-back plain chat
 * calls, until stop(). Every call is recorded with its outcome. */
function startTraffic(proxyUrl, { clients = 5, gapMs = 30, blasters = 0 } = {}) {
	const calls = [];
	let stopping = false;
	const kinds = [
		// plain chat, key in Authorization
		() => ({ kind: 'chat', url: '/v1/chat/completions', body: chat('gpt-4o-mini'), headers: jsonHeaders(KEYS.auth) }),
		// streamed chat, key in api-key
		() => ({ kind: 'stream', url: '/v1/chat/completions', body: chat('gpt-4o-mini', true, { stream_options: { include_usage: true } }),
			headers: { 'api-key': KEYS.apiKey, 'Content-Type': 'application/json', 'OpenAI-Organization': ORG, 'OpenAI-Project': PROJECT } }),
		// embeddings, key in x-api-key
		() => ({ kind: 'embeddings', url: '/v1/embeddings', body: JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }),
			headers: { 'x-api-key': KEYS.xApiKey, 'Content-Type': 'application/json', 'OpenAI-Organization': ORG, 'OpenAI-Project': PROJECT } }),
		// GET with the key in the query string
		() => ({ kind: 'query', method: 'GET', url: `/v1/models?api-key=${KEYS.query}&limit=2`,
			headers: { 'OpenAI-Organization': ORG, 'OpenAI-Project': PROJECT } }),
	];
	const loop = async (c, blaster) => {
		for (let i = c; !stopping; i++) {
			const k = kinds[blaster ? 0 : i % kinds.length]();
			const t0 = Date.now();
			const r = await httpCall(proxyUrl + k.url, { method: k.method || 'POST', headers: k.headers, body: k.body });
			const ok = r.status === 200 && r.complete && UUID_RE.test(r.headers['x-capture-id'] || '') &&
				(k.kind !== 'stream' || r.body.toString().includes('data: [DONE]'));
			calls.push({ kind: k.kind, t0, t1: Date.now(), ms: r.ms, status: r.status, ok, id: r.headers['x-capture-id'],
				error: r.error, body: ok ? '' : r.body.toString('utf8').slice(0, 200) });
			if (gapMs && !blaster) await sleep(gapMs);
		}
	};
	const loops = [...Array.from({ length: clients }, (_, c) => loop(c, false)),
		...Array.from({ length: blasters }, (_, c) => loop(c, true))];
	return {
		calls,
		async stop() { stopping = true; await Promise.all(loops); return calls; },
	};
}

const describeCalls = (calls) => calls.slice(0, 5).map((c) => `${c.kind} -> ${c.status} ${c.error || ''} ${c.body}`).join('; ');

// ---------------------------------------------------------------------------

describe('upstream and client faults (PROXY_THREADS=4, UPSTREAM_IDLE_TIMEOUT=1)', () => {
	let up, s;
	const url = () => `${s.proxyUrl}/v1/chat/completions`;
	const post = (model, opts = {}) => httpCall(url(), { body: chat(model, !!opts.stream), headers: jsonHeaders(), ...opts });

	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'faults', env: { OPENAI_API_BASE: up.url, PROXY_THREADS: '4',
			UPSTREAM_IDLE_TIMEOUT: '1', UPSTREAM_CONNECT_TIMEOUT: '2' } });
	});
	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	test('connection refused: 502 upstream_unreachable in OpenAI shape, row says unreachable', async () => {
		// Close the upstream's listener (and its kept-alive connections), call, listen again.
		for (const so of up.sockets) so.destroy();
		await new Promise((r) => up.server.close(() => r()));
		let r;
		try {
			r = await post('gpt-4o-mini');
		} finally {
			await new Promise((resolve, reject) => {
				up.server.once('error', reject);
				up.server.listen(up.port, '127.0.0.1', () => { up.server.off('error', reject); resolve(); });
			});
		}
		const err = assertOpenAIError(r, 502, 'refused');
		assert.equal(err.code, 'upstream_unreachable');
		const row = await s.waitForCapture(captureIdOf(r, 'refused'));
		assert.equal(row.status, 502);
		assert.equal(row.outcome, 'unreachable');
		assert.ok(row.error, 'error text recorded');
		// and the proxy reaches the upstream again afterwards
		const ok = await post('gpt-4o-mini');
		assert.equal(ok.status, 200);
	});

	for (const [model, how] of [['reset-stream', 'a TCP reset'], ['cut-stream', 'a closed connection']]) {
		test(`upstream stream ended by ${how} mid-way: client gets the partial stream then an error; row upstream_error`, async () => {
			const r = await post(model, { body: chat(model, true) });
			assert.equal(r.status, 200);
			const id = captureIdOf(r, model);
			assert.equal(r.complete, false, `the client must see the stream cut, not a clean end (got ${r.body.length} bytes)`);
			assert.ok(!r.body.toString().includes('[DONE]'), 'no [DONE] on a cut stream');
			assert.equal(sseText(r.body), STREAM_DELTAS.slice(0, 2).join(''), 'the deltas sent before the cut reached the client');
			const row = await s.waitForCapture(id);
			assert.equal(row.outcome, 'upstream_error');
			assert.equal(row.streamed, true);
			assert.equal(row.status, 200);
			assert.equal(row.reply_text, STREAM_DELTAS.slice(0, 2).join(''), 'partial reply stored');
			assert.ok(row.error, 'error text recorded');
		});
	}

	test('upstream silent before any byte past UPSTREAM_IDLE_TIMEOUT: 504, row timeout, upstream call ended', async () => {
		const r = await post('stall');
		const err = assertOpenAIError(r, 504, 'stall');
		assert.equal(err.code, 'upstream_timeout');
		assert.ok(r.ms < 4000, `504 after ${r.ms} ms with a 1 s idle timeout`);
		const row = await s.waitForCapture(captureIdOf(r, 'stall'));
		assert.equal(row.outcome, 'timeout');
		assert.equal(row.status, 504);
		const u = up.last('/v1/chat/completions');
		await waitFor(() => u.abortedAt, 3000, 'the proxy to close the stalled upstream connection');
	});

	test('upstream stream that stalls mid-way past UPSTREAM_IDLE_TIMEOUT: partial stream then cut; row timeout with the partial reply', async () => {
		const r = await post('stall-stream', { body: chat('stall-stream', true) });
		assert.equal(r.status, 200);
		assert.equal(r.complete, false, 'the stream must be cut, not ended cleanly');
		assert.equal(sseText(r.body), STREAM_DELTAS[0]);
		assert.ok(r.ms < 5000, `cut after ${r.ms} ms`);
		const row = await s.waitForCapture(captureIdOf(r, 'stall-stream'));
		assert.equal(row.outcome, 'timeout');
		assert.equal(row.streamed, true);
		assert.equal(row.reply_text, STREAM_DELTAS[0]);
	});

	test('upstream answers with bytes that are not HTTP: 502 in OpenAI shape, row upstream_error', async () => {
		const r = await post('garbage');
		const err = assertOpenAIError(r, 502, 'garbage');
		assert.equal(err.code, 'upstream_bad_response');
		const row = await s.waitForCapture(captureIdOf(r, 'garbage'));
		assert.equal(row.outcome, 'upstream_error');
		assert.equal(row.status, 502);
		assert.ok(row.error);
	});

	test('upstream sends one 200 KB header line: 502 in OpenAI shape, row upstream_error', async () => {
		const r = await post('huge-header-line');
		assertOpenAIError(r, 502, 'huge header line');
		const row = await s.waitForCapture(captureIdOf(r, 'huge header line'));
		assert.equal(row.outcome, 'upstream_error');
		assert.equal(row.status, 502);
	});

	test('upstream sends a 200 KB header block (200 headers of 1 KB): 502 in OpenAI shape, row says so', async () => {
		const r = await post('huge-headers');
		const problems = [];
		try { assertOpenAIError(r, 502, 'client response'); } catch (e) { problems.push(e.message); }
		const id = r.headers['x-capture-id'];
		if (!id) problems.push('client response has no X-Capture-Id');
		// the row, found by its id or else by its model
		let row = null;
		try {
			row = id ? await s.waitForCapture(id) : (await waitFor(async () => (await s.query(
				"SELECT * FROM captures WHERE model LIKE 'huge-headers%' ORDER BY started_at DESC LIMIT 1"))[0], 5000, 'the row'));
		} catch (e) { problems.push(e.message); }
		if (row && row.status !== r.status) problems.push(`row status ${row.status}, the client got ${r.status}`);
		if (row && row.outcome !== 'upstream_error') problems.push(`row outcome ${row.outcome}, expected upstream_error`);
		assert.deepEqual(problems, [], `client got ${r.status} ${r.headers['content-type']}: ${r.body.toString().slice(0, 120).replace(/\s+/g, ' ')}`);
	});

	test('upstream trickling a byte run every 300 ms (longer than the idle timeout in total) completes', async () => {
		const r = await post('trickle');
		assert.equal(r.status, 200, r.body.toString().slice(0, 300));
		assert.equal(r.complete, true);
		assert.equal(JSON.parse(r.body).choices[0].message.content, CHAT_REPLY);
		assert.ok(r.ms >= (TRICKLE_PIECES - 1) * 300 - 100, `took ${r.ms} ms: the trickle really trickled`);
		const row = await s.waitForCapture(captureIdOf(r, 'trickle'));
		assert.equal(row.outcome, 'completed');
		assert.equal(row.reply_text, CHAT_REPLY);
	});

	test('client hangs up mid-stream: upstream transfer cancelled within a second, row client_aborted with the partial reply', async (t) => {
		let tClose = 0, seen = '';
		const r = await post('long-stream', { body: chat('long-stream', true), onData: (c, req) => {
			seen += c.toString();
			if (!tClose && (seen.match(/^data: \{/gm) || []).length >= 3) {
				tClose = Date.now();
				req.destroy();
			}
		} });
		assert.ok(tClose, `client saw 3 events before leaving (status ${r.status}, ${r.error})`);
		const id = captureIdOf(r, 'client abort');
		const u = up.bySeq(r.headers['x-upstream-seq']);
		assert.ok(u, 'upstream saw the call');
		await waitFor(() => u.abortedAt, 5000, 'the upstream response to be closed by the proxy');
		const cancel = u.abortedAt - tClose;
		note(t, 'client_abort_cancel_ms', cancel, `${cancel} ms from the client's hang-up to the upstream connection closing`);
		assert.ok(cancel < 1000, `upstream transfer ended ${cancel} ms after the client left`);
		const row = await s.waitForCapture(id);
		assert.equal(row.outcome, 'client_aborted');
		assert.equal(row.streamed, true);
		const clientText = sseText(Buffer.from(seen));
		assert.ok(row.reply_text && row.reply_text.startsWith(clientText) && row.reply_text.length < FULL_LONG.length,
			`partial reply stored: ${JSON.stringify(row.reply_text)} (client got ${JSON.stringify(clientText)})`);
		assert.ok(row.duration_ms < LONG_STREAM_DELTAS * 100, `capture ended after ${row.duration_ms} ms`);
	});

	test('slow-reading client (6 MB read in small steps with a 2 s pause) still gets everything', async () => {
		const n = 6 * 1024 * 1024;
		let got = 0, paused = false;
		const r = await httpCall(`${s.proxyUrl}/v1/test/big?bytes=${n}`, { method: 'GET', headers: { Authorization: `Bearer ${KEYS.auth}` },
			timeout: 60000, onData: (c, req, res) => {
				got += c.length;
				res.pause();
				const wait = !paused && got > n / 3 ? (paused = true, 2000) : 3;
				setTimeout(() => res.resume(), wait);
			} });
		assert.equal(r.status, 200, r.error || '');
		assert.equal(r.complete, true, `response complete (${r.error})`);
		assert.equal(r.body.length, n);
		assert.equal(sha256(r.body), sha256(bigText(n)), 'byte for byte');
		assert.ok(r.ms >= 2000, `took ${r.ms} ms`);
		const row = await s.waitForCapture(captureIdOf(r, 'slow reader'));
		assert.equal(row.outcome, 'completed');
		assert.equal(row.response_body_size, n);
	});

	test('12 concurrent streams on 4 worker threads all complete (queued, not refused)', async (t) => {
		const t0 = Date.now();
		const rs = await Promise.all(Array.from({ length: 12 }, () => post('gpt-4o-mini', { body: chat('gpt-4o-mini', true) })));
		const total = Date.now() - t0;
		for (const r of rs) {
			assert.equal(r.status, 200, `${r.status} ${r.error} ${r.body.toString().slice(0, 200)}`);
			assert.equal(r.complete, true);
			assert.equal(sseText(r.body), STREAM_DELTAS.join(''));
		}
		note(t, 'queued_streams_12_on_4_threads_ms', total);
		const ids = rs.map((r) => captureIdOf(r, 'queued'));
		await waitFor(async () => (await s.query('SELECT count(*)::int AS n FROM captures WHERE id = ANY($1::uuid[]) AND outcome = $2',
			[ids, 'completed']))[0].n === 12, 10000, '12 completed rows');
	});

	test('CR or NUL inside an upstream header value never reaches the client as a header of its own', async () => {
		for (const model of ['bad-header-cr', 'bad-header-nul']) {
			const body = chat(model);
			const raw = await rawExchange(s.proxyPort, Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
				`Authorization: Bearer ${KEYS.auth}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
				`Connection: close\r\n\r\n${body}`));
			const r = splitResponse(raw);
			assert.ok([200, 502].includes(r.status), `${model}: ${r.statusLine}`);
			assert.ok(!/\r(?!\n)/.test(r.head), `${model}: a bare CR in the response head: ${JSON.stringify(r.head)}`);
			assert.ok(!r.head.includes('\0'), `${model}: a NUL in the response head`);
			assert.ok(!r.headerLines.some((l) => /^injected-header\s*:/i.test(l)), `${model}: injected header reached the client: ${JSON.stringify(r.headerLines)}`);
			const id = r.headerLines.find((l) => /^x-capture-id:/i.test(l))?.split(':')[1].trim();
			assert.match(id || '', UUID_RE, `${model}: X-Capture-Id`);
			if (r.status === 200) {
				assert.ok(r.headerLines.some((l) => /^x-after: ok$/i.test(l)), `${model}: the headers after the bad one still arrive`);
				assert.ok(r.body.toString('latin1').includes(CHAT_REPLY), `${model}: body intact`);
			}
			const row = await s.waitForCapture(id);
			assert.ok(!JSON.stringify(row.response_headers).includes('\\u0000'), `${model}: NUL stored in response_headers`);
		}
	});

	test('oversized or malformed requests get 4xx from the front, and the proxy keeps serving', async () => {
		const pidFile = path.join(s.varDir, 'run', 'proxy_fcgi.pid');
		const pid0 = readPid(pidFile);
		const huge = 'q'.repeat(100 * 1024);
		const cases = [
			['100 KB query string', `GET /v1/models?x=${huge} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`],
			['100 KB header value', `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${huge}\r\nConnection: close\r\n\r\n`],
			['1000 headers', `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: 1000 }, (_, i) => `X-H${i}: v\r\n`).join('')}Connection: close\r\n\r\n`],
			['bare CR in a header value', `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Evil: a\rInjected: b\r\nConnection: close\r\n\r\n`],
			['NUL in a header value', `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Evil: a\0b\r\nConnection: close\r\n\r\n`],
		];
		const before = up.requests.length;
		for (const [what, req] of cases) {
			const r = splitResponse(await rawExchange(s.proxyPort, Buffer.from(req, 'latin1')));
			assert.ok(r.status >= 400 && r.status < 500, `${what}: expected 4xx, got ${JSON.stringify(r.statusLine)}`);
		}
		assert.equal(up.requests.length, before, 'none of them went upstream');
		const ok = await post('gpt-4o-mini');
		assert.equal(ok.status, 200, 'the proxy still serves');
		assert.equal(readPid(pidFile), pid0, 'proxy_fcgi was not restarted');
		assert.ok(alive(pid0), 'proxy_fcgi still runs');
	});

	test('.. in a dashboard URL cannot escape www/: config.env and /etc/passwd stay unreadable', async () => {
		const secret = fs.readFileSync(path.join(ROOT, 'config.env'), 'latin1').slice(0, 40);
		const paths = ['/static/../config.env', '/static/%2e%2e/config.env', '/static/..%2fconfig.env',
			'/static/%2e%2e%2f%2e%2e%2fconfig.env', '/static/../../../../etc/passwd',
			'/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/static//../lighttpd.conf'];
		for (const p of paths) {
			const req = `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
			const raw = (await rawExchange(s.webPort, Buffer.from(req, 'latin1'))).toString('latin1');
			const r = splitResponse(Buffer.from(raw, 'latin1'));
			assert.notEqual(r.status, 200, `${p}: answered 200`);
			assert.ok(!raw.includes(secret) && !raw.includes('root:x:0:0') && !raw.includes('fastcgi.server'),
				`${p}: leaked a file outside www/`);
		}
		// and www/ itself is still served
		const ok = splitResponse(await rawExchange(s.webPort,
			Buffer.from('GET /static/favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 'latin1')));
		assert.equal(ok.status, 200);
	});

	test('no worker leaked: after more fault calls than threads, 4 slow streams still run side by side', async (t) => {
		// 12 fault calls at once on 4 threads: stalls (held until the idle timeout),
		// cut and reset streams, garbage, a header line too big, client hang-ups.
		const hangup = () => post('long-stream', { body: chat('long-stream', true),
			onData: (c, req) => req.destroy() });
		const faults = await Promise.all([
			...Array.from({ length: 4 }, () => post('stall')),
			post('stall-stream', { body: chat('stall-stream', true) }),
			post('stall-stream', { body: chat('stall-stream', true) }),
			post('reset-stream', { body: chat('reset-stream', true) }),
			post('cut-stream', { body: chat('cut-stream', true) }),
			post('garbage'), post('huge-header-line'), hangup(), hangup(),
		]);
		assert.equal(faults.length, 12);
		for (const r of faults.slice(0, 4)) assert.equal(r.status, 504, `stall: ${r.status} ${r.error}`);
		// the fake upstream has no request left open
		await waitFor(() => up.requests.every((q) => q.abortedAt || q.path !== '/v1/chat/completions' ||
			!['stall', 'stall-stream', 'long-stream'].includes(q.json?.model)), 5000, 'every stalled upstream call to be closed');

		const one = () => post('gpt-4o-mini', { body: chat('gpt-4o-mini', true) });
		const single = await one();
		assert.equal(single.complete, true);
		const t0 = Date.now();
		const rs = await Promise.all([one(), one(), one(), one()]);
		const total = Date.now() - t0;
		for (const r of rs) {
			assert.equal(r.status, 200);
			assert.equal(r.complete, true);
			assert.equal(sseText(r.body), STREAM_DELTAS.join(''));
		}
		const firsts = rs.map((r) => r.firstMs);
		note(t, 'pool_after_faults', { single_stream_ms: single.ms, four_concurrent_ms: total, first_byte_ms: firsts });
		assert.ok(Math.max(...firsts) - Math.min(...firsts) < 450,
			`the 4 streams started at ${firsts.join(', ')} ms: one waited for a free thread (a worker leaked?)`);
		assert.ok(total < 2 * Math.max(single.ms, STREAM_DELTAS.length * STREAM_DELAY_MS),
			`4 concurrent streams took ${total} ms, one alone ${single.ms} ms`);
	});

	test('stops cleanly on SIGTERM without sanitizer reports', async () => {
		await s.stop();
	});
});

// ---------------------------------------------------------------------------

/* A PostgreSQL cluster for this file alone (deploy/pg.sh), so tests can stop and start it. */
async function ownCluster() {
	const port = await freePort();
	let dir = path.join(OUT, `reliability-pg-${crypto.randomBytes(4).toString('hex')}`);
	const pgsh = path.join(ROOT, 'deploy', 'pg.sh');
	const env = { ...process.env, PG_PORT: String(port) };
	let url;
	try {
		url = (await execFileP(pgsh, ['start', dir], { env })).stdout.trim();
	} catch {
		// the postgres user must reach the directory: fall back to /tmp, as tests/run.sh does
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-rel-pg-'));
		fs.chmodSync(dir, 0o755);
		url = (await execFileP(pgsh, ['start', dir], { env })).stdout.trim();
	}
	const pool = new pg.Pool({ connectionString: url, max: 3 });
	pool.on('error', () => {});
	const c = {
		dir, port, url, pool,
		query: async (sql, params) => (await pool.query(sql, params)).rows,
		async stop() { await execFileP(pgsh, ['stop', dir], { env }); },
		async start() { await execFileP(pgsh, ['start', dir], { env }); },
		async destroy() {
			await pool.end().catch(() => {});
			await c.stop().catch(() => {});
			if (!fs.existsSync(path.join(dir, 'data', 'postmaster.pid'))) fs.rmSync(path.join(dir, 'data'), { recursive: true, force: true });
		},
	};
	return c;
}

describe('durable: database outage, spool across restarts, kill -9, SIGTERM, secrets (own PostgreSQL)', () => {
	let up, db, s, dbUrl, varDir, spoolDir;
	const logs = [];          // run.log of every stack in this group
	const answered = new Set(); // every X-Capture-Id a client got with a complete 200
	let copiedSpool = null;    // a spool file saved before its replay (for replaying twice)

	// databaseUrl: startStack uses (and leaves alone) this database; DATABASE_URL in env
	// says the same for a startStack without that option.
	const startDurable = async (name) => {
		const st = await startStack({ name, databaseUrl: dbUrl, env: { OPENAI_API_BASE: up.url, DATABASE_URL: dbUrl,
			CAPTURE_VAR: varDir, SPOOL_DIR: spoolDir } });
		logs.push(st.logFile);
		return st;
	};
	const rowCount = async (ids) => (await db.query('SELECT count(*)::int AS n FROM captures WHERE id = ANY($1::uuid[])', [ids]))[0].n;
	const missingIds = async (ids) => {
		const have = new Set((await db.query('SELECT id::text FROM captures WHERE id = ANY($1::uuid[])', [ids])).map((r) => r.id));
		return ids.filter((id) => !have.has(id));
	};
	const record = (calls) => { for (const c of calls) if (c.ok) answered.add(c.id); };

	before(async () => {
		up = await upstreamLib.start();
		db = await ownCluster();
		// a role with a password: trust auth on the socket accepts any, run.sh and the
		// programs must still never print it
		await db.query(`CREATE ROLE rel_user LOGIN SUPERUSER PASSWORD '${DB_PASSWORD}'`);
		const u = new URL(db.url);
		// (the host= parameter, a socket directory, overrides "localhost")
		dbUrl = `postgresql://rel_user:${DB_PASSWORD}@localhost/capture?host=${u.searchParams.get('host')}&port=${u.searchParams.get('port')}`;
		const base = path.join(OUT, `reliability-durable-${crypto.randomBytes(4).toString('hex')}`);
		varDir = path.join(base, 'var');
		spoolDir = path.join(base, 'spool');
		fs.mkdirSync(varDir, { recursive: true });
		s = await startDurable('durable1');
	});
	after(async () => {
		try { await s?.stop(); } finally {
			await up?.stop();
			await db?.destroy();
		}
	});

	test('FastCGI socket directory and spool directory are 0700', async () => {
		await waitFor(() => fs.existsSync(path.join(varDir, 'run', 'proxy_fcgi.pid')), 10000, 'proxy_fcgi.pid');
		for (const d of [path.join(varDir, 'run'), spoolDir]) {
			const st = fs.statSync(d);
			assert.ok(st.isDirectory(), `${d} is a directory`);
			assert.equal((st.mode & 0o777).toString(8), '700', `${d} mode`);
		}
		const socks = fs.readdirSync(path.join(varDir, 'run')).filter((n) => /\.sock/.test(n));
		assert.ok(socks.some((n) => n.startsWith('proxy_fcgi.sock')), `FastCGI sockets live in run/: ${socks}`);
	});

	test(`database down for ${OUTAGE_MS / 1000} s under steady traffic: every call succeeds, every capture arrives`, async (t) => {
		const traffic = startTraffic(s.proxyUrl, { clients: 5 });
		await sleep(1500);
		const tDown = Date.now();
		await db.stop();
		const tStopped = Date.now();
		let maxSpoolFiles = 0;
		while (Date.now() - tDown < OUTAGE_MS) {
			maxSpoolFiles = Math.max(maxSpoolFiles, readSpool(spoolDir).files.length);
			await sleep(250);
		}
		await db.start();
		const tUp = Date.now();
		await sleep(1500);
		const calls = await traffic.stop();
		const failed = calls.filter((c) => !c.ok);
		const during = calls.filter((c) => c.t0 >= tStopped && c.t1 <= tUp);
		record(calls);
		assert.equal(failed.length, 0, `${failed.length} of ${calls.length} calls failed: ${describeCalls(failed)}`);
		assert.ok(during.length >= 20, `only ${during.length} calls ran while the database was down`);
		assert.ok(maxSpoolFiles > 0, 'captures went to the spool while the database was down');
		const plainDuring = during.filter((c) => c.kind !== 'stream').map((c) => c.ms).sort((a, b) => a - b);
		const ids = calls.map((c) => c.id);
		assert.equal(new Set(ids).size, ids.length, 'capture ids are unique');
		let lastMissing = ids;
		try {
			await waitFor(async () => (lastMissing = await missingIds(ids).catch(() => lastMissing)).length === 0, 40000, 'every capture row');
		} catch {
			assert.fail(`${lastMissing.length} of ${ids.length} answered captures never reached the table (e.g. ${lastMissing.slice(0, 3)}); spool holds ${readSpool(spoolDir).files.length} files`);
		}
		const replayMs = Date.now() - tUp;
		await waitFor(() => readSpool(spoolDir).files.length === 0, 10000, 'the spool to empty');
		const rows = await db.query('SELECT outcome, count(*)::int AS n FROM captures WHERE id = ANY($1::uuid[]) GROUP BY 1', [ids]);
		assert.deepEqual(rows, [{ outcome: 'completed', n: ids.length }], 'every call recorded as completed');
		note(t, 'db_outage', { outage_ms: tUp - tDown, calls: calls.length, calls_during_outage: during.length,
			failed: failed.length, max_spool_files: maxSpoolFiles, replay_done_after_db_up_ms: replayMs,
			plain_call_ms_during_outage: { p50: plainDuring[Math.floor(plainDuring.length / 2)], max: plainDuring[plainDuring.length - 1] } });
		assert.ok(plainDuring[plainDuring.length - 1] < 5000, `a plain call took ${plainDuring[plainDuring.length - 1]} ms while the database was down`);
	});

	test('the spool survives a restart of the service and is replayed by the next one', async (t) => {
		await db.stop();
		const traffic = startTraffic(s.proxyUrl, { clients: 4, gapMs: 0 });
		await sleep(1200);
		const calls = await traffic.stop();
		const failed = calls.filter((c) => !c.ok);
		assert.equal(failed.length, 0, `calls failed while the database was down: ${describeCalls(failed)}`);
		record(calls);
		const ids = calls.map((c) => c.id);
		// SIGTERM with the database still down: whatever is queued goes to the spool too
		await s.stop();
		const spool = readSpool(spoolDir);
		assert.ok(spool.files.length > 0, 'spool files exist after the stop');
		assert.ok(spool.files.every((f) => f.endsWith('.cap')), `only complete spool files: ${spool.files.map((f) => path.basename(f))}`);
		const inSpool = new Set(spool.ids);
		const notSpooled = ids.filter((id) => !inSpool.has(id));
		assert.equal(notSpooled.length, 0, `${notSpooled.length} of ${ids.length} captures are neither in the table (down) nor in the spool`);
		for (const f of spool.files) assert.equal((fs.statSync(f).mode & 0o777).toString(8), '600', `${f} mode`);
		// keep one file to drop back in after its replay
		copiedSpool = path.join(path.dirname(spoolDir), 'copy-of-' + path.basename(spool.files[0]));
		fs.copyFileSync(spool.files[0], copiedSpool);

		await db.start();
		const t0 = Date.now();
		s = await startDurable('durable2');
		await waitFor(async () => (await rowCount(ids).catch(() => 0)) === ids.length, 30000, `${ids.length} spooled captures in the table`);
		note(t, 'spool_restart', { captures_spooled: ids.length, spool_files: spool.files.length, replayed_after_start_ms: Date.now() - t0 });
		await waitFor(() => readSpool(spoolDir).files.length === 0, 10000, 'the spool to empty');
	});

	test('kill -9 of proxy_fcgi under load: lighttpd starts a new one, later calls succeed, answered captures survive in the journal', async (t) => {
		const pidFile = path.join(varDir, 'run', 'proxy_fcgi.pid');
		const old = await waitFor(() => readPid(pidFile), 10000, 'proxy_fcgi.pid');
		const traffic = startTraffic(s.proxyUrl, { clients: 2, gapMs: 5, blasters: 3 });
		await sleep(1500);
		const tKill = Date.now();
		process.kill(old, 'SIGKILL');
		const fresh = await waitFor(() => { const p = readPid(pidFile); return p && p !== old && alive(p) ? p : 0; }, 15000,
			'lighttpd to start a new proxy_fcgi');
		const restartMs = Date.now() - tKill;
		await sleep(1000);
		const calls = await traffic.stop();
		assert.ok(!alive(old), 'the killed process is gone');
		const after = [];
		for (let i = 0; i < 10; i++) {
			const r = await httpCall(`${s.proxyUrl}/v1/chat/completions`, { body: chat('gpt-4o-mini'), headers: jsonHeaders() });
			after.push(r);
		}
		assert.deepEqual(after.map((r) => r.status), Array(10).fill(200), 'calls after the restart succeed');
		const failedAtKill = calls.filter((c) => !c.ok);
		assert.ok(failedAtKill.every((c) => c.t0 >= tKill - 1000), `calls failed long before the kill: ${describeCalls(failedAtKill.filter((c) => c.t0 < tKill - 1000))}`);
		const answeredNow = calls.filter((c) => c.ok).map((c) => c.id);
		const laterIds = after.map((r) => r.headers['x-capture-id']);
		await waitFor(async () => (await rowCount(laterIds)) === laterIds.length, 10000, 'the later calls\' rows');
		// the new process moves the dead one's journal to the spool and replays it
		let lost = answeredNow;
		await waitFor(async () => (lost = await missingIds(answeredNow)).length === 0, 15000,
			'every answered capture, from the journal of the killed process').catch(() => {});
		const lostIds = new Set(lost);
		const lostTimes = calls.filter((c) => lostIds.has(c.id)).map((c) => c.t1 - tKill);
		note(t, 'kill9', { answered: answeredNow.length, lost_captures: lost.length, lost_answered_ms_relative_to_kill:
			lostTimes.length ? [Math.min(...lostTimes), Math.max(...lostTimes)] : [], calls_failed_around_kill: failedAtKill.length,
			failed_by_status: failedAtKill.reduce((m, c) => ({ ...m, [c.status === 200 ? '200 cut' : c.status || c.error]:
				(m[c.status === 200 ? '200 cut' : c.status || c.error] || 0) + 1 }), {}), new_process_after_ms: restartMs, new_pid: fresh },
		`${lost.length} of ${answeredNow.length} answered captures lost; ${failedAtKill.length} calls failed around the kill; new proxy_fcgi after ${restartMs} ms`);
		for (const c of calls) if (c.ok && !lostIds.has(c.id)) answered.add(c.id);
		for (const id of laterIds) answered.add(id);
		// The one window left: a call whose last bytes were flushed to the
		// client in the microseconds before its worker wrote the journal.
		// Before the journal, this test lost up to 592 of ~3,000.
		assert.ok(lost.length <= 3, `${lost.length} of ${answeredNow.length} answered captures lost to kill -9: ${lost.slice(0, 5)}`);
	});

	test('replay is idempotent: a spool file replayed a second time adds no rows', async () => {
		assert.ok(copiedSpool, 'a spool file was saved by the spool test');
		await s.stop();
		const [{ n: before, d: distinctBefore }] = await db.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM captures');
		assert.equal(before, distinctBefore);
		fs.copyFileSync(copiedSpool, path.join(spoolDir, path.basename(copiedSpool).replace(/^copy-of-/, '')));
		assert.equal(readSpool(spoolDir).files.length, 1);
		s = await startDurable('durable3');
		await waitFor(() => readSpool(spoolDir).files.length === 0, 20000, 'the old spool file to be replayed');
		await sleep(300);
		const [{ n: afterN, d: distinctAfter }] = await db.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM captures');
		assert.equal(afterN, before, 'row count unchanged after replaying the same file again');
		assert.equal(distinctAfter, afterN, 'no duplicate ids');
		assert.ok(!fs.readdirSync(spoolDir).some((n) => n.endsWith('.bad')), 'the file was not set aside as damaged');
	});

	test('SIGTERM to run.sh during traffic: every answered capture is stored, no process is left', async (t) => {
		const runDir = path.join(varDir, 'run');
		await waitFor(() => readPid(path.join(runDir, 'proxy_fcgi.pid')), 10000, 'proxy_fcgi.pid');
		const pids = {};
		for (const f of fs.readdirSync(runDir).filter((n) => n.endsWith('.pid'))) pids[f] = readPid(path.join(runDir, f));
		pids['run.sh'] = s.pid;
		assert.ok(pids['lighttpd.pid'] && pids['proxy_fcgi.pid'] && pids['dashboard_fcgi.pid'], `pid files: ${JSON.stringify(pids)}`);
		const traffic = startTraffic(s.proxyUrl, { clients: 4, gapMs: 10, blasters: 2 });
		await sleep(1500);
		const tTerm = Date.now();
		await s.stop();
		const stopMs = Date.now() - tTerm;
		const calls = await traffic.stop();
		const ok = calls.filter((c) => c.ok);
		const cut = calls.filter((c) => !c.ok && c.t0 < tTerm);
		record(calls);
		assert.ok(ok.length > 10, `${ok.length} calls answered before the stop`);
		const ids = ok.map((c) => c.id);
		const missing = await missingIds(ids);
		const spooled = new Set(readSpool(spoolDir).ids);
		const lost = missing.filter((id) => !spooled.has(id));
		note(t, 'sigterm', { answered: ok.length, in_table: ids.length - missing.length, in_spool: missing.length - lost.length,
			lost: lost.length, started_before_term_but_not_answered: cut.length, run_sh_exit_ms: stopMs });
		assert.equal(lost.length, 0, `${lost.length} answered captures are neither in the table nor in the spool`);
		const left = Object.entries(pids).filter(([, pid]) => alive(pid));
		assert.deepEqual(left, [], `processes still running after run.sh exited: ${JSON.stringify(left)}`);
		const pidFilesLeft = fs.readdirSync(runDir).filter((n) => n.endsWith('.pid') && alive(readPid(path.join(runDir, n))));
		assert.deepEqual(pidFilesLeft, [], 'no pid file names a running process');
		if (missing.length) {
			// spooled at shutdown: a new stack replays them
			s = await startDurable('durable4');
			await waitFor(async () => (await rowCount(missing)) === missing.length, 30000, 'the spooled shutdown captures');
			await s.stop();
		}
	});

	test('every answered capture of this group is a row exactly once', async (t) => {
		const ids = [...answered];
		const missing = await missingIds(ids);
		assert.equal(missing.length, 0, `${missing.length} of ${ids.length} answered captures missing`);
		const [{ n, d }] = await db.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM captures');
		assert.equal(n, d, 'no capture stored twice');
		note(t, 'durable_group_answered_and_stored', ids.length);
	});

	test('secrets: no full key in pg_dump, spool files or service logs; OpenAI-Organization/Project visible; no DATABASE_URL password printed', async () => {
		const { stdout: dump } = await execFileP('pg_dump', ['-d', db.url, '--data-only'], { maxBuffer: 512 * 1024 * 1024 });
		assert.ok(dump.length > 1000 && dump.includes(ORG), 'the dump holds the captures');
		for (const secret of SECRETS) {
			assert.ok(!dump.includes(secret), `key part ${secret} in pg_dump of the database`);
			assert.ok(!dump.includes(Buffer.from(secret).toString('hex')), `key part ${secret} hex-encoded (bytea) in pg_dump`);
		}
		// spool files: any left, plus the copy saved from the outage
		const spoolBytes = [...readSpool(spoolDir).bytes, ...(copiedSpool ? [fs.readFileSync(copiedSpool)] : [])];
		assert.ok(spoolBytes.length > 0, 'a spool file to check');
		for (const b of spoolBytes) for (const secret of SECRETS) assert.equal(b.indexOf(secret), -1, `key part ${secret} in a spool file`);
		assert.ok(logs.length >= 3);
		for (const f of logs) {
			const log = fs.readFileSync(f, 'utf8');
			assert.match(log, /DEBUG/, `${f} is a DEBUG log`);
			for (const secret of SECRETS) assert.ok(!log.includes(secret), `key part ${secret} in ${f}`);
			assert.ok(!log.includes(DB_PASSWORD), `the DATABASE_URL password is printed in ${f}`);
		}
		const rows = await db.query(`SELECT request_headers, query, key_hint FROM captures
			WHERE request_headers::text LIKE '%' || $1 || '%' LIMIT 50`, [ORG]);
		assert.ok(rows.length > 0, 'captures carry OpenAI-Organization');
		for (const r of rows) {
			const h = Object.fromEntries(r.request_headers.map(([k, v]) => [k.toLowerCase(), v]));
			assert.equal(h['openai-organization'], ORG);
			assert.equal(h['openai-project'], PROJECT);
		}
		const hints = (await db.query('SELECT DISTINCT key_hint FROM captures WHERE key_hint IS NOT NULL')).map((r) => r.key_hint);
		assert.ok(hints.length >= 3, `key hints stored: ${hints}`);
		const q = await db.query(`SELECT query FROM captures WHERE path = '/v1/models' AND query IS NOT NULL LIMIT 1`);
		assert.ok(q.length && q[0].query.startsWith('api-key=sk-') && q[0].query.includes('…'), `query key masked: ${q[0]?.query}`);
	});
});

// ---------------------------------------------------------------------------

describe('retention under load (MAX_REQUESTS_HISTORY=50)', () => {
	let up, s;
	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'retention', env: { OPENAI_API_BASE: up.url, MAX_REQUESTS_HISTORY: '50', LOG_LEVEL: 'INFO' } });
	});
	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	test('400 calls over ~12 s: none fails or waits on the pruning, and the table converges to the newest 50', async (t) => {
		const body = chat('gpt-4o-mini');
		const headers = jsonHeaders();
		const lat = [], bad = [];
		const one = async () => {
			const r = await httpCall(`${s.proxyUrl}/v1/chat/completions`, { body, headers });
			lat.push(r.ms);
			if (r.status !== 200 || !r.complete || !UUID_RE.test(r.headers['x-capture-id'] || '')) bad.push(`${r.status} ${r.error}`);
			return r.headers['x-capture-id'];
		};
		const prunes = () => (s.log().match(/pruned \d+ captures/g) || []).length;
		const prunesBefore = prunes();
		// 350 calls from 8 clients, paced (~12 s) to span at least one 10 s pruning round...
		const t0 = Date.now();
		let left = 350;
		await Promise.all(Array.from({ length: 8 }, async () => {
			while (left-- > 0) { await one(); await sleep(270); }
		}));
		// ...then the last 50, one after another: unambiguously the newest
		const newest = [];
		for (let i = 0; i < 50; i++) newest.push(await one());
		const loadMs = Date.now() - t0;
		const prunesDuring = prunes() - prunesBefore;
		assert.deepEqual(bad, [], 'every call answered');
		lat.sort((a, b) => a - b);
		const p99 = lat[Math.floor(lat.length * 0.99)];
		const tLoad = Date.now();
		let count = -1;
		await waitFor(async () => {
			count = (await s.query('SELECT count(*)::int AS n FROM captures'))[0].n;
			const kept = await s.query('SELECT count(*)::int AS n FROM captures WHERE id = ANY($1::uuid[])', [newest]);
			return count <= 50 && kept[0].n === 50;
		}, 25000, 'the table to hold the newest 50 only').catch((e) => {
			assert.fail(`${e.message}: ${count} rows`);
		});
		const convergeMs = Date.now() - tLoad;
		const ids = (await s.query('SELECT id::text FROM captures')).map((r) => r.id).sort();
		assert.deepEqual(ids, [...newest].sort(), 'the rows kept are the newest 50 calls');
		note(t, 'retention', { calls: 400, load_ms: loadMs, prune_rounds_during_load: prunesDuring,
			latency_ms: { p50: lat[200], p99, max: lat[lat.length - 1] }, converged_to_50_after_load_ms: convergeMs });
		assert.ok(prunesDuring >= 1, `pruning ran while the calls came in (${prunesDuring} rounds in ${loadMs} ms)`);
		assert.ok(p99 < 2000, `p99 latency ${p99} ms under pruning`);
		assert.ok(!/insert capture|refused by the database|lost/.test(s.log()), 'no failed insert in the log');
	});

	test('stops cleanly on SIGTERM without sanitizer reports', async () => {
		await s.stop();
	});
});

describe('a full capture queue (CAPTURE_QUEUE_MAX=8)', () => {
	let up, s;
	before(async () => {
		up = await upstreamLib.start();
		s = await startStack({ name: 'queuefull', env: { OPENAI_API_BASE: up.url, CAPTURE_QUEUE_MAX: '8', LOG_LEVEL: 'INFO' } });
	});
	after(async () => {
		try { await s?.stop(); } finally { await up?.stop(); }
	});

	test('80 calls from 16 clients while the table is locked: all answered, none dropped, all stored once it is free', async (t) => {
		const holder = new pg.Client({ connectionString: s.databaseUrl });
		await holder.connect();
		const body = chat('gpt-4o-mini'), headers = jsonHeaders();
		const ids = [], bad = [];
		let left = 80;
		try {
			await holder.query('BEGIN');
			await holder.query('LOCK TABLE captures IN ACCESS EXCLUSIVE MODE');
			await Promise.all(Array.from({ length: 16 }, async () => {
				while (left-- > 0) {
					const r = await httpCall(`${s.proxyUrl}/v1/chat/completions`, { body, headers });
					if (r.status !== 200 || !r.complete || !UUID_RE.test(r.headers['x-capture-id'] || '')) bad.push(`${r.status} ${r.error}`);
					else ids.push(r.headers['x-capture-id']);
				}
			}));
			await sleep(1500);
		} finally {
			await holder.query('COMMIT').catch(() => {});
			await holder.end();
		}
		assert.deepEqual(bad, [], 'every call answered');
		const t0 = Date.now();
		let stored = 0;
		await waitFor(async () => (stored = (await s.query('SELECT count(*)::int AS n FROM captures WHERE id = ANY($1::uuid[])', [ids]))[0].n) === ids.length,
			30000, 'every capture in the table').catch(() => assert.fail(`${stored} of ${ids.length} captures stored; log:\n${s.log().split('\n').filter((l) => /ERROR|WARN/.test(l)).slice(-5).join('\n')}`));
		note(t, 'queue_full', { calls: ids.length, stored_after_unlock_ms: Date.now() - t0 });
		assert.ok(!/dropped/.test(s.log()), 'no capture dropped from the queue');
	});

	test('stops cleanly on SIGTERM without sanitizer reports', async () => {
		await s.stop();
	});
});
