package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// buildBinary compiles groundwork into a temp dir once per benchmark.
func buildBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "groundwork")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func benchPort(b *testing.B) int {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serveProcess starts `groundwork serve` as a child process and returns it
// with the time it took until /readyz answered 200.
func serveProcess(b *testing.B, bin, dir string, port int, env ...string) (*exec.Cmd, time.Duration) {
	b.Helper()
	cmd := exec.Command(bin, "serve")
	// The API-key rate limit is off: the benchmark measures throughput, not
	// the limiter (which has its own benchmark in internal/ratelimit).
	cmd.Env = append(os.Environ(), "GROUNDWORK_DATA_DIR="+dir, "PORT="+strconv.Itoa(port), "GROUNDWORK_LOG_LEVEL=warn",
		"GROUNDWORK_RATE_API_KEY=off")
	cmd.Env = append(cmd.Env, env...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	for time.Since(start) < 60*time.Second {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, time.Since(start)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	b.Fatal("serve did not become ready")
	return nil, 0
}

func stopProcess(b *testing.B, cmd *exec.Cmd) {
	b.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("serve exited with %v", err)
	}
}

// rssMB reads a process's resident set size from /proc.
func rssMB(b *testing.B, pid int) float64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkServeColdStart measures `groundwork serve` from exec to /readyz =
// 200 on an existing data dir (the embedded cluster stopped, as after a
// reboot), and the idle RSS of the serve process alone (PostgreSQL runs in
// its own processes and is not counted).
func BenchmarkServeColdStart(b *testing.B) {
	bin := buildBinary(b)
	dir, err := os.MkdirTemp("", "gwbench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	port := benchPort(b)
	cmd, _ := serveProcess(b, bin, dir, port) // first start: initdb and migrations
	stopProcess(b, cmd)

	var total time.Duration
	var rss float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd, took := serveProcess(b, bin, dir, port)
		total += took
		b.StopTimer()
		time.Sleep(2 * time.Second) // let start-up garbage settle: idle RSS
		rss = max(rss, rssMB(b, cmd.Process.Pid))
		stopProcess(b, cmd)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/ready")
	b.ReportMetric(rss, "MB-idle-rss")
}

// measure runs op in this process from 32 goroutines for loadDuration
// (like runWrk's connections), and reports requests per second with p50,
// p95 and p99 latency. It returns the requests per second (0 when nothing
// was measured). It ignores b.N.
func measure(b *testing.B, op func() error) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration(b))
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	lat := hammer(b, ctx, 32, op)
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return 0
	}
	rate := float64(len(lat)) / elapsed.Seconds()
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(quantileMS(lat, 0.50), "p50-ms")
	b.ReportMetric(quantileMS(lat, 0.95), "p95-ms")
	b.ReportMetric(quantileMS(lat, 0.99), "p99-ms")
	return rate
}

// quantileMS returns the q quantile of sorted, non-empty latencies in
// milliseconds.
func quantileMS(sorted []time.Duration, q float64) float64 {
	return float64(sorted[min(len(sorted)-1, int(float64(len(sorted))*q))].Microseconds()) / 1000
}

// send sends req, reads the whole answer and expects status want.
func send(client *http.Client, req *http.Request, want int) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d", req.Method, req.URL, resp.StatusCode)
	}
	return nil
}

// BenchmarkReadyz measures /readyz (one database round trip) against a
// serve process on the embedded cluster, with wrk for loadDuration.
func BenchmarkReadyz(b *testing.B) {
	bin := buildBinary(b)
	dir := benchDir(b)
	port := benchPort(b)
	cmd, _ := serveProcess(b, bin, dir, port)
	defer stopProcess(b, cmd)
	runWrk(b, fmt.Sprintf("http://127.0.0.1:%d/readyz", port), wrkGet)
}

