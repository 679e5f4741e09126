package stripefake

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// StripeMockVersion is the stripe-mock pinned in tools/go.mod.
const StripeMockVersion = "v0.203.0"

// repoRoot walks up from the working directory to the directory holding
// tools/go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("tools/go.mod not found above the working directory")
		}
		dir = parent
	}
}

// stripeMockBinary builds the pinned stripe-mock once per test binary and
// returns its path: `go tool -n` builds the tool and prints where it is, so
// a test owns the stripe-mock process itself (no `go` parent to outlive).
var stripeMockBinary = sync.OnceValues(func() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "tool", "-n", "-modfile="+filepath.Join(root, "tools", "go.mod"), "stripe-mock").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
})

// StartStripeMock returns the base URL of the test binary's stripe-mock,
// building (via `go tool -modfile=<repo>/tools/go.mod`) and starting it on a
// free loopback port on first use. When stripe-mock cannot start the test
// is skipped, or fails under CI=true (gwtest.Unavailable).
//
// The tests of one binary share one stripe-mock: it keeps no state between
// requests (it checks each against Stripe's OpenAPI spec and answers a
// fixture), and starting it parses that spec, over a second of CPU, which
// one per test made most of the billing tests' time.
func StartStripeMock(t testing.TB) string {
	t.Helper()
	base, err := sharedStripeMock()
	if err != nil {
		gwtest.Unavailable(t, "stripe-mock unavailable: "+err.Error(),
			"run scripts/install-deps.sh, which builds stripe-mock "+StripeMockVersion+
				" (go tool -n -modfile=tools/go.mod stripe-mock; needs Go and, the first time, the module proxy)")
	}
	return base
}

// sharedStripeMock starts stripe-mock once per test binary and returns its
// base URL. It lives as long as the test binary: it is started from a
// goroutine locked to an OS thread that never exits, with the kernel told
// to kill it when that thread ends (Pdeathsig), which happens when the
// binary exits, however it exits.
var sharedStripeMock = sync.OnceValues(func() (string, error) {
	bin, err := stripeMockBinary()
	if err != nil {
		return "", fmt.Errorf("go tool -n stripe-mock: %w", err)
	}
	started := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdout, err := cmd.StdoutPipe()
		if err == nil {
			cmd.Stderr = cmd.Stdout
			err = cmd.Start()
		}
		started <- err
		if err != nil {
			return
		}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok {
				addr <- a
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		select {} // keep the thread, so that nothing else is started from it
	}()
	if err := <-started; err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	select {
	case a := <-addr:
		base := "http://" + a
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if resp, err := http.Get(base + "/v1/customers"); err == nil {
				_ = resp.Body.Close()
				return base, nil
			}
		}
		return "", fmt.Errorf("%s never answered", base)
	case <-time.After(30 * time.Second):
		return "", errors.New("no listening address printed within 30s")
	}
})

// CheckShapesAgainstStripeMock replays every recorded request against
// stripe-mock (which validates parameters against Stripe's OpenAPI spec) and
// fails the test for each one stripe-mock rejects (4xx), e.g. an unknown or
// malformed parameter. Requests are replayed raw: same method, path and form.
func CheckShapesAgainstStripeMock(t testing.TB, reqs []Request) {
	t.Helper()
	for _, err := range ShapeErrors(StartStripeMock(t), reqs) {
		t.Error(err)
	}
}

// ShapeErrors replays reqs against the stripe-mock at base and returns one
// error per request it rejects.
func ShapeErrors(base string, reqs []Request) []error {
	var errs []error
	for _, r := range reqs {
		var body io.Reader
		target := base + r.Path
		enc := r.Form.Encode()
		if r.Method == http.MethodPost {
			body = strings.NewReader(enc)
		} else if enc != "" {
			target += "?" + enc
		}
		req, err := http.NewRequest(r.Method, target, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		req.Header.Set("Authorization", "Bearer sk_test_123")
		req.Header.Set("Stripe-Version", stripe.APIVersion)
		if r.Method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("stripe-mock %s %s: %w", r.Method, r.Path, err))
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		if resp.StatusCode >= 400 {
			errs = append(errs, fmt.Errorf("stripe-mock rejected %s %s (form %s): %d %s", r.Method, r.Path, enc, resp.StatusCode, msg))
		}
	}
	return errs
}
