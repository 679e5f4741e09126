package gwtest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// RequireCode fails the test unless err is an error with the kernel error
// code, and returns it as a *gw.Error (nil when the code came from a
// wrapped error of another type). msgAndArgs, if given, is a format and
// its arguments saying what was checked.
func RequireCode(t testing.TB, code string, err error, msgAndArgs ...any) *gw.Error {
	t.Helper()
	what := ""
	if len(msgAndArgs) > 0 {
		if format, ok := msgAndArgs[0].(string); ok {
			what = fmt.Sprintf(format, msgAndArgs[1:]...) + ": "
		}
	}
	if err == nil {
		t.Fatalf("%swant an error with code %s, got none", what, code)
	}
	if got := gw.ErrorCode(err); got != code {
		t.Fatalf("%swant error code %s, got %s: %v", what, code, got, err)
	}
	e, _ := errors.AsType[*gw.Error](err)
	return e
}
