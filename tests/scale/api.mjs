// tests/scale/api.mjs - latency of the dashboard's JSON API on a big captures table.
//
//   node tests/scale/api.mjs --web URL --db URL [--requests 200] [--passes 4] [--exports 5] [--only REGEX]
//
// Asks each kind of question the dashboard asks (list, filtered list,
// search, detail, stats, group-bys) --requests times, one request at a time
// over a kept-alive connection, each time with other values (page, cursor,
// id, time range, user) drawn from the table itself, so no answer is served
// from a cache the previous request warmed. Each case runs in --passes (4)
// stretches of --requests/passes requests, the cases taking turns between
// stretches: a burst of load from elsewhere on the machine then spreads over
// many cases instead of spoiling one, while a stretch still asks one kind of
// question many times, as someone at the dashboard does. Every
// answer must be 200 and JSON, and the filters must have been applied (a
// user filter returns only that user's calls, a stats total equals the count
// in the table, a group_by returns groups): a server that ignores a
// parameter fails instead of looking fast. A case whose parameter this build
// does not know (a 400 naming it, a 404, or the parameter silently ignored)
// is reported as not available. Then --exports times a 10,000-capture JSONL
// export: time to the first byte and to the end, rows per second.
// Prints one JSON line per case: {kind:"api", group, name, example, n, p50,
// p95, p99, max, matches} or {kind:"api", group, name, na:"why"}, and
// {kind:"export", ...}.
import http from 'node:http';
import pg from 'pg';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
	if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
	return acc;
}, []));
const N = Number(args.requests || 200);
const PASSES = Math.max(1, Math.min(N, Number(args.passes || 4)));
const EXPORTS = Number(args.exports ?? 5);
const EXPORT_LIMIT = 10000;
const only = args.only ? new RegExp(args.only) : null;
if (!args.web || !args.db) {
	console.error('usage: api.mjs --web URL --db URL [--requests N] [--passes N] [--exports N] [--only REGEX]');
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
		const q = async (sql) => (await db.query(sql)).rows;
		const rows = await q(
			`SELECT id::text, (extract(epoch FROM started_at) * 1000000)::int8::text AS us
			 FROM captures TABLESAMPLE SYSTEM (0.2) LIMIT 2000`);
		const keys = (await q(
			`SELECT key_fingerprint AS k FROM captures
			 WHERE started_at > (SELECT max(started_at) FROM captures) - interval '1 day'
			   AND key_fingerprint IS NOT NULL GROUP BY 1 ORDER BY count(*)`)).map((r) => r.k);
		const bounds = (await q(
			`SELECT (extract(epoch FROM min(started_at)) * 1000)::int8::text AS lo,
			        (extract(epoch FROM max(started_at)) * 1000)::int8::text AS hi FROM captures`))[0];
		// words found in only one of a few hundred of the newest captures: rare
		// ones (relative to the newest capture, not now: a demo database ages)
		const rare = (await q(
			`SELECT word FROM ts_stat('SELECT search FROM captures WHERE started_at >
			   (SELECT max(started_at) FROM captures) - interval ''3 hours'' LIMIT 400')
			 WHERE ndoc = 1 AND length(word) BETWEEN 6 AND 12 AND word ~ '^[a-z]+$' ORDER BY md5(word) LIMIT 40`)).map((r) => r.word);
		// who made the calls, with how many each: the answers to check against
		const users = (await q(
			`SELECT capture_user AS v, count(*)::int8::text AS n FROM captures
			 WHERE capture_user IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 50`)).map((r) => ({ v: r.v, n: Number(r.n) }));
		const instances = (await q(
			`SELECT instance AS v, count(*)::int8::text AS n FROM captures
			 WHERE instance IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10`)).map((r) => ({ v: r.v, n: Number(r.n) }));
		return { rows, keys, lo: Number(bounds.lo), hi: Number(bounds.hi), rare, users, instances };
	} finally {
		await db.end();
	}
}

/* --- what an answer must say --------------------------------------------------
 * Each returns null when the answer is right, else what is wrong; NA(why)
 * when the build does not have the feature. */
class NotAvailable extends Error {}
const NA = (why) => { throw new NotAvailable(why); };

