//go:build e2e

package main

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// exportE2E is a throwaway deployment for the exports' e2e proofs: a
// PostgreSQL cluster, a `serve -workers=false` process answering the API,
// an organisation with an admin API key and rows seeded contacts. Export
// jobs are worked by the `worker` processes each test starts.
type exportE2E struct {
	dir, bin, shared string
	env              map[string]string
	api, key, orgID  string
	super            *pgxpool.Pool
	rows             int
}

// newExportE2E builds the binary, starts the cluster and the API, and seeds
// rows contacts through contacts.Service.InsertTx with the deployment's
// keyring (email and phone are encrypted with an associated datum naming
// the row, so plain SQL cannot seed them).
func newExportE2E(t *testing.T, rows int) *exportE2E {
	ctx := context.Background()
	dir := dataDir(t)
	e := &exportE2E{dir: dir, bin: filepath.Join(dir, "groundwork"), shared: filepath.Join(dir, "shared"), rows: rows}
	build := exec.Command("go", "build", "-o", e.bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: filepath.Join(dir, "db"), Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { local.Close(context.Background()) })
	require.NoError(t, os.MkdirAll(e.shared, 0o755))
	e.env = map[string]string{
		"GROUNDWORK_DATA_DIR": e.shared, "HOST": "127.0.0.1", "PATH": os.Getenv("PATH"),
		"DATABASE_URL": local.RuntimeURL(), "DATABASE_OWNER_URL": local.OwnerURL(),
		"GROUNDWORK_LOG_LEVEL": "warn", "GROUNDWORK_RATE_API_KEY": "off",
	}
	out, err := runBin(e.bin, e.env, "", "migrate", "up")
	require.NoError(t, err, out)
	serve := copyEnv(e.env)
	port := freeTCPPort(t)
	serve["PORT"] = strconv.Itoa(port)
	startProc(t, dir, "serve", e.bin, []string{"serve", "-workers=false"}, serve)
	waitReady(t, fmt.Sprintf("http://127.0.0.1:%d", port))
	e.api = fmt.Sprintf("http://127.0.0.1:%d/api/v1", port)

	out, err = runBin(e.bin, e.env, "a long enough passphrase\n", "user", "create", "-email", "owner@example.com")
	require.NoError(t, err, out)
	e.orgID = lastLine(t, e.bin, e.env, "org", "create", "-name", "Exports", "-owner", "owner@example.com")
	e.key = lastLine(t, e.bin, e.env, "apikey", "create", "-org", e.orgID, "-role", "admin", "-name", "e2e")

	runtime, err := postgres.Open(ctx, local.RuntimeURL(), 2)
	require.NoError(t, err)
	t.Cleanup(runtime.Close)
	e.super, err = postgres.Open(ctx, local.SuperuserURL(postgres.DatabaseName), 2)
	require.NoError(t, err)
	t.Cleanup(e.super.Close)
	keys, err := crypto.Load(crypto.Source{DataDir: e.shared}, nil)
	require.NoError(t, err)
	took := seedContacts(t, runtime, keys, e.orgID, rows)
	t.Logf("seeded %d contacts in %s (%.0f rows/s)", rows, took.Round(time.Millisecond), float64(rows)/took.Seconds())
	_, err = e.super.Exec(ctx, `VACUUM ANALYZE contacts`)
	require.NoError(t, err)
	return e
}

