// tests/browser/team.test.mjs - the dashboard's team views in headless Chromium:
// filters by instance, user, end user, session and tag (kept in the URL, Back
// undoes them), values in rows and on the detail page that filter by
// themselves, the "Break down by" table, cost (a dollar amount for a priced
// model, "—" for an unknown one), and the Download menu whose links carry the
// list's filters. Two proxies ("alpha", "beta") share one database; calls are
// labelled through the proxy with X-Capture-User/-Session/-Tags and the body's
// user. Screenshots go to tests/out/screenshots/ (team-*.png).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import * as upstreamLib from '../lib/upstream.mjs';
import { startStack, createDatabase, dropDatabase, ROOT, UUID_RE } from '../lib/stack.mjs';

const SHOTS = path.join(ROOT, 'tests', 'out', 'screenshots');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];
const KEY_A = 'sk-proj-TEAMALPHA1111222233334444';
const KEY_B = 'sk-proj-TEAMBETA55556666777788889';
// gpt-4o-mini (the fake answers gpt-4o-mini-2024-07-18, which takes its price):
// 12 prompt tokens of which 3 cached, 7 completion tokens, at $0.15 / $0.075 / $0.60 per million.
const MINI_COST = (9 * 0.15 + 3 * 0.075 + 7 * 0.60) / 1e6;

// The calls, in order. by: proxy; h: attribution headers; body: extra body fields.
const PLAN = [
	{ as: 'alice1', by: 'alpha', h: { 'X-Capture-User': 'alice', 'X-Capture-Session': 'conv-1', 'X-Capture-Tags': 'eval, nightly' } },
	{ as: 'alice2', by: 'alpha', h: { 'X-Capture-User': 'alice', 'X-Capture-Session': 'conv-1', 'X-Capture-Tags': 'eval, nightly' } },
	{ as: 'alice3', by: 'alpha', h: { 'X-Capture-User': 'alice', 'X-Capture-Session': 'conv-1', 'X-Capture-Tags': 'eval' } },
	{ as: 'aliceOdd', by: 'alpha', model: 'mystery-model', h: { 'X-Capture-User': 'alice' } },
	{ as: 'bob1', by: 'alpha', h: { 'X-Capture-User': 'bob', 'X-Capture-Session': 'conv-2', 'X-Capture-Tags': 'eval' } },
	{ as: 'bob2', by: 'alpha', h: { 'X-Capture-User': 'bob', 'X-Capture-Session': 'conv-2' }, body: { user: 'end-9' } },
	{ as: 'bobFail', by: 'alpha', model: 'fail-500', h: { 'X-Capture-User': 'bob' } },
	{ as: 'anon', by: 'alpha', body: { user: 'end-7' } },
	{ as: 'carol1', by: 'beta', h: { 'X-Capture-User': 'carol', 'X-Capture-Tags': 'prod' } },
	{ as: 'carol2', by: 'beta', h: { 'X-Capture-User': 'carol', 'X-Capture-Tags': 'prod' } },
];
const ids = {};
const idsWhere = (pred) => PLAN.filter(pred).map((p) => ids[p.as]).sort();

