// tests/lib/upstream.mjs - a fake OpenAI API for the integration tests.
//
// A node http server on 127.0.0.1 (random free port) that answers the API
// routes the tests use with OpenAI-shaped bodies, and records every request it
// receives (method, url, headers in arrival order, raw body bytes) so tests can
// check what the proxy sent upstream, byte for byte.
//
// Behaviours are chosen by the request's "model" (JSON bodies) or by headers:
//   model "fail-401" | "fail-429" | "fail-500"  -> that OpenAI error (429: retry-after: 7)
//   model "slow-<ms>" or header x-fake-delay-ms  -> waits <ms> before answering
//   model "gzip-<anything>"                       -> the JSON answer gzip-encoded
//   model "cut-stream" with stream: true          -> the stream stops mid-way (socket destroyed)
// Faults for tests/integration/reliability.test.mjs (any route, by model; see faults()):
//   model "stall"                                 -> never answers (until the connection closes, at most 60 s)
//   model "stall-stream"                          -> SSE headers and one delta, then silence (same bound)
//   model "reset-stream"                          -> SSE, two deltas, then a TCP reset (RST)
//   model "long-stream"                           -> SSE, LONG_STREAM_DELTAS deltas 100 ms apart (~4 s)
//   model "trickle"                               -> a JSON chat answer, TRICKLE_PIECES pieces 300 ms apart
//   model "garbage"                               -> bytes that are not HTTP, then the connection closes
//   model "huge-headers"                          -> 200 headers of 1000 bytes (a 200 KB header block)
//   model "huge-header-line"                      -> one 200 KB header line
//   model "bad-header-cr" | "bad-header-nul"      -> 200 JSON whose X-Evil header value holds a bare CR
//                                                    (or a NUL) followed by text that looks like a header
// Routes:
//   POST /v1/chat/completions   JSON, or SSE when stream: true (5 deltas 150 ms apart,
//                               usage chunk when stream_options.include_usage)
//   POST /v1/completions        JSON or SSE
//   POST /v1/embeddings         floats, or base64 when encoding_format is "base64"
//   GET  /v1/models             the model list
//   POST /v1/responses          JSON, or SSE with response.output_text.delta / response.completed
//   POST /v1/audio/transcriptions  multipart: answers with the size and sha256 of the file part
//   POST /v1/audio/speech       64 KiB of deterministic binary bytes (audio/mpeg), see speechBytes()
//   GET  /v1/test/gzip          gzip-encoded JSON (Content-Encoding: gzip) whatever was asked
//   GET  /v1/test/big?bytes=N   N bytes of text (bigText(N)), for capture caps
//   ANY  /v1/test/hop           response with Connection: keep-alive, X-Upstream-Hop (+ that header)
//   ANY  /v1/test/status/<code> that status with an echo body
//   ANY  other path             200 echo: {"object":"echo", method, url, headers, body_size, body_sha256}
// Every response carries x-request-id: req_fake_<seq> and x-upstream-seq: <seq>.

import http from 'node:http';
import crypto from 'node:crypto';
import zlib from 'node:zlib';

export const STREAM_DELTAS = ['Hello', ' from', ' the', ' fake', ' upstream'];
export const STREAM_DELAY_MS = 150;
export const CHAT_REPLY = 'Fake reply: the quick brown fox.';
export const RESPONSES_DELTAS = ['Responses', ' API', ' says', ' hi'];
export const SPEECH_SIZE = 64 * 1024;
export const LONG_STREAM_DELTAS = 40;
export const TRICKLE_PIECES = 10;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* The bytes /v1/audio/speech returns: a fixed pseudo-random sequence that
 * holds NULs, high bytes and invalid UTF-8. */
export function speechBytes(size = SPEECH_SIZE) {
	const b = Buffer.alloc(size);
	let x = 0x12345678;
	for (let i = 0; i < size; i++) {
		x = (Math.imul(x, 1103515245) + 12345) >>> 0;
		b[i] = (x >>> 16) & 0xff;
	}
	b[0] = 0xff; b[1] = 0xfb; b[2] = 0x00; b[3] = 0x00; // an MP3-ish frame start with NULs
	return b;
}

/* The model name the fake answers with: the requested one plus a snapshot date,
 * so a test can tell "named by the response" from "named by the request". */
