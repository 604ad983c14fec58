-- wrk script for rabt-bench's saturation stage: POST the body in $BENCH_BODY_FILE with
-- `Authorization: Bearer $BENCH_API_KEY` and a unique Idempotency-Key per request
-- ($BENCH_KEY_PREFIX-<thread>-<n>) and, if $BENCH_PREFER is set, `Prefer: $BENCH_PREFER`;
-- then print one JSON summary line for rabt-bench.
-- A constant key would make every request after the first an idempotent replay.
-- Answers without the status in $BENCH_EXPECT (202 for the accept path; 200, the verdict,
-- end to end, where a 202 means it was not ready) are counted as `unexpected`.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
  body = file:read("*a")
  file:close()
  prefix = os.getenv("BENCH_KEY_PREFIX") or "wrk"
  counter = 0
  headers = {
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_API_KEY"),
    ["Content-Type"] = "application/json",
  }
  -- End to end: `Prefer: wait=N` makes each answer the verdict.
  if os.getenv("BENCH_PREFER") then headers["Prefer"] = os.getenv("BENCH_PREFER") end
  expect = tonumber(os.getenv("BENCH_EXPECT") or "202")
  unexpected = 0
end

function response(status, headers, body)
  if status ~= expect then unexpected = unexpected + 1 end
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = prefix .. "-" .. thread_id .. "-" .. counter
  return wrk.format("POST", wrk.path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local off, sent = 0, 0
  for _, thread in ipairs(threads) do
    off = off + (thread:get("unexpected") or 0)
    -- Requests written, answered or not: a window too short for one answer still sent.
    sent = sent + (thread:get("counter") or 0)
  end
  io.write(string.format(
    '{"wrk":{"requests":%d,"sent":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"unexpected":%d}}\n',
    summary.requests, sent, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, off))
end