// lastLine runs a CLI command and returns the last line of its output (the
// ID or key it created; stdout and stderr are combined).
func lastLine(t *testing.T, bin string, env map[string]string, args ...string) string {
	out, err := runBin(bin, env, "", args...)
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// e2eExport is what the API says of an export.
type e2eExport struct {
	ID, Status, Error string
	RowsWritten       int64      `json:"rows_written"`
	RowsEstimated     int64      `json:"rows_estimated"`
	StartedAt         *time.Time `json:"started_at"`
	FinishedAt        *time.Time `json:"finished_at"`
}

// request asks for a CSV gzip export of the contacts through the API.
func (e *exportE2E) request(t *testing.T) e2eExport {
	var x e2eExport
	require.Equal(t, 202, apiJSON(t, "POST", e.api+"/exports", e.key,
		`{"tables":["contacts"],"format":"csv","packaging":"gzip"}`, &x))
	require.NotEmpty(t, x.ID)
	return x
}

// get reads an export through the API.
func (e *exportE2E) get(t *testing.T, id string) e2eExport {
	var x e2eExport
	require.Equal(t, 200, apiJSON(t, "GET", e.api+"/exports/"+id, e.key, "", &x))
	return x
}

// exportDir is where the file bucket (GROUNDWORK_EXPORT_URL's default,
// file://<data dir>/exports) keeps an export's objects.
func (e *exportE2E) exportDir(id string) string {
	return filepath.Join(e.shared, "exports", "exports", e.orgID, id)
}

// bucketFiles lists every file under the bucket's directory, relative to it.
func (e *exportE2E) bucketFiles(t *testing.T) []string {
	var files []string
	root := filepath.Join(e.shared, "exports")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return files
}

// checkFile reads the export's contacts.csv.gz (in the directory of the
// attempt that wrote it, the only one) and checks that it holds every
// seeded contact once, with the decrypted email and phone seedContacts
// gave it.
func (e *exportE2E) checkFile(t *testing.T, id string) {
	found, err := filepath.Glob(filepath.Join(e.exportDir(id), "*", "contacts.csv.gz"))
	require.NoError(t, err)
	require.Len(t, found, 1, "one attempt's file")
	f, err := os.Open(found[0])
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	r := csv.NewReader(gz)
	r.ReuseRecord = true
	header, err := r.Read()
	require.NoError(t, err)
	require.Equal(t, []string{"id", "name", "email", "phone", "company", "tags", "custom", "created_at", "updated_at"}, header)
	seen := make([]bool, e.rows)
	checked := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		n, err := strconv.Atoi(strings.TrimPrefix(rec[1], "Person "))
		require.NoError(t, err, rec[1])
		require.True(t, n >= 0 && n < e.rows && !seen[n], "contact %d once", n)
		seen[n] = true
		if n%9973 == 0 { // a few rows checked field by field
			require.Equal(t, fmt.Sprintf("person%d@example.com", n), rec[2])
			require.Equal(t, fmt.Sprintf("+44 20 7946 %04d", n%10000), rec[3])
			require.Equal(t, fmt.Sprintf("Company %d", n%500), rec[4])
			require.Equal(t, fmt.Sprintf(`["customer","tier%d"]`, n%5), rec[5])
			require.Equal(t, fmt.Sprintf(`{"n":%d}`, n), rec[6])
			checked++
		}
	}
	for n, ok := range seen {
		require.True(t, ok, "contact %d is in the file", n)
	}
	require.Positive(t, checked)
	t.Logf("the file holds the %d contacts once each; %d checked field by field (email and phone decrypted)", e.rows, checked)
}

// TestE2EExportSurvivesAKilledWorker kills (SIGKILL) the `groundwork
// worker` process working an export of 200,000 contacts half-way, starts
// another, and proves the export ends succeeded with every row once in its
// file and nothing else left in the bucket.
//
// Nothing is moved back in time: the workers run with
// GROUNDWORK_EXPORT_STALE_AFTER=4s, so the dead attempt's heartbeat is
// stale 4 s after the kill, and the second worker's export_recovery job
// (run as soon as it becomes River's leader, then every second) cancels
// the dead job and gives the export to a new one, which it works.
func TestE2EExportSurvivesAKilledWorker(t *testing.T) {
	const rows = 200_000
	e := newExportE2E(t, rows)
	ctx := context.Background()
	env := copyEnv(e.env)
	env["GROUNDWORK_EXPORT_STALE_AFTER"] = "4s"
	w1 := startProc(t, e.dir, "worker1", e.bin, []string{"worker"}, env)
	x := e.request(t)

	// Wait until the worker has written part of it, then kill it.
	var written, estimated int64
	var status string
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		require.NoError(t, e.super.QueryRow(ctx, `SELECT status, rows_written, rows_estimated FROM exports WHERE id = $1`,
			x.ID).Scan(&status, &written, &estimated))
		if status == "running" && written > 0 && written < rows {
			break
		}
		require.NotEqual(t, "succeeded", status, "the export finished before the worker could be killed")
		require.True(t, time.Now().Before(deadline), "the export never showed progress: %s %d", status, written)
	}
	require.NoError(t, w1.Process.Signal(syscall.SIGKILL))
	_ = w1.Wait()
	t.Logf("killed the worker at %d of %d rows", written, estimated)
	require.EqualValues(t, rows, estimated)
	t.Logf("left by the dead worker in the bucket: %q", e.bucketFiles(t))
	got := e.get(t, x.ID)
	require.Equal(t, "running", got.Status, "the dead attempt is still running as far as the database knows")

	// A new worker: it finds the dead attempt's heartbeat stale and takes
	// the export over.
	start := time.Now()
	startProc(t, e.dir, "worker2", e.bin, []string{"worker"}, env)
	require.Eventually(t, func() bool {
		got = e.get(t, x.ID)
		return got.Status != "running" && got.Status != "queued"
	}, 5*time.Minute, 200*time.Millisecond)
	require.Equal(t, "succeeded", got.Status, got.Error)
	require.EqualValues(t, rows, got.RowsWritten)
	var attempts int
	require.NoError(t, e.super.QueryRow(ctx, `SELECT attempts FROM exports WHERE id = $1`, x.ID).Scan(&attempts))
	require.Equal(t, 2, attempts)
	t.Logf("the second worker finished it %s after it started (recovery included); attempt %d", time.Since(start).Round(time.Millisecond), attempts)
	exportJobs := func() []string {
		var jobs []string
		rows, err := e.super.Query(ctx, `SELECT state::text || CASE WHEN metadata ? 'cancel_attempted_at'
			THEN ' cancel-requested' ELSE '' END FROM river_job WHERE kind = 'export' ORDER BY id`)
		require.NoError(t, err)
		for rows.Next() {
			var j string
			require.NoError(t, rows.Scan(&j))
			jobs = append(jobs, j)
		}
		require.NoError(t, rows.Err())
		return jobs
	}
	// River's view: the dead job asked to cancel (River's rescuer finalizes
	// it later, never retrying it); every other export job finished, one
	// of them completed (the one that wrote the export).
	settled := func(jobs []string) bool {
		completed := 0
		for i, j := range jobs {
			switch {
			case j == "completed":
				completed++
			case i == 0 && j != "running cancel-requested":
				return false
			case !strings.HasSuffix(j, "cancel-requested"):
				return false
			}
		}
		return len(jobs) >= 2 && completed >= 1
	}
	var jobs []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if jobs = exportJobs(); settled(jobs) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("River's export jobs: %q", jobs)
	require.True(t, settled(jobs), "the dead job asked to cancel, the new one completed: %q", jobs)

	e.checkFile(t, x.ID)
	prefix := filepath.Join("exports", e.orgID, x.ID) + "/"
	left := e.bucketFiles(t)
	t.Logf("in the bucket after the retry: %q", left)
	for _, f := range left {
		require.Contains(t, []string{prefix + "2/contacts.csv.gz", prefix + "2/contacts.csv.gz.attrs"}, f,
			"nothing but the export's file is left in the bucket")
	}
}

