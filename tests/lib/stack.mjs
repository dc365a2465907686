// tests/lib/stack.mjs - starts the real service (deploy/run.sh: lighttpd + proxy_fcgi
// + dashboard_fcgi) against a fresh database, for one group of integration tests.
//
//   const s = await startStack({ name: 'proxy', env: { OPENAI_API_BASE: up.url } });
//   ... s.proxyUrl, s.webUrl, await s.query('SELECT ...'), await s.waitForCapture(id) ...
//   await s.stop();   // SIGTERM to run.sh, then fails loudly on any sanitizer report
//
// Several stacks on one database (a team sharing it):
//   const { db, url } = await createDatabase('team');
//   const [a, b] = await Promise.all(['a', 'b'].map((n) => startStack({ name: n, databaseUrl: url, env: {...} })));
//   ... await a.stop(); await b.stop(); await dropDatabase(db);   // stop() leaves a shared database alone
//
// Needs TEST_PG_ADMIN_URL (the test cluster's admin URL, set by tests/run.sh).
// CAPTURE_BIN picks the programs (build/ or build/asan/), default build/.
// State (var dir, run.sh's log, sanitizer logs) goes to tests/out/<run>/<name>-<rand>/.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import pg from 'pg';

// bigint columns (body sizes) as numbers, not strings.
pg.types.setTypeParser(20, (v) => Number(v));

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT = path.join(ROOT, 'tests', 'out', process.env.TEST_RUN_LABEL || 'adhoc');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/* The directory with proxy_fcgi and dashboard_fcgi the tests run. */
export function binDir() {
	const b = process.env.CAPTURE_BIN || 'build';
	return path.resolve(ROOT, b);
}

/* A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/* Resolves true once host:port accepts a TCP connection. */
function canConnect(port, host = '127.0.0.1') {
	return new Promise((resolve) => {
		const s = net.connect({ port, host });
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => resolve(false));
	});
}

function adminUrl() {
	const u = process.env.TEST_PG_ADMIN_URL;
	if (!u) throw new Error('TEST_PG_ADMIN_URL is not set: run the tests through tests/run.sh (make test)');
	return u;
}

/* The admin URL with its database name replaced by db. */
function urlForDb(admin, db) {
	const u = new URL(admin);
	u.pathname = '/' + db;
	return u.toString();
}

async function withAdmin(fn) {
	const c = new pg.Client({ connectionString: adminUrl() });
	await c.connect();
	try { return await fn(c); } finally { await c.end(); }
}

/* Files the sanitizers wrote into dir (asan.<pid>, ubsan.<pid>, lsan.<pid>). */
function sanitizerReports(dir) {
	let names = [];
	try { names = fs.readdirSync(dir); } catch { return []; }
	return names.filter((n) => /^(asan|ubsan|lsan|msan|tsan)\.\d+/.test(n)).map((n) => path.join(dir, n));
}

function tail(file, lines = 60) {
	try {
		const t = fs.readFileSync(file, 'utf8').split('\n');
		return t.slice(-lines).join('\n');
	} catch { return '(no log)'; }
}

/* A new, empty database in the test cluster, named t_<label>_<random>;
 * resolves to {db, url}. For stacks that share one database (startStack's
 * databaseUrl option); drop it with dropDatabase() afterwards. */
export async function createDatabase(label = 'shared') {
	const tag = crypto.randomBytes(4).toString('hex');
	const db = `t_${String(label).toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 20)}_${tag}`;
	await withAdmin((c) => c.query(`CREATE DATABASE ${db}`));
	return { db, url: urlForDb(adminUrl(), db) };
}

/* Drops a database made by createDatabase (its name, or its URL), closing
 * any connections still open to it. */
export async function dropDatabase(dbOrUrl) {
	const db = /^[a-z]+:\/\//i.test(dbOrUrl) ? decodeURIComponent(new URL(dbOrUrl).pathname.slice(1)) : dbOrUrl;
	if (!/^[A-Za-z0-9_]+$/.test(db)) throw new Error(`dropDatabase: unexpected database name ${JSON.stringify(db)}`);
	await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
}

