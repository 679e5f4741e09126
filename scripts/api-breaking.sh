#!/usr/bin/env bash
# Fails when internal/web/openapi.json breaks clients of the spec at the last
# release tag, or, without a tag, of the committed baseline
# internal/web/apicompat/baseline.json (the contract last shipped; a release
# replaces it with the spec it ships): oasdiff
# (pinned in tools/go.mod), every error and warning counting. A deliberate
# break needs a new API version (docs/api.md); a change that only writes down
# what the server already enforced is listed, with the reason, in
# internal/web/apicompat/accepted.txt.
#
#   scripts/api-breaking.sh [BASE-REVISION]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
spec=internal/web/openapi.json
base=${1:-}
if [ -z "$base" ]; then
  base=$(git describe --tags --abbrev=0 2>/dev/null || true)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$base" ]; then
  if ! git show "$base:$spec" >"$tmp/base.json" 2>/dev/null; then
    echo "api-breaking: $spec does not exist at $base; nothing to compare"
    exit 0
  fi
  what=$(git rev-parse --short "$base")
else
  cp internal/web/apicompat/baseline.json "$tmp/base.json"
  what=internal/web/apicompat/baseline.json
fi
accepted=internal/web/apicompat/accepted.txt
echo "api-breaking: $spec against $what"
go tool -modfile=tools/go.mod oasdiff breaking "$tmp/base.json" "$spec" \
  --fail-on WARN --err-ignore "$accepted" --warn-ignore "$accepted"
