// tests/bench/report.mjs - turns results.jsonl of tests/bench/run.sh into the markdown report.
//
//   node report.mjs results.jsonl
//
// Prints one table (rows: measures, columns: targets; each cell the absolute
// figure and, where a ratio means something, "× nginx / × direct" measured in
// the same run), then completeness, memory, the capture side, and the targets
// of the performance issue as "MET ..." / "MISSED ..." lines.
import fs from 'node:fs';

const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const env = lines.find((l) => l.kind === 'env') || {};
const NAMES = { direct: 'direct', nginx: 'nginx proxy_pass', lighttpd: 'lighttpd mod_proxy', mitmproxy: 'mitmproxy', ours: '**ours** (lighttpd + proxy_fcgi + PostgreSQL)' };
const targets = ['direct', 'nginx', 'lighttpd', 'mitmproxy', 'ours'].filter((t) => lines.some((l) => l.target === t));

// A load ran in rounds: requests and time add up, percentiles are the median of the rounds'.
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; };
const wrk = (phase, t) => {
	const rs = lines.filter((l) => l.kind === 'wrk' && l.phase === phase && l.target === t && l.duration_us);
	if (!rs.length) return undefined;
	const sum = (k) => rs.reduce((a, l) => a + (l[k] || 0), 0);
	const agg = { rounds: rs.length, requests: sum('requests'), duration_us: sum('duration_us'), non2xx: sum('non2xx') };
	for (const k of ['p50_us', 'p90_us', 'p99_us', 'p999_us']) agg[k] = median(rs.map((l) => l[k]));
	const dr = rs.filter((l) => l.drain_s !== undefined).map((l) => l.drain_s);
	if (dr.length) agg.drain_s = Math.max(...dr);
	return agg;
};
const rps = (w) => (w && w.duration_us ? w.requests / (w.duration_us / 1e6) : null);
// Streams ran in rounds too: counts add up, percentiles and CPU are the median of the rounds'.
const sse = (t) => {
	const rs = lines.filter((l) => l.kind === 'sse' && l.target === t);
	if (!rs.length) return undefined;
	const agg = { rounds: rs.length, cpu_us: {} };
	for (const k of ['streams', 'ok', 'failed', 'events', 'coalesced']) agg[k] = rs.reduce((a, l) => a + (l[k] || 0), 0);
	for (const k of ['ttfe_p50_ms', 'ttfe_p99_ms', 'delay_p50_ms', 'delay_p99_ms']) agg[k] = median(rs.map((l) => l[k]).filter((v) => v !== null && v !== undefined));
	for (const k of Object.keys(rs[0].cpu_us || {})) agg.cpu_us[k] = median(rs.map((l) => l.cpu_us?.[k] ?? 0));
	return agg;
};
const big = (t, dir) => {
	const b = lines.find((l) => l.kind === 'big' && l.target === t && l.dir === dir);
	return b && b.secs.length ? b.bytes / 1e6 / median(b.secs) : null;
};
const rss = (phase, t) => lines.find((l) => l.kind === 'rss' && l.phase === phase && l.target === t);
const num = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));
const int = (v) => (v === null || v === undefined ? '—' : Math.round(v).toLocaleString('en-US'));
const ratio = (v, base) => (v === null || base === null || base === undefined || !base ? '—' : `${(v / base).toFixed(2)}`);

// measures: [label, fn(t) -> value, format, ratios?]
const ms = (us) => (us === undefined || us === null ? null : us / 1000);
const added = (fn) => (t) => { const v = fn(t), d = fn('direct'); return v === null || d === null ? null : v - d; };
const lat = (q) => (t) => { const w = wrk('lat1', t); return w ? ms(w[q]) : null; };
const tput = (c) => (t) => rps(wrk(`c${c}`, t));
const tp99 = (c) => (t) => { const w = wrk(`c${c}`, t); return w ? ms(w.p99_us) : null; };
const sseq = (q) => (t) => { const s = sse(t); return s && s[q] !== undefined ? s[q] : null; };
const mb = (kb) => (kb === undefined || kb === null ? null : kb / 1024);
const conns = [...new Set(lines.filter((l) => l.kind === 'wrk' && /^c\d+$/.test(l.phase)).map((l) => +l.phase.slice(1)))].sort((a, b) => a - b);