/* The list items all carry field = value (the filter was applied). */
const itemsHave = (field, value) => (json) => {
	const items = json.requests || [];
	if (items.length && !(field in items[0])) NA(`list items have no "${field}" (filter ignored)`);
	const bad = items.find((it) => it[field] !== value);
	return bad ? `item ${bad.id} has ${field}=${JSON.stringify(bad[field])}, not ${JSON.stringify(value)}` : null;
};
/* /api/stats grouped: group_by echoed and groups given. */
const grouped = (name) => (json) => {
	if (json.group_by === undefined && json.groups === undefined) NA('group_by ignored (no "groups")');
	if (json.group_by !== name) return `group_by is ${JSON.stringify(json.group_by)}, not "${name}"`;
	if (!Array.isArray(json.groups) || !json.groups.length) return 'no groups';
	return null;
};
/* /api/stats total equals the count in the table. */
const totalIs = (n) => (json) => (json.total_requests === n ? null
	: json.total_requests > n ? NA(`total_requests ${json.total_requests} > ${n}: filter ignored`)
		: `total_requests ${json.total_requests}, the table has ${n}`);

/* --- searches with a rollup of their own --------------------------------------
 * The dashboard has the proxy roll up a search whose statistics sum over
 * 20,000 captures (sql/014_search_rollup.sql); until the rollup reaches the
 * oldest capture its statistics are read from the captures. The cases of
 * WATCHED measure the searches once rolled up (rolledUp waits for that,
 * reporting how long it took); measureFirst measures the first statistics
 * of common words no one asked for before. */
const WATCHED = ['invoice', 'refund'];
const watchedTotal = {}; // word -> its captures, counted in the table by rolledUp
const WATCH_MIN = 20000; // stats.c WATCH_MIN_REQUESTS: fewer are not watched
const likeOf = (w) => `%${w}%`;

async function withDb(fn) {
	const db = new pg.Client({ connectionString: args.db });
	await db.connect();
	try { return await fn(async (sql, params) => (await db.query(sql, params)).rows); } finally { await db.end(); }
}

/* The captures matching search word w, counted in the table. */
const countOf = (w) => withDb(async (q) => Number((await q(
	`SELECT count(*) AS n FROM captures WHERE capture_search_matches(search, path, id, method, $1, $2, NULL)`,
	[w, likeOf(w)]))[0].n));

/* Asks for the statistics of each WATCHED search (its watch removed
 * first), then waits until the proxy's refresh has rolled it up; resolves
 * to the seconds that took (the counting of their captures, for the
 * checks, comes after). Once a run: every case asking gets that answer. */
let rolling = null;
const rolledUp = () => (rolling ??= rollUp());

async function rollUp() {
	await withDb((q) => q('DELETE FROM captures_search_watch WHERE search = ANY($1)', [WATCHED]));
	const t0 = Date.now();
	const big = [];
	for (const w of WATCHED) if ((await get(`/api/stats?search=${w}`)).json.total_requests >= WATCH_MIN) big.push(w);
	await untilRolled(big);
	const took = (Date.now() - t0) / 1000;
	for (const w of WATCHED) watchedTotal[w] ??= await countOf(w);
	return took;
}

/* Waits until the proxy's refresh has rolled up each of words (watched). */
async function untilRolled(words) {
	const t0 = Date.now();
	await withDb(async (q) => {
		for (const w of words) {
			for (;;) {
				const [{ yes }] = await q('SELECT rolled AS yes FROM captures_search_rolled($1, $2, NULL, NULL)', [w, likeOf(w)]);
				if (yes) break;
				if (Date.now() - t0 > 600000) throw new Error(`${w}: not rolled up after 10 minutes`);
				await new Promise((r) => setTimeout(r, 500));
			}
		}
	});
}

/* Common words (in 5-15 % of a sample of the captures) not asked for yet:
 * other words in each run, so that their rows are as cold as can be (a
 * word asked for before has its rows in the page cache). */
async function firstWords(count) {
	const seed = Date.now() % 100000;
	return withDb(async (q) => (await q(
		`WITH t AS (SELECT * FROM ts_stat('SELECT search FROM captures TABLESAMPLE SYSTEM (0.2) REPEATABLE (${seed})')),
		      n AS (SELECT count(*) AS docs FROM captures TABLESAMPLE SYSTEM (0.2) REPEATABLE (${seed}))
		 SELECT word FROM t, n
		 WHERE length(word) >= 5 AND word ~ '^[a-z]+$' AND word <> ALL($1)
		   AND upper(word) NOT IN ('DELETE', 'PATCH', 'OPTIONS')
		   AND ndoc BETWEEN 0.05 * n.docs AND 0.15 * n.docs
		 ORDER BY md5(word || $3) LIMIT $2`, [WATCHED, count, String(seed)])).map((r) => r.word));
}

