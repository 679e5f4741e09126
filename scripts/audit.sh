#!/usr/bin/env bash
# make audit: known vulnerabilities in the code's dependencies (govulncheck,
# pinned in tools/go.mod). The vulnerability database lives at vuln.go.dev;
# when it cannot be reached this says so plainly instead of pretending.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(go tool -modfile=tools/go.mod govulncheck ./... 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qiE "fetching vulnerabilities|dial tcp|no such host|connection refused|i/o timeout|vuln.go.dev" <<<"$out"; then
  echo "make audit: the vulnerability database (vuln.go.dev) is unreachable from this machine; NOT checked."
  echo "$out" | tail -n 3 | sed 's/^/  /'
  exit 0
fi
echo "$out"
# Keep the result for "groundwork doctor" (security.vulns): govulncheck's
# JSON stream, whose file time is when it was checked.
dir="${GROUNDWORK_DATA_DIR:-var}"
if mkdir -p "$dir" && go tool -modfile=tools/go.mod govulncheck -json ./... > "$dir/govulncheck.json.tmp" 2>/dev/null; then
  mv "$dir/govulncheck.json.tmp" "$dir/govulncheck.json"
else
  rm -f "$dir/govulncheck.json.tmp"
fi
exit $rc