const measures = [
	['latency p50, 1 connection (ms)', lat('p50_us'), (v) => num(v), 'both'],
	['latency p99, 1 connection (ms)', lat('p99_us'), (v) => num(v), 'both'],
	['added latency p50 over direct (ms)', added(lat('p50_us')), (v) => num(v), 'nginx'],
	['added latency p99 over direct (ms)', added(lat('p99_us')), (v) => num(v), 'nginx'],
];
for (const c of conns) {
	measures.push([`throughput, ${c} connections (req/s)`, tput(c), int, 'both']);
	measures.push([`latency p99, ${c} connections (ms)`, tp99(c), (v) => num(v, 2), 'both']);
}
// CPU time per answered request of the processes serving each target (ours:
// its lighttpd, proxy_fcgi and the PostgreSQL backend of its writer, the
// writer's until the last capture was stored), median of the rounds.
const cpu = (c) => (t) => {
	const rs = lines.filter((l) => l.kind === 'wrk' && l.phase === `c${c}` && l.target === t && l.cpu_us && Object.keys(l.cpu_us).length);
	if (!rs.length || t === 'direct') return null;
	const parts = {};
	for (const k of Object.keys(rs[0].cpu_us)) parts[k] = median(rs.map((l) => l.cpu_us[k]));
	return parts;
};
const cpuCell = (parts) => {
	if (!parts) return '—';
	const keys = Object.keys(parts), sum = keys.reduce((a, k) => a + parts[k], 0);
	if (keys.length === 1) return int(sum);
	const order = ['lighttpd', 'proxy_fcgi', 'writer'].filter((k) => k in parts);
	return `${int(sum)} (${order.map((k) => `${k === 'writer' ? 'PostgreSQL' : k} ${int(parts[k])}`).join(' + ')})`;
};
if (conns.length) measures.push([`CPU per request, ${conns[conns.length - 1]} connections (µs)`, cpu(conns[conns.length - 1]), null, 'cpu']);
measures.push(['ours: every capture in PostgreSQL, s after the load (1 conn' + conns.map((c) => ` / ${c}`).join('') + ')',
	(t) => (t !== 'ours' ? null : ['lat1', ...conns.map((c) => `c${c}`)].map((ph) => wrk(ph, t)?.drain_s ?? null)), null, 'drain']);
measures.push(
	['stream: added time to first event p50 / p99 (ms)', (t) => [added(sseq('ttfe_p50_ms'))(t), added(sseq('ttfe_p99_ms'))(t)], null, 'none'],
	['stream: added delay per event p50 / p99 (ms)', (t) => [added(sseq('delay_p50_ms'))(t), added(sseq('delay_p99_ms'))(t)], null, 'none'],
	['stream: CPU per stream (µs)', (t) => { const c = sse(t)?.cpu_us; return t === 'direct' || !c || !Object.keys(c).length ? null : c; }, null, 'cpu'],
	[`upload ${env.big_mb || '?'} MB (MB/s)`, (t) => big(t, 'up'), int, 'both'],
	[`download ${env.big_mb || '?'} MB (MB/s)`, (t) => big(t, 'down'), int, 'both'],
	['peak RSS under load (MB)', (t) => mb(rss('loads', t)?.hwm_kb), (v) => num(v, 1), 'none'],
	[`peak RSS with ${env.big_mb || '?'} MB bodies (MB)`, (t) => mb(rss('big', t)?.hwm_kb), (v) => num(v, 1), 'none'],
);

