-- tests/bench/post.lua - wrk script: POSTs chat requests and prints a JSON summary.
--
--   BENCH_BODIES=file wrk -s post.lua URL
--
-- BENCH_BODIES names a file of request bodies, one JSON document a line.
-- One line: every request sends it (wrk's fast static request). Several lines:
-- each request picks one at random (realistic, varied bodies). At the end one
-- line "BENCH_JSON {...}" gives requests (answered, any status), non-2xx,
-- socket errors and latency percentiles in microseconds.

local bodies = {}
local file = os.getenv("BENCH_BODIES")
if file then
	for line in io.lines(file) do
		if #line > 0 then bodies[#bodies + 1] = line end
	end
end
if #bodies == 0 then
	io.stderr:write("post.lua: BENCH_BODIES names no file with request bodies\n")
	os.exit(2)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0000000000000000000000000000wrk1"
wrk.body = bodies[1]

if #bodies > 1 then
	local prepared = {}
	function init(args)
		math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
		for i, b in ipairs(bodies) do
			prepared[i] = wrk.format("POST", nil, nil, b)
		end
	end
	function request()
		return prepared[math.random(#prepared)]
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,' ..
		'"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
		'"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"mean_us":%.1f,"max_us":%d}\n',
		summary.requests, summary.duration, summary.bytes, e.status,
		e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency:percentile(99.9), latency.mean, latency.max))
end