describe('dashboard team views in Chromium', () => {
	let up, shared, alpha, beta, browser, context;
	const problems = [];

	async function newPage() {
		const page = await context.newPage();
		page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
		page.on('console', (m) => {
			if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
		});
		return page;
	}

	/* The ids of the rows the list shows, once it shows n of them. */
	async function listIds(page, n) {
		await page.waitForFunction((want) => {
			const st = document.getElementById('list-status').textContent;
			return document.querySelectorAll('#rows tr.row').length === want && !/Loading|加载/.test(st);
		}, n, { timeout: 10000 }).catch(async () => {
			const got = await page.locator('#rows tr.row').count();
			assert.fail(`list shows ${got} rows, want ${n} (url ${page.url()})`);
		});
		return (await page.locator('#rows tr.row').evaluateAll((rows) => rows.map((r) => r.dataset.id))).sort();
	}

	/* The breakdown table as {key: {requests, failed, cost}} once it has n groups. */
	async function groups(page, n) {
		await page.waitForFunction((want) => document.querySelectorAll('#group-rows tr').length === want, n, { timeout: 10000 })
			.catch(async () => assert.fail(`breakdown has ${await page.locator('#group-rows tr').count()} rows, want ${n}`));
		return page.locator('#group-rows tr').evaluateAll((rows) => Object.fromEntries(rows.map((tr) => {
			const c = tr.querySelectorAll('td');
			return [c[0].textContent, { requests: c[1].textContent, failed: c[2].textContent, cost: c[4].textContent, costTip: c[4].title }];
		})));
	}

	before(async () => {
		fs.mkdirSync(SHOTS, { recursive: true });
		up = await upstreamLib.start();
		shared = await createDatabase('dashteam');
		[alpha, beta] = await Promise.all(['alpha', 'beta'].map((name) => startStack({
			name: `browser-${name}`, databaseUrl: shared.url, env: { OPENAI_API_BASE: up.url, INSTANCE_NAME: name } })));
		const clients = {
			alpha: new OpenAI({ apiKey: KEY_A, baseURL: `${alpha.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 }),
			beta: new OpenAI({ apiKey: KEY_B, baseURL: `${beta.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 }),
		};
		for (const p of PLAN) {
			const body = { model: p.model || 'gpt-4o-mini', messages: [{ role: 'user', content: `team call ${p.as}` }], ...(p.body || {}) };
			let id;
			try {
				const { response } = await clients[p.by].chat.completions.create(body, { headers: p.h || {} }).withResponse();
				id = response.headers.get('x-capture-id');
			} catch (e) {
				assert.equal(p.model, 'fail-500', `${p.as}: ${e.message}`);
				id = e.headers && (e.headers['x-capture-id'] || (e.headers.get && e.headers.get('x-capture-id')));
			}
			assert.match(id || '', UUID_RE, `${p.as}: X-Capture-Id`);
			ids[p.as] = id;
			await alpha.waitForCapture(id);
		}
		browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
		context = await browser.newContext({ baseURL: alpha.webUrl, viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
	});

	after(async () => {
		try { await browser?.close(); } finally {
			try { await alpha?.stop(); } finally {
				try { await beta?.stop(); } finally {
					try { if (shared) await dropDatabase(shared.db); } finally { await up?.stop(); }
				}
			}
		}
	});

	test('the API gives what the page shows: attribution and cost on list items', async () => {
		const r = await fetch(`${alpha.webUrl}/api/requests?page_size=50`);
		assert.equal(r.status, 200);
		const items = Object.fromEntries((await r.json()).requests.map((x) => [x.id, x]));
		const a = items[ids.alice1];
		assert.equal(a.user, 'alice');
		assert.equal(a.session, 'conv-1');
		assert.deepEqual(a.tags, ['eval', 'nightly']);
		assert.equal(a.instance, 'alpha');
		assert.ok(Math.abs(a.cost_usd - MINI_COST) < 1e-8, `cost_usd ${a.cost_usd}, want ${MINI_COST}`);
		assert.equal(items[ids.aliceOdd].cost_usd, null, 'unknown model: null cost');
		assert.equal(items[ids.anon].end_user, 'end-7');
		assert.equal(items[ids.carol1].instance, 'beta');
	});

	test('filter inputs narrow the list, live in the URL, and Back undoes them', async () => {
		const page = await newPage();
		await page.goto('/');
		assert.equal((await listIds(page, PLAN.length)).length, PLAN.length);
		await page.fill('#f-user', 'alice');
		await page.press('#f-user', 'Enter');
		assert.deepEqual(await listIds(page, 4), idsWhere((p) => p.h?.['X-Capture-User'] === 'alice'));
		assert.match(page.url(), /[?&]user=alice(&|$)/);
		assert.equal(await page.locator('#f-user').getAttribute('class'), 'is-set');
		await page.waitForFunction(() => document.getElementById('stat-total').textContent === '4');

		// the instance select lists both proxies; with alice on beta nothing is left
		await page.waitForFunction(() => document.querySelectorAll('#f-instance option').length === 3);
		await page.selectOption('#f-instance', 'beta');
		await listIds(page, 0);
		assert.match(page.url(), /instance=beta/);

		// Back: alice again, then everything
		await page.goBack();
		assert.deepEqual(await listIds(page, 4), idsWhere((p) => p.h?.['X-Capture-User'] === 'alice'));
		assert.equal(await page.inputValue('#f-instance'), '');
		await page.goBack();
		await listIds(page, PLAN.length);
		assert.equal(await page.inputValue('#f-user'), '');

		// a shared link with every kind of team filter
		const cases = [
			['?instance=beta', idsWhere((p) => p.by === 'beta')],
			['?end_user=end-7', [ids.anon]],
			['?session=conv-2', [ids.bob1, ids.bob2].sort()],
			['?tag=eval', idsWhere((p) => /eval/.test(p.h?.['X-Capture-Tags'] || ''))],
			['?tag=nightly&user=alice', [ids.alice1, ids.alice2].sort()],
		];
		for (const [query, want] of cases) {
			await page.goto('/' + query);
			assert.deepEqual(await listIds(page, want.length), want, query);
			const q = new URLSearchParams(query);
			for (const [name, value] of q) assert.equal(await page.inputValue(`#f-${name}`), value, `${query}: #f-${name} shows it`);
		}
		// the suggestions: the users seen, from the breakdown API
		await page.goto('/');
		await listIds(page, PLAN.length);
		await page.focus('#f-user');
		await page.waitForFunction(() => document.querySelectorAll('#dl-user option').length === 3);
		assert.deepEqual((await page.locator('#dl-user option').evaluateAll((o) => o.map((x) => x.value))).sort(), ['alice', 'bob', 'carol']);
		assert.deepEqual(problems, []);
		await page.close();
	});

	test('clicking a user, instance, session or tag in a row filters by it', async () => {
		const page = await newPage();
		await page.goto('/');
		await listIds(page, PLAN.length);
		// two instances: the user column names them
		await page.waitForSelector(`#rows tr[data-id="${ids.carol1}"] .pick-instance`);
		assert.equal(await page.locator('#col-who').textContent(), 'User · instance');
		assert.equal(await page.locator(`#rows tr[data-id="${ids.anon}"] .pick-end`).textContent(), 'end-7');
		await page.screenshot({ path: path.join(SHOTS, 'team-list.png'), fullPage: true });

		await page.click(`#rows tr[data-id="${ids.bob1}"] .pick-user`);
		assert.deepEqual(await listIds(page, 3), idsWhere((p) => p.h?.['X-Capture-User'] === 'bob'));
		assert.equal(await page.inputValue('#f-user'), 'bob');
		assert.match(page.url(), /user=bob/);
		assert.equal(new URL(page.url()).pathname, '/', 'a filter click does not open the detail page');

		await page.click(`#rows tr[data-id="${ids.bob1}"] .badge-session`);
		assert.deepEqual(await listIds(page, 2), [ids.bob1, ids.bob2].sort());
		await page.goto('/');
		await listIds(page, PLAN.length);
		await page.click(`#rows tr[data-id="${ids.carol2}"] .badge-tag`);
		assert.deepEqual(await listIds(page, 2), idsWhere((p) => p.as.startsWith('carol')));
		assert.equal(await page.inputValue('#f-tag'), 'prod');
		await page.goto('/');
		await listIds(page, PLAN.length);
		await page.click(`#rows tr[data-id="${ids.carol2}"] .pick-instance`);
		assert.deepEqual(await listIds(page, 2), idsWhere((p) => p.by === 'beta'));
		assert.equal(await page.inputValue('#f-instance'), 'beta');
		assert.deepEqual(problems, []);
		await page.close();
	});

	test('the breakdown counts per user and per instance; a group click filters', async () => {
		const page = await newPage();
		await page.goto('/');
		await listIds(page, PLAN.length);
		await page.selectOption('#group-by', 'user');
		const byUser = await groups(page, 4);
		assert.deepEqual(Object.keys(byUser).sort(), ['(none)', 'alice', 'bob', 'carol']);
		assert.equal(byUser.alice.requests, '4');
		assert.equal(byUser.bob.requests, '3');
		assert.equal(byUser.bob.failed, '1');
		assert.equal(byUser.carol.requests, '2');
		assert.equal(byUser.carol.failed, '0');
		assert.equal(byUser['(none)'].requests, '1');
		assert.match(byUser.carol.cost, /^\$0\.0000\d+$/, 'carol: two priced calls');
		assert.ok(Math.abs(Number(byUser.carol.costTip.slice(1)) - 2 * MINI_COST) < 2e-8, `carol's cost ${byUser.carol.costTip}`);
		assert.match(byUser.alice.cost, /^\$0\.0000\d+ \*$/, 'alice: three priced calls and one unpriced, marked');
		assert.match(byUser.alice.costTip, /^\$0\.0000\d+ · unpriced calls left out: 1$/);
		assert.equal(byUser.bob.costTip.includes('unpriced'), false, 'bob: the failure had no usage, nothing left out');
		assert.match(page.url(), /[?&]by=user/);
		await page.screenshot({ path: path.join(SHOTS, 'team-breakdown-user.png') });

		await page.reload();
		assert.equal(await page.inputValue('#group-by'), 'user', 'the breakdown choice survives a reload');
		await page.selectOption('#group-by', 'instance');
		const byInstance = await groups(page, 2);
		assert.deepEqual(byInstance.alpha.requests, '8');
		assert.deepEqual(byInstance.beta.requests, '2');
		assert.deepEqual(byInstance.alpha.failed, '1');

		await page.click('#group-rows button[data-value="beta"]');
		assert.deepEqual(await listIds(page, 2), idsWhere((p) => p.by === 'beta'));
		assert.equal(await page.inputValue('#f-instance'), 'beta');
		assert.match(page.url(), /instance=beta/);
		await groups(page, 1);
		await page.waitForFunction(() => document.getElementById('stat-total').textContent === '2');

		await page.goto('/?by=tag');
		const byTag = await groups(page, 4);
		assert.equal(byTag.eval.requests, '4');
		assert.equal(byTag.nightly.requests, '2');
		assert.equal(byTag.prod.requests, '2');
		assert.deepEqual(problems, []);
		await page.close();
	});

	test('cost: dollars for a priced model, — for an unknown one, totals in the card', async () => {
		const page = await newPage();
		await page.goto('/');
		await listIds(page, PLAN.length);
		const cell = (as) => page.locator(`#rows tr[data-id="${ids[as]}"] td.cost`);
		assert.equal(await cell('alice1').textContent(), '$0.00000578');
		assert.equal(await cell('aliceOdd').textContent(), '—');
		assert.equal(await cell('aliceOdd').getAttribute('title'), 'no price for this model');
		assert.equal(await cell('bobFail').textContent(), '—');

		// eight gpt-4o-mini calls are priced; the unknown model and the failure are not
		const stats = await (await fetch(`${alpha.webUrl}/api/stats`)).json();
		assert.ok(Math.abs(stats.cost_usd - 8 * MINI_COST) < 1e-7, `stats cost ${stats.cost_usd}`);
		assert.equal(stats.unpriced_requests, 1, 'the unknown model (the failure reported no usage)');
		await page.waitForFunction(() => document.getElementById('stat-cost').textContent !== '–');
		assert.equal(await page.locator('#stat-cost').textContent(), '$0.0000462');
		assert.ok(Math.abs(Number((await page.locator('#stat-cost').getAttribute('title')).slice(1)) - stats.cost_usd) < 1e-9);
		assert.equal(await page.locator('#stat-cost-sub').textContent(), '1 call unpriced');

		// only the unknown model: no cost at all
		await page.goto('/?model=mystery-model-2024-07-18');
		await listIds(page, 1);
		await page.waitForFunction(() => document.getElementById('stat-total').textContent === '1');
		assert.equal(await page.locator('#stat-cost').textContent(), '—');
		assert.equal(await page.locator('#stat-cost-sub').textContent(), '1 call unpriced');
		assert.deepEqual(problems, []);
		await page.close();
	});

	test('the detail page shows instance, user, session, tags, end user and cost, each a filter link', async () => {
		const page = await newPage();
		await page.goto(`/request/${ids.alice1}`);
		await page.waitForSelector('#detail:not([hidden])');
		const kv = await page.locator('#summary').evaluate((dl) => {
			const out = {};
			dl.querySelectorAll('dt').forEach((dt) => { out[dt.textContent] = dt.nextElementSibling.textContent; });
			return out;
		});
		assert.equal(kv['Instance'], 'alpha');
		assert.equal(kv['User (X-Capture-User)'], 'alice');
		assert.equal(kv['Session (X-Capture-Session)'], 'conv-1');
		assert.equal(kv['Tags (X-Capture-Tags)'], 'evalnightly');
		assert.equal(kv['Cost'], '$0.00000578');
		await page.screenshot({ path: path.join(SHOTS, 'team-detail.png') });
		await page.click('#summary a[href="/?tag=nightly"]');
		await page.waitForURL('**/?tag=nightly');
		assert.deepEqual(await listIds(page, 2), [ids.alice1, ids.alice2].sort());

		await page.goto(`/request/${ids.bob2}`);
		await page.waitForSelector('#detail:not([hidden])');
		assert.equal(await page.locator('#summary a[href="/?end_user=end-9"]').textContent(), 'end-9');
		await page.goto(`/request/${ids.aliceOdd}`);
		await page.waitForSelector('#detail:not([hidden])');
		assert.match(await page.locator('#summary').textContent(), /Cost— \(no price for this model\)/);
		assert.deepEqual(problems, []);
		await page.close();
	});

	test('the Download menu links to /api/export with the filters; the files hold the filtered calls', async () => {
		const page = await newPage();
		await page.goto('/?user=alice&tag=eval');
		const want = idsWhere((p) => p.h?.['X-Capture-User'] === 'alice' && /eval/.test(p.h?.['X-Capture-Tags'] || ''));
		await listIds(page, want.length);
		await page.click('#export > summary');
		await page.waitForSelector('#export-csv', { state: 'visible' });
		await page.screenshot({ path: path.join(SHOTS, 'team-export-menu.png') });
		const hrefs = await page.locator('#export a[data-format]:not([hidden])').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
		for (const h of hrefs) {
			const u = new URL(h, alpha.webUrl);
			assert.equal(u.pathname, '/api/export');
			assert.equal(u.searchParams.get('user'), 'alice', h);
			assert.equal(u.searchParams.get('tag'), 'eval', h);
			assert.match(u.searchParams.get('format'), /^(jsonl|csv|har)$/, h);
		}
		assert.equal(hrefs.length, 4, 'JSONL, fine-tuning JSONL, CSV and HAR');
		const href = (fmt) => hrefs.find((h) => new URL(h, alpha.webUrl).searchParams.get('format') === fmt && !new URL(h, alpha.webUrl).searchParams.has('shape'));

		// the browser downloads the JSONL: one line per filtered capture
		const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-jsonl')]);
		const file = await download.path();
		const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
		assert.deepEqual(lines.map((l) => l.id).sort(), want);
		assert.match(download.suggestedFilename(), /\.jsonl$/);
		assert.equal(await page.locator('#export').getAttribute('open'), null, 'the menu closes after a choice');

		const csv = await fetch(new URL(href('csv'), alpha.webUrl));
		assert.equal(csv.status, 200);
		const csvLines = (await csv.text()).split(/\r?\n/).filter(Boolean);
		assert.equal(csvLines.length, want.length + 1, 'CSV: a header and one row per capture');
		for (const id of want) assert.ok(csvLines.some((l) => l.includes(id)), `CSV has ${id}`);

		const har = await (await fetch(new URL(href('har'), alpha.webUrl))).json();
		assert.equal(har.log.entries.length, want.length, 'HAR: one entry per capture');

		// fine-tuning: each call as chat messages ending with the assistant's reply
		const messagesHref = await page.locator('#export-messages').getAttribute('href');
		assert.equal(new URL(messagesHref, alpha.webUrl).searchParams.get('shape'), 'messages');
		assert.equal(new URL(messagesHref, alpha.webUrl).searchParams.get('user'), 'alice');
		const chats = (await (await fetch(new URL(messagesHref, alpha.webUrl))).text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
		assert.equal(chats.length, want.length, 'fine-tuning JSONL: one conversation per call');
		for (const c of chats) {
			assert.equal(c.messages[0].role, 'user');
			assert.match(c.messages[0].content, /^team call alice\d$/);
			assert.equal(c.messages.at(-1).role, 'assistant');
		}

		// a time range becomes from= when the link is followed
		await page.selectOption('#f-range', '1h');
		await page.waitForURL(/range=1h/);
		const ranged = new URL(await page.locator('#export-csv').getAttribute('href'), alpha.webUrl);
		assert.ok(ranged.searchParams.get('from'), 'from= in the link');
		assert.equal(ranged.searchParams.get('range'), null);
		assert.deepEqual(problems, []);
		await page.close();
	});

	test('in Chinese: the team views are translated', async () => {
		const page = await newPage();
		await page.goto('/?by=user');
		await listIds(page, PLAN.length);
		await page.selectOption('#lang', 'zh');
		assert.equal(await page.locator('[data-i18n="stats.cost"]').textContent(), '费用');
		assert.equal(await page.locator('#group-key-head').textContent(), '用户');
		assert.equal(await page.locator('#col-who').textContent(), '用户 · 实例');
		assert.equal(await page.locator('#export > summary').textContent(), '下载 ▾');
		await page.waitForFunction(() => /无法计价/.test(document.getElementById('stat-cost-sub').textContent));
		await groups(page, 4);
		await page.waitForTimeout(300);
		await page.screenshot({ path: path.join(SHOTS, 'team-zh.png'), fullPage: true });
		await page.goto(`/request/${ids.alice1}`);
		await page.waitForSelector('#detail:not([hidden])');
		assert.match(await page.locator('#summary').textContent(), /会话（X-Capture-Session）conv-1/);
		await page.screenshot({ path: path.join(SHOTS, 'team-detail-zh.png') });
		await page.selectOption('#lang', 'en');
		assert.deepEqual(problems, []);
		await page.close();
	});
});
