-- wrk script: GET with the Authorization header in $AUTH (none when unset).
-- Used by make bench (cmd/groundwork/bench_wrk_test.go) and
-- scripts/bench-pocketbase.sh.
local auth = os.getenv("AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
