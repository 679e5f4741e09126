package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The HTTP loads of the benchmarks run on wrk (Debian's package, installed
// by scripts/install-deps.sh): a C load generator, as cheap per request as
// pgbench, so that on two cores the client does not take the CPU the server
// is measured with. (Go's net/http client, the first generator here, spent
// about as much CPU per request as the server's handler.) Each load runs
// for loadDuration with 2 threads and 32 connections, and any answer other
// than 2xx, or any socket error, fails the benchmark.

// loadDuration is how long each load of the HTTP benchmarks (wrk) and
// their pgbench floors runs: GW_BENCH_SECONDS, 10 by default. The loads
// ignore b.N (run them with -benchtime 1x).
func loadDuration(b *testing.B) time.Duration {
	return time.Duration(benchSetting(b, "GW_BENCH_SECONDS", 10)) * time.Second
}

// benchRounds is how many rounds BenchmarkContactsAPI measures each read
// and its floor in: GW_BENCH_ROUNDS, 3 by default.
func benchRounds(b *testing.B) int { return benchSetting(b, "GW_BENCH_ROUNDS", 3) }

// benchSetting returns the whole number from 1 up in the environment
// variable name, or def when it is unset.
func benchSetting(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a whole number from 1", name, v)
	}
	return n
}

// median returns the median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// The wrk scripts, shared with scripts/bench-pocketbase.sh: wrkGet sends
// GET with the Authorization header in $AUTH, wrkCreate POSTs a new
// contact with the headers in $AUTH (comma-separated) in turn.
var (
	wrkGet    = filepath.Join("..", "..", "scripts", "wrk", "get.lua")
	wrkCreate = filepath.Join("..", "..", "scripts", "wrk", "create.lua")
)

// wrkLatency matches a line of wrk's latency distribution.
var wrkLatency = regexp.MustCompile(`(?m)^\s+(50|90|99)%\s+([0-9.]+)(us|ms|s)$`)

// wrkRequests matches wrk's count of answered requests.
var wrkRequests = regexp.MustCompile(`(?m)^\s+([0-9]+) requests in `)

// runWrk runs wrk with script (a Lua file, see wrkGet) against url for
// loadDuration, with env added to the environment. It reports requests
// per second and the p50, p90 and p99 latency in milliseconds, and returns
// the requests per second and how many requests were answered.
func runWrk(b *testing.B, url, script string, env ...string) (rate float64, requests int) {
	b.Helper()
	cmd := exec.Command("wrk", "-t", "2", "-c", "32", "-d", fmt.Sprintf("%ds", int(loadDuration(b).Seconds())),
		"--latency", "-s", script, url)
	cmd.Env = append(os.Environ(), env...)
	b.ResetTimer()
	out, err := cmd.CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	text := string(out)
	if strings.Contains(text, "Non-2xx") || strings.Contains(text, "Socket errors") {
		b.Fatalf("wrk saw failed requests:\n%s", text)
	}
	rate, ok := wrkField(text, "Requests/sec:")
	if m := wrkRequests.FindStringSubmatch(text); ok && m != nil {
		requests, _ = strconv.Atoi(m[1])
	}
	if requests == 0 {
		b.Fatalf("wrk printed no rate or no count:\n%s", text)
	}
	b.ReportMetric(rate, "req/s")
	for _, m := range wrkLatency.FindAllStringSubmatch(text, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		b.ReportMetric(v, "p"+m[1]+"-ms")
	}
	return rate, requests
}

// wrkField returns the number after label in wrk's output.
func wrkField(out, label string) (float64, bool) {
	_, rest, ok := strings.Cut(out, label)
	if !ok {
		return 0, false
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return v, err == nil
}
