package gwtest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// CI reports whether the tests run in continuous integration: the CI
// environment variable is set to anything but "", "0" or "false" (CI
// services set CI=true). There every external tool the tests use must be
// installed.
func CI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	if v == "" {
		return false
	}
	if on, err := strconv.ParseBool(v); err == nil {
		return on
	}
	return true
}

// Unavailable stops tb because something outside Go that it needs (a
// server, a browser, a command) is missing: under CI it fails the test,
// since a skipped test proves nothing there; elsewhere it skips it. what
// says what is missing, install how to get it.
func Unavailable(tb testing.TB, what, install string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("%s, and CI is set, so this is a failure rather than a skip; to install it: %s", what, install)
	}
	tb.Skipf("%s; skipping (with CI=true this fails); to install it: %s", what, install)
}

// RequireTool returns the path of the program name, looked up on PATH (or,
// when name contains a slash, that file, which must be executable). When
// there is none it stops tb with Unavailable, naming install.
func RequireTool(tb testing.TB, name, install string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Unavailable(tb, name+" is not installed ("+err.Error()+")", install)
	}
	return path
}
