#!/usr/bin/env bash
# bench-pocketbase.sh: Groundwork side by side with PocketBase v0.39.11 (a
# single-binary Go backend on SQLite) on the same machine in one run (issue
# 14): PocketBase in production mode, Groundwork as `make bench` runs it
# (logging at WARN, the API-key rate limit off), each with 10,000 contacts of the same shape
# (name, email, phone, company, tags, custom) readable only by an
# authenticated caller (Groundwork: an API key; PocketBase: a user's auth
# token), then 32 connections of wrk against each in turn, pair by pair: GET one
# contact, a list of 50 (PocketBase: newest first by rowid, skipTotal=1, so
# that neither side counts), and create. It prints every figure with its
# ratio and the load average before the run.
#
# PocketBase is built from the Go module proxy in a temporary folder and
# never enters the repository; the script is not part of `make bench`, since
# the proxy may not serve it on CI. Usage: scripts/bench-pocketbase.sh
# [duration per run, default 10s] [rounds, default 2].
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
ROUNDS=${2:-2}
PB_VERSION=v0.39.11
CONTACTS=10000
work=$(mktemp -d /tmp/gw-pocketbase.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 600); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

echo "== building PocketBase $PB_VERSION and the seeder in $work"
mkdir -p "$work/pb/load"
cat > "$work/pb/go.mod" <<EOF
module pbbench

go 1.25

require github.com/pocketbase/pocketbase $PB_VERSION
EOF
cat > "$work/pb/main.go" <<'EOF'
// Command pbbench starts PocketBase (production mode) with a contacts
// collection shaped like Groundwork's, readable and writable by any
// authenticated user, seeded with N records; it writes an auth token of a
// bench user to TOKEN_FILE and one record ID to ID_FILE.
package main

import (
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

func main() {
	app := pocketbase.New()
	if sync := os.Getenv("PB_SYNC"); sync != "" {
		// core.DefaultDBConnect's pragmas, with synchronous=PB_SYNC.
		app = pocketbase.NewWithConfig(pocketbase.Config{DBConnect: func(path string) (*dbx.DB, error) {
			return dbx.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
				"&_pragma=journal_size_limit(200000000)&_pragma=synchronous("+sync+")&_pragma=foreign_keys(ON)"+
				"&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)")
		}})
	}
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if err := setup(se.App); err != nil {
			return err
		}
		return se.Next()
	})
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

func setup(app core.App) error {
	n, _ := strconv.Atoi(os.Getenv("PB_SEED"))
	if _, err := app.FindCollectionByNameOrId("contacts"); err == nil {
		return nil
	}
	rule := types.Pointer("@request.auth.id != ''")
	c := core.NewBaseCollection("contacts")
	c.ListRule, c.ViewRule, c.CreateRule, c.UpdateRule, c.DeleteRule = rule, rule, rule, rule, rule
	c.Fields.Add(
		&core.TextField{Name: "name", Required: true, Max: 200},
		&core.TextField{Name: "email", Max: 254},
		&core.TextField{Name: "phone", Max: 40},
		&core.TextField{Name: "company", Max: 200},
		&core.JSONField{Name: "tags"},
		&core.JSONField{Name: "custom"},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	if err := app.Save(c); err != nil {
		return fmt.Errorf("contacts collection: %w", err)
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	u := core.NewRecord(users)
	u.SetEmail("bench@example.com")
	u.SetPassword("a long enough passphrase")
	if err := app.Save(u); err != nil {
		return fmt.Errorf("bench user: %w", err)
	}
	token, err := u.NewAuthToken()
	if err != nil {
		return err
	}
	var id string
	err = app.RunInTransaction(func(tx core.App) error {
		for i := 1; i <= n; i++ {
			r := core.NewRecord(c)
			r.Set("name", fmt.Sprintf("Contact %d", i))
			r.Set("email", fmt.Sprintf("c%d@example.com", i))
			r.Set("phone", fmt.Sprintf("+44 20 7946 %04d", i%10000))
			r.Set("company", "Bench")
			r.Set("tags", []string{"bench", fmt.Sprintf("t%d", i%7)})
			r.Set("custom", map[string]any{"n": i, "tier": "gold", "active": true})
			if err := tx.Save(r); err != nil {
				return err
			}
			id = r.Id
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := os.WriteFile(os.Getenv("TOKEN_FILE"), []byte(token), 0o600); err != nil {
		return err
	}
	return os.WriteFile(os.Getenv("ID_FILE"), []byte(id), 0o600)
}
EOF
cat > "$work/pb/load/main.go" <<'EOF'
// Command load seeds Groundwork: it creates N contacts (-seed) through its
// API from 32 clients and prints the ID of the last one. (The loads run on
// wrk.)
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
	seed := flag.Int("seed", 0, "how many Groundwork contacts to create")
	flag.Parse()
	seedGroundwork(*seed)
}

// seedGroundwork creates n contacts in Groundwork through its API, from 32
// clients, and prints the ID of the last one created.
func seedGroundwork(n int) {
	var next atomic.Int64
	var last atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, os.Getenv("GW_BASE"), strings.NewReader(fmt.Sprintf(
					`{"name":"Contact %d","email":"c%d@example.com","phone":"+44 20 7946 %04d","company":"Bench",`+
						`"tags":["bench","t%d"],"custom":{"n":%d,"tier":"gold","active":true}}`, i, i, i%10000, i%7, i)))
				req.Header.Set("Authorization", "Bearer "+os.Getenv("GW_KEY"))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					fmt.Fprintln(os.Stderr, "create:", resp.StatusCode, string(body))
					os.Exit(1)
				}
				if _, rest, ok := strings.Cut(string(body), `"id":"`); ok {
					id, _, _ := strings.Cut(rest, `"`)
					last.Store(id)
				}
			}
		})
	}
	wg.Wait()
	fmt.Println(last.Load())
}
EOF
(cd "$work/pb" && go mod tidy >/dev/null 2>&1 && go build -o "$work/pbbench" . && go build -o "$work/load" ./load)
go build -o "$work/groundwork" ./cmd/groundwork

