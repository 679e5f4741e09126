package gwtest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// stopRecorder is a testing.TB that records Fatalf and Skipf, which stop
// the calling goroutine as the real ones do.
type stopRecorder struct {
	testing.TB
	failed, skipped string
}

func (r *stopRecorder) Helper() {}

func (r *stopRecorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *stopRecorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record runs fn on a stopRecorder in its own goroutine and returns what it
// recorded, and whether fn returned normally.
func record(fn func(tb testing.TB)) (r *stopRecorder, returned bool) {
	r = &stopRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
		returned = true
	}()
	<-done
	return r, returned
}

func TestCI(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"", false}, {"false", false}, {"0", false}, {"true", true}, {"1", true}, {"yes", true}, {" TRUE ", true},
	} {
		t.Setenv("CI", tc.value)
		if got := CI(); got != tc.want {
			t.Errorf("CI=%q: CI() = %v, want %v", tc.value, got, tc.want)
		}
	}
}

func TestRequireToolFailsUnderCIAndSkipsElsewhere(t *testing.T) {
	const missing = "gwtest-no-such-tool"
	const install = "apt-get install gwtest-no-such-tool"

	t.Setenv("CI", "true")
	r, returned := record(func(tb testing.TB) { RequireTool(tb, missing, install) })
	if returned || r.failed == "" || r.skipped != "" {
		t.Fatalf("under CI: returned %v, failed %q, skipped %q; want a failure", returned, r.failed, r.skipped)
	}
	for _, want := range []string{missing + " is not installed", "CI is set", install} {
		if !strings.Contains(r.failed, want) {
			t.Errorf("failure %q does not say %q", r.failed, want)
		}
	}

	t.Setenv("CI", "")
	r, returned = record(func(tb testing.TB) { RequireTool(tb, missing, install) })
	if returned || r.skipped == "" || r.failed != "" {
		t.Fatalf("without CI: returned %v, failed %q, skipped %q; want a skip", returned, r.failed, r.skipped)
	}
	if !strings.Contains(r.skipped, install) {
		t.Errorf("skip %q does not say how to install", r.skipped)
	}

	// A tool that is there: its path, under CI or not.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CI", "true")
	var path string
	r, returned = record(func(tb testing.TB) { path = RequireTool(tb, self, install) })
	if !returned || r.failed != "" || r.skipped != "" || path != self {
		t.Fatalf("present tool: returned %v, path %q, failed %q, skipped %q", returned, path, r.failed, r.skipped)
	}
}
