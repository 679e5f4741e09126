#!/usr/bin/env bash
# smoke.sh URL: the post-deploy smoke test. Checks /healthz, /readyz and /version,
# then reads through the API with the canary API key (GW_SMOKE_API_KEY, a viewer
# key of a canary organisation): GET /api/v1/contacts must answer 200 with JSON.
# Without a key it says so and fails, unless GW_SMOKE_NO_KEY=1 (first deploy).
set -euo pipefail
url=${1:?usage: smoke.sh URL}
fail() { echo "smoke: $*" >&2; exit 1; }
curl -fsS -m 5 "$url/healthz" >/dev/null || fail "$url/healthz failed"
curl -fsS -m 5 "$url/readyz" >/dev/null || fail "$url/readyz failed"
curl -fsS -m 5 "$url/version" | grep -q '"commit"' || fail "$url/version has no commit"
if [ -z "${GW_SMOKE_API_KEY:-}" ]; then
	[ "${GW_SMOKE_NO_KEY:-}" = 1 ] && { echo "smoke: no canary key, API read skipped" >&2; exit 0; }
	fail "GW_SMOKE_API_KEY is not set (the canary organisation's API key)"
fi
body=$(curl -fsS -m 5 -H "Authorization: Bearer $GW_SMOKE_API_KEY" "$url/api/v1/contacts") ||
	fail "GET /api/v1/contacts with the canary key failed"
case $body in \{*|\[*) ;; *) fail "GET /api/v1/contacts did not answer JSON";; esac
echo "smoke: ok ($url)" >&2
