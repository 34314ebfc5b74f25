-- wrk script: counter deposits with a unique Idempotency-Key on every request.
-- Environment: COOP_TOKEN (a bearer token of a clerk or admin), COOP_CODES (a file with one
-- member number per line). Each wrk thread numbers its own requests; the key is
-- "<run>-<thread>-<n>", so no two requests of a run share a key. Anything but 201 is counted
-- and reported by done() (wrk itself counts only non-2xx/3xx).
local codes = {}
local token = os.getenv("COOP_TOKEN")
local run = os.getenv("COOP_RUN") or tostring(os.time())
for line in io.lines(os.getenv("COOP_CODES")) do
  if #line > 0 then codes[#codes + 1] = line end
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  not_created = 0
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
end

function request()
  n = n + 1
  local code = codes[(n + tid) % #codes + 1]
  headers["Idempotency-Key"] = run .. "-" .. tid .. "-" .. n
  return wrk.format("POST", "/api/v1/members/" .. code .. "/deposits", headers,
                    '{"amount":"10.00"}')
end

function response(status, hdrs, body)
  if status ~= 201 then
    not_created = not_created + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("not_created")
  end
  io.write(string.format("COOP not_created=%d requests=%d p50_us=%d p90_us=%d p99_us=%d\n",
    bad, summary.requests, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
