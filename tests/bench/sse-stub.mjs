// tests/bench/sse-stub.mjs - the streaming upstream of the benchmark.
//
//   node sse-stub.mjs PORT [EVENTS] [INTERVAL_MS]
//
// Answers every request (after reading its body) with a chat.completion.chunk
// server-sent event stream: EVENTS content deltas (default 40), one every
// INTERVAL_MS (default 10), then a finish chunk with usage and "data: [DONE]".
// The first delta goes out with the headers. Each chunk carries "bench_t", the
// send time in nanoseconds on the monotonic clock (process.hrtime), which
// sse-client.c subtracts from its own receive time: one machine, one clock,
// so that difference is the delay of that one event through whatever sits in
// between. The nginx stub of run.sh forwards POST /v1/chat/completions?stream=true
// here (proxy_buffering off), so every target reaches it by the same path.
import http from 'node:http';

const port = Number(process.argv[2]);
const EVENTS = Number(process.argv[3] || 40);
const INTERVAL = Number(process.argv[4] || 10);
if (!port) {
	console.error('usage: sse-stub.mjs PORT [EVENTS] [INTERVAL_MS]');
	process.exit(2);
}

const created = 1732600000;
const words = ['The', ' proxy', ' relays', ' each', ' event', ' as', ' soon', ' as', ' it', ' arrives', '.'];
const chunk = (fields) => JSON.stringify({
	id: 'chatcmpl-benchstream', object: 'chat.completion.chunk', created,
	model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_bench01', ...fields,
	bench_t: process.hrtime.bigint().toString(),
});

const server = http.createServer((req, res) => {
	req.resume();
	req.on('end', () => {
		res.socket.setNoDelay(true);
		res.writeHead(200, {
			'Content-Type': 'text/event-stream; charset=utf-8',
			'Cache-Control': 'no-cache',
			'x-request-id': 'req_benchstream',
		});
		let i = 0;
		const send = () => {
			if (res.destroyed) return;
			if (i < EVENTS) {
				const delta = i === 0 ? { role: 'assistant', content: words[0] } : { content: words[i % words.length] };
				res.write(`data: ${chunk({ choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`);
				i++;
				setTimeout(send, INTERVAL);
				return;
			}
			res.write(`data: ${chunk({
				choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }],
				usage: { prompt_tokens: 212, completion_tokens: EVENTS, total_tokens: 212 + EVENTS },
			})}\n\n`);
			res.end('data: [DONE]\n\n');
		};
		send();
	});
});
server.keepAliveTimeout = 300000;
server.headersTimeout = 310000;
server.listen(port, '127.0.0.1', () => console.error(`sse-stub: 127.0.0.1:${port}, ${EVENTS} events every ${INTERVAL} ms`));
process.on('SIGTERM', () => process.exit(0));
