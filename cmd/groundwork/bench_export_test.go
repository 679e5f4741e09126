package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// exportBenchRows is the number of contacts BenchmarkExportContacts seeds:
// GROUNDWORK_BENCH_EXPORT_ROWS, default 1,000,000.
func exportBenchRows(b *testing.B) int {
	return benchSetting(b, "GROUNDWORK_BENCH_EXPORT_ROWS", 1_000_000)
}

// BenchmarkExportContacts measures, in one run on the same data, a CSV gzip
// export of N contacts (GROUNDWORK_BENCH_EXPORT_ROWS) of one organisation
// through the API of a serve process working its jobs (POST
// /api/v1/exports, then GET /api/v1/exports/{id} until it is done):
//
//   - export-s and export-rows/s, end to end, against copy-rows/s, a bare
//     COPY (SELECT the same columns, still encrypted) TO STDOUT of the same
//     rows over pgx into io.Discard (export-%-of-copy; goal ≥ 50);
//   - rss-growth-MB: the serve process's peak VmRSS during the export, sampled
//     every 20 ms, less its VmRSS just before (goal < 100); hwm-growth-MB is
//     the same from VmHWM (its lifetime peak);
//   - p95/p99 of GET /api/v1/contacts/{id} from 32 clients for 10 s without
//     an export (idle-*) and during a second, identical export (export-*),
//     and their ratio (p95-ratio; goal ≤ 1.3).
//
// The contacts are seeded through contacts.Service.InsertTx (the import's
// write path: encryption per row, one INSERT … unnest per 5,000 rows), two
// batches at a time, with the serve process's keyring: email and phone are
// encrypted with an associated datum that names the row, so plain SQL
// cannot seed them. Run it with -benchtime 1x.
func BenchmarkExportContacts(b *testing.B) {
	rows := exportBenchRows(b)
	bin := buildBinary(b)
	dir := benchDir(b)
	port := benchPort(b)
	cmd, _ := serveProcess(b, bin, dir, port)
	defer stopProcess(b, cmd)
	ctx := context.Background()

	cli(b, bin, dir, "a long enough passphrase\n", "user", "create", "-email", "bench@example.com")
	orgID := strings.TrimSpace(cli(b, bin, dir, "", "org", "create", "-name", "Bench", "-owner", "bench@example.com"))
	out := strings.Split(strings.TrimSpace(cli(b, bin, dir, "", "apikey", "create", "-org", orgID, "-role", "admin", "-name", "bench")), "\n")
	header := http.Header{"Authorization": {"Bearer " + out[len(out)-1]}}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1", port)

	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close(ctx)
	runtime, err := postgres.Open(ctx, local.RuntimeURL(), 2)
	if err != nil {
		b.Fatal(err)
	}
	defer runtime.Close()
	super, err := postgres.Open(ctx, local.SuperuserURL(postgres.DatabaseName), 2)
	if err != nil {
		b.Fatal(err)
	}
	defer super.Close()
	keys, err := crypto.Load(crypto.Source{DataDir: dir}, nil)
	if err != nil {
		b.Fatal(err)
	}

	seedRate := float64(rows) / seedContacts(b, runtime, keys, orgID, rows).Seconds()
	if _, err := super.Exec(ctx, `VACUUM ANALYZE contacts`); err != nil {
		b.Fatal(err)
	}
	var ids []string
	r, err := super.Query(ctx, `SELECT id::text FROM contacts TABLESAMPLE SYSTEM (1) WHERE org_id = $1 LIMIT 1000`, orgID)
	if err != nil {
		b.Fatal(err)
	}
	if ids, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil || len(ids) == 0 {
		b.Fatalf("sample ids: %d %v", len(ids), err)
	}
	var next atomic.Uint64
	getOne := func() error {
		req, err := http.NewRequest(http.MethodGet, base+"/contacts/"+ids[next.Add(1)%uint64(len(ids))], nil)
		if err != nil {
			return err
		}
		req.Header = header
		return send(client, req, http.StatusOK)
	}

	// The floor: a bare COPY of the same rows and columns, warm (run twice,
	// the second timed).
	copySQL := fmt.Sprintf(`COPY (SELECT id, name, email_enc, phone_enc, company, tags, custom, created_at, updated_at
		FROM contacts WHERE org_id = '%s' ORDER BY id) TO STDOUT`, orgID)
	var copyTook time.Duration
	for range 2 {
		conn, err := super.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		tag, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard, copySQL)
		copyTook = time.Since(start)
		conn.Release()
		if err != nil || tag.RowsAffected() != int64(rows) {
			b.Fatalf("copy: %v rows %d", err, tag.RowsAffected())
		}
	}

	b.ResetTimer()
	// The export alone: time, throughput and memory.
	exp := runExport(b, client, base, header, cmd.Process.Pid, rows)
	b.StopTimer()
	copyRate := float64(rows) / copyTook.Seconds()
	exportRate := float64(rows) / exp.took.Seconds()
	b.ReportMetric(seedRate, "seed-rows/s") // after ResetTimer, which drops metrics
	b.ReportMetric(copyTook.Seconds(), "copy-s")
	b.ReportMetric(copyRate, "copy-rows/s")
	b.ReportMetric(exp.took.Seconds(), "export-s")
	b.ReportMetric(exp.job.Seconds(), "export-job-s")
	b.ReportMetric(exportRate, "export-rows/s")
	b.ReportMetric(exportRate/copyRate*100, "export-%-of-copy")
	b.ReportMetric(exp.rssGrowthMB, "rss-growth-MB")
	b.ReportMetric(exp.hwmGrowthMB, "hwm-growth-MB")

	// Interactive latency without an export, then during a second one.
	idleCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	idle := hammer(b, idleCtx, 32, getOne)
	cancel()
	busyCtx, stop := context.WithCancel(ctx)
	var busy []time.Duration
	var wg sync.WaitGroup
	wg.Go(func() { busy = hammer(b, busyCtx, 32, getOne) })
	loaded := runExport(b, client, base, header, cmd.Process.Pid, rows)
	stop()
	wg.Wait()
	if len(idle) == 0 || len(busy) == 0 {
		b.Fatal("no latencies")
	}
	b.ReportMetric(float64(len(idle))/10, "idle-req/s")
	b.ReportMetric(quantileMS(idle, 0.95), "idle-p95-ms")
	b.ReportMetric(quantileMS(idle, 0.99), "idle-p99-ms")
	b.ReportMetric(float64(len(busy))/loaded.took.Seconds(), "export-req/s")
	b.ReportMetric(quantileMS(busy, 0.95), "export-p95-ms")
	b.ReportMetric(quantileMS(busy, 0.99), "export-p99-ms")
	b.ReportMetric(quantileMS(busy, 0.95)/quantileMS(idle, 0.95), "p95-ratio")
	b.ReportMetric(quantileMS(busy, 0.99)/quantileMS(idle, 0.99), "p99-ratio")
	b.ReportMetric(loaded.took.Seconds(), "loaded-export-s")
	// The pace the serve process ran the exports at: its default unless the
	// environment (inherited by serveProcess) says otherwise.
	pace := config.DefaultExportMaxRowsPerSec
	if v, err := strconv.Atoi(os.Getenv("GROUNDWORK_EXPORT_MAX_ROWS_PER_SEC")); err == nil {
		pace = v
	}
	b.ReportMetric(float64(pace), "pace-rows/s")
}

