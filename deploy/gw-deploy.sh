#!/usr/bin/env bash
# gw-deploy.sh: Kamal-style deploys of Groundwork's image to one Linux host with
# docker or podman and a Caddy reverse proxy (Debian's caddy package).
#
#   gw-deploy.sh deploy IMAGE     release step (migrate up), start the new container
#                                 beside the old one, wait for /readyz and /version,
#                                 run the smoke test, switch the proxy, drain and stop
#                                 the old one; on any failure keep (or return to) the old.
#   gw-deploy.sh rollback [IMAGE] return to IMAGE, or to the release before the current one.
#   gw-deploy.sh releases         list the kept releases, the current one marked '*'.
#
# Environment: GW_STATE (default /var/lib/groundwork-deploy) holds the release
# list; GW_ENV_FILE is passed to every container (DATABASE_URL, DATABASE_OWNER_URL,
# secrets); GW_PROXY_ADMIN is Caddy's admin API (default http://127.0.0.1:2019);
# GW_PUBLIC_PORT the proxy's listen port (default 80); GW_PORTS two ports the
# releases alternate on (default "18081 18082"); GW_KEEP releases kept (default 5);
# GW_SMOKE a smoke command run against the new container's URL (default
# deploy/smoke.sh); GW_NOTIFY_URL a Slack-compatible webhook told about rollbacks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
STATE=${GW_STATE:-/var/lib/groundwork-deploy}
ENGINE=${GW_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
PROXY_ADMIN=${GW_PROXY_ADMIN:-http://127.0.0.1:2019}
PUBLIC_PORT=${GW_PUBLIC_PORT:-80}
read -r -a PORTS <<<"${GW_PORTS:-18081 18082}"
KEEP=${GW_KEEP:-5}
SMOKE=${GW_SMOKE:-$here/smoke.sh}
READY_TIMEOUT=${GW_READY_TIMEOUT:-120}
mkdir -p "$STATE"
touch "$STATE/releases"

log() { echo "gw-deploy: $*" >&2; }
envargs() { [ -n "${GW_ENV_FILE:-}" ] && echo "--env-file $GW_ENV_FILE"; true; }
current() { tail -n1 "$STATE/current" 2>/dev/null || true; }   # "IMAGE PORT"
notify() {
	log "$1"
	[ -n "${GW_NOTIFY_URL:-}" ] && curl -fsS -m 10 -H 'Content-Type: application/json' \
		-d "{\"text\": \"groundwork deploy: $1\"}" "$GW_NOTIFY_URL" >/dev/null || true
}

# proxy_to PORT points Caddy at 127.0.0.1:PORT, loading the whole config at once
# (Caddy swaps it gracefully: in-flight requests finish on the old upstream).
# No health_checks block: Debian's Caddy 2.6 answers "no upstreams available"
# (503) to every request when passive checks are set with fail_duration 0s.
proxy_to() {
	curl -fsS -m 10 -H 'Content-Type: application/json' -X POST "$PROXY_ADMIN/load" -d @- <<JSON
{"admin": {"listen": "${PROXY_ADMIN#http://}"},
 "apps": {"http": {"servers": {"groundwork": {"listen": [":$PUBLIC_PORT"],
  "routes": [{"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:$1"}]}]}]}}}}}
JSON
}

wait_ready() { # URL COMMIT
	local deadline=$((SECONDS + READY_TIMEOUT))
	while [ $SECONDS -lt $deadline ]; do
		if curl -fsS -m 2 "$1/readyz" >/dev/null 2>&1; then
			[ -z "$2" ] && return 0
			curl -fsS -m 2 "$1/version" | grep -q "\"commit\":\"$2\"" && return 0
			log "$1/version does not report commit $2"; return 1
		fi
		sleep 0.5
	done
	log "$1 not ready after ${READY_TIMEOUT}s"; return 1
}

