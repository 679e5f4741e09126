#!/usr/bin/env bash
# e2e.sh: the container proofs of issue 12 with real containers (podman or docker).
#  1. make image builds the Dockerfile; a container on the embedded default answers
#     /readyz 200, /version reports the checkout's commit and equals the image's
#     labels; data written survives replacing the container (named volume).
#  2. the release step (migrate up) and the deploy tool: gw-deploy.sh deploys the image
#     behind Caddy (when Debian's caddy is installed) while a load loop counts failed
#     requests; a broken release (fails its smoke test) is refused and the old keeps
#     serving; rollback returns to the previous one.
# Prints the measured figures (image size, cold start, deploy and rollback times).
set -euo pipefail
cd "$(dirname "$0")/.."
engine=$(scripts/container-setup.sh)
commit=$(git rev-parse --short HEAD)
image=${IMAGE:-groundwork:$commit}
tag=e2e-$$
port=${GW_E2E_PORT:-18480}
cleanup() {
	# One name per call: given a name that does not exist, podman rm -f
	# removes none of the others and still exits 0.
	local c
	for c in "$tag-a" "$tag-b" "$tag-serve" "$tag-worker"; do
		$engine rm -f "$c" >/dev/null 2>&1 || true
	done
	$engine volume rm -f "$tag-data" >/dev/null 2>&1 || true
}
trap cleanup EXIT
say() { echo "e2e: $*"; }
fail() { echo "e2e: FAIL: $*" >&2; [ -n "${last:-}" ] && $engine logs --tail 50 "$last" >&2 || true; exit 1; }
ready() { # URL SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do curl -fsS -m 2 "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

t0=$SECONDS
make --no-print-directory image IMAGE="$image"
say "image $image built in $((SECONDS - t0))s, size $($engine image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"

# 1. the embedded default, data in a named volume
$engine volume create "$tag-data" >/dev/null
run() { $engine run -d --name "$1" --network host -e PORT="$port" -v "$tag-data:/data" "$image"; }
last=$tag-a; run "$tag-a" >/dev/null
t1=$(date +%s%N)
ready "http://127.0.0.1:$port" 180 || fail "embedded container never became ready"
say "cold start (first initdb) to /readyz 200: $(( ($(date +%s%N) - t1) / 1000000 )) ms"
ver=$(curl -fsS "http://127.0.0.1:$port/version")
echo "$ver" | grep -q "\"commit\":\"$commit\"" || fail "/version $ver does not report commit $commit"
lab=$($engine image inspect -f '{{ index .Config.Labels "org.opencontainers.image.revision" }}' "$image")
[ "$lab" = "$commit" ] || fail "label revision $lab != $commit"
labv=$($engine image inspect -f '{{ index .Config.Labels "org.opencontainers.image.version" }}' "$image")
echo "$ver" | grep -q "\"version\":\"$labv\"" || fail "/version $ver does not match label version $labv"
uid=$($engine exec "$tag-a" id -u); [ "$uid" = 65532 ] || fail "runs as uid $uid, not 65532"
$engine exec "$tag-a" pg_dump --version | grep -q ' 15\.' || fail "no pg_dump 15"
$engine exec "$tag-a" pgbackrest version >/dev/null || fail "no pgbackrest"
echo "correct horse battery staple 42" | $engine exec -i "$tag-a" groundwork user create -email e2e@example.com >/dev/null || fail "user create"
$engine stop -t 30 "$tag-a" >/dev/null; $engine rm "$tag-a" >/dev/null
last=$tag-b; run "$tag-b" >/dev/null
t1=$(date +%s%N)
ready "http://127.0.0.1:$port" 120 || fail "restarted container never became ready"
say "warm start (existing volume) to /readyz 200: $(( ($(date +%s%N) - t1) / 1000000 )) ms"
$engine exec "$tag-b" groundwork user list | grep -q e2e@example.com || fail "the user did not survive the container's replacement"
$engine healthcheck run "$tag-b" >/dev/null 2>&1 || fail "the image's HEALTHCHECK does not pass (or the image has none)"
say "healthcheck: healthy"
say "item 1 ok: embedded default, /version = labels = $commit, runs as 65532, data survived a new container"
$engine rm -f "$tag-b" >/dev/null

# 3. zero-downtime deploys behind Caddy against an external PostgreSQL (the test's own cluster)
command -v caddy >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends caddy >/dev/null; }
work=$(mktemp -d /tmp/gw-e2e.XXXXXX); chmod 0755 "$work"
pgport=${GW_E2E_PG_PORT:-18500}; pubport=${GW_E2E_PUBLIC_PORT:-18490}; admin=127.0.0.1:${GW_E2E_CADDY_ADMIN:-18519}
asdb() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -n1)
install -d -o "$( [ "$(id -u)" = 0 ] && echo postgres || id -un)" "$work/pg"
asdb "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=trust >/dev/null
asdb "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" -w start >/dev/null
cleanup2() {
	for c in $($engine ps -aq --filter name=groundwork-1848); do $engine rm -f "$c" >/dev/null 2>&1; done
	[ -n "${caddy_pid:-}" ] && kill "$caddy_pid" 2>/dev/null
	asdb "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work"; cleanup
}
trap cleanup2 EXIT
psql -q -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 -d postgres <<'SQL'
CREATE ROLE groundwork_owner LOGIN PASSWORD 'ownerpw' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE groundwork_app LOGIN PASSWORD 'apppw' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE DATABASE groundwork OWNER groundwork_owner;
\c groundwork
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO groundwork_owner;
GRANT USAGE ON SCHEMA public TO groundwork_app;
ALTER DEFAULT PRIVILEGES FOR ROLE groundwork_owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO groundwork_app;
ALTER DEFAULT PRIVILEGES FOR ROLE groundwork_owner IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO groundwork_app;
ALTER DEFAULT PRIVILEGES FOR ROLE groundwork_owner IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO groundwork_app;
SQL
cat >"$work/env" <<ENV
DATABASE_URL=postgres://groundwork_app:apppw@127.0.0.1:$pgport/groundwork?sslmode=disable
DATABASE_OWNER_URL=postgres://groundwork_owner:ownerpw@127.0.0.1:$pgport/groundwork?sslmode=disable
ENV
install -d -o 65532 -g 65532 -m 0700 "$work/data"   # shared keysets for every release's container

