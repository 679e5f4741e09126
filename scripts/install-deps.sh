#!/usr/bin/env bash
# Installs the system packages Groundwork's commands and tests need, when they
# are missing. Idempotent: a machine that has everything is left untouched.
# Uses apt-get as root (or through sudo); otherwise says what to install.
#
#   scripts/install-deps.sh run    what `make run` needs: PostgreSQL
#   scripts/install-deps.sh        everything the tests and lint need too
set -euo pipefail
purpose=${1:-test}

missing=()

have_pg() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_pg || missing+=(postgresql)

if [ "$purpose" = test ]; then

# Headless Chromium for the browser tests (cmd/groundwork/browser_test.go):
# Debian's package, from apt; nothing downloads a browser.
have_chromium() {
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]
}
have_chromium || missing+=(chromium)

# Redis for the shared rate-limit tests (internal/redistest starts its own
# throwaway server): Debian's package.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

# pgBackRest for point-in-time recovery (groundwork backup pitr, restore --at)
# and its tests: Debian's package.
command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)

# HAProxy and PgBouncer for the scale-out proof (deploy/scaleout.sh and the
# e2e test TestE2EScaleOut): several serve instances behind a load balancer,
# a transaction pooler in front of PostgreSQL. Debian's packages; only their
# binaries are used (the tests start their own, on their own ports).
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)

# Prometheus, Alertmanager and blackbox-exporter for the observability tests
# (cmd/groundwork/observability_test.go): promtool runs the alert rules' unit
# tests, a real Prometheus scrapes a test serve to check every dashboard
# query, amtool checks the Alertmanager example, blackbox-exporter probes the
# test serve. Debian's packages; only their binaries are used.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || missing+=(prometheus-blackbox-exporter)

# wrk, the HTTP load generator of make bench (cmd/groundwork/bench_wrk_test.go)
# and scripts/bench-pocketbase.sh: Debian's package.
command -v wrk >/dev/null 2>&1 || missing+=(wrk)

fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go is not installed; install Go 1.26 or newer from your distribution or go.dev" >&2
  exit 1
fi

# Node.js and npm for squawk, the migration linter (scripts/lint-migrations.sh),
# and axe-core, the accessibility engine of the browser test: Debian's
# packages; squawk and axe-core are pinned in package.json / package-lock.json.
if [ "$purpose" = test ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

install_squawk() {
  [ "$purpose" = test ] || return 0
  cd "$(dirname "$0")/.."
  prebuild_stripe_mock
  if [ ! -x tools/npm/node_modules/.bin/redocly ] || [ ! -f tools/npm/node_modules/redoc/package.json ]; then
    # The API tools (tools/npm): Redocly CLI for make lint, openapi-typescript
    # for go generate, redoc (the vendored copy is compared with it).
    echo "install-deps: installing the API tools (npm ci in tools/npm)" >&2
    (cd tools/npm && npm ci --no-audit --no-fund --loglevel=error)
  fi
  [ -x node_modules/.bin/squawk ] && [ -f node_modules/axe-core/axe.min.js ] && return 0
  echo "install-deps: installing squawk and axe-core (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
}

# stripe-mock (pinned in tools/go.mod) checks the billing tests' requests;
# building it once here keeps the parallel tests from all compiling it at
# the same time on a fresh machine.
prebuild_stripe_mock() {
  go tool -n -modfile=tools/go.mod stripe-mock >/dev/null
}

if [ ${#missing[@]} -eq 0 ]; then
  install_squawk
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" = 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt=(sudo apt-get)
else
  echo "install-deps: missing packages: ${missing[*]}; install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: no apt-get here; install these with your package manager: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
install_squawk
