#!/usr/bin/env bash
# Lints the API description, internal/web/openapi.json, with Redocly CLI
# (@redocly/cli, pinned in tools/npm/package.json and package-lock.json;
# rules in redocly.yaml: recommended-strict, so a warning fails too), and
# checks it for breaking changes against the last release (scripts/
# api-breaking.sh).
#
#   scripts/lint-openapi.sh
#
# Like squawk in scripts/lint-migrations.sh, the tools install themselves on
# first use (npm ci from the committed lock file), so make lint works on a
# fresh checkout and in CI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
npmdir=$root/tools/npm
redocly=$npmdir/node_modules/.bin/redocly
if [ ! -x "$redocly" ] && command -v npm >/dev/null 2>&1; then
  echo "lint-openapi: installing the API tools (npm ci in tools/npm)" >&2
  (cd "$npmdir" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
if [ ! -x "$redocly" ]; then
  echo "lint-openapi: redocly not found at $redocly; run scripts/install-deps.sh (it installs node and npm)" >&2
  exit 2
fi
# Redocly prints a banner about Node.js versions on Debian's Node 20; the
# lint result is what matters.
cd "$root"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$redocly" lint --config redocly.yaml internal/web/openapi.json 2>&1 | grep -v '[║╔╚]' | sed '/^$/N;/^\n$/D'
"$root/scripts/api-breaking.sh"
