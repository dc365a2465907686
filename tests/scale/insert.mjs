// tests/scale/insert.mjs - the proxy's capture writer rate, in rows per second into captures.
//
//   node tests/scale/insert.mjs --proxy URL --db URL --label NAME [--count 3000] [--concurrency 16]
//
// Holds captures in SHARE mode, sends --count chat requests of 2-8 KB
// (word-like text from a vocabulary of a few thousand words, so the
// full-text index does real work) through the proxy to a fast fake upstream,
// lets the lock go and times how fast the writer then stores them: its own
// rate, with the machine to itself. Behind the lock the writer's INSERT
// gives up after its lock_timeout (1 s) and the captures go to the spool, as
// when the database is away; once the lock is gone the writer reconnects
// (after its backoff, up to 10 s) and replays the spool through the same
// batched INSERTs. The rate is taken from the first stored batch to the last
// one, so the reconnect wait is not counted. Prints one JSON line:
// {kind:"insert", label, count, rows_per_s, store_ms, wait_ms, proxy_rps}.
// The rows are tagged with the query string scale=<tag> and stay in the
// table (tests/scale/run.sh deletes them).
import http from 'node:http';
import pg from 'pg';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
	if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
	return acc;
}, []));
const count = Number(args.count || 3000);
const conc = Number(args.concurrency || 16);
const label = args.label || 'insert';
if (!args.proxy || !args.db) {
	console.error('usage: insert.mjs --proxy URL --db URL --label NAME [--count N] [--concurrency N]');
	process.exit(2);
}

/* --- 2-8 KB chat requests, deterministic ------------------------------------ */
let seed = 0x2545f491;
const rand = () => {
	seed ^= seed << 13; seed >>>= 0;
	seed ^= seed >>> 17;
	seed ^= seed << 5; seed >>>= 0;
	return seed / 4294967296;
};
const syll = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'pe', 'da', 'ri', 'mo', 'qu', 'an', 'el', 'or',
	'is', 'un', 'ber', 'con', 'tra', 'pro', 'ment', 'tion', 'ing', 'ly', 'er', 'st', 'gr', 'pl'];
const common = ['the', 'a', 'of', 'to', 'and', 'in', 'is', 'it', 'for', 'on', 'with', 'that', 'this',
	'please', 'explain', 'why', 'how', 'what', 'error', 'function', 'database', 'query', 'user', 'invoice',
	'refund', 'policy', 'customer', 'order', 'shipping', 'python', 'table', 'index', 'latency', 'proxy'];
const vocab = Array.from({ length: 4000 }, () => {
	let w = '';
	for (let j = 1 + Math.floor(rand() * 3); j > 0; j--) w += syll[Math.floor(rand() * syll.length)];
	return w;
});
const word = () => (rand() < 0.45 ? common[Math.floor(rand() * common.length)]
	: vocab[Math.floor(rand() ** 2 * vocab.length)]);
function body(i) {
	const target = 2048 + Math.floor(rand() * 6144);
	const req = { model: 'gpt-4o-mini', temperature: 0.3, user: `scale-user-${i % 17}`,
		messages: [{ role: 'system', content: 'You are a support assistant for an online shop. Be brief and exact.' }] };
	let role = 'user', size = JSON.stringify(req).length;
	while (size < target - 60) {
		const words = [];
		const want = Math.min(target - size - 40, 200 + Math.floor(rand() * 1200));
		for (let len = 0; len < want;) { const w = word(); words.push(w); len += w.length + 1; }
		const content = words.join(' ');
		req.messages.push({ role, content });
		size += content.length + 32;
		role = role === 'user' ? 'assistant' : 'user';
	}
	req.messages.push({ role: 'user', content: 'Thanks, and the next step?' });
	return JSON.stringify(req);
}
const bodies = Array.from({ length: 256 }, (_, i) => body(i));

/* --- load ------------------------------------------------------------------- */
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
const tag = `scale=${label}-${process.pid}-${Date.now()}`;
const target = new URL(`/v1/chat/completions?${tag}`, args.proxy);

function post(b) {
	return new Promise((resolve, reject) => {
		const req = http.request(target, {
			method: 'POST', agent,
			headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b),
				authorization: 'Bearer sk-scale-00000000000000000000000000000000insert' },
		}, (res) => {
			res.resume();
			res.on('end', () => resolve(res.statusCode));
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end(b);
	});
}

async function sendAll() {
	let next = 0, ok = 0;
	const worker = async () => {
		while (next < count) {
			const i = next++;
			if (await post(bodies[i % bodies.length]) === 200) ok++;
		}
	};
	await Promise.all(Array.from({ length: conc }, worker));
	return ok;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
	const locker = new pg.Client({ connectionString: args.db });
	const counter = new pg.Client({ connectionString: args.db });
	await locker.connect();
	await counter.connect();
	const t0 = (await counter.query('SELECT now() - interval \'1 second\' AS t')).rows[0].t;
	const stored = async () => Number((await counter.query(
		'SELECT count(*) AS n FROM captures WHERE started_at >= $1 AND query = $2', [t0, tag])).rows[0].n);

	await locker.query('BEGIN');
	await locker.query('LOCK TABLE captures IN SHARE MODE');
	const s0 = Date.now();
	const ok = await sendAll();
	const sendMs = Date.now() - s0;
	if (ok !== count) throw new Error(`only ${ok} of ${count} requests answered 200`);
	await sleep(300); // the last captures reach the queue after their response
	const since = (t) => Number(process.hrtime.bigint() - t) / 1e6;
	const r0 = process.hrtime.bigint();
	await locker.query('COMMIT');
	// polled every 50 ms: often enough for a rate over seconds, rarely
	// enough not to take the database's time from the writer
	let n = 0, first = null, firstN = 0;
	while ((n = await stored()) < count) {
		if (n > 0 && first === null) { first = process.hrtime.bigint(); firstN = n; }
		if (since(r0) > 180000) throw new Error(`only ${n} of ${count} rows after 180 s`);
		await sleep(50);
	}
	const end = process.hrtime.bigint();
	if (first === null) { first = r0; firstN = 0; } // all in one batch before the first look
	const storeMs = Number(end - first) / 1e6;
	const waitMs = Number(first - r0) / 1e6;
	await locker.end();
	await counter.end();
	agent.destroy();
	console.log(JSON.stringify({ kind: 'insert', label, count, rows: n, measured_rows: count - firstN,
		store_ms: Math.round(storeMs), wait_ms: Math.round(waitMs),
		rows_per_s: Math.round((count - firstN) / (storeMs / 1000)), proxy_rps: Math.round(count / (sendMs / 1000)), tag }));
}

main().catch((e) => { console.error(`insert.mjs: ${e.message}`); process.exit(1); });
