// tests/valgrind/valgrind.test.mjs - a short load on both programs under valgrind:
// no memory errors, no definite leaks, after a clean SIGTERM stop.
//
// lighttpd starts the programs through small wrapper scripts that exec
// valgrind; each process writes its report to valgrind.<pid>.log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startStack, binDir, OUT, rawRequest } from '../lib/stack.mjs';
import * as upstream from '../lib/upstream.mjs';

const KEY = 'sk-proj-VALGRINDKEY1234567890abcdWXYZ';

/* A bin dir whose proxy_fcgi and dashboard_fcgi run the real ones under valgrind. */
function valgrindBin(logDir) {
	const dir = path.join(OUT, `valgrind-bin-${process.pid}`);
	fs.mkdirSync(dir, { recursive: true });
	for (const prog of ['proxy_fcgi', 'dashboard_fcgi']) {
		const real = path.join(binDir(), prog);
		const script = `#!/bin/sh
# --check-config is a quick CLI run: no need to watch it
[ "$1" = --check-config ] && exec "${real}" "$@"
exec valgrind --leak-check=full --show-leak-kinds=definite \\
	--errors-for-leak-kinds=definite --num-callers=30 \\
	--log-file="${logDir}/valgrind.${prog}.%p.log" "${real}" "$@"
`;
		fs.writeFileSync(path.join(dir, prog), script, { mode: 0o755 });
	}
	return dir;
}

/* The reports that do not end in a clean summary: a process that did not
 * exit normally, a memory error, or a definitely lost block (counted as an
 * error by --errors-for-leak-kinds=definite). */
function problems(logDir) {
	const found = [];
	for (const f of fs.readdirSync(logDir).filter((n) => n.startsWith('valgrind.'))) {
		const text = fs.readFileSync(path.join(logDir, f), 'utf8');
		if (!/ERROR SUMMARY: 0 errors from 0 contexts/.test(text))
			found.push(`${f}:\n${text}`);
	}
	return found;
}

test('proxy_fcgi and dashboard_fcgi: no memory errors or leaks under valgrind', { timeout: 240000 }, async () => {
	const up = await upstream.start();
	const logDir = fs.mkdtempSync(path.join(OUT, 'valgrind-logs-'));
	const stack = await startStack({
		name: 'valgrind', bin: valgrindBin(logDir), startTimeout: 60000,
		env: { OPENAI_API_BASE: up.url, PROXY_THREADS: '3', LOG_LEVEL: 'INFO' },
	});
	try {
		const client = new OpenAI({ apiKey: KEY, baseURL: `${stack.proxyUrl}/v1`, maxRetries: 0, timeout: 60000 });
		const ids = [];
		for (let i = 0; i < 3; i++) {
			const { response } = await client.chat.completions.create({
				model: 'gpt-4o-mini', messages: [{ role: 'user', content: `valgrind ${i}` }],
			}).withResponse();
			ids.push(response.headers.get('x-capture-id'));
		}
		const stream = await client.chat.completions.create({
			model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
			messages: [{ role: 'user', content: 'stream under valgrind' }],
		});
		let text = '';
		for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
		assert.equal(text, upstream.STREAM_DELTAS.join(''));
		const err = await client.chat.completions.create({
			model: 'fail-429', messages: [{ role: 'user', content: 'x' }],
		}).catch((e) => e);
		assert.equal(err.status, 429);
		for (const id of ids) await stack.waitForCapture(id, 30000);
		for (const p of ['/api/stats', '/api/requests?search=valgrind', `/api/request/${ids[0]}`, '/']) {
			const r = await rawRequest(`${stack.webUrl}${p}`, { timeout: 60000 });
			assert.equal(r.status, 200, `${p}: ${r.status}`);
		}
	} finally {
		await stack.stop();
		await upstream.stop(up);
	}
	const logs = fs.readdirSync(logDir).filter((n) => n.startsWith('valgrind.'));
	assert.ok(logs.some((n) => n.includes('proxy_fcgi')), `no proxy_fcgi report in ${logDir}`);
	assert.ok(logs.some((n) => n.includes('dashboard_fcgi')), `no dashboard_fcgi report in ${logDir}`);
	assert.deepEqual(problems(logDir), []);
});
