package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

func freePort(b *testing.B) int {
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
func serveProcess(b *testing.B, bin, dir string, port int) (*exec.Cmd, time.Duration) {
	b.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "GROUNDWORK_DATA_DIR="+dir, "PORT="+strconv.Itoa(port), "GROUNDWORK_LOG_LEVEL=warn")
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
	port := freePort(b)
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

// BenchmarkReadyz measures /readyz (one database round trip) under 32
// concurrent keep-alive clients against a serve process on the embedded
// cluster: requests per second with p50 and p99 latency.
func BenchmarkReadyz(b *testing.B) {
	bin := buildBinary(b)
	dir, err := os.MkdirTemp("", "gwbench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	port := freePort(b)
	cmd, _ := serveProcess(b, bin, dir, port)
	defer stopProcess(b, cmd)

	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(16) // 16 × GOMAXPROCS (2 here) = 32 clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
