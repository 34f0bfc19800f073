-- wrk script for scripts/bench. Configured by environment variables:
--   BENCH_TOKEN    bearer token sent on every request
--   BENCH_BODY     a JSON file: POST it to the URL given on the command line
--   BENCH_RANDOM   a path prefix, e.g. /apiv3/audit_trail/entries?actor_id=u-  : GET it
--                  with a random number in [0, BENCH_ACTORS) appended (mostly cache misses)
-- Neither BENCH_BODY nor BENCH_RANDOM: GET the URL given on the command line.
-- done() prints one line that scripts/bench parses. wrk counts every status >= 400 as a
-- "non-2xx" (summary.errors.status); scripts/bench's checks before each case make sure the
-- expected 200/201 is what comes back.
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local body_file = os.getenv("BENCH_BODY") or ""
if body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a"):gsub("%s+$", "")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local random_prefix = os.getenv("BENCH_RANDOM") or ""
local actors = tonumber(os.getenv("BENCH_ACTORS") or "10000")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0))
end

if random_prefix ~= "" then
  function request()
    return wrk.format("GET", random_prefix .. math.random(0, actors - 1))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d sockerr=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
