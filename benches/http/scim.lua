-- wrk script of the HTTP benchmark (benches/http/run.py): one request mix per mode, given
-- after `--` on wrk's command line, relative to the tenant base path:
--
--   get    BASE IDS_FILE        GET BASE/Users/{id}, a random id of the file per request
--   filter BASE NAMES_FILE      GET BASE/Users?filter=userName eq "…", a random name
--   post   BASE NONCE           POST BASE/Users, a new userName per request
--   patch  BASE GROUP MEMBER    PATCH BASE/Groups/GROUP adding, then removing, MEMBER
--                               (run it with one connection so the two alternate)
--
-- The bearer token comes from SCIM_BENCH_TOKEN (not argv). `done` prints one JSON line
-- that run.py reads: requests, duration, errors and latency percentiles (microseconds).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

local mode, base, items, nonce, group, member
local headers = {}
local counter = 0
local adding = true

local function read_lines(path)
  local t = {}
  for line in io.lines(path) do
    if line ~= "" then t[#t + 1] = line end
  end
  assert(#t > 0, path .. " is empty")
  return t
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function init(args)
  mode, base = args[1], args[2]
  local token = os.getenv("SCIM_BENCH_TOKEN")
  assert(token and token ~= "", "SCIM_BENCH_TOKEN is not set")
  headers["Authorization"] = "Bearer " .. token
  headers["Accept"] = "application/scim+json"
  math.randomseed((thread_no or 1) * 7919 + os.time())
  if mode == "get" or mode == "filter" then
    items = read_lines(args[3])
  elseif mode == "post" then
    nonce = args[3]
    headers["Content-Type"] = "application/scim+json"
  elseif mode == "patch" then
    group, member = args[3], args[4]
    headers["Content-Type"] = "application/scim+json"
  else
    error("unknown mode " .. tostring(mode))
  end
end

local USER = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
  .. '"userName":"%s","externalId":"%s","name":{"givenName":"Post","familyName":"User%d"},'
  .. '"displayName":"Post User%d","emails":[{"value":"%s","type":"work","primary":true}],'
  .. '"active":true}'
local ADD = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
  .. '"Operations":[{"op":"add","path":"members","value":[{"value":"%s"}]}]}'
local REMOVE = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
  .. '"Operations":[{"op":"remove","path":"members[value eq \\"%s\\"]"}]}'

function request()
  if mode == "get" then
    return wrk.format("GET", base .. "/Users/" .. items[math.random(#items)], headers)
  elseif mode == "filter" then
    local f = 'userName eq "' .. items[math.random(#items)] .. '"'
    return wrk.format("GET", base .. "/Users?filter=" .. urlencode(f), headers)
  elseif mode == "post" then
    counter = counter + 1
    local name = string.format("post-%s-%d-%d@example.com", nonce, thread_no or 1, counter)
    return wrk.format("POST", base .. "/Users", headers, string.format(USER, name, name, counter, counter, name))
  else
    local body = string.format(adding and ADD or REMOVE, member)
    adding = not adding
    return wrk.format("PATCH", base .. "/Groups/" .. group, headers, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d},"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