/* The statistics of common words asked for the first time (no rollup yet):
 * each word once, alone (after the rollup of the word before has been
 * built, as when someone asks for a new word now and then), their watches
 * removed before and after, so a later run finds them unwatched too. */
async function measureFirst() {
	const name = 'all time, common word, first time (read from the captures)';
	if (only && !only.test(`stats: ${name}`)) return;
	const words = await firstWords(Math.min(N, 8));
	const forget = () => withDb((q) => q('DELETE FROM captures_search_watch WHERE search = ANY($1)', [words]));
	const ms = [];
	let example = '', matches = null;
	await forget();
	try {
		for (const w of words) {
			const r = await ask({ make: () => [`/api/stats?search=${w}`, null] });
			ms.push(r.ms);
			const wrong = totalIs(await countOf(w))(r.json);
			if (wrong) throw new Error(`${r.path}: ${wrong}`);
			if (!example) { example = r.path; matches = String(r.json.total_requests); }
			if (r.json.total_requests >= WATCH_MIN) await untilRolled([w]);
		}
	} finally {
		await forget();
	}
	ms.sort((a, b) => a - b);
	console.log(JSON.stringify({ kind: 'api', group: 'stats', name, example, n: ms.length,
		p50: r1(pct(ms, 50)), p95: r1(pct(ms, 95)), p99: r1(pct(ms, 99)), max: r1(ms[ms.length - 1]), matches }));
}