func benchDir(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("", "gwbench-")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cli runs the groundwork binary on dir with stdin and returns its stdout.
func cli(b *testing.B, bin, dir, stdin string, args ...string) string {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GROUNDWORK_DATA_DIR="+dir, "GROUNDWORK_LOG_LEVEL=warn")
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("groundwork %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// benchContacts is how many contacts BenchmarkContactsAPI reads among, as
// in issue 14's measurements.
const benchContacts = 10_000

// BenchmarkContactsAPI measures the contacts API against a serve process
// on the embedded cluster holding 10,000 contacts in one organisation, with
// wrk's 32 connections (runWrk), each read next to its floor measured in
// the same run on the same cluster and data: pgbench (as the superuser: no
// HTTP, no API key, no row-level security) with the same 32 clients running
// the same SELECT by primary key, and the same list of 50 (with its extra
// row). The API figures report themselves as a percentage of that floor
// (%-of-pgbench), with the serve process's CPU per request, connection-pool
// waits and garbage collections during the run (read from its /metrics),
// the usual suspects of a long tail. Creates in one organisation then run
// against creates spread over 32 (%-one-org-of-spread). The raw SELECT by
// primary key over pgx and behind a bare HTTP handler follow. Every load
// runs for loadDuration; run it with -benchtime 1x.
func BenchmarkContactsAPI(b *testing.B) {
	bin := buildBinary(b)
	dir := benchDir(b)
	port := benchPort(b)
	cmd, _ := serveProcess(b, bin, dir, port)
	defer stopProcess(b, cmd)

	cli(b, bin, dir, "a long enough passphrase\n", "user", "create", "-email", "bench@example.com")
	orgID := strings.TrimSpace(cli(b, bin, dir, "", "org", "create", "-name", "Bench", "-owner", "bench@example.com"))
	out := strings.Split(strings.TrimSpace(cli(b, bin, dir, "", "apikey", "create", "-org", orgID, "-role", "member", "-name", "bench")), "\n")
	key := out[len(out)-1]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1/contacts", port)
	id := createContacts(b, client, base, key, benchContacts)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)

	local, err := postgres.StartLocal(context.Background(), postgres.LocalOptions{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close(context.Background())
	superuser := local.SuperuserURL(postgres.DatabaseName)
	pool, err := postgres.Open(context.Background(), superuser, 32)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	// The statistics autovacuum would gather within a minute of the seeding:
	// without them the planner sorts the whole organisation for a page.
	if _, err := pool.Exec(context.Background(), `ANALYZE contacts`); err != nil {
		b.Fatal(err)
	}
	// pgbench first, then the API, pair by pair: each API figure is a
	// ratio to the floor measured just before it. Both vary from run to
	// run on a shared machine (pgbench the most), so the pairs run in
	// rounds, and the median of each ratio closes them.
	var getRatios, listRatios []float64
	for round := 1; round <= benchRounds(b); round++ {
		var pkFloor, listFloor float64
		b.Run(fmt.Sprintf("round-%d/pgbench-pk-read", round), func(b *testing.B) {
			pkFloor = runPgbench(b, superuser, `SELECT `+contactColumns+` FROM contacts WHERE org_id = :org AND id = :id;`,
				"org="+orgID, "id="+id)
		})
		b.Run(fmt.Sprintf("round-%d/api-get-one", round), func(b *testing.B) {
			rate := measureServe(b, cmd.Process.Pid, metricsURL, pkFloor, func() (float64, int) { return runWrk(b, base+"/"+id, wrkGet, "AUTH=Bearer "+key) })
			getRatios = append(getRatios, rate/pkFloor*100)
		})
		b.Run(fmt.Sprintf("round-%d/pgbench-list-50", round), func(b *testing.B) {
			listFloor = runPgbench(b, superuser, `SELECT `+contactColumns+` FROM contacts WHERE org_id = :org AND id < 'ffffffff-ffff-ffff-ffff-ffffffffffff' ORDER BY id DESC LIMIT 51;`,
				"org="+orgID)
		})
		b.Run(fmt.Sprintf("round-%d/api-list-50", round), func(b *testing.B) {
			rate := measureServe(b, cmd.Process.Pid, metricsURL, listFloor, func() (float64, int) { return runWrk(b, base+"?limit=50", wrkGet, "AUTH=Bearer "+key) })
			listRatios = append(listRatios, rate/listFloor*100)
		})
	}
	b.Run("median-of-rounds", func(b *testing.B) {
		b.ReportMetric(median(getRatios), "get-one-%-of-pgbench")
		b.ReportMetric(median(listRatios), "list-50-%-of-pgbench")
	})

	// Creates with 32 clients in one organisation against 32 clients spread
	// over 32 organisations (round robin over their keys): the first
	// reaches the second when writes of one organisation do not wait for
	// each other (the audit chain is sealed after commit).
	var oneOrg float64
	b.Run("api-create-one-org", func(b *testing.B) { oneOrg, _ = runWrk(b, base, wrkCreate, "AUTH=Bearer "+key) })
	keys := []string{key}
	for i := range 31 {
		org := strings.TrimSpace(cli(b, bin, dir, "", "org", "create", "-name", fmt.Sprintf("Bench %d", i), "-owner", "bench@example.com"))
		out := strings.Split(strings.TrimSpace(cli(b, bin, dir, "", "apikey", "create", "-org", org, "-role", "member", "-name", "bench")), "\n")
		keys = append(keys, out[len(out)-1])
	}
	b.Run("api-create-32-orgs", func(b *testing.B) {
		spread, _ := runWrk(b, base, wrkCreate, "AUTH=Bearer "+strings.Join(keys, ",Bearer "))
		if oneOrg > 0 {
			b.ReportMetric(oneOrg/spread*100, "%-one-org-of-spread")
		}
	})

	b.Run("raw-select-by-pk", func(b *testing.B) {
		measure(b, func() error {
			var name string
			return pool.QueryRow(context.Background(),
				`SELECT name FROM contacts WHERE org_id = $1 AND id = $2`, orgID, id).Scan(&name)
		})
	})
	// The same raw SELECT behind a bare HTTP handler (no auth, tenancy,
	// middleware or logging) in a process of its own, like serve, through
	// the same client: the side-by-side floor for api-get-one, since on two
	// cores the HTTP round trip costs more than the query itself.
	rawPort := benchPort(b)
	rawCmd := exec.Command(os.Args[0], "-test.run=^TestRawSelectServer$")
	rawCmd.Env = append(os.Environ(), "GW_RAW_SERVER_DSN="+local.SuperuserURL(postgres.DatabaseName),
		"GW_RAW_SERVER_ADDR="+fmt.Sprintf("127.0.0.1:%d", rawPort), "GW_RAW_SERVER_ORG="+orgID, "GW_RAW_SERVER_ID="+id)
	if err := rawCmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer stopProcess(b, rawCmd)
	rawURL := fmt.Sprintf("http://127.0.0.1:%d/", rawPort)
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if resp, err := http.Get(rawURL); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			b.Fatal("raw select server did not start")
		}
	}
	b.Run("raw-select-over-http", func(b *testing.B) { runWrk(b, rawURL, wrkGet) })
}

// TestRawSelectServer is the bare HTTP server of BenchmarkContactsAPI's
// raw-select-over-http, run as a child process of the benchmark (it skips
// unless GW_RAW_SERVER_DSN is set): each request runs the raw SELECT by
// primary key and writes the name as JSON, until SIGTERM.
func TestRawSelectServer(t *testing.T) {
	dsn := os.Getenv("GW_RAW_SERVER_DSN")
	if dsn == "" {
		t.Skip("the benchmark's child process")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	pool, err := postgres.Open(ctx, dsn, 32)
	require.NoError(t, err)
	defer pool.Close()
	orgID, id := os.Getenv("GW_RAW_SERVER_ORG"), os.Getenv("GW_RAW_SERVER_ID")
	srv := &http.Server{Addr: os.Getenv("GW_RAW_SERVER_ADDR"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name string
		if err := pool.QueryRow(r.Context(), `SELECT name FROM contacts WHERE org_id = $1 AND id = $2`, orgID, id).Scan(&name); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": name})
	})}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}

// BenchmarkWrongPasswordMemory: 64 clients of one signed-in user send a
// wrong current password to POST /account/password at once, with the
// password and log-in rate limits off, so that only the bound on password
// hashes running at once (GROUNDWORK_PASSWORD_HASH_CONCURRENCY, 2× CPUs by
// default; about 19 MiB per argon2id hash) stands between them and the
// server's memory. It reports the serve process's peak RSS (VmHWM) and how
// the requests were answered: 422 (the hash ran: wrong password) or 503
// (no free slot within the wait, Retry-After). The goal is a peak under
// 300 MB.
func BenchmarkWrongPasswordMemory(b *testing.B) {
	bin := buildBinary(b)
	dir := benchDir(b)
	port := benchPort(b)
	cmd, _ := serveProcess(b, bin, dir, port, "GROUNDWORK_RATE_PASSWORD_USER=off", "GROUNDWORK_RATE_PASSWORD_IP=off",
		"GROUNDWORK_RATE_LOGIN_IP=off", "GROUNDWORK_RATE_LOGIN_ACCOUNT_IP=off", "GROUNDWORK_RATE_LOGIN_ACCOUNT=off")
	defer stopProcess(b, cmd)
	const password = "a long enough passphrase"
	cli(b, bin, dir, password+"\n", "user", "create", "-email", "bench@example.com")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"email": {"bench@example.com"}, "password": {password}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("log in: %v %v", resp, err)
	}
	resp.Body.Close()

	const clients = 64
	var answered422, answered503, other atomic.Int64
	for b.Loop() {
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				resp, err := client.PostForm(base+"/account/password", url.Values{
					"current_password": {"not the password at all"}, "new_password": {"another long passphrase"}})
				if err != nil {
					other.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusUnprocessableEntity:
					answered422.Add(1)
				case http.StatusServiceUnavailable:
					answered503.Add(1)
				default:
					other.Add(1)
				}
			})
		}
		wg.Wait()
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			b.ReportMetric(float64(n)/1024, "peak-RSS-MB")
		}
	}
	total := float64(answered422.Load() + answered503.Load() + other.Load())
	b.ReportMetric(float64(answered422.Load())/total*100, "%422")
	b.ReportMetric(float64(answered503.Load())/total*100, "%503")
	if other.Load() > 0 {
		b.Fatalf("%d requests were answered neither 422 nor 503", other.Load())
	}
}
