// tests/browser/dashboard.test.mjs - the dashboard in headless Debian Chromium: the list,
// search, the detail page, copying, auto-refresh, the language switch, and captured
// XSS payloads that must stay inert. Captures are made through the proxy with the
// openai SDK against the fake upstream. Screenshots go to tests/out/screenshots/.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import * as upstreamLib from '../lib/upstream.mjs';
import { STREAM_DELTAS } from '../lib/upstream.mjs';
import { startStack, ROOT, UUID_RE } from '../lib/stack.mjs';

const KEY = 'sk-proj-BROWSERKEY123456789abcdWXYZ';
const KEY_SECRET = 'BROWSERKEY123456789';
const SHOTS = path.join(ROOT, 'tests', 'out', 'screenshots');
const XSS_PROMPT = '<img src=x onerror="window.__xss=1;document.title=\'pwned\'"><script>window.__xss=2;alert(2)</script>' +
	'<svg onload="window.__xss=3"></svg>"><iframe src="javascript:window.__xss=4"></iframe> xsspayload';
const XSS_MODEL = '<img src=x onerror=window.__xss=5>';
// attribution labels are captured strings too (no comma: X-Capture-Tags splits on it)
const XSS_LABEL = '<img src=x onerror="window.__xss=6"><script>window.__xss=7</script>';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('dashboard in Chromium', () => {
	let up, s, client, browser, context;
	const c = {};
	const problems = [];   // page errors, dialogs, CSP violations, seen on any page

	async function chat(role, content, extra = {}, headers = {}) {
		const { response, data } = await client.chat.completions.create({
			model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra }, { headers }).withResponse();
		if (extra.stream) for await (const _ of data) { /* drain */ }
		const id = response.headers.get('x-capture-id');
		assert.match(id || '', UUID_RE);
		c[role] = id;
		await s.waitForCapture(id);
		return id;
	}

	async function newPage() {
		const page = await context.newPage();
		page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
		page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
		page.on('console', (m) => {
			if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
		});
		return page;
	}

	async function assertInert(page, what) {
		const state = await page.evaluate(() => ({ xss: window.__xss, title: document.title }));
		assert.equal(state.xss, undefined, `${what}: injected script ran`);
		assert.notEqual(state.title, 'pwned', `${what}: title changed`);
		assert.deepEqual(problems, [], `${what}: no errors, dialogs or CSP violations`);
	}

	before(async () => {
		fs.mkdirSync(SHOTS, { recursive: true });
		up = await upstreamLib.start();
		s = await startStack({ name: 'browser', env: { OPENAI_API_BASE: up.url } });
		client = new OpenAI({ apiKey: KEY, baseURL: `${s.proxyUrl}/v1`, maxRetries: 0, timeout: 30000 });
		await chat('first', 'What is a quokka?');
		await chat('zebra', 'Tell me about the zebracorn');
		await chat('stream', 'Stream me a flamingo haiku', { stream: true, stream_options: { include_usage: true } });
		await chat('xss', XSS_PROMPT, { user: XSS_LABEL },
			{ 'X-Capture-User': XSS_LABEL, 'X-Capture-Session': XSS_LABEL, 'X-Capture-Tags': `${XSS_LABEL}, ok-tag` });
		const r = await client.chat.completions.create({ model: XSS_MODEL, messages: [{ role: 'user', content: 'model xss' }] }).withResponse();
		c.xssModel = r.response.headers.get('x-capture-id');
		await s.waitForCapture(c.xssModel);
		try { await client.chat.completions.create({ model: 'fail-500', messages: [{ role: 'user', content: 'boom' }] }); } catch { /* expected */ }
		await s.waitForCaptures(6);
		browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
		context = await browser.newContext({ baseURL: s.webUrl, viewport: { width: 1400, height: 1000 } });
		await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.webUrl });
	});

	after(async () => {
		try { await browser?.close(); } finally {
			try { await s?.stop(); } finally { await up?.stop(); }
		}
	});

	test('static assets come with their content types', async () => {
		for (const [p, type] of [['/static/css/app.css', /^text\/css/], ['/static/js/main.js', /javascript/]]) {
			const r = await fetch(s.webUrl + p);
			assert.equal(r.status, 200, p);
			assert.match(r.headers.get('content-type') || '', type,
				`${p}: lighttpd.conf needs mimetype.assign for .css/.js/.svg (browsers ignore a stylesheet sent as octet-stream)`);
		}
	});

	test('the list renders every capture with stats and charts; payloads stay inert', async () => {
		const page = await newPage();
		await page.goto('/');
		await page.waitForSelector('#rows tr.row');
		await page.waitForFunction(() => document.getElementById('stat-total').textContent !== '–');
		assert.equal(await page.locator('#rows tr.row').count(), 6);
		assert.equal(await page.locator('#stat-total').textContent(), '6');
		const paths = await page.locator('#rows .path-link').allTextContents();
		assert.ok(paths.every((p) => p === '/v1/chat/completions'));
		// the hostile model name is shown as text in the list and the model filter
		assert.ok((await page.locator('#rows td.model').allTextContents()).some((m) => m.startsWith(XSS_MODEL)));
		assert.ok((await page.locator('#f-model option').allTextContents()).some((m) => m.startsWith(XSS_MODEL)));
		assert.equal(await page.locator('#rows img, #rows script, #rows svg, #rows iframe').count(), 0);
		// hostile attribution labels: shown as text in the row and in the breakdown
		const xssRow = page.locator(`#rows tr.row[data-id="${c.xss}"]`);
		assert.equal(await xssRow.locator('.pick-user').textContent(), XSS_LABEL);
		assert.deepEqual(await xssRow.locator('.badge-tag').allTextContents(), [XSS_LABEL, 'ok-tag']);
		assert.equal(await xssRow.locator('.badge-session').textContent(), XSS_LABEL);
		for (const by of ['user', 'end_user', 'session', 'tag']) {
			await page.selectOption('#group-by', by);
			await page.waitForFunction((label) => [...document.querySelectorAll('#group-rows .pick')].some((b) => b.textContent === label), XSS_LABEL);
			assert.equal(await page.locator('#group-rows img, #group-rows script').count(), 0, `breakdown by ${by}`);
		}
		await page.selectOption('#group-by', 'model');
		await page.waitForTimeout(300);
		await page.screenshot({ path: path.join(SHOTS, 'main.png'), fullPage: true });
		await assertInert(page, 'main page');
		await page.close();
	});

	test('search narrows the list and marks the match', async () => {
		const page = await newPage();
		await page.goto('/');
		await page.waitForSelector('#rows tr.row');
		await page.fill('#f-search', 'zebracorn');
		await page.press('#f-search', 'Enter');
		await page.waitForFunction(() => document.querySelectorAll('#rows tr.row').length === 1);
		assert.equal(await page.locator('#rows tr.row').getAttribute('data-id'), c.zebra);
		assert.equal((await page.locator('#rows mark').first().textContent()).toLowerCase(), 'zebracorn');
		assert.match(page.url(), /search=zebracorn/, 'the search is kept in the URL');
		await page.screenshot({ path: path.join(SHOTS, 'search.png') });
		// a search for the payload finds it and shows it as text
		await page.fill('#f-search', 'xsspayload');
		await page.press('#f-search', 'Enter');
		await page.waitForFunction((id) => {
			const rows = document.querySelectorAll('#rows tr.row');
			return rows.length === 1 && rows[0].dataset.id === id;
		}, c.xss);
		await assertInert(page, 'search page');
		await page.close();
	});

	test('clicking a row opens the detail of a streamed call', async () => {
		const page = await newPage();
		await page.goto('/');
		await page.waitForSelector(`#rows tr.row[data-id="${c.stream}"]`);
		await page.click(`#rows tr.row[data-id="${c.stream}"] td.model`);
		await page.waitForURL(`**/request/${c.stream}`);
		await page.waitForSelector('#detail:not([hidden])');
		assert.equal(await page.locator('#d-method').textContent(), 'POST');
		assert.equal(await page.locator('#d-url').textContent(), '/v1/chat/completions');
		assert.equal(await page.locator('#d-status').textContent(), '200');
		assert.equal(await page.locator('#reply').textContent(), STREAM_DELTAS.join(''));
		assert.ok(await page.locator('#events li').count() >= STREAM_DELTAS.length);
		assert.ok(await page.locator('#req-body .j-key').count() > 0, 'request body is highlighted');
		const headers = await page.locator('#req-headers').textContent();
		assert.ok(!headers.includes(KEY_SECRET), 'the key is masked');
		await page.screenshot({ path: path.join(SHOTS, 'detail-stream.png'), fullPage: true });
		await assertInert(page, 'detail page');
		await page.close();
	});

	test('copy buttons and copy as curl', async () => {
		const page = await newPage();
		await page.goto(`/request/${c.zebra}`);
		await page.waitForSelector('#detail:not([hidden])');
		await page.click('[data-copy="reqBody"]');
		await page.waitForSelector('#toast:not([hidden])');
		const body = await page.evaluate(() => navigator.clipboard.readText());
		assert.equal(JSON.parse(body).messages[0].content, 'Tell me about the zebracorn');
		await page.click('[data-copy="respBody"]');
		await sleep(100);
		assert.ok(JSON.parse(await page.evaluate(() => navigator.clipboard.readText())).choices);
		await page.click('#copy-curl');
		await sleep(100);
		const curl = await page.evaluate(() => navigator.clipboard.readText());
		assert.ok(curl.startsWith(`curl '${s.proxyUrl}/v1/chat/completions'`), curl);
		assert.ok(curl.includes('-H "Authorization: Bearer $OPENAI_API_KEY"'), curl);
		assert.ok(!curl.includes(KEY_SECRET) && !curl.includes('…'), 'no key or key hint in curl');
		assert.ok(curl.includes('zebracorn'));
		await page.click('#copy-json');
		await sleep(100);
		assert.equal(JSON.parse(await page.evaluate(() => navigator.clipboard.readText())).id, c.zebra);
		await page.close();
	});

	test('the detail of the XSS capture shows the payload as text', async () => {
		const page = await newPage();
		await page.goto(`/request/${c.xss}`);
		await page.waitForSelector('#detail:not([hidden])');
		const text = await page.locator('#req-body').textContent();
		assert.ok(text.includes('onerror=\\"window.__xss=1'), 'payload visible as text');
		assert.equal(await page.locator('#detail img, #detail script, #detail svg, #detail iframe').count(), 0);
		assert.equal(await page.locator('#summary a[href^="/?user="]').textContent(), XSS_LABEL, 'the user, as text');
		assert.equal(await page.locator('#summary a.badge-tag').count(), 2);
		await page.screenshot({ path: path.join(SHOTS, 'detail-xss.png'), fullPage: true });
		await assertInert(page, 'XSS detail page');
		await page.goto(`/request/${c.xssModel}`);
		await page.waitForSelector('#detail:not([hidden])');
		await assertInert(page, 'XSS model detail page');
		await page.goto('/request/01900000-0000-7000-8000-000000000000');
		await page.waitForSelector('#detail-error:not([hidden])');
		await page.close();
	});

	test('auto-refresh brings in a new capture; pause holds it back', async () => {
		const page = await newPage();
		await page.goto('/');
		await page.waitForSelector('#rows tr.row');
		await page.selectOption('#refresh-interval', '2000');
		await chat('live', 'a live capture of an okapi');
		await page.waitForSelector(`#rows tr.row[data-id="${c.live}"]`, { timeout: 15000 });
		await page.waitForFunction(() => document.getElementById('stat-total').textContent === '7', null, { timeout: 15000 });
		await page.click('#refresh-pause');
		assert.equal(await page.locator('#refresh-pause').textContent(), 'Resume');
		await sleep(500);
		await chat('held', 'a capture while paused');
		await sleep(4500);
		assert.equal(await page.locator(`#rows tr.row[data-id="${c.held}"]`).count(), 0, 'paused: no refresh');
		await page.click('#refresh-pause');
		await page.waitForSelector(`#rows tr.row[data-id="${c.held}"]`, { timeout: 15000 });
		await assertInert(page, 'refreshing page');
		await page.close();
	});

	test('Chinese translation, remembered across reloads', async () => {
		const page = await newPage();
		await page.goto('/');
		await page.waitForSelector('#rows tr.row');
		await page.selectOption('#lang', 'zh');
		assert.equal(await page.locator('[data-i18n="stats.total"]').textContent(), '总请求数');
		await page.reload();
		await page.waitForSelector('#rows tr.row');
		assert.equal(await page.locator('[data-i18n="stats.total"]').textContent(), '总请求数');
		assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
		await page.waitForTimeout(300);
		await page.screenshot({ path: path.join(SHOTS, 'main-zh.png') });
		await page.selectOption('#lang', 'en');
		await page.close();
	});
});
