package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// contactColumns are the columns the contacts store reads for a contact,
// which the pgbench floor reads too.
const contactColumns = `id, name, email_enc, phone_enc, company, tags, custom, created_at, updated_at`

// createContacts creates n contacts through the API at url (the contacts
// collection) with key, from 32 clients at once, and returns the ID of one
// of them (the last created by the first client).
func createContacts(b *testing.B, client *http.Client, url, key string, n int) string {
	b.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	var id string
	var failed atomic.Value
	var wg sync.WaitGroup
	for c := range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) || failed.Load() != nil {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(
					`{"name":"Contact %d","email":"c%d@example.com","phone":"+44 20 7946 %04d","company":"Bench",`+
						`"tags":["bench","t%d"],"custom":{"n":%d,"tier":"gold","active":true}}`, i, i, i%10000, i%7, i)))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				var out struct{ ID string }
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusCreated {
					failed.Store(fmt.Errorf("create contact: %d %v", resp.StatusCode, err))
					return
				}
				if c == 0 {
					mu.Lock()
					id = out.ID
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return id
}

// pgbenchTPS matches pgbench's throughput line.
var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// runPgbench runs script (one SQL statement with :variables, bound as
// parameters of a prepared statement) with pgbench on the database at url:
// 32 clients, 2 threads, for loadDuration, like runWrk. It reports and
// returns its transactions per second.
func runPgbench(b *testing.B, url, script string, vars ...string) float64 {
	b.Helper()
	path := filepath.Join(b.TempDir(), "script.sql")
	if err := os.WriteFile(path, []byte(script+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"-n", "-M", "prepared", "-c", "32", "-j", "2", "-T", strconv.Itoa(int(loadDuration(b).Seconds())), "-f", path}
	for _, v := range vars {
		args = append(args, "-D", v)
	}
	b.ResetTimer()
	out, err := exec.Command("pgbench", append(args, url)...).CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := pgbenchTPS.FindSubmatch(out)
	if m == nil {
		b.Fatalf("pgbench printed no tps:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	b.ReportMetric(tps, "req/s")
	return tps
}

// measureServe runs load (a runWrk: requests per second and answered) against
// the serve process pid whose /metrics is at metricsURL. It also reports
// the requests per second as a percentage of floor (measured in the same
// run; 0 reports nothing), the serve process's CPU time per request
// (which, unlike the rates, hardly depends on what else the machine runs),
// how many of the runtime pool's acquires had to wait for a connection and
// for how long in all, and how many garbage collections ran, with their
// total pause. It returns the requests per second.
func measureServe(b *testing.B, pid int, metricsURL string, floor float64, load func() (float64, int)) float64 {
	b.Helper()
	before := scrapeMetrics(b, metricsURL)
	cpuBefore := processCPU(b, pid)
	rate, requests := load()
	cpu := processCPU(b, pid) - cpuBefore
	after := scrapeMetrics(b, metricsURL)
	b.ReportMetric(float64(cpu.Microseconds())/float64(requests), "serve-cpu-µs/req")
	if floor > 0 {
		b.ReportMetric(rate/floor*100, "%-of-pgbench")
	}
	delta := func(name string) float64 { return after[name] - before[name] }
	b.ReportMetric(delta(`pgxpool_empty_acquire{pool="runtime"}`), "pool-waits")
	b.ReportMetric(delta(`pgxpool_empty_acquire_wait_time_ns{pool="runtime"}`)/1e6, "pool-wait-ms")
	b.ReportMetric(delta("go_gc_duration_seconds_count"), "GCs")
	b.ReportMetric(delta("go_gc_duration_seconds_sum")*1000, "GC-pause-ms")
	return rate
}

// scrapeMetrics reads the Prometheus text at url into a map from series
// (name and labels, as printed) to value.
func scrapeMetrics(b *testing.B, url string) map[string]float64 {
	b.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	values := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			values[line[:i]] = v
		}
	}
	return values
}

// processCPU returns the CPU time (user and system) process pid has used,
// from /proc (in clock ticks of 10 ms).
func processCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) in
	// parentheses: utime and stime are the 12th and 13th.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
