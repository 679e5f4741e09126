#!/usr/bin/env bash
# bench-pocketbase.sh: Groundwork side by side with PocketBase v0.39.11 (a
# single-binary Go backend on SQLite) on the same machine in one run (issue
# 14): PocketBase in production mode, Groundwork as `make bench` runs it
# (logging at WARN, the API-key rate limit off), each with 10,000 contacts of the same shape
# (name, email, phone, company, tags, custom) readable only by an
# authenticated caller (Groundwork: an API key; PocketBase: a user's auth
# token), then 32 clients against each in turn, pair by pair: GET one
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

echo "== building PocketBase $PB_VERSION and the load generator in $work"
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

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

func main() {
	app := pocketbase.New()
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
// Command load runs the same workloads, 32 clients each, against Groundwork
// and PocketBase in turn, pair by pair, and prints each figure with its
// ratio: GET one, list 50, create.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type target struct {
	name, get, list, create, auth string
	body                          func(i int64) string
}

func main() {
	clients := flag.Int("c", 32, "clients")
	dur := flag.Duration("d", 10*time.Second, "duration of each run")
	rounds := flag.Int("rounds", 2, "rounds")
	seed := flag.Int("seed", 0, "only create this many Groundwork contacts (32 clients) and print the last one's ID")
	flag.Parse()
	if *seed > 0 {
		seedGroundwork(*seed)
		return
	}
	gw := target{name: "groundwork", get: os.Getenv("GW_BASE") + "/" + os.Getenv("GW_ID"), list: os.Getenv("GW_BASE") + "?limit=50",
		create: os.Getenv("GW_BASE"), auth: "Bearer " + os.Getenv("GW_KEY"),
		body: func(i int64) string {
			return fmt.Sprintf(`{"name":"Created %d","email":"created%d@example.com","company":"Bench","tags":["bench"],"custom":{"n":%d}}`, i, i, i)
		}}
	pb := target{name: "pocketbase", get: os.Getenv("PB_BASE") + "/" + os.Getenv("PB_ID"), list: os.Getenv("PB_BASE") + "?perPage=50&sort=-@rowid&skipTotal=1",
		create: os.Getenv("PB_BASE"), auth: os.Getenv("PB_TOKEN"),
		body: func(i int64) string {
			return fmt.Sprintf(`{"name":"Created %d","email":"created%d@example.com","company":"Bench","tags":["bench"],"custom":{"n":%d}}`, i, i, i)
		}}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * *clients}}
	for round := 1; round <= *rounds; round++ {
		for _, w := range []string{"get-one", "list-50", "create"} {
			var rates [2]float64
			for i, t := range []target{gw, pb} {
				rate, p50, p99, errs := run(client, t, w, *clients, *dur)
				rates[i] = rate
				fmt.Printf("round %d  %-8s %-10s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  errors %d\n", round, w, t.name, rate, p50, p99, errs)
			}
			fmt.Printf("round %d  %-8s groundwork / pocketbase = %.2fx\n", round, w, rates[0]/rates[1])
		}
	}
}

func run(client *http.Client, t target, workload string, clients int, dur time.Duration) (rate, p50, p99 float64, errs int64) {
	var n atomic.Int64
	var errCount atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				var req *http.Request
				want := http.StatusOK
				switch workload {
				case "get-one":
					req, _ = http.NewRequest(http.MethodGet, t.get, nil)
				case "list-50":
					req, _ = http.NewRequest(http.MethodGet, t.list, nil)
				default:
					req, _ = http.NewRequest(http.MethodPost, t.create, strings.NewReader(t.body(n.Add(1))))
					req.Header.Set("Content-Type", "application/json")
					if t.name == "groundwork" {
						want = http.StatusCreated
					}
				}
				req.Header.Set("Authorization", t.auth)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					if errCount.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, t.name, workload, err)
					}
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lat) == 0 {
		return 0, 0, 0, errCount.Load()
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	return float64(len(lat)) / elapsed.Seconds(), q(0.5), q(0.99), errCount.Load()
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

echo "== load average before the run: $(cat /proc/loadavg)"
"$work/load" -c 32 -d "$DURATION" -rounds "$ROUNDS"
echo "== load average after the run: $(cat /proc/loadavg)"
