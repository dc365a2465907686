// tests/bench/sse-client.mjs - timestamps every server-sent event of streamed chat completions.
//
//   node sse-client.mjs URL CONCURRENCY STREAMS
//
// Runs STREAMS requests (POST URL, a chat request with "stream": true),
// CONCURRENCY at a time over kept-alive connections, and prints one JSON line:
//   { streams, ok, failed, events, ttfe_p50_ms, ttfe_p99_ms, delay_p50_ms, delay_p99_ms,
//     delay_max_ms, coalesced, statuses }
// ttfe: from sending the request to receiving its first event.
// delay: receive time of an event minus its send time in the stub ("bench_t",
// process.hrtime of sse-stub.mjs: the same monotonic clock), i.e. how long that
// one event spent between the stub and this client. A proxy that buffers shows
// it here (and in "coalesced": events that arrived in one read with others).
import http from 'node:http';

const [url, conc = '8', total = '32'] = process.argv.slice(2);
if (!url) {
	console.error('usage: sse-client.mjs URL CONCURRENCY STREAMS');
	process.exit(2);
}
const CONC = Number(conc), TOTAL = Number(total);
const body = JSON.stringify({
	model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
	messages: [{ role: 'user', content: 'Stream a short sentence, one word per event.' }],
});
const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
const ttfe = [], delay = [];
let ok = 0, failed = 0, events = 0, coalesced = 0;
const statuses = {};

function one() {
	return new Promise((resolve) => {
		const t0 = process.hrtime.bigint();
		let first = true, rest = '';
		const req = http.request(url, {
			method: 'POST', agent,
			headers: {
				'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
				Authorization: 'Bearer sk-bench-0000000000000000000000000000stream',
				Accept: 'text/event-stream',
			},
		}, (res) => {
			statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
			res.setEncoding('utf8');
			res.on('data', (s) => {
				const now = process.hrtime.bigint();
				rest += s;
				const parts = rest.split('\n\n');
				rest = parts.pop();
				let n = 0;
				for (const ev of parts) {
					const m = /"bench_t":"(\d+)"/.exec(ev);
					if (!m) continue;
					n++;
					events++;
					if (first) {
						ttfe.push(Number(now - t0) / 1e6);
						first = false;
					}
					delay.push(Number(now - BigInt(m[1])) / 1e6);
				}
				if (n > 1) coalesced += n - 1;
			});
			res.on('end', () => { if (res.statusCode === 200 && !first) ok++; else failed++; resolve(); });
			res.on('error', () => { failed++; resolve(); });
		});
		req.on('error', () => { failed++; resolve(); });
		req.end(body);
	});
}

async function worker(n) {
	for (let i = 0; i < n; i++) await one();
}

const pct = (v, p) => {
	if (!v.length) return null;
	const s = Float64Array.from(v).sort();
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

const per = Math.floor(TOTAL / CONC), extra = TOTAL % CONC;
await Promise.all(Array.from({ length: CONC }, (_, i) => worker(per + (i < extra ? 1 : 0))));
agent.destroy();
console.log(JSON.stringify({
	streams: TOTAL, ok, failed, events, statuses, coalesced,
	ttfe_p50_ms: r3(pct(ttfe, 50)), ttfe_p99_ms: r3(pct(ttfe, 99)),
	delay_p50_ms: r3(pct(delay, 50)), delay_p99_ms: r3(pct(delay, 99)),
	delay_max_ms: r3(delay.length ? Math.max(...delay) : null),
}));