/* [group, name, () => [path, check], prepare?] */
function cases(s) {
	const day = 86400000;
	const anyRow = () => pick(s.rows);
	const span = s.hi - s.lo;
	const at = () => s.lo + rand() * span;
	const key = s.keys.length ? s.keys[0] : 'ffffffffffffffff';
	const rare = s.rare.length ? s.rare : ['zzzzzz'];
	if (!s.rare.length) console.error('scale: no rare word in the newest captures: the rare-word case measures a word with no match');
	const users = s.users.length ? s.users : [{ v: 'nobody@example.invalid', n: 0 }];
	const insts = s.instances.length ? s.instances : [{ v: 'no-such-instance', n: 0 }];
	const month = () => `from=${iso(Date.now() - 30 * day)}`;
	const plain = (fn) => () => [fn(), null];
	const list = [
		['list', 'page 1', plain(() => '/api/requests')],
		['list', 'page 2-50 (offset)', plain(() => `/api/requests?page=${2 + Math.floor(rand() * 49)}`)],
		['list', 'next page by cursor, anywhere in the month', plain(() => { const r = anyRow(); return `/api/requests?cursor=${cursorOf(r.us, r.id)}&page=2`; })],
		['filtered list', 'model (5 %)', plain(() => `/api/requests?model=${pick(['gpt-4.1', 'gpt-5', 'gpt-3.5-turbo', 'gpt-5-nano'])}`)],
		['filtered list', 'status=4xx / 5xx / error', plain(() => `/api/requests?status=${pick(['4xx', '5xx', 'error', '429'])}`)],
		['filtered list', 'least-used API key', plain(() => `/api/requests?key=${key}`)],
		['filtered list', 'streamed, method, path', plain(() => pick(['/api/requests?streamed=true', '/api/requests?method=GET', '/api/requests?path=embeddings', '/api/requests?streamed=false&path=responses']))],
		['filtered list', 'one hour, any day', plain(() => { const t = at(); return `/api/requests?from=${iso(t)}&to=${iso(t + 3600000)}`; })],
		['filtered list', 'model + 4xx + streamed (rare mix)', plain(() => `/api/requests?model=${pick(['gpt-4o', 'o4-mini', 'gpt-4.1-mini'])}&status=4xx&streamed=true`)],
		['filtered list', 'model, page 2-20', plain(() => `/api/requests?model=${pick(['gpt-4o', 'gpt-4o-mini', 'o4-mini'])}&page=${2 + Math.floor(rand() * 19)}`)],
		['filtered list', 'user (X-Capture-User)', () => { const u = pick(users); return [`/api/requests?user=${encodeURIComponent(u.v)}`, itemsHave('user', u.v)]; }],
		['filtered list', 'instance', () => { const i = pick(insts); return [`/api/requests?instance=${encodeURIComponent(i.v)}`, itemsHave('instance', i.v)]; }],
		['search', 'common word (~12 % of rows)', plain(() => `/api/requests?search=${pick(['invoice', 'refund', 'kubernetes', 'shipping'])}`)],
		['search', 'word in almost every row', plain(() => `/api/requests?search=${pick(['the', 'please', 'and'])}`)],
		['search', 'rare word', plain(() => `/api/requests?search=${pick(rare)}`)],
		['search', 'phrase', plain(() => `/api/requests?search=${encodeURIComponent(pick(['"about my invoice"', '"my refund"', '"online shop"']))}`)],
		['search', 'no match', plain(() => `/api/requests?search=${pick(['zqxjvw', 'nonexistentword', 'xylophonez'])}`)],
		['search', 'id fragment', plain(() => `/api/requests?search=${anyRow().id.slice(0, 8)}`)],
		['search', 'common word + model', plain(() => `/api/requests?search=${pick(['invoice', 'refund'])}&model=${pick(['gpt-4o', 'gpt-4.1-mini'])}`)],
		['search', 'common word + streamed / 4xx / key', plain(() => `/api/requests?search=${pick(['invoice', 'refund'])}&${pick(['streamed=true', 'status=4xx', `key=${key}`])}`)],
		['search', 'word in almost every row + 4xx / streamed', plain(() => `/api/requests?search=${pick(['the', 'please'])}&${pick(['streamed=true', 'status=4xx'])}`)],
		['search', 'common word, last 24 h', plain(() => `/api/requests?search=${pick(['invoice', 'refund'])}&from=${iso(Date.now() - day)}`)],
		['search', 'common word, page 2-10', plain(() => `/api/requests?search=${pick(['invoice', 'refund'])}&page=${2 + Math.floor(rand() * 9)}`)],
		['detail', 'one capture, anywhere in the month', plain(() => `/api/request/${anyRow().id}`)],
		['stats', 'all time', plain(() => '/api/stats')],
		['stats', 'last 24 h / 7 days', plain(() => `/api/stats?from=${iso(Date.now() - pick([day, 7 * day]))}`)],
		['stats', 'one day, any day', plain(() => { const t = at(); return `/api/stats?from=${iso(t)}&to=${iso(t + day)}`; })],
		['stats', 'all time, one model / errors / key', plain(() => `/api/stats?${pick(['model=gpt-4o', 'model=o4-mini', 'status=error', 'status=4xx', `key=${key}`])}`)],
		['stats', 'all time, streamed / path', plain(() => `/api/stats?${pick(['streamed=true', 'path=responses', 'method=GET'])}`)],
		['stats', 'all time, common word (rolled up)', () => { const w = pick(WATCHED); return [`/api/stats?search=${w}`, totalIs(watchedTotal[w])]; }, rolledUp],
		['stats', 'last 7 days, common word (rolled up)', plain(() => `/api/stats?search=${pick(WATCHED)}&from=${iso(Date.now() - 7 * day)}`), rolledUp],
		['stats', 'all time, one user', () => { const u = pick(users); return [`/api/stats?user=${encodeURIComponent(u.v)}`, totalIs(u.n)]; }],
		['stats', 'group_by=user, 30 days', () => [`/api/stats?group_by=user&${month()}`, grouped('user')]],
		['stats', 'group_by=instance, 30 days', () => [`/api/stats?group_by=instance&${month()}`, grouped('instance')]],
	];
	return list.filter(([g, n]) => !only || only.test(`${g}: ${n}`));
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
const r1 = (x) => Math.round(x * 10) / 10;

/* One request of a case: its time, or throws (NotAvailable when the build
 * lacks the feature). */
async function ask(c) {
	const [path, check] = c.make();
	const r = await get(path);
	const msg = r.json && r.json.error ? r.json.error.message || '' : '';
	if (r.status === 404 || (r.status === 400 && /unknown|group_by|not supported/i.test(msg)))
		NA(`${r.status}${msg ? ': ' + msg : ''}`);
	if (r.status !== 200 || !r.json) throw new Error(`${path}: status ${r.status}${msg ? ': ' + msg : ''}`);
	const wrong = check ? check(r.json) : null;
	if (wrong) throw new Error(`${path}: ${wrong}`);
	return { path, ms: r.ms, json: r.json };
}

async function measureAll(list) {
	const live = [];
	for (const [group, name, make, prepare] of list) {
		const c = { group, name, make, ms: [], example: '', matches: null };
		try {
			if (prepare) c.prepared_s = r1(await prepare());
			// a fresh connection's setup and a first plan are not what we measure
			for (let i = 0; i < 3; i++) await ask(c);
			live.push(c);
		} catch (e) {
			if (!(e instanceof NotAvailable)) throw e;
			console.log(JSON.stringify({ kind: 'api', group, name, na: e.message }));
		}
	}
	for (let pass = 0; pass < PASSES; pass++) {
		for (const c of live) {
			const stretch = Math.floor(N * (pass + 1) / PASSES) - Math.floor(N * pass / PASSES);
			for (let i = 0; i < stretch; i++) {
				const r = await ask(c);
				c.ms.push(r.ms);
				if (c.ms.length === 1) {
					c.example = r.path;
					if (r.json.total !== undefined) c.matches = r.json.total_exact ? String(r.json.total) : `${r.json.total}+`;
					if (r.json.total_requests !== undefined) c.matches = String(r.json.total_requests);
					if (Array.isArray(r.json.groups)) c.matches = `${r.json.groups.length} groups`;
				}
			}
		}
	}
	for (const c of live) {
		const ms = c.ms.sort((a, b) => a - b);
		console.log(JSON.stringify({ kind: 'api', group: c.group, name: c.name, example: c.example, n: N,
			p50: r1(pct(ms, 50)), p95: r1(pct(ms, 95)), p99: r1(pct(ms, 99)), max: r1(ms[ms.length - 1]),
			matches: c.matches, ...(c.prepared_s !== undefined ? { prepared_s: c.prepared_s } : {}) }));
	}
}

/* --- export ---------------------------------------------------------------------- */

/* GET path, reading the body as it streams: time to the headers, to the
 * first body byte and to the end, and the JSON lines (each parsed). */
function download(path) {
	const t0 = process.hrtime.bigint();
	const since = () => Number(process.hrtime.bigint() - t0) / 1e6;
	return new Promise((resolve, reject) => {
		http.get(new URL(path, args.web), { agent }, (res) => {
			const head = since();
			let first = null, rest = '', lines = 0, bytes = 0, bad = null;
			res.setEncoding('utf8');
			res.on('data', (s) => {
				if (first === null) first = since();
				bytes += Buffer.byteLength(s);
				const parts = (rest + s).split('\n');
				rest = parts.pop();
				for (const l of parts) {
					if (!l) continue;
					lines++;
					if (!bad) try { JSON.parse(l); } catch { bad = `line ${lines} is not JSON`; }
				}
			});
			res.on('end', () => {
				if (rest) { lines++; bad ||= 'the last line has no newline'; }
				resolve({ status: res.statusCode, type: res.headers['content-type'] || '',
					disposition: res.headers['content-disposition'] || '', head, first, end: since(), lines, bytes, bad });
			});
			res.on('error', reject);
		}).on('error', reject);
	});
}

async function measureExport() {
	const name = `JSONL, newest ${EXPORT_LIMIT.toLocaleString('en-US')}`;
	if (only && !only.test(`export: ${name}`)) return;
	const path = `/api/export?format=jsonl&limit=${EXPORT_LIMIT}`;
	const runs = [];
	for (let i = 0; i < EXPORTS + 1; i++) {
		const r = await download(path);
		if (r.status === 404 || r.status === 400) {
			console.log(JSON.stringify({ kind: 'export', name, na: `${r.status}` }));
			return;
		}
		if (r.status !== 200) throw new Error(`${path}: status ${r.status}`);
		if (r.bad) throw new Error(`${path}: ${r.bad}`);
		if (r.lines !== EXPORT_LIMIT) throw new Error(`${path}: ${r.lines} lines, not ${EXPORT_LIMIT}`);
		if (!/attachment/i.test(r.disposition)) throw new Error(`${path}: no Content-Disposition: attachment`);
		if (i > 0) runs.push(r); // the first one warms up
	}
	const med = (f) => { const v = runs.map(f).sort((a, b) => a - b); return v[Math.floor((v.length - 1) / 2)]; };
	console.log(JSON.stringify({ kind: 'export', name, example: path, n: runs.length, rows: EXPORT_LIMIT,
		first_byte_ms: r1(med((r) => r.first)), first_byte_max_ms: r1(Math.max(...runs.map((r) => r.first))),
		total_ms: r1(med((r) => r.end)), mb: r1(med((r) => r.bytes) / 1e6),
		rows_per_s: Math.round(EXPORT_LIMIT / (med((r) => r.end) / 1000)) }));
}

async function main() {
	const s = await sample();
	await measureAll(cases(s));
	await measureFirst();
	if (EXPORTS > 0) await measureExport();
	agent.destroy();
}

main().catch((e) => { console.error(`api.mjs: ${e.message}`); process.exit(1); });
