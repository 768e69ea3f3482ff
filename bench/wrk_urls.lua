-- GET a different request target (path and query) on every request, cycling through a file.
--   WRK_URLS_FILE  one request target per line (/videos/42/seg3.m4s?exp=…); each wrk thread
--                  starts at its own offset and cycles through all of them
--   WRK_THREADS    the -t given to wrk
-- Non-2xx answers are counted by wrk itself (errors.status). done() prints one line in the
-- format of ../shared/peers/wrk_req.lua:  WRKJSON {...}
local targets = {}
for line in io.lines(os.getenv("WRK_URLS_FILE")) do
  if line ~= "" then table.insert(targets, line) end
end

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")

function init(args)
  i = (math.floor(#targets / nthreads) * id) % #targets + 1
end

function request()
  local target = targets[i]
  i = i + 1
  if i > #targets then i = 1 end
  return wrk.format("GET", target)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"mismatch":0,"non2xx_lua":0}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
