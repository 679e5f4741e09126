#!/usr/bin/env bash
# Lints goose SQL migrations for locking hazards with squawk (squawk-cli,
# pinned in package.json; installed by scripts/install-deps.sh with npm ci).
#
#   scripts/lint-migrations.sh [DIR|FILE]...   (default: internal/postgres/migrations)
#
# Only the Up section of each file is linted: everything from the
# "-- +goose Down" line on is cut off (the lines before it are kept, so line
# numbers in the report match the file). Two passes, because goose runs them
# differently:
#   * ordinary migrations run inside a transaction: squawk --assume-in-transaction;
#   * "-- +goose NO TRANSACTION" migrations (CREATE INDEX CONCURRENTLY and the
#     like) run outside one: squawk without it.
# Besides squawk's rules, every Up section must set both lock_timeout and
# statement_timeout (SET LOCAL in a transaction; plain SET in a NO TRANSACTION
# file, where SET LOCAL would do nothing), so that a migration waiting on a
# lock fails in seconds instead of queueing every query behind it.
# A statement squawk flags that is safe all the same takes a
# "-- squawk-ignore RULE" comment on the line before it, saying why.
# Exits 1 when any migration fails, 2 when squawk is not installed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
squawk=${SQUAWK:-$root/node_modules/.bin/squawk}
# Like "go tool gitleaks" in make lint, squawk installs itself on first use
# (from the committed package-lock.json), so that make lint works on a fresh
# checkout and in CI, which runs it before make test installs anything.
if [ ! -x "$squawk" ] && [ -z "${SQUAWK:-}" ] && command -v npm >/dev/null 2>&1; then
  echo "lint-migrations: installing squawk (npm ci)" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) >&2 || true
fi
if [ ! -x "$squawk" ]; then
  echo "lint-migrations: squawk not found at $squawk; run scripts/install-deps.sh (it installs node, npm and squawk)" >&2
  exit 2
fi
config=(--config "$root/.squawk.toml")

[ $# -gt 0 ] || set -- "$root/internal/postgres/migrations"
files=()
for arg in "$@"; do
  if [ -d "$arg" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$arg" -maxdepth 1 -name '*.sql' | sort)
  elif [ -f "$arg" ]; then
    files+=("$arg")
  else
    echo "lint-migrations: $arg: no such file or directory" >&2
    exit 1
  fi
done
if [ ${#files[@]} -eq 0 ]; then
  echo "lint-migrations: no .sql files in $*" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# up FILE: the file up to (not including) its "-- +goose Down" line.
up() { sed '/^[[:space:]]*--[[:space:]]*+goose[[:space:]]\{1,\}[Dd][Oo][Ww][Nn]/,$d' "$1"; }
notx() { grep -Eiq '^[[:space:]]*--[[:space:]]*\+goose[[:space:]]+NO[[:space:]]+TRANSACTION' "$1"; }

tx_files=() notx_files=()
for f in "${files[@]}"; do
  if notx "$f"; then notx_files+=("$f"); else tx_files+=("$f"); fi
done

failed=0
# plain: strip ANSI colours and OSC 8 hyperlinks.
plain() { sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\x1b\]8;;[^\x1b]*\x1b\\//g'; }
# lint PASS FILE [SQUAWK FLAGS]: squawk over FILE's Up section, reported under
# FILE's own name.
lint() {
  local pass=$1 f=$2
  shift 2
  local out
  if ! out=$(up "$f" | "$squawk" "${config[@]}" "$@" --stdin-filepath "$f" 2>&1); then
    # squawk colours its report even into a pipe: plain text unless on a terminal.
    if [ -t 1 ]; then printf '%s\n' "$out"; else printf '%s\n' "$out" | plain; fi
    echo "lint-migrations: $f: squawk found locking hazards ($pass pass)"
    failed=1
  fi
}
# timeouts FILE LOCAL_OK: the Up section sets lock_timeout and statement_timeout.
timeouts() {
  local f=$1 local_ok=$2 body setting
  body=$(up "$f" | sed 's/--.*$//')
  for setting in lock_timeout statement_timeout; do
    if ! grep -Eiq "^[[:space:]]*SET[[:space:]]+(LOCAL[[:space:]]+|SESSION[[:space:]]+)?$setting[[:space:]]*(=|TO)" <<<"$body"; then
      echo "lint-migrations: $f: the Up section does not set $setting (SET LOCAL $setting = '...';)"
      failed=1
    elif [ "$local_ok" = no ] && ! grep -Eiq "^[[:space:]]*SET[[:space:]]+(SESSION[[:space:]]+)?$setting[[:space:]]*(=|TO)" <<<"$body"; then
      echo "lint-migrations: $f: NO TRANSACTION migration: SET LOCAL $setting has no effect outside a transaction; use SET $setting"
      failed=1
    fi
  done
}

for f in ${tx_files[@]+"${tx_files[@]}"}; do
  lint "in-transaction" "$f" --assume-in-transaction
  timeouts "$f" yes
done
for f in ${notx_files[@]+"${notx_files[@]}"}; do
  lint "NO TRANSACTION" "$f" --no-assume-in-transaction
  timeouts "$f" no
done

if [ $failed -ne 0 ]; then
  echo "lint-migrations: FAILED; see docs/migrations.md for the safe patterns"
  exit 1
fi
echo "lint-migrations: ${#tx_files[@]} in-transaction and ${#notx_files[@]} NO TRANSACTION migration(s) OK"
