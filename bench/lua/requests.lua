-- wrk script of the stvos harness: replays a table of prepared requests (method, path, headers,
-- body) written by bench/load.py into a data file passed after `--`. Threads stride through the
-- table (thread k takes k, k+T, k+2T, ...) so one-shot requests (bookings) are not repeated
-- while the table lasts. done() prints one JSON line with p50/p90/p95/p99 and status counts.
local threads = {}
local thread_count = 0

setup = function(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local prepared = {}
local n = 0
s2xx, s3xx, s4xx, s5xx, s201, s409 = 0, 0, 0, 0, 0, 0

init = function(args)
  local specs = dofile(args[1])
  for i, s in ipairs(specs) do
    prepared[i] = wrk.format(s.method, s.path, s.headers, s.body)
  end
  nthreads = tonumber(args[2]) or 1
end

request = function()
  local i = ((tid - 1) + n * nthreads) % #prepared + 1
  n = n + 1
  return prepared[i]
end

response = function(status, headers, body)
  if status == 201 then s201 = s201 + 1 end
  if status == 409 then s409 = s409 + 1 end
  if status < 300 then s2xx = s2xx + 1
  elseif status < 400 then s3xx = s3xx + 1
  elseif status < 500 then s4xx = s4xx + 1
  else s5xx = s5xx + 1 end
end

done = function(summary, latency, requests)
  local c = {s2xx = 0, s3xx = 0, s4xx = 0, s5xx = 0, s201 = 0, s409 = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do c[k] = c[k] + (t:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p90Us":%d,"p95Us":%d,"p99Us":%d,' ..
    '"maxUs":%d,"socketErrors":%d,"status":{"2xx":%d,"3xx":%d,"4xx":%d,"5xx":%d,"201":%d,"409":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout,
    c.s2xx, c.s3xx, c.s4xx, c.s5xx, c.s201, c.s409))
end
