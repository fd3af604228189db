-- wrk script: an optional Bearer token (WRK_BEARER), optionally a list of request paths to cycle
-- through (WRK_PATHS, one per line, so every request is a distinct URL), and a JSON summary.
local token = os.getenv("WRK_BEARER")
if token and #token > 0 then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local paths = {}
local paths_file = os.getenv("WRK_PATHS")
if paths_file and #paths_file > 0 then
  for line in io.lines(paths_file) do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end

function init(args)
  position = offset or 0
end

function request()
  if #paths == 0 then
    return wrk.request()
  end
  position = position + 1
  return wrk.format(nil, paths[(position % #paths) + 1])
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
