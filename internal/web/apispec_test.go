package web

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestCheckAgainstSpecRemembersGETs: a GET's answer, refusal or not, is the
// same when it comes from memory as when it was worked out, and is kept by
// path and query string; other methods are checked each time.
func TestCheckAgainstSpecRemembersGETs(t *testing.T) {
	check := func(method, target string) error {
		t.Helper()
		return checkAgainstSpec(httptest.NewRequest(method, target, nil))
	}
	const bad, good = "/api/v1/contacts?limit=0&sort=nonsense", "/api/v1/contacts?limit=5"
	getChecks.Purge()
	first := check("GET", bad)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(first))
	fields := first.(*gw.Error).Fields
	require.Contains(t, fields, "limit")
	require.Contains(t, fields, "sort")
	require.True(t, getChecks.Contains(bad))
	again := check("GET", bad)
	require.Equal(t, first, again)

	require.NoError(t, check("GET", good))
	require.True(t, getChecks.Contains(good))
	require.NoError(t, check("GET", good))
	// Another query string is another answer.
	require.Equal(t, gw.EINVALID, gw.ErrorCode(check("GET", "/api/v1/contacts?limit=500")))

	require.NoError(t, check("DELETE", "/api/v1/export-schedule"))
	require.False(t, getChecks.Contains("/api/v1/export-schedule?"))
}