label() { $ENGINE image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1"; }
name_for_port() { echo "groundwork-$1"; }

start() { # IMAGE PORT
	local name; name=$(name_for_port "$2")
	$ENGINE rm -f "$name" >/dev/null 2>&1 || true
	# shellcheck disable=SC2046
	$ENGINE run -d --name "$name" --network host $(envargs) -e PORT="$2" -e GROUNDWORK_ENV="${GW_APP_ENV:-production}" \
		"${GW_RUN_FLAGS[@]}" "$1" serve >/dev/null
}

stop() { # PORT: SIGTERM, serve drains in-flight requests before it exits
	$ENGINE stop -t 30 "$(name_for_port "$1")" >/dev/null 2>&1 || true
	$ENGINE rm -f "$(name_for_port "$1")" >/dev/null 2>&1 || true
}

release() { # IMAGE: one-shot migrate up (refuses unsafe migrations)
	# shellcheck disable=SC2046
	$ENGINE run --rm --network host $(envargs) "${GW_RUN_FLAGS[@]}" "$1" migrate up
}

# switch IMAGE [no-migrate]: the zero-downtime swap shared by deploy and rollback.
switch() {
	local image=$1 cur curport port commit
	cur=$(current); curport=${cur#* }
	port=${PORTS[0]}; [ "$curport" = "${PORTS[0]}" ] && port=${PORTS[1]}
	commit=$(label "$image" org.opencontainers.image.revision)
	[ "${2:-}" = no-migrate ] || release "$image" || { log "release step failed"; return 1; }
	start "$image" "$port"
	if ! wait_ready "http://127.0.0.1:$port" "$commit" || ! "$SMOKE" "http://127.0.0.1:$port"; then
		log "new release $image failed readiness or smoke; stopping it"
		stop "$port"; return 1
	fi
	proxy_to "$port" >/dev/null
	echo "$image $port" >"$STATE/current"
	[ -n "$curport" ] && [ "$curport" != "$cur" ] && stop "$curport"
	grep -vxF "$image" "$STATE/releases" >"$STATE/releases.new" || true
	echo "$image" >>"$STATE/releases.new"
	tail -n "$KEEP" "$STATE/releases.new" >"$STATE/releases"; rm -f "$STATE/releases.new"
	log "now serving $image (commit $commit) on port $port"
}

GW_RUN_FLAGS=()
[ -n "${GW_RUN_EXTRA:-}" ] && read -r -a GW_RUN_FLAGS <<<"$GW_RUN_EXTRA"

case "${1:-}" in
deploy)
	[ $# -eq 2 ] || { echo "usage: $0 deploy IMAGE" >&2; exit 2; }
	prev=$(current); prev=${prev% *}
	start_s=$SECONDS
	if switch "$2"; then log "deploy took $((SECONDS - start_s))s"; exit 0; fi
	if [ -n "$prev" ]; then
		notify "deploy of $2 failed; $prev keeps serving (automatic rollback)"
		# the old container never stopped, the proxy never switched: nothing else to undo
	else
		notify "deploy of $2 failed; nothing was serving before"
	fi
	exit 1 ;;
rollback)
	target=${2:-}
	if [ -z "$target" ]; then
		cur=$(current); cur=${cur% *}
		target=$(grep -vxF "$cur" "$STATE/releases" | tail -n1)
		[ -n "$target" ] || { echo "rollback: no earlier release kept" >&2; exit 1; }
	fi
	start_s=$SECONDS
	# no release step: the newer schema stays (migrations are backward compatible across one deploy)
	switch "$target" no-migrate || { notify "rollback to $target failed"; exit 1; }
	notify "rolled back to $target in $((SECONDS - start_s))s"
	;;
releases)
	cur=$(current); cur=${cur% *}
	while read -r r; do
		[ -n "$r" ] || continue
		mark=" "; [ "$r" = "$cur" ] && mark="*"
		echo "$mark $r  commit=$(label "$r" org.opencontainers.image.revision 2>/dev/null) version=$(label "$r" org.opencontainers.image.version 2>/dev/null)"
	done <"$STATE/releases" ;;
*) echo "usage: $0 deploy IMAGE | rollback [IMAGE] | releases" >&2; exit 2 ;;
esac