export function responseModel(model) {
	return `${model}-2024-07-18`;
}

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/* Splits a multipart/form-data body into parts {name, filename, contentType, data}. */
export function parseMultipart(body, contentType) {
	const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || '');
	if (!m) return null;
	const boundary = Buffer.from('--' + (m[1] || m[2]).trim());
	const parts = [];
	let pos = body.indexOf(boundary);
	while (pos !== -1) {
		let start = pos + boundary.length;
		if (body.slice(start, start + 2).toString() === '--') break;
		start += 2; // CRLF after the boundary
		const next = body.indexOf(boundary, start);
		if (next === -1) break;
		const part = body.slice(start, next - 2); // CRLF before the next boundary
		const sep = part.indexOf('\r\n\r\n');
		const head = part.slice(0, sep).toString('latin1');
		const data = part.slice(sep + 4);
		const disp = /content-disposition:([^\r\n]*)/i.exec(head)?.[1] || '';
		parts.push({
			name: /\bname="([^"]*)"/i.exec(disp)?.[1],
			filename: /filename="([^"]*)"/i.exec(disp)?.[1],
			contentType: /content-type:\s*([^\r\n]*)/i.exec(head)?.[1],
			data,
		});
		pos = next;
	}
	return parts;
}

function errorBody(message, type, code, param = null) {
	return { error: { message, type, param, code } };
}

const usageChat = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19,
	prompt_tokens_details: { cached_tokens: 3, audio_tokens: 0 },
	completion_tokens_details: { reasoning_tokens: 2, audio_tokens: 0,
		accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };
const usageStream = { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 };
const usageResponses = { input_tokens: 8, input_tokens_details: { cached_tokens: 0 },
	output_tokens: 4, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 12 };

class FakeUpstream {
	constructor() {
		this.requests = [];
		this.seq = 0;
		this.sockets = new Set();
		this.server = http.createServer((req, res) => this.onRequest(req, res));
		this.server.keepAliveTimeout = 5000;
		this.server.on('connection', (s) => {
			this.sockets.add(s);
			s.on('close', () => this.sockets.delete(s));
		});
	}

	async start() {
		await new Promise((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(0, '127.0.0.1', resolve);
		});
		this.port = this.server.address().port;
		this.url = `http://127.0.0.1:${this.port}`;
		return this;
	}

	async stop() {
		for (const s of this.sockets) s.destroy();
		await new Promise((r) => this.server.close(() => r()));
	}

	/* The last recorded request (optionally the last one whose path is p). */
	last(p) {
		for (let i = this.requests.length - 1; i >= 0; i--)
			if (!p || this.requests[i].path === p) return this.requests[i];
		return undefined;
	}

	bySeq(seq) {
		return this.requests.find((r) => r.seq === Number(seq));
	}

	clear() {
		this.requests.length = 0;
	}

