-- wrk script: POST a new contact of the seeded shape, with a name and an
-- address unique to the thread and request, taking the Authorization
-- headers in $AUTH (comma-separated) in turn. Used by make bench
-- (cmd/groundwork/bench_wrk_test.go) and scripts/bench-pocketbase.sh.
local auths = {}
for a in string.gmatch(os.getenv("AUTH"), "[^,]+") do auths[#auths + 1] = a end
wrk.method = "POST"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
function request()
  n = n + 1
  local body = string.format('{"name":"Created %d-%d","email":"created%d-%d@example.com","phone":"+44 20 7946 %04d",' ..
    '"company":"Bench","tags":["bench","t%d"],"custom":{"n":%d,"tier":"gold","active":true}}',
    tid, n, tid, n, n % 10000, n % 7, n)
  return wrk.format(nil, nil, {["Authorization"] = auths[n % #auths + 1], ["Content-Type"] = "application/json"}, body)
end