/* Starts the service. opts: name (state dir prefix), bin (programs dir), env
 * (extra environment: OPENAI_API_BASE, MAX_REQUEST_BODY, ...), startTimeout ms,
 * databaseUrl (use this existing database, e.g. from createDatabase(), instead
 * of creating a fresh one; stop() then leaves it in place unless dropDatabase
 * is true). Resolves to the stack; rejects with run.sh's log when it does not
 * come up. */
export async function startStack(opts = {}) {
	const name = (opts.name || 'stack').replace(/[^A-Za-z0-9_.-]/g, '_');
	const tag = crypto.randomBytes(4).toString('hex');
	const dir = path.join(OUT, `${name}-${tag}`);
	const varDir = path.join(dir, 'var');
	const sanDir = path.join(dir, 'sanitizer');
	fs.mkdirSync(varDir, { recursive: true });
	fs.mkdirSync(sanDir, { recursive: true });
	const logFile = path.join(dir, 'run.log');
	const ownDb = !opts.databaseUrl || opts.dropDatabase === true;
	let db, databaseUrl;
	if (opts.databaseUrl) {
		databaseUrl = opts.databaseUrl;
		db = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
	} else {
		db = `t_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 20)}_${tag}`;
		await withAdmin((c) => c.query(`CREATE DATABASE ${db}`));
		databaseUrl = urlForDb(adminUrl(), db);
	}
	const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
	pool.on('error', () => {});

	const bin = path.resolve(ROOT, opts.bin || binDir());
	const proxyPort = await freePort();
	let webPort = await freePort();
	while (webPort === proxyPort) webPort = await freePort();
	const env = {
		...process.env,
		DATABASE_URL: databaseUrl,
		CAPTURE_BIN: bin,
		CAPTURE_VAR: varDir,
		PROXY_HOST: '127.0.0.1',
		PROXY_PORT: String(proxyPort),
		WEB_HOST: '127.0.0.1',
		WEB_PORT: String(webPort),
		OPENAI_API_BASE: 'http://127.0.0.1:9',
		LOG_LEVEL: 'DEBUG',
		PROXY_THREADS: '8',
		ASAN_OPTIONS: `log_path=${sanDir}/asan:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1`,
		UBSAN_OPTIONS: `log_path=${sanDir}/ubsan:print_stacktrace=1:halt_on_error=1`,
		LSAN_OPTIONS: `log_path=${sanDir}/lsan`,
		...(opts.env || {}),
	};
	delete env.TEST_PG_ADMIN_URL;
	// curl in proxy_fcgi honours proxy variables: the tests talk to 127.0.0.1 only.
	for (const k of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'])
		if (!(opts.env && k in opts.env)) delete env[k];
	const logFd = fs.openSync(logFile, 'a');
	const child = spawn(path.join(ROOT, 'deploy', 'run.sh'), [], {
		cwd: ROOT, env, stdio: ['ignore', logFd, logFd],
	});
	fs.closeSync(logFd);
	let exited = null;
	const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
		exited = { code, signal };
		resolve(exited);
	}));

	const stack = {
		name, dir, varDir, sanDir, logFile, db, databaseUrl, pid: child.pid, bin, env,
		proxyPort, webPort,
		proxyUrl: `http://127.0.0.1:${proxyPort}`,
		webUrl: `http://127.0.0.1:${webPort}`,
		get exited() { return exited; },
		log: () => { try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; } },

		query: async (sql, params) => (await pool.query(sql, params)).rows,

		/* The capture row with this id, once the writer has stored it. */
		async waitForCapture(id, timeout = 10000) {
			const t0 = Date.now();
			for (;;) {
				const rows = await stack.query('SELECT * FROM captures WHERE id = $1', [id]);
				if (rows.length) return rows[0];
				if (Date.now() - t0 > timeout)
					throw new Error(`no capture row with id ${id} after ${timeout} ms (stack log: ${logFile})\n${tail(logFile, 20)}`);
				await sleep(50);
			}
		},

		/* Waits until n rows exist (number) or pred(rows) is true (function);
		 * resolves to all rows, oldest first. */
		async waitForCaptures(nOrPred, timeout = 10000) {
			const pred = typeof nOrPred === 'function' ? nOrPred : (rows) => rows.length >= nOrPred;
			const t0 = Date.now();
			for (;;) {
				const rows = await stack.query('SELECT * FROM captures ORDER BY started_at, id');
				if (pred(rows)) return rows;
				if (Date.now() - t0 > timeout)
					throw new Error(`captures did not reach the expected state in ${timeout} ms (have ${rows.length} rows)`);
				await sleep(50);
			}
		},

		/* SIGTERM to run.sh, wait for it, check for sanitizer reports, drop the
		 * database. Throws with the report text when a sanitizer complained. */
		async stop() {
			if (stack.stopped) return;
			stack.stopped = true;
			let problem = '';
			if (!exited) {
				child.kill('SIGTERM');
				let timer;
				const r = await Promise.race([exitPromise,
					new Promise((res) => { timer = setTimeout(() => res(null), 45000); })]);
				clearTimeout(timer);
				if (!r) {
					child.kill('SIGKILL');
					await exitPromise;
					problem += `run.sh (pid ${child.pid}) did not exit within 45 s of SIGTERM\n`;
				}
			}
			await pool.end().catch(() => {});
			// Give FastCGI children that outlived run.sh a moment, then look for reports.
			await sleep(200);
			const reports = sanitizerReports(sanDir);
			if (reports.length) {
				problem += `sanitizer reports in ${sanDir}:\n` +
					reports.map((f) => `==> ${f}\n${fs.readFileSync(f, 'utf8')}`).join('\n');
			}
			if (ownDb) {
				try {
					await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
				} catch (e) {
					problem += `dropping database ${db}: ${e.message}\n`;
				}
			}
			if (problem) throw new Error(problem);
		},
	};

	const startTimeout = opts.startTimeout || 30000;
	const t0 = Date.now();
	for (;;) {
		if (exited) {
			await stack.stop().catch(() => {});
			throw new Error(`deploy/run.sh exited at start (${JSON.stringify(exited)}); log ${logFile}:\n${tail(logFile)}`);
		}
		if (await canConnect(proxyPort)) break;
		if (Date.now() - t0 > startTimeout) {
			await stack.stop().catch(() => {});
			throw new Error(`proxy port ${proxyPort} did not open within ${startTimeout} ms; log ${logFile}:\n${tail(logFile)}`);
		}
		await sleep(50);
	}
	return stack;
}