// exportE2ERows is the number of contacts TestE2EExportMemoryStaysFlat
// exports: GROUNDWORK_E2E_EXPORT_ROWS, default 1,000,000.
func exportE2ERows(t *testing.T) int {
	v := os.Getenv("GROUNDWORK_E2E_EXPORT_ROWS")
	if v == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "GROUNDWORK_E2E_EXPORT_ROWS")
	require.Positive(t, n, "GROUNDWORK_E2E_EXPORT_ROWS")
	return n
}

// TestE2EExportMemoryStaysFlat has a real `groundwork worker` process
// export GROUNDWORK_E2E_EXPORT_ROWS contacts (default 1,000,000) and
// samples its memory from /proc every 20 ms: the peak VmRSS during the
// export, less the VmRSS just before it, and the growth of VmHWM (the
// process's lifetime peak, which no sampling can miss), must stay under
// 100 MB. The throughput is logged, never asserted.
func TestE2EExportMemoryStaysFlat(t *testing.T) {
	rows := exportE2ERows(t)
	e := newExportE2E(t, rows)
	w := startProc(t, e.dir, "worker", e.bin, []string{"worker"}, e.env)
	pid := w.Process.Pid
	time.Sleep(2 * time.Second) // let the worker's start-up settle before the baseline

	rss0, hwm0 := procMemMB(t, pid)
	var peak atomic.Uint64 // kB
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			rss, _ := procMemMB(t, pid)
			if kb := uint64(rss * 1024); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	start := time.Now()
	x := e.request(t)
	for x.Status == "queued" || x.Status == "running" {
		time.Sleep(100 * time.Millisecond)
		x = e.get(t, x.ID)
	}
	took := time.Since(start)
	close(done)
	wg.Wait()
	require.Equal(t, "succeeded", x.Status, x.Error)
	require.EqualValues(t, rows, x.RowsWritten)
	_, hwm := procMemMB(t, pid)
	rssGrowth, hwmGrowth := float64(peak.Load())/1024-rss0, hwm-hwm0
	job := time.Duration(0)
	if x.StartedAt != nil && x.FinishedAt != nil {
		job = x.FinishedAt.Sub(*x.StartedAt)
	}
	t.Logf("%d rows: end to end %s (%.0f rows/s), job %s; worker VmRSS %.1f MB before, peak growth %.1f MB; VmHWM growth %.1f MB",
		rows, took.Round(time.Millisecond), float64(rows)/took.Seconds(), job.Round(time.Millisecond), rss0, rssGrowth, hwmGrowth)
	require.Less(t, rssGrowth, 100.0, "peak VmRSS growth (MB)")
	require.Less(t, hwmGrowth, 100.0, "VmHWM growth (MB)")
	e.checkFile(t, x.ID)
}