	onRequest(req, res) {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const body = Buffer.concat(chunks);
			const u = new URL(req.url, 'http://upstream');
			const rec = {
				seq: ++this.seq,
				method: req.method,
				url: req.url,
				path: u.pathname,
				query: u.search ? u.search.slice(1) : '',
				httpVersion: req.httpVersion,
				headers: req.headers,
				rawHeaders: pairs(req.rawHeaders),
				body,
				receivedAt: Date.now(),
			};
			this.requests.push(rec);
			// abortedAt: when the proxy closed the connection before the response was done.
			res.on('close', () => { if (!res.writableFinished) rec.abortedAt = Date.now(); });
			res.setHeader('x-request-id', `req_fake_${rec.seq}`);
			res.setHeader('x-upstream-seq', String(rec.seq));
			res.setHeader('openai-processing-ms', '42');
			res.setHeader('openai-version', '2020-10-01');
			this.route(rec, req, res).catch((e) => {
				if (!res.headersSent) json(res, 500, errorBody(`fake upstream crashed: ${e.message}`, 'server_error', null));
				else res.destroy();
			});
		});
	}

	async route(rec, req, res) {
		let j = null;
		if ((req.headers['content-type'] || '').startsWith('application/json') && rec.body.length) {
			try { j = JSON.parse(rec.body.toString('utf8')); } catch { j = null; }
		}
		rec.json = j;
		const model = j && typeof j.model === 'string' ? j.model : '';
		const delay = Number(req.headers['x-fake-delay-ms'] || (/^slow-(\d+)$/.exec(model)?.[1]) || 0);
		if (delay) await sleep(delay);
		if (res.destroyed) return;
		if (FAULTS.has(model)) return this.faults(model, j, req, res);

		if (model === 'fail-401')
			return json(res, 401, errorBody('Incorrect API key provided: sk-proj-********WXYZ. You can find your API key at https://platform.openai.com/account/api-keys.',
				'invalid_request_error', 'invalid_api_key'));
		if (model === 'fail-429') {
			res.setHeader('retry-after', '7');
			res.setHeader('x-ratelimit-limit-requests', '500');
			res.setHeader('x-ratelimit-remaining-requests', '0');
			res.setHeader('x-ratelimit-reset-requests', '7s');
			return json(res, 429, errorBody('Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 7s.',
				'requests', 'rate_limit_exceeded'));
		}
		if (model === 'fail-500')
			return json(res, 500, errorBody('The server had an error while processing your request. Sorry about that!',
				'server_error', null));

		const p = rec.path;
		const m = req.method;
		const gz = model.startsWith('gzip-');
		if (m === 'POST' && p === '/v1/chat/completions') return this.chat(j, res, gz);
		if (m === 'POST' && p === '/v1/completions') return this.completions(j, res);
		if (m === 'POST' && p === '/v1/embeddings') return this.embeddings(j, res);
		if (m === 'GET' && p === '/v1/models') return json(res, 200, { object: 'list', data: [
			{ id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
			{ id: 'text-embedding-3-small', object: 'model', created: 1705948997, owned_by: 'system' }] });
		if (m === 'POST' && p === '/v1/responses') return this.responses(j, res);
		if (m === 'POST' && p === '/v1/audio/transcriptions') return this.transcription(rec, req, res);
		if (m === 'POST' && p === '/v1/audio/speech') {
			const b = speechBytes();
			res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': b.length });
			return res.end(b);
		}
		if (p === '/v1/test/gzip') {
			return gzipJson(res, 200, { object: 'gzip.test', message: 'décodé ✓ from gzip', pad: 'abc'.repeat(1000) });
		}
		if (p === '/v1/test/big') {
			const n = Number(new URLSearchParams(rec.query).get('bytes') || 1024);
			res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': n });
			return res.end(bigText(n));
		}
		if (p === '/v1/test/hop') {
			// X-Upstream-Hop is named in Connection: hop-by-hop, the proxy must drop it.
			const b = Buffer.from(JSON.stringify(echo(rec)));
			res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length,
				connection: 'keep-alive, X-Upstream-Hop', 'x-upstream-hop': 'drop me', 'x-upstream-e2e': 'keep me' });
			return res.end(b);
		}
		const st = /^\/v1\/test\/status\/(\d{3})$/.exec(p);
		if (st) return json(res, Number(st[1]), echo(rec));
		if (m === 'HEAD') {
			res.writeHead(200, { 'content-type': 'application/json', 'content-length': '123' });
			return res.end();
		}
		return json(res, 200, echo(rec));
	}

	/* The fault behaviours listed at the top (models in FAULTS). */
	async faults(model, j, req, res) {
		const sock = req.socket;
		const created = Math.floor(Date.now() / 1000);
		const id = 'chatcmpl-fault' + this.seq;
		const chunk = (content) => ({ id, object: 'chat.completion.chunk', created, model: responseModel(model),
			choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] });
		const untilClosed = async (ms) => {
			for (const t0 = Date.now(); !res.destroyed && !sock.destroyed && Date.now() - t0 < ms;) await sleep(50);
		};
		const raw = (head, body = '') => {
			// bypasses node's header checks: the bytes go out exactly as given
			sock.write(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]));
			sock.end();
		};
		const reply = () => Buffer.from(JSON.stringify({ id, object: 'chat.completion', created, model: responseModel(model),
			choices: [{ index: 0, message: { role: 'assistant', content: CHAT_REPLY, refusal: null }, logprobs: null, finish_reason: 'stop' }],
			usage: usageChat }));
		switch (model) {
		case 'stall':
			return untilClosed(60000);
		case 'stall-stream':
			res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
			sse(res, chunk(STREAM_DELTAS[0]));
			await untilClosed(60000);
			return res.destroyed ? undefined : res.end('data: [DONE]\n\n');
		case 'reset-stream':
		case 'long-stream': {
			const n = model === 'long-stream' ? LONG_STREAM_DELTAS : STREAM_DELTAS.length;
			res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
			for (let i = 0; i < n; i++) {
				if (model === 'reset-stream' && i === 2) {
					if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy(); else sock.destroy();
					return;
				}
				sse(res, chunk(model === 'long-stream' ? `d${i} ` : STREAM_DELTAS[i]));
				await sleep(model === 'long-stream' ? 100 : STREAM_DELAY_MS);
				if (res.destroyed) return;
			}
			return res.end('data: [DONE]\n\n');
		}
		case 'trickle': {
			const b = reply();
			res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length });
			const step = Math.ceil(b.length / TRICKLE_PIECES);
			for (let at = 0; at < b.length; at += step) {
				if (at) await sleep(300);
				if (res.destroyed) return;
				res.write(b.subarray(at, at + step));
			}
			return res.end();
		}
		case 'garbage':
			return raw('\x00\x01GARBAGE not http at all \xff\xfe\r\n\r\nmore garbage\n');
		case 'huge-headers':
		case 'huge-header-line': {
			const b = reply();
			const pad = model === 'huge-headers'
				? Array.from({ length: 200 }, (_, i) => `x-pad-${i}: ${'p'.repeat(1000)}\r\n`).join('')
				: `x-pad: ${'p'.repeat(200 * 1024)}\r\n`;
			return raw(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${pad}content-length: ${b.length}\r\nconnection: close\r\n\r\n`, b);
		}
		case 'bad-header-cr':
		case 'bad-header-nul': {
			const b = reply();
			const sep = model === 'bad-header-cr' ? '\r' : '\x00';
			return raw(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-before: ok\r\n` +
				`x-evil: a${sep}injected-header: yes\r\nx-after: ok\r\ncontent-length: ${b.length}\r\nconnection: close\r\n\r\n`, b);
		}
		}
		return json(res, 500, errorBody(`fake upstream: no fault ${model} (${j && j.model})`, 'server_error', null));
	}

	async chat(j, res, gz) {
		if (!j) return json(res, 400, errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null));
		const model = responseModel(j.model);
		const id = 'chatcmpl-fake' + this.seq;
		const created = Math.floor(Date.now() / 1000);
		if (!j.stream) {
			const body = { id, object: 'chat.completion', created, model,
				choices: [{ index: 0, message: { role: 'assistant', content: CHAT_REPLY, refusal: null },
					logprobs: null, finish_reason: 'stop' }],
				usage: usageChat, service_tier: 'default', system_fingerprint: 'fp_fake' };
			return gz ? gzipJson(res, 200, body) : json(res, 200, body);
		}
		res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
		const chunk = (delta, finish, extra = {}) => ({ id, object: 'chat.completion.chunk', created, model,
			system_fingerprint: 'fp_fake', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
		const includeUsage = !!(j.stream_options && j.stream_options.include_usage);
		const usageNull = includeUsage ? { usage: null } : {};
		sse(res, chunk({ role: 'assistant', content: '', refusal: null }, null, usageNull));
		for (let i = 0; i < STREAM_DELTAS.length; i++) {
			await sleep(STREAM_DELAY_MS);
			if (res.destroyed) return;
			if (j.model === 'cut-stream' && i === 2) return res.destroy();
			sse(res, chunk({ content: STREAM_DELTAS[i] }, null, usageNull));
		}
		sse(res, chunk({}, 'stop', usageNull));
		if (includeUsage)
			sse(res, { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [], usage: usageStream });
		res.end('data: [DONE]\n\n');
	}

	async completions(j, res) {
		if (!j) return json(res, 400, errorBody('bad json', 'invalid_request_error', null));
		const model = responseModel(j.model);
		const id = 'cmpl-fake' + this.seq;
		const created = Math.floor(Date.now() / 1000);
		if (!j.stream)
			return json(res, 200, { id, object: 'text_completion', created, model,
				choices: [{ text: ' completed text', index: 0, logprobs: null, finish_reason: 'length' }],
				usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } });
		res.writeHead(200, { 'content-type': 'text/event-stream' });
		for (const t of [' completed', ' text']) {
			sse(res, { id, object: 'text_completion', created, model, choices: [{ text: t, index: 0, logprobs: null, finish_reason: null }] });
			await sleep(50);
		}
		sse(res, { id, object: 'text_completion', created, model, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'length' }] });
		res.end('data: [DONE]\n\n');
	}

	embeddings(j, res) {
		if (!j) return json(res, 400, errorBody('bad json', 'invalid_request_error', null));
		const inputs = Array.isArray(j.input) ? j.input : [j.input];
		const data = inputs.map((_, index) => {
			const v = new Float32Array(8).map((__, k) => (index + 1) * 0.125 + k * 0.0625);
			const embedding = j.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : Array.from(v);
			return { object: 'embedding', index, embedding };
		});
		return json(res, 200, { object: 'list', data, model: responseModel(j.model),
			usage: { prompt_tokens: 5 * inputs.length, total_tokens: 5 * inputs.length } });
	}

	async responses(j, res) {
		if (!j) return json(res, 400, errorBody('bad json', 'invalid_request_error', null));
		const model = responseModel(j.model);
		const id = 'resp_fake' + this.seq;
		const created_at = Math.floor(Date.now() / 1000);
		const text = RESPONSES_DELTAS.join('');
		const msg = { type: 'message', id: 'msg_fake' + this.seq, status: 'completed', role: 'assistant',
			content: [{ type: 'output_text', text, annotations: [] }] };
		const base = { id, object: 'response', created_at, model, error: null, incomplete_details: null,
			instructions: null, metadata: {}, parallel_tool_calls: true, temperature: 1, tool_choice: 'auto',
			tools: [], top_p: 1, text: { format: { type: 'text' } }, truncation: 'disabled' };
		if (!j.stream)
			return json(res, 200, { ...base, status: 'completed', output: [msg], usage: usageResponses });
		res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
		let n = 0;
		const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: n++, ...data })}\n\n`);
		ev('response.created', { response: { ...base, status: 'in_progress', output: [], usage: null } });
		ev('response.output_item.added', { output_index: 0, item: { ...msg, status: 'in_progress', content: [] } });
		for (const d of RESPONSES_DELTAS) {
			await sleep(100);
			if (res.destroyed) return;
			ev('response.output_text.delta', { item_id: msg.id, output_index: 0, content_index: 0, delta: d });
		}
		ev('response.output_text.done', { item_id: msg.id, output_index: 0, content_index: 0, text });
		ev('response.output_item.done', { output_index: 0, item: msg });
		ev('response.completed', { response: { ...base, status: 'completed', output: [msg], usage: usageResponses } });
		res.end();
	}

	transcription(rec, req, res) {
		const parts = parseMultipart(rec.body, req.headers['content-type']);
		const file = parts && parts.find((x) => x.name === 'file');
		if (!file)
			return json(res, 400, errorBody('no file part in the multipart body', 'invalid_request_error', null, 'file'));
		rec.file = file;
		const model = parts.find((x) => x.name === 'model')?.data.toString();
		return json(res, 200, { text: `fake transcript of ${file.data.length} bytes`,
			file_size: file.data.length, file_sha256: sha256(file.data), filename: file.filename, model,
			usage: { type: 'duration', seconds: 3 } });
	}
}

const FAULTS = new Set(['stall', 'stall-stream', 'reset-stream', 'long-stream', 'trickle', 'garbage',
	'huge-headers', 'huge-header-line', 'bad-header-cr', 'bad-header-nul']);

/* n bytes of printable text, the same for the same n (for byte-exact checks). */
export function bigText(n) {
	const line = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz ÄÖÜ € capture proxy big body line\n');
	const b = Buffer.alloc(n);
	for (let at = 0; at < n; at += line.length) line.copy(b, at, 0, Math.min(line.length, n - at));
	// Keep it valid UTF-8 at the end: replace a cut multi-byte sequence by spaces.
	let i = n - 1, back = 0;
	while (i >= 0 && back < 4 && (b[i] & 0xc0) === 0x80) { i--; back++; }
	if (i >= 0 && b[i] >= 0xc0) {
		const need = b[i] >= 0xf0 ? 4 : b[i] >= 0xe0 ? 3 : 2;
		if (back + 1 < need) b.fill(0x20, i);
	}
	return b;
}

function pairs(raw) {
	const out = [];
	for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
	return out;
}

function echo(rec) {
	// Key-bearing headers are not echoed: a real API never returns the key, and
	// the tests check that no full key ends up in the captures table.
	const headers = rec.rawHeaders.map(([k, v]) => (/authorization|api-key/i.test(k) ? [k, `<${v.length} chars>`] : [k, v]));
	return { object: 'echo', method: rec.method, url: rec.url, headers,
		body_size: rec.body.length, body_sha256: sha256(rec.body) };
}

function json(res, status, obj) {
	const b = Buffer.from(JSON.stringify(obj));
	res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
	res.end(b);
}

function gzipJson(res, status, obj) {
	const b = zlib.gzipSync(Buffer.from(JSON.stringify(obj)));
	res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': b.length });
	res.end(b);
}

function sse(res, obj) {
	res.write(`data: ${JSON.stringify(obj)}\n\n`);
}

/* Starts a fake upstream; resolves to it ({url, port, requests, last(), bySeq(), clear(), stop()}). */
export async function start() {
	return new FakeUpstream().start();
}

export async function stop(u) {
	if (u) await u.stop();
}
