-- POST with a new DPoP proof (RFC 9449) on every request, read from a file of pre-made proofs.
--   WRK_PROOFS_FILE  one proof per line (each with its own jti); each wrk thread takes its own
--                    slice, so no proof is sent twice unless a slice runs out (then it wraps,
--                    and the servers refuse the replays: they show as errors)
--   WRK_BODY         the form body; WRK_HEADERS  "Name: value|Name: value"
--   WRK_EXPECT       optional plain substring every response body must contain
--   WRK_THREADS      the -t given to wrk
-- done() prints one line in the format of ../shared/peers/wrk_req.lua:  WRKJSON {...}
local proofs = {}
for line in io.lines(os.getenv("WRK_PROOFS_FILE")) do
  if line ~= "" then table.insert(proofs, line) end
end
local expect = os.getenv("WRK_EXPECT")
local body = os.getenv("WRK_BODY") or ""
local headers = {}
for h in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^|]+") do
  local k, v = h:match("^%s*([^:]+):%s*(.-)%s*$")
  if k then headers[k] = v end
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
  mismatch = 0
  non2xx = 0
  wrapped = 0
  local share = math.floor(#proofs / nthreads)
  first = id * share + 1
  last = first + share - 1
  i = first
end

function request()
  headers["DPoP"] = proofs[i]
  i = i + 1
  if i > last then i = first; wrapped = wrapped + 1 end
  return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, rbody)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if expect and expect ~= "" and (not rbody or not string.find(rbody, expect, 1, true)) then
    mismatch = mismatch + 1
  end
end

function done(summary, latency, requests)
  local mm, n2, wr = 0, 0, 0
  for _, t in ipairs(threads) do
    mm = mm + (t:get("mismatch") or 0)
    n2 = n2 + (t:get("non2xx") or 0)
    wr = wr + (t:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"mismatch":%d,"non2xx_lua":%d,"proofs_wrapped":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, mm, n2, wr))
end
