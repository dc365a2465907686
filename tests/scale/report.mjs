// tests/scale/report.mjs - the scale run's results (JSON lines) as one markdown table.
//
//   node tests/scale/report.mjs results.jsonl
//
// Lines: {kind:"meta", ...} (the run: N, machine, command), {kind:"generate"},
// {kind:"api"} and {kind:"export"} from api.mjs, {kind:"insert"} from
// insert.mjs. Targets: API p50 < 100 ms and p99 < 300 ms; the writer's rate
// on the big table at least 80 % of its rate on an empty one (medians of the
// rounds). A case the build does not have ("na") is listed as not available
// and is not counted as met. Exits 1 when a target is missed.
import fs from 'node:fs';

const P50_MS = 100, P99_MS = 300, INSERT_KEEP = 0.8;
const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const of = (k) => lines.filter((l) => l.kind === k);
const num = (x) => Number(x).toLocaleString('en-US');
const ms = (x) => (x < 10 ? x.toFixed(1) : String(Math.round(x)));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
let ok = true;

const meta = of('meta')[0] || {};
const gen = of('generate')[0];
const out = [];
out.push(`**${num(meta.captures || 0)} captures** over ${meta.days || '?'} days (${meta.size || '?'} on disk) · ` +
	`${meta.machine || '?'} · PostgreSQL ${meta.pg || '?'} · commit ${meta.commit || '?'} · ${meta.date || '?'} · ` +
	`load average (1 min) ${meta.load_before ? meta.load_before.split(' ')[0] : '?'} before, ` +
	`${meta.load_during || '?'} while measuring · \`${meta.command || 'tests/scale/run.sh'}\``);
out.push('');
out.push('| kind | case | example | matches | p50 ms | p99 ms | max ms | target |');
out.push('|---|---|---|--:|--:|--:|--:|---|');
for (const r of of('api')) {
	if (r.na) {
		out.push(`| ${r.group} | ${r.name} | | | | | | not available in this build (${r.na.replace(/\|/g, '/')}) |`);
		continue;
	}
	const pass = r.p50 < P50_MS && r.p99 < P99_MS;
	ok &&= pass;
	const ex = r.example.length > 60 ? r.example.slice(0, 57) + '…' : r.example;
	const m = r.matches == null ? '' : /^\d+\+?$/.test(r.matches)
		? num(r.matches.replace('+', '')) + (r.matches.endsWith('+') ? '+' : '') : r.matches;
	const name = r.prepared_s === undefined ? r.name : `${r.name}; rolled up ${r.prepared_s} s after first asked`;
	out.push(`| ${r.group} | ${name} | \`${ex}\` | ${m} | ` +
		`${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${pass ? '✅' : '❌'} |`);
}
for (const r of of('export')) {
	if (r.na) {
		out.push(`| export | ${r.name} | | | | | | not available in this build (${r.na}) |`);
		continue;
	}
	out.push(`| export | ${r.name} | \`${r.example}\` | ${num(r.rows)} rows, ${r.mb} MB | ` +
		`first byte ${ms(r.first_byte_ms)} | | ${ms(r.first_byte_max_ms)} | ` +
		`${num(r.rows_per_s)} rows/s (all ${num(r.rows)} in ${ms(r.total_ms)} ms; median of ${r.n}) |`);
}
const ins = of('insert');
const empty = ins.filter((r) => r.label === 'empty').map((r) => r.rows_per_s);
const full = ins.filter((r) => r.label === 'full').map((r) => r.rows_per_s);
if (empty.length && full.length) {
	const e = median(empty), f = median(full), pass = f >= INSERT_KEEP * e;
	ok &&= pass;
	const per = ins[0].count;
	out.push(`| insert | writer, empty table | ${num(per)} chat captures of 2–8 KB, ${empty.length} rounds | | ${num(e)} rows/s | | | median of ${empty.map(num).join(' / ')} |`);
	out.push(`| insert | writer, ${num(meta.captures || 0)} captures | same | | ${num(f)} rows/s | | | ${Math.round((f / e - 1) * 100)} % vs empty (median of ${full.map(num).join(' / ')}) ${pass ? '✅' : '❌'} |`);
}
const vac = of('vacuum')[0];
const minSec = (s) => `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
if (gen)
	out.push(`| generate | \`make demo-data N=${gen.n}\` | ${gen.jobs} sessions | | ${num(Math.round(gen.n / gen.seconds))} rows/s | | | ` +
		`${minSec(gen.seconds)}${vac ? `, then VACUUM ANALYZE ${minSec(vac.seconds)}` : ''} |`);
out.push('');
const api = of('api').filter((r) => !r.na);
const missed = api.filter((r) => !(r.p50 < P50_MS && r.p99 < P99_MS));
out.push(`Targets: p50 < ${P50_MS} ms and p99 < ${P99_MS} ms per API case (${api[0] ? api[0].n : '?'} requests each, one at a time, ` +
	`in stretches, the cases taking turns, values drawn from the table); the writer keeps at least ${INSERT_KEEP * 100} % of its empty-table rate ` +
	`(rows per second from its first stored batch to its last). ${api.length - missed.length} of ${api.length} API cases met` +
	(missed.length ? `; missed: ${missed.map((r) => `${r.group}: ${r.name}`).join('; ')}.` : '.'));
console.log(out.join('\n'));
process.exit(ok ? 0 : 1);
