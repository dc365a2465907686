// tests/scale/api.mjs - latency of the dashboard's JSON API on a big captures table.
//
//   node tests/scale/api.mjs --web URL --db URL [--requests 200] [--only REGEX]
//
// Asks each kind of question the dashboard asks (list, filtered list,
// search, detail, stats) --requests times, one request at a time over a
// kept-alive connection, each time with other values (page, cursor, id,
// time range) drawn from the table itself, so no answer is served from a
// cache the previous request warmed. Every answer must be 200 and JSON. Prints
// one JSON line per case: {kind:"api", group, name, example, n, p50, p95,
// p99, max, matches}.
import http from 'node:http';
import pg from 'pg';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
	if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
	return acc;
}, []));
const N = Number(args.requests || 200);
const only = args.only ? new RegExp(args.only) : null;
if (!args.web || !args.db) {
	console.error('usage: api.mjs --web URL --db URL [--requests N] [--only REGEX]');
	process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/* GET path; resolves to {ms, status, json}. */
function get(path) {
	const t0 = process.hrtime.bigint();
	return new Promise((resolve, reject) => {
		http.get(new URL(path, args.web), { agent }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const ms = Number(process.hrtime.bigint() - t0) / 1e6;
				let json = null;
				try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* checked below */ }
				resolve({ ms, status: res.statusCode, json });
			});
			res.on('error', reject);
		}).on('error', reject);
	});
}

let seed = 12345;
const rand = () => {
	seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
	return seed / 4294967296;
};
const pick = (a) => a[Math.floor(rand() * a.length)];
const iso = (ms) => new Date(ms).toISOString();

/* The list's cursor for a row: base64url of started_at (µs, 8 bytes) and the id (16 bytes). */
function cursorOf(us, id) {
	const b = Buffer.alloc(24);
	b.writeBigInt64BE(BigInt(us));
	Buffer.from(id.replace(/-/g, ''), 'hex').copy(b, 8);
	return b.toString('base64url');
}

async function sample() {
	const db = new pg.Client({ connectionString: args.db });
	await db.connect();
	try {
		const rows = (await db.query(
			`SELECT id::text, (extract(epoch FROM started_at) * 1000000)::int8::text AS us
			 FROM captures TABLESAMPLE SYSTEM (0.2) LIMIT 2000`)).rows;
		const keys = (await db.query(
			`SELECT key_fingerprint AS k FROM captures WHERE started_at > now() - interval '1 day'
			   AND key_fingerprint IS NOT NULL GROUP BY 1 ORDER BY count(*)`)).rows.map((r) => r.k);
		const bounds = (await db.query(
			`SELECT (extract(epoch FROM min(started_at)) * 1000)::int8::text AS lo,
			        (extract(epoch FROM max(started_at)) * 1000)::int8::text AS hi FROM captures`)).rows[0];
		// words found in only one of a few hundred recent captures: rare ones
		const rare = (await db.query(
			`SELECT word FROM ts_stat('SELECT search FROM captures WHERE started_at > now() - interval ''3 hours'' LIMIT 400')
			 WHERE ndoc = 1 AND length(word) BETWEEN 6 AND 12 AND word ~ '^[a-z]+$' ORDER BY md5(word) LIMIT 40`)).rows.map((r) => r.word);
		return { rows, keys, lo: Number(bounds.lo), hi: Number(bounds.hi), rare };
	} finally {
		await db.end();
	}
}