/* Runs `proxy_fcgi --check-config` with env added to a clean environment;
 * returns {status, stdout, stderr}. */
export function checkConfig(env = {}, bin = binDir()) {
	const base = {};
	for (const k of ['PATH', 'HOME', 'LANG', 'ASAN_OPTIONS', 'UBSAN_OPTIONS']) if (process.env[k]) base[k] = process.env[k];
	const r = spawnSync(path.join(bin, 'proxy_fcgi'), ['--check-config'], {
		env: { ...base, CAPTURE_CONFIG: path.join(ROOT, 'config.env'), ...env }, encoding: 'utf8', timeout: 20000,
	});
	return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

/* Runs deploy/run.sh expecting it to fail at start; returns {status, output}. */
export function runShExpectFail(env = {}, timeout = 30000) {
	const r = spawnSync(path.join(ROOT, 'deploy', 'run.sh'), [], {
		cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout,
	});
	return { status: r.status, signal: r.signal, output: (r.stdout || '') + (r.stderr || '') };
}

/* One HTTP/1.1 request on a fresh connection, headers sent exactly as given
 * (an object, or an array of [name, value] pairs to keep order and repeats).
 * Resolves to {status, headers, rawHeaders, body (Buffer), ms}. */
export function rawRequest(url, { method = 'GET', headers = {}, body, timeout = 30000 } = {}) {
	const u = new URL(url);
	const flat = Array.isArray(headers) ? headers.flat() : Object.entries(headers).flat();
	const names = [];
	for (let i = 0; i < flat.length; i += 2) names.push(String(flat[i]).toLowerCase());
	if (body !== undefined && !names.includes('content-length') && !names.includes('transfer-encoding'))
		flat.push('Content-Length', String(Buffer.byteLength(body)));
	if (!names.includes('host')) flat.unshift('Host', u.host);
	const t0 = Date.now();
	return new Promise((resolve, reject) => {
		const req = http.request({
			host: u.hostname, port: u.port, path: u.pathname + u.search, method,
			headers: flat, agent: false, setHost: false, timeout,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders,
					body: Buffer.concat(chunks), ms: Date.now() - t0 });
				req.destroy();
			});
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeout} ms`)));
		req.on('error', reject);
		req.end(body);
	});
}