// seedContacts inserts rows contacts into orgID through InsertTx in batches
// of 5,000, two at a time, and returns how long it took.
func seedContacts(b testing.TB, pool *pgxpool.Pool, keys *crypto.Keyring, orgID string, rows int) time.Duration {
	b.Helper()
	const batch = 5000
	svc := contacts.NewService(pool, keys, gw.SystemClock{}, nil)
	var next atomic.Int64
	var failed atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			list := make([]contacts.Input, 0, batch)
			for {
				first := int(next.Add(batch)) - batch
				if first >= rows || failed.Load() != nil {
					return
				}
				list = list[:0]
				for n := first; n < min(rows, first+batch); n++ {
					name, email := fmt.Sprintf("Person %d", n), fmt.Sprintf("person%d@example.com", n)
					phone, company := fmt.Sprintf("+44 20 7946 %04d", n%10000), fmt.Sprintf("Company %d", n%500)
					tags := []string{"customer", "tier" + strconv.Itoa(n%5)}
					custom := map[string]any{"n": n}
					list = append(list, contacts.Input{Name: &name, Email: &email, Phone: &phone, Company: &company,
						Tags: &tags, Custom: &custom})
				}
				err := postgres.InOrgTx(context.Background(), pool, orgID, func(tx pgx.Tx) error {
					return svc.InsertTx(context.Background(), tx, orgID, gw.Actor{}, gw.NewID(), list, time.Now())
				})
				if err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatalf("seed: %v", err)
	}
	return time.Since(start)
}

// exportRun is what runExport saw of one export.
type exportRun struct {
	took, job                time.Duration
	rssGrowthMB, hwmGrowthMB float64
}

// runExport requests a CSV gzip export of the contacts through the API,
// polls it every 100 ms until it succeeded (the benchmark fails otherwise,
// or when it did not write rows rows), and samples pid's memory every
// 20 ms meanwhile.
func runExport(b *testing.B, client *http.Client, base string, header http.Header, pid, rows int) exportRun {
	b.Helper()
	rss0, hwm0 := procMemMB(b, pid)
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			rss, _ := procMemMB(b, pid)
			if uint64(rss*1024) > peak.Load() {
				peak.Store(uint64(rss * 1024))
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	start := time.Now()
	var e struct {
		ID, Status, Error string
		RowsWritten       int64      `json:"rows_written"`
		StartedAt         *time.Time `json:"started_at"`
		FinishedAt        *time.Time `json:"finished_at"`
	}
	call := func(method, url, body string, want int) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header = header.Clone()
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			b.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			b.Fatal(err)
		}
	}
	call(http.MethodPost, base+"/exports", `{"tables":["contacts"],"format":"csv","packaging":"gzip"}`, http.StatusAccepted)
	for e.Status == "queued" || e.Status == "running" {
		time.Sleep(100 * time.Millisecond)
		call(http.MethodGet, base+"/exports/"+e.ID, "", http.StatusOK)
	}
	took := time.Since(start)
	close(done)
	wg.Wait()
	if e.Status != "succeeded" || e.RowsWritten != int64(rows) {
		b.Fatalf("export %s: %s %q, %d rows", e.ID, e.Status, e.Error, e.RowsWritten)
	}
	_, hwm := procMemMB(b, pid)
	run := exportRun{took: took, rssGrowthMB: float64(peak.Load())/1024 - rss0, hwmGrowthMB: hwm - hwm0}
	if e.StartedAt != nil && e.FinishedAt != nil {
		run.job = e.FinishedAt.Sub(*e.StartedAt)
	}
	return run
}

// procMemMB reads pid's VmRSS and VmHWM from /proc in MB.
func procMemMB(b testing.TB, pid int) (rss, hwm float64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Error(err)
		return 0, 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
		if name == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// hammer runs op from clients goroutines until ctx is done and returns
// every latency, sorted.
func hammer(b *testing.B, ctx context.Context, clients int, op func() error) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := op(); err != nil {
					b.Error(err)
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}
