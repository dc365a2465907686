// tests/bench/mkbodies.mjs - realistic chat request bodies for the capture-side load.
//
//   node mkbodies.mjs COUNT MIN_BYTES MAX_BYTES > bodies.jsonl
//
// COUNT chat completion requests, one JSON document a line, each between
// MIN_BYTES and MAX_BYTES: a system prompt and a conversation of user and
// assistant turns in word-like text drawn from a few thousand distinct words,
// so the full-text index gets a realistic vocabulary rather than one repeated
// sentence. Deterministic (fixed seed): every run sends the same bodies.
let seed = 0x2545f491;
const rand = () => {
	seed ^= seed << 13; seed >>>= 0;
	seed ^= seed >>> 17;
	seed ^= seed << 5; seed >>>= 0;
	return seed / 4294967296;
};
const [count = 64, min = 2048, max = 8192] = process.argv.slice(2).map(Number);

const syll = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'pe', 'da', 'ri', 'mo', 'qu', 'an', 'el', 'or',
	'is', 'un', 'ber', 'con', 'tra', 'pro', 'ment', 'tion', 'ing', 'ly', 'er', 'st', 'gr', 'pl'];
const common = ['the', 'a', 'of', 'to', 'and', 'in', 'is', 'it', 'for', 'on', 'with', 'as', 'that', 'this',
	'please', 'explain', 'why', 'how', 'what', 'error', 'function', 'database', 'query', 'user', 'invoice',
	'refund', 'policy', 'customer', 'order', 'shipping', 'python', 'table', 'index', 'latency', 'proxy'];
const vocab = [];
for (let i = 0; i < 4000; i++) {
	let w = '';
	const n = 1 + Math.floor(rand() * 3);
	for (let j = 0; j < n; j++) w += syll[Math.floor(rand() * syll.length)];
	vocab.push(w);
}
const word = () => (rand() < 0.45 ? common[Math.floor(rand() * common.length)] :
	vocab[Math.floor(Math.pow(rand(), 2) * vocab.length)]); // a few words are frequent
const sentence = () => {
	const n = 6 + Math.floor(rand() * 14);
	const w = Array.from({ length: n }, word);
	w[0] = w[0][0].toUpperCase() + w[0].slice(1);
	return w.join(' ') + (rand() < 0.2 ? '?' : '.');
};

for (let i = 0; i < count; i++) {
	const target = min + Math.floor(rand() * (max - min));
	const req = {
		model: rand() < 0.7 ? 'gpt-4o-mini' : 'gpt-4.1',
		messages: [{ role: 'system', content: 'You are a support assistant for an online shop. Be brief and exact.' }],
		temperature: 0.3,
		user: `bench-user-${i % 17}`,
	};
	let role = 'user';
	while (JSON.stringify(req).length < target - 120) {
		let text = '';
		const room = target - JSON.stringify(req).length - 40;
		const want = Math.min(room, 200 + Math.floor(rand() * 1200));
		while (text.length < want) text += (text ? ' ' : '') + sentence();
		req.messages.push({ role, content: text.slice(0, Math.max(1, want)) });
		role = role === 'user' ? 'assistant' : 'user';
	}
	if (req.messages[req.messages.length - 1].role !== 'user')
		req.messages.push({ role: 'user', content: 'Thanks, and the next step?' });
	process.stdout.write(JSON.stringify(req) + '\n');
}
