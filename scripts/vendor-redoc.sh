#!/bin/sh
# Vendors Redoc's standalone bundle, the script of the API reference page
# (/api/docs), into internal/web/static/vendor/redoc/ from the redoc package
# pinned in tools/npm/package.json (run `npm ci` in tools/npm first).
#
# One change to the upstream file: the Redocly logo of the menu's "API docs
# by Redocly" link is fetched from Redocly's CDN, which the page's CSP
# refuses (img-src 'self' data:) with an error in the console. Its URL
# becomes "data:,", an empty image that Redoc hides (its onError), so the
# page loads nothing from another origin. TestVendoredRedocMatchesNPM
# (internal/web) applies the same change and fails while the copy differs.
set -eu
cd "$(dirname "$0")/.."
src=tools/npm/node_modules/redoc
dst=internal/web/static/vendor/redoc
logo='"https://cdn.redoc.ly/redoc/logo-mini.svg"'
if [ ! -f "$src/package.json" ]; then
  echo "vendor-redoc: $src is missing; run npm ci in tools/npm" >&2
  exit 1
fi
if [ "$(grep -o "$logo" "$src/bundles/redoc.standalone.js" | wc -l)" -ne 1 ]; then
  echo "vendor-redoc: the bundle does not name the logo $logo once; review the change" >&2
  exit 1
fi
mkdir -p "$dst"
sed "s#$logo#\"data:,\"#" "$src/bundles/redoc.standalone.js" >"$dst/redoc.standalone.js"
cp "$src/bundles/redoc.standalone.js.LICENSE.txt" "$src/LICENSE" "$dst/"
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$src/package.json")
echo "vendor-redoc: vendored redoc $version into $dst (update the version in its README.md)"