const out = [];
const p = (s = '') => out.push(s);
p(`Cells: value (× nginx / × direct), both measured in this run. ${env.mode === 'smoke' ? '**Smoke run: tiny loads, figures are not meaningful.**' : ''}`);
p();
p(`| | ${targets.map((t) => NAMES[t]).join(' | ')} |`);
p(`|---|${targets.map(() => '---:').join('|')}|`);
for (const [label, fn, fmt, ratios] of measures) {
	const cells = targets.map((t) => {
		const v = fn(t);
		if (ratios === 'drain') return v ? v.map((x) => num(x, 1)).join(' / ') : '—';
		if (ratios === 'cpu') return cpuCell(v);
		if (Array.isArray(v)) {
			if (t === 'direct') return '(floor)';
			return `${num(v[0])} / ${num(v[1])}`;
		}
		if (v === null || v === undefined) return '—';
		if (ratios === 'none' || t === 'direct' && ratios === 'nginx') return fmt(v);
		if (ratios === 'nginx') return t === 'nginx' ? fmt(v) : `${fmt(v)} (${ratio(v, fn('nginx'))}× nginx)`;
		if (t === 'direct') return fmt(v);
		if (t === 'nginx') return `${fmt(v)} (— / ${ratio(v, fn('direct'))})`;
		return `${fmt(v)} (${ratio(v, fn('nginx'))} / ${ratio(v, fn('direct'))})`;
	});
	p(`| ${label} | ${cells.join(' | ')} |`);
}
const mitmSse = sse('mitmproxy');
p();
const memNote = rss('loads', 'ours_lighttpd') ? ` Ours' RSS is proxy_fcgi alone; its lighttpd adds ${num(mb(rss('loads', 'ours_lighttpd').hwm_kb), 1)} MB (${num(mb(rss('big', 'ours_lighttpd')?.hwm_kb), 1)} MB with large bodies), PostgreSQL is not counted.` : '';
p(`Loads: a ~1 KB chat request POSTed for a fixed ~1 KB reply; ${env.lat_rounds} rounds of ${env.lat_s} s at 1 connection timed request by request by tests/bench/latency.c, ` +
	`${env.tput_rounds} rounds of ${env.tput_s} s at ${conns.join(' and ')} connections by wrk ${env.wrk || ''} with tests/bench/post.lua, the targets in turn; percentiles are the median of the rounds'; ` +
	`streams: ${sse('direct')?.rounds ?? '?'} rounds of ${sse('direct') ? sse('direct').streams / sse('direct').rounds : '?'} streamed chat completions per target through tests/bench/sse-client.c, the targets in turn, each event stamped by the stub, percentiles the median of the rounds'; ` +
	`large bodies: median of curl runs. RSS: VmHWM of the process tree (nginx: master + workers).${memNote}` +
	(mitmSse && mitmSse.coalesced ? ` mitmproxy buffers whole responses to capture them (${mitmSse.coalesced} of ${mitmSse.events} events arrived together).` : ''));
p();

// completeness
const comp = lines.find((l) => l.kind === 'complete');
const drains = lines.filter((l) => l.kind === 'wrk' && l.target === 'ours' && l.drain_s !== undefined);
const maxDrain = drains.length ? Math.max(...drains.map((l) => l.drain_s)) : null;
if (comp) {
	p(`Completeness (ours): ${comp.rows.toLocaleString('en-US')} rows in PostgreSQL for ${comp.want.toLocaleString('en-US')} answered requests ` +
		`(every phase: rows ≥ answered, and rows with an upstream answer = requests in the stub's log): ${comp.ok ? 'complete' : '**CAPTURES MISSING**'}; ` +
		`after each load the last capture was in PostgreSQL at most ${num(maxDrain, 1)} s later (limit ${comp.limit_s} s).`);
}
// soak: two halves, each drained; the first is the warm-up
const soak = lines.find((l) => l.kind === 'soak');
let soakGrowth = null, soakHalf = null;
if (soak && soak.samples.length > 1) {
	const s = soak.samples, first = s[0][1], after = soak.rss_drained_kb;
	const max = Math.max(...s.map((x) => x[1]));
	const warm = soak.drained?.length === 2 ? soak.drained[0] : null;
	soakHalf = warm ? soak.requests - warm[0] : soak.requests;
	soakGrowth = after - (warm ? warm[1] : first);
	p(`Soak (ours): proxy_fcgi RSS ${num(first / 1024, 1)} MB before ${soak.requests.toLocaleString('en-US')} more requests at 16 connections, ` +
		`${num(max / 1024, 1)} MB at most while captures queued up (${s.map((x) => `${Math.round(x[0] / 1000)}k:${num(x[1] / 1024, 1)}`).join(' ')}), ` +
		(warm ? `${num(warm[1] / 1024, 1)} MB once the first ${warm[0].toLocaleString('en-US')} were written (the warm-up), ` : '') +
		`${num(after / 1024, 1)} MB once they were all written (${num(soak.drain_s, 1)} s after the load: ` +
		`${int(soak.rows / ((s.length - 1) * 2 + soak.drain_s))} captures/s sustained end to end with ~1 KB bodies).`);
}
// capture side
for (const c of lines.filter((l) => l.kind === 'capture')) p(`Capture side: ${c.text}`);
p();
p(`Machine: ${env.cpu || '?'}, ${env.cores} cores (${env.busy_before}% busy before the run, load average ${env.load_after} after), Debian ${env.debian}, kernel ${env.kernel}; nginx ${env.nginx}, lighttpd ${env.lighttpd}, ` +
	`mitmproxy ${env.mitmproxy || '—'}, PostgreSQL ${env.postgres || '—'} (synchronous_commit=${env.synchronous_commit || '?'}); ` +
	`PROXY_THREADS=${env.proxy_threads}, CAPTURE_QUEUE_MAX=${env.capture_queue_max}, CAPTURE_BODY_MAX=${env.capture_body_max}; ${env.date}, commit ${env.commit || '?'}.`);