echo "== starting Groundwork"
gw_dir="$work/gw"; mkdir -p "$gw_dir"; chmod 755 "$gw_dir"
gw_port=$(free_port)
export GROUNDWORK_DATA_DIR="$gw_dir" GROUNDWORK_LOG_LEVEL=warn
GROUNDWORK_RATE_API_KEY=off PORT=$gw_port \
	"$work/groundwork" serve >"$work/gw.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$gw_port/readyz"
echo "a long enough passphrase" | "$work/groundwork" user create -email bench@example.com >/dev/null
org=$("$work/groundwork" org create -name Bench -owner bench@example.com)
export GW_KEY=$("$work/groundwork" apikey create -org "$org" -role member -name bench | tail -1)
export GW_BASE="http://127.0.0.1:$gw_port/api/v1/contacts"
export GW_ID=$("$work/load" -seed $CONTACTS)
# The statistics autovacuum would gather within a minute of the seeding.
pg_port=$(sed -n 's/^port = //p' "$gw_dir/postgres/groundwork.conf")
psql -q -h "$gw_dir/postgres" -p "$pg_port" -U postgres groundwork -c 'ANALYZE contacts'

echo "== starting PocketBase"
pb_port=$(free_port)
PB_SEED=$CONTACTS TOKEN_FILE="$work/pb.token" ID_FILE="$work/pb.id" \
	"$work/pbbench" serve --http "127.0.0.1:$pb_port" --dir "$work/pb_data" >"$work/pb.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$pb_port/api/health"
export PB_BASE="http://127.0.0.1:$pb_port/api/collections/contacts/records"
export PB_TOKEN=$(cat "$work/pb.token") PB_ID=$(cat "$work/pb.id")

echo "== starting PocketBase with synchronous=FULL (creates only)"
pbf_port=$(free_port)
PB_SYNC=FULL PB_SEED=$CONTACTS TOKEN_FILE="$work/pbf.token" ID_FILE="$work/pbf.id" \
	"$work/pbbench" serve --http "127.0.0.1:$pbf_port" --dir "$work/pbf_data" >"$work/pbf.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$pbf_port/api/health"
export PBF_BASE="http://127.0.0.1:$pbf_port/api/collections/contacts/records"
export PBF_TOKEN=$(cat "$work/pbf.token")

# The loads: wrk, 2 threads and 32 connections, with make bench's scripts
# (scripts/wrk) against both.
# load NAME URL SCRIPT AUTH: one run; sets RATE and P99 (as wrk prints
# it), and stops the script on any failed request.
load() {
	local out
	out=$(AUTH="$4" wrk -t 2 -c 32 -d "$DURATION" --latency -s "scripts/wrk/$3" "$2") || { echo "wrk failed against $1" >&2; exit 1; }
	if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
		echo "$out" >&2
		echo "failed requests against $1" >&2
		exit 1
	fi
	RATE=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	P99=$(awk '$1 == "99%" {print $2}' <<<"$out")
}

echo "== load average before the run: $(cat /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
	for w in get-one list-50 create; do
		case $w in
		get-one) gw_url="$GW_BASE/$GW_ID" pb_url="$PB_BASE/$PB_ID" script=get.lua ;;
		list-50) gw_url="$GW_BASE?limit=50" pb_url="$PB_BASE?perPage=50&sort=-@rowid&skipTotal=1" script=get.lua ;;
		create) gw_url="$GW_BASE" pb_url="$PB_BASE" script=create.lua ;;
		esac
		load groundwork "$gw_url" $script "Bearer $GW_KEY"
		gw_rate=$RATE gw_p99=$P99
		load pocketbase "$pb_url" $script "$PB_TOKEN"
		printf 'round %d  %-8s groundwork %8.0f req/s p99 %-9s pocketbase %8.0f req/s p99 %-9s groundwork / pocketbase = %.2fx\n' \
			"$round" "$w" "$gw_rate" "$gw_p99" "$RATE" "$P99" "$(awk -v a="$gw_rate" -v b="$RATE" 'BEGIN {print a / b}')"
		if [ "$w" = create ]; then
			load pocketbase-full "$PBF_BASE" create.lua "$PBF_TOKEN"
			printf 'round %d  %-8s groundwork %8.0f req/s p99 %-9s pocketbase, synchronous=FULL %8.0f req/s p99 %-9s groundwork / pocketbase = %.2fx\n' \
				"$round" "$w" "$gw_rate" "$gw_p99" "$RATE" "$P99" "$(awk -v a="$gw_rate" -v b="$RATE" 'BEGIN {print a / b}')"
		fi
	done
done
echo "== load average after the run: $(cat /proc/loadavg)"
