#!/usr/bin/env bash
# Scale-out proof: runs Groundwork as it scales out, on this machine, with
# plain processes (no containers):
#
#   HAProxy (round robin, health checks on /readyz)
#     ├── groundwork serve -workers=false   ×3
#   groundwork worker                        ×1
#   PgBouncer (pool_mode=transaction) ── PostgreSQL (a throwaway cluster)
#   Redis (shared rate-limit state)
#
# and proves: sessions, rate limits and CSRF hold across instances; tenant
# isolation through the pooler (0 foreign rows under a mixed load of three
# organisations); River through the pooler (poll-only); migrations over the
# owner's direct connection; the refusal of configurations that cannot work;
# an instance killed mid-load fails only its in-flight requests; and
# `groundwork loadtest` through HAProxy with 1, 2 and 3 instances.
#
# It is the e2e test TestE2EScaleOut (cmd/groundwork/scaleout_e2e_test.go);
# this script runs it verbosely and keeps the load test reports:
#
#   deploy/scaleout.sh [OUT_DIR]     (default var/scaleout)
#
# Needs haproxy, pgbouncer, redis-server and PostgreSQL (scripts/install-deps.sh
# installs them). See docs/scaling.md for the production topology.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-var/scaleout}
mkdir -p "$out"
out=$(cd "$out" && pwd)
GROUNDWORK_SCALEOUT_OUT=$out go test -tags e2e -run '^TestE2EScaleOut$' -count=1 -timeout 30m -v ./cmd/groundwork/ | tee "$out/test.log"
status=${PIPESTATUS[0]}
echo "scaleout: reports in $out/{1,2,3}-instances/report.html, break points in $out/scaleout.txt" >&2
exit "$status"