// targets
if (targets.includes('ours')) {
	p();
	const checks = [];
	const smoke = env.mode === 'smoke' ? 'smoke, not judged: ' : '';
	const chk = (ok, text) => checks.push(`${smoke}${ok === null ? 'UNMEASURED' : ok ? 'MET' : 'MISSED'}: ${text}`);
	const a50 = added(lat('p50_us'))('ours'), a99 = added(lat('p99_us'))('ours');
	chk(a50 === null ? null : a50 <= 0.2, `added latency p50 ≤ 0.2 ms at 1 connection (${num(a50)} ms)`);
	chk(a99 === null ? null : a99 <= 1, `added latency p99 ≤ 1 ms at 1 connection (${num(a99)} ms)`);
	const top = conns.length ? conns[conns.length - 1] : null;
	if (top) {
		const o = tput(top)('ours'), l = tput(top)('lighttpd'), n = tput(top)('nginx'), m = tput(top)('mitmproxy');
		chk(o === null || l === null ? null : o >= 0.8 * l, `throughput at ${top} connections ≥ 0.8 × lighttpd mod_proxy (${ratio(o, l)}×)`);
		chk(o === null || n === null ? null : o >= 0.3 * n, `throughput at ${top} connections ≥ 0.3 × nginx proxy_pass (${ratio(o, n)}×)`);
		chk(o === null || m === null ? null : o >= 5 * m, `throughput at ${top} connections ≥ 5 × mitmproxy (${ratio(o, m)}×)`);
	}
	const d64 = top ? wrk(`c${top}`, 'ours')?.drain_s : null;
	chk(comp ? !!comp.ok && d64 !== null && d64 !== undefined && d64 <= comp.limit_s : null,
		`every request captured, all rows in PostgreSQL within ${comp?.limit_s ?? 30} s of the end of the ${top}-connection load (${num(d64, 1)} s)`);
	const ev99 = added(sseq('delay_p99_ms'))('ours');
	chk(ev99 === null ? null : ev99 <= 1, `streaming: added delay per event p99 ≤ 1 ms (${num(ev99)} ms)`);
	for (const dir of ['up', 'down']) {
		const o = big('ours', dir), d = big('direct', dir);
		chk(o === null || d === null ? null : o >= 0.8 * d, `${dir === 'up' ? 'upload' : 'download'} ${env.big_mb} MB ≥ 0.8 × direct MB/s (${ratio(o, d)}×)`);
	}
	const before = rss('loads', 'ours')?.rss_kb, peak = rss('big', 'ours')?.hwm_kb;
	const cap = Number(env.capture_body_max) || 0;
	if (before && peak && cap) {
		const grew = (peak - before) / 1024;
		chk(grew * 1048576 <= 2 * cap + 4 * 1048576,
			`memory with ${env.big_mb} MB bodies bounded by the capture cap: peak ${num(grew, 1)} MB over the RSS before (≤ 2 × CAPTURE_BODY_MAX + 4 MB = ${num((2 * cap) / 1048576 + 4, 0)} MB)`);
		const huge = rss('huge', 'ours');
		if (huge) {
			const hgrew = (huge.hwm_kb - before) / 1024;
			chk(hgrew * 1048576 <= 2 * cap + 4 * 1048576,
				`memory does not grow with the body: one ${num(huge.bytes / 1e6, 0)} MB body up and down, peak ${num(hgrew, 1)} MB over the RSS before (same bound; ${num(grew, 1)} MB with ${env.big_mb} MB)`);
		}
	}
	if (soakGrowth !== null) {
		chk(soakHalf > 0 && soakGrowth <= 2048, `proxy_fcgi RSS flat across ${soakHalf.toLocaleString('en-US')} requests after a warm-up of as many, queue drained after each (${soakGrowth >= 0 ? '+' : ''}${num(soakGrowth / 1024, 1)} MB, limit +2 MB)`);
	}
	for (const c of checks) p(c);
}
console.log(out.join('\n'));
