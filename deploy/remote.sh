#!/usr/bin/env bash
# remote.sh ACTION [ARG]: run deploy/gw-deploy.sh ACTION on $DEPLOY_HOST over SSH (what
# the workflows call). SSH_KEY and SSH_KNOWN_HOSTS hold the deploy key and the host's key;
# GW_SMOKE_API_KEY and GW_NOTIFY_URL are passed through. The tool is copied first, so
# the host always runs the version of the commit being deployed.
set -euo pipefail
: "${DEPLOY_HOST:?DEPLOY_HOST (user@host) is not set}"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
printf '%s\n' "$SSH_KEY" >"$dir/key"; chmod 600 "$dir/key"
printf '%s\n' "$SSH_KNOWN_HOSTS" >"$dir/known_hosts"
ssh_=(ssh -i "$dir/key" -o UserKnownHostsFile="$dir/known_hosts" -o StrictHostKeyChecking=yes)
here=$(cd "$(dirname "$0")" && pwd)
tar -C "$here" -cf - gw-deploy.sh smoke.sh | "${ssh_[@]}" "$DEPLOY_HOST" 'mkdir -p ~/groundwork-deploy && tar -C ~/groundwork-deploy -xf -'
args=$(printf ' %q' "$@")
"${ssh_[@]}" "$DEPLOY_HOST" "GW_SMOKE_API_KEY=$(printf %q "${GW_SMOKE_API_KEY:-}") GW_NOTIFY_URL=$(printf %q "${GW_NOTIFY_URL:-}") GW_ENV_FILE=\${GW_ENV_FILE:-/etc/groundwork/env} ~/groundwork-deploy/gw-deploy.sh$args"
