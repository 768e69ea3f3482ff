-- GET with a different bearer token on every request, so that no verifier cache can answer.
--   WRK_TOKENS_FILE  one access token per line; each wrk thread cycles through its own slice
--   WRK_STATE_FILE   optional: where each thread stopped, so that the next run (warm-up, then
--                    measurement) goes on from there: a token comes back only after all others
--   WRK_THREADS      the -t given to wrk (wrk does not tell a thread how many there are)
--   WRK_EXPECT       optional plain substring every response body must contain
-- done() prints one line in the format of ../shared/peers/wrk_req.lua:  WRKJSON {...}
local tokens = {}
for line in io.lines(os.getenv("WRK_TOKENS_FILE")) do
  if line ~= "" then table.insert(tokens, line) end
end
local expect = os.getenv("WRK_EXPECT")

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
local state_file = os.getenv("WRK_STATE_FILE")

local function saved_positions()
  local pos = {}
  local f = state_file and io.open(state_file, "r")
  if f then
    for line in f:lines() do table.insert(pos, tonumber(line)) end
    f:close()
  end
  return pos
end

function init(args)
  mismatch = 0
  non2xx = 0
  local share = math.floor(#tokens / nthreads)
  first = id * share + 1
  last = first + share - 1
  i = saved_positions()[id + 1] or first
  if i < first or i > last then i = first end
end

function request()
  local token = tokens[i]
  i = i + 1
  if i > last then i = first end
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
end

if expect and expect ~= "" then
  function response(status, headers, body)
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
    if not body or not string.find(body, expect, 1, true) then mismatch = mismatch + 1 end
  end
end

function done(summary, latency, requests)
  if state_file then
    local f = io.open(state_file, "w")
    for _, t in ipairs(threads) do f:write(tostring(t:get("i")), "\n") end
    f:close()
  end
  local mm, n2 = 0, 0
  for _, t in ipairs(threads) do
    mm = mm + (t:get("mismatch") or 0)
    n2 = n2 + (t:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"mismatch":%d,"non2xx_lua":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, mm, n2))
end