# v2: one more backward-compatible migration; v3: broken (its labels name a commit its binary does not report)
v1=$image; v2=groundwork:$commit-v2; v3=groundwork:$commit-v3
mkdir "$work/src"; git archive HEAD cmd internal go.mod go.sum Dockerfile .dockerignore | tar -C "$work/src" -xf -
# the next migration number: v1 accepts a schema exactly one version ahead
# when that migration marks itself backward-compatible
next=$(( 10#$(ls internal/postgres/migrations | sort | tail -n1 | cut -c1-5) + 1 ))
cat >"$work/src/internal/postgres/migrations/$(printf %05d "$next")_e2e_deploy_marker.sql" <<SQL
-- groundwork: backward-compatible
-- Test-only: the e2e deploy proof's newer schema (never committed).
-- +goose Up
CREATE TABLE e2e_deploy_marker (id int PRIMARY KEY);
INSERT INTO schema_compat (version) VALUES ($next);
-- +goose Down
DELETE FROM schema_compat WHERE version = $next;
DROP TABLE e2e_deploy_marker;
SQL
t1=$SECONDS
$engine build $([ "$engine" = podman ] && echo --network host --format docker) --build-arg VERSION="$commit-v2" --build-arg COMMIT="$commit-v2" \
	--build-arg BUILD_TIME="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -t "$v2" "$work/src" >/dev/null
printf 'FROM %s\nLABEL org.opencontainers.image.revision=%s-v3\n' "$v2" "$commit" | $engine build $([ "$engine" = podman ] && echo --format docker) -t "$v3" - >/dev/null
say "v2 and v3 images built in $((SECONDS - t1))s"

caddy_cfg() { printf '{"admin": {"listen": "%s"}}' "$admin"; }
caddy_cfg >"$work/caddy.json"
caddy run --config "$work/caddy.json" >"$work/caddy.log" 2>&1 & caddy_pid=$!
export GW_STATE=$work/state GW_ENV_FILE=$work/env GW_PROXY_ADMIN=http://$admin GW_PUBLIC_PORT=$pubport \
	GW_PORTS="18481 18482" GW_ENGINE=$engine GW_APP_ENV=development GW_RUN_EXTRA="-v $work/data:/data"
deploy=deploy/gw-deploy.sh

t1=$SECONDS; GW_SMOKE_NO_KEY=1 $deploy deploy "$v1" || fail "first deploy of v1"
say "first deploy (v1) took $((SECONDS - t1))s"
# the canary account and key the smoke test reads through the API with
cur=groundwork-$(cut -d' ' -f2 "$GW_STATE/current")
echo "a long enough smoke passphrase" | $engine exec -i "$cur" groundwork user create -email canary@example.com >/dev/null
orgid=$($engine exec "$cur" groundwork org create -name Canary -owner canary@example.com | tail -n1)
GW_SMOKE_API_KEY=$($engine exec "$cur" groundwork apikey create -org "$orgid" -name smoke -role viewer | tail -n1)
export GW_SMOKE_API_KEY
deploy/smoke.sh "http://127.0.0.1:$pubport" || fail "smoke through the proxy"

# steady bounded load: 4 sequential clients through the proxy, every answer
# recorded. Each pauses 50 ms between requests, so together they stay under
# the API key's default limit (100/s): a fast machine otherwise earns 429s
# that have nothing to do with the deploy.
load_start() {
	rm -f "$work/stop"; : >"$work/codes"
	for i in 1 2 3 4; do
		( while [ ! -e "$work/stop" ]; do
			curl -s -o /dev/null -m 10 -w '%{http_code}\n' -H "Authorization: Bearer $GW_SMOKE_API_KEY" "http://127.0.0.1:$pubport/api/v1/contacts" >>"$work/codes.$i"
			sleep 0.05
		done ) &
	done
}
load_stop() { # NAME: prints requests and failures, fails on any non-200
	touch "$work/stop"; wait $(jobs -p | grep -v "^$caddy_pid\$") 2>/dev/null || true
	cat "$work"/codes.* >"$work/codes"; rm -f "$work"/codes.*
	local n bad; n=$(wc -l <"$work/codes"); bad=$(grep -vc '^200$' "$work/codes" || true)
	say "$1: $n requests through the proxy, $bad failed"
	[ "$n" -gt 0 ] && [ "$bad" = 0 ] || fail "$1: $bad of $n requests failed ($(sort "$work/codes" | uniq -c | tr '\n' ' '))"
}
wait_for_load() { sleep 2; }

load_start; wait_for_load
t1=$SECONDS; $deploy deploy "$v2" || fail "deploy of v2"; say "deploy v1 -> v2 took $((SECONDS - t1))s"
wait_for_load; load_stop "deploy v1 -> v2"
curl -fsS "http://127.0.0.1:$pubport/version" | grep -q "\"commit\":\"$commit-v2\"" || fail "v2 is not serving"

load_start; wait_for_load
if $deploy deploy "$v3"; then fail "broken v3 was deployed"; fi
wait_for_load; load_stop "broken v3 refused, v2 kept"
curl -fsS "http://127.0.0.1:$pubport/version" | grep -q "\"commit\":\"$commit-v2\"" || fail "v2 is not serving after the refused v3"

load_start; wait_for_load
t1=$SECONDS; $deploy rollback "$v1" || fail "rollback to v1"; say "rollback v2 -> v1 took $((SECONDS - t1))s"
wait_for_load; load_stop "rollback v2 -> v1"
curl -fsS "http://127.0.0.1:$pubport/version" | grep -q "\"commit\":\"$commit\"" || fail "v1 is not serving after rollback"
psql -tA -h 127.0.0.1 -p "$pgport" -U postgres -d groundwork -c "SELECT to_regclass('e2e_deploy_marker') IS NOT NULL" | grep -q t ||
	fail "the newer schema is gone"
$deploy releases
say "item 3 ok: v1 -> v2 (new migration) -> broken v3 refused -> rollback v1 on v2's schema, 0 failed requests"

# 2. one image, every role: serve without workers and a separate worker
#    container on the external database; an export requested through the API
#    is written by the worker (the deployed releases, which work jobs too,
#    are stopped first, so nothing else can run it)
for c in $($engine ps -aq --filter name=groundwork-1848); do $engine rm -f "$c" >/dev/null; done
apiport=18483
roleargs=(--network host --env-file "$work/env" -e GROUNDWORK_ENV=development -v "$work/data:/data")
$engine run -d --name "$tag-serve" "${roleargs[@]}" -e PORT=$apiport "$v1" serve -workers=false >/dev/null
$engine run -d --name "$tag-worker" "${roleargs[@]}" "$v1" worker >/dev/null
last=$tag-serve; ready "http://127.0.0.1:$apiport" 120 || fail "serve -workers=false never became ready"
# Another process on the port would answer /readyz too: the container must be the one running.
[ "$($engine inspect -f '{{.State.Running}}' "$tag-serve")" = true ] || fail "serve -workers=false exited (is port $apiport taken?)"
adminkey=$($engine exec "$tag-serve" groundwork apikey create -org "$orgid" -name e2e-export -role admin | tail -n1)
api() { curl -fsS -m 10 -H "Authorization: Bearer $adminkey" -H 'Content-Type: application/json' "$@"; }
export_id=$(api -X POST -d '{"format":"csv"}' "http://127.0.0.1:$apiport/api/v1/exports" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
[ -n "$export_id" ] || fail "POST /api/v1/exports"
status=""
for ((i = 0; i < 600; i++)); do
	status=$(api "http://127.0.0.1:$apiport/api/v1/exports/$export_id" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
	case $status in succeeded | failed | cancelled) break ;; esac
	sleep 0.2
done
[ "$status" = succeeded ] || { last=$tag-worker; fail "export $export_id is '$status': the worker container did not write it"; }
say "item 2 ok: serve -workers=false and a worker container on the external database; the export requested through the API was written by the worker"

say "all container proofs passed in $((SECONDS - t0))s"
