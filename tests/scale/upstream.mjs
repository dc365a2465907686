// tests/scale/upstream.mjs - the fastest fake OpenAI upstream we can have, for the insert-rate runs.
//
//   node tests/scale/upstream.mjs      prints "port N" once it listens on 127.0.0.1
//
// Every request gets the same small chat.completion answer (with usage), as
// soon as its body has arrived, so the proxy and its writer are what is
// measured. Nothing is recorded. SIGTERM stops it.
import http from 'node:http';

const reply = JSON.stringify({
	id: 'chatcmpl-scale', object: 'chat.completion', created: 1764100000, model: 'gpt-4o-mini-2024-07-18',
	choices: [{ index: 0, message: { role: 'assistant', content: 'The refund was issued to the original card; it shows up in 3 to 5 business days.' }, finish_reason: 'stop' }],
	usage: { prompt_tokens: 1200, completion_tokens: 24, total_tokens: 1224 },
});

const server = http.createServer((req, res) => {
	req.on('data', () => {});
	req.on('end', () => {
		res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
		res.end(reply);
	});
});
server.keepAliveTimeout = 300000;
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