function cases(s) {
	const day = 86400000;
	const anyRow = () => pick(s.rows);
	const span = s.hi - s.lo;
	const at = () => s.lo + rand() * span;
	const key = s.keys.length ? s.keys[0] : 'ffffffffffffffff';
	const rare = s.rare.length ? s.rare : ['zzzzzz'];
	return [
		['list', 'page 1', () => '/api/requests'],
		['list', 'page 2-50 (offset)', () => `/api/requests?page=${2 + Math.floor(rand() * 49)}`],
		['list', 'next page by cursor, anywhere in the month', () => { const r = anyRow(); return `/api/requests?cursor=${cursorOf(r.us, r.id)}&page=2`; }],
		['filtered list', 'model (5 %)', () => `/api/requests?model=${pick(['gpt-4.1', 'gpt-5', 'gpt-3.5-turbo', 'gpt-5-nano'])}`],
		['filtered list', 'status=4xx / 5xx / error', () => `/api/requests?status=${pick(['4xx', '5xx', 'error', '429'])}`],
		['filtered list', 'least-used API key', () => `/api/requests?key=${key}`],
		['filtered list', 'streamed, method, path', () => pick(['/api/requests?streamed=true', '/api/requests?method=GET', '/api/requests?path=embeddings', '/api/requests?streamed=false&path=responses'])],
		['filtered list', 'one hour, any day', () => { const t = at(); return `/api/requests?from=${iso(t)}&to=${iso(t + 3600000)}`; }],
		['filtered list', 'model + 4xx + streamed (rare mix)', () => `/api/requests?model=${pick(['gpt-4o', 'o4-mini', 'gpt-4.1-mini'])}&status=4xx&streamed=true`],
		['filtered list', 'model, page 2-20', () => `/api/requests?model=${pick(['gpt-4o', 'gpt-4o-mini', 'o4-mini'])}&page=${2 + Math.floor(rand() * 19)}`],
		['search', 'common word (~12 % of rows)', () => `/api/requests?search=${pick(['invoice', 'refund', 'kubernetes', 'shipping'])}`],
		['search', 'word in almost every row', () => `/api/requests?search=${pick(['the', 'please', 'and'])}`],
		['search', 'rare word', () => `/api/requests?search=${pick(rare)}`],
		['search', 'phrase', () => `/api/requests?search=${encodeURIComponent(pick(['"about my invoice"', '"my refund"', '"online shop"']))}`],
		['search', 'no match', () => `/api/requests?search=${pick(['zqxjvw', 'nonexistentword', 'xylophonez'])}`],
		['search', 'id fragment', () => `/api/requests?search=${anyRow().id.slice(0, 8)}`],
		['search', 'common word + model', () => `/api/requests?search=${pick(['invoice', 'refund'])}&model=${pick(['gpt-4o', 'gpt-4.1-mini'])}`],
		['search', 'common word + streamed / 4xx / key', () => `/api/requests?search=${pick(['invoice', 'refund'])}&${pick(['streamed=true', 'status=4xx', `key=${key}`])}`],
		['search', 'word in almost every row + 4xx / streamed', () => `/api/requests?search=${pick(['the', 'please'])}&${pick(['streamed=true', 'status=4xx'])}`],
		['search', 'common word, last 24 h', () => `/api/requests?search=${pick(['invoice', 'refund'])}&from=${iso(Date.now() - day)}`],
		['search', 'common word, page 2-10', () => `/api/requests?search=${pick(['invoice', 'refund'])}&page=${2 + Math.floor(rand() * 9)}`],
		['detail', 'one capture, anywhere in the month', () => `/api/request/${anyRow().id}`],
		['stats', 'all time', () => '/api/stats'],
		['stats', 'last 24 h / 7 days', () => `/api/stats?from=${iso(Date.now() - pick([day, 7 * day]))}`],
		['stats', 'one day, any day', () => { const t = at(); return `/api/stats?from=${iso(t)}&to=${iso(t + day)}`; }],
		['stats', 'all time, one model / errors / key', () => `/api/stats?${pick(['model=gpt-4o', 'model=o4-mini', 'status=error', 'status=4xx', `key=${key}`])}`],
		['stats', 'all time, streamed / path', () => `/api/stats?${pick(['streamed=true', 'path=responses', 'method=GET'])}`],
		['stats', 'all time, common word', () => `/api/stats?search=${pick(['invoice', 'refund'])}`],
		['stats', 'last 7 days, common word', () => `/api/stats?search=${pick(['invoice', 'refund'])}&from=${iso(Date.now() - 7 * day)}`],
	].filter(([g, n]) => !only || only.test(`${g}: ${n}`));
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];

async function measure([group, name, make]) {
	for (let i = 0; i < 3; i++) await get(make()); // a fresh connection's setup is not what we measure
	const ms = [];
	let example = '', matches = null;
	for (let i = 0; i < N; i++) {
		const path = make();
		const r = await get(path);
		if (r.status !== 200 || !r.json)
			throw new Error(`${path}: status ${r.status}${r.json && r.json.error ? ': ' + r.json.error.message : ''}`);
		ms.push(r.ms);
		if (i === 0) {
			example = path;
			if (r.json.total !== undefined) matches = r.json.total_exact ? String(r.json.total) : `${r.json.total}+`;
			if (r.json.total_requests !== undefined) matches = String(r.json.total_requests);
		}
	}
	ms.sort((a, b) => a - b);
	const r1 = (x) => Math.round(x * 10) / 10;
	return { kind: 'api', group, name, example, n: N, p50: r1(pct(ms, 50)), p95: r1(pct(ms, 95)),
		p99: r1(pct(ms, 99)), max: r1(ms[ms.length - 1]), matches };
}

async function main() {
	const s = await sample();
	for (const c of cases(s)) console.log(JSON.stringify(await measure(c)));
	agent.destroy();
}

main().catch((e) => { console.error(`api.mjs: ${e.message}`); process.exit(1); });
