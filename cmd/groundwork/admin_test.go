package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAdminCommandsScriptAFreshInstall creates a user, an organisation and
// an API key from the command line while serve runs on the same embedded
// cluster, and uses the key on the API.
func TestAdminCommandsScriptAFreshInstall(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t), "PORT": "0"}
	s := startServe(t, env)
	waitReady(t, s.url)

	out, _, err := runCmdIn(t, env, "a long enough password\n", "user", "create", "-email", "Founder@Example.com")
	require.NoError(t, err)
	require.Contains(t, out, "created user founder@example.com")
	require.NotContains(t, out, "password:", "a password given on stdin is not printed")

	out, _, err = runCmd(t, env, "user", "create", "-email", "second@example.com")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^password: \S{16,}$`, out, "with nothing on stdin a password is generated and printed")

	_, _, err = runCmdIn(t, env, "a long enough password\n", "user", "create", "-email", "founder@example.com")
	require.ErrorContains(t, err, "user create:")

	out, _, err = runCmd(t, env, "org", "create", "-name", "Acme Corp", "-owner", "founder@example.com")
	require.NoError(t, err)
	orgID := strings.TrimSpace(out)
	require.Regexp(t, `^[0-9a-f-]{36}$`, orgID)

	_, _, err = runCmd(t, env, "org", "create", "-name", "Ghost", "-owner", "nobody@example.com")
	require.ErrorContains(t, err, "owner nobody@example.com")

	for _, ref := range []string{orgID, "acme-corp"} {
		out, _, err = runCmd(t, env, "apikey", "create", "-org", ref, "-role", "viewer", "-name", "ci")
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		key := lines[len(lines)-1]
		require.True(t, strings.HasPrefix(key, "gw_"), "the key is alone on the last line: %q", out)

		req, err := http.NewRequest(http.MethodGet, s.url+"/api/v1/contacts", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	_, _, err = runCmd(t, env, "apikey", "create", "-org", "no-such-org", "-name", "x")
	require.ErrorContains(t, err, "organisation no-such-org")
	_, _, err = runCmd(t, env, "apikey", "create", "-org", orgID, "-role", "owner", "-name", "x")
	require.Error(t, err)
	_, _, err = runCmd(t, env, "user", "delete")
	require.ErrorContains(t, err, `user: unknown action "delete"; say create or list`)

	// The operator listings, while serve runs. memberships is under forced
	// row-level security: a count outside the organisation's transaction
	// would be 0.
	_, _, err = runCmd(t, env, "org", "create", "-name", "Beta", "-owner", "second@example.com")
	require.NoError(t, err)
	out, stderr, err := runCmd(t, env, "org", "list")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^SLUG\s+NAME\s+MEMBERS\s+CREATED\n`+
		`acme-corp\s+Acme Corp\s+1\s+\d{4}-\d\d-\d\dT\S+Z\n`+
		`beta\s+Beta\s+1\s+\S+Z\n$`, out)
	require.Empty(t, stderr, "no INFO logs, and no warning about keyset files that exist already")

	out, stderr, err = runCmd(t, env, "user", "list")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^EMAIL\s+VERIFIED\s+2FA\s+DISABLED\s+CREATED\n`+
		`founder@example\.com\s+yes\s+no\s+no\s+\d{4}-\d\d-\d\dT\S+Z\n`+
		`second@example\.com\s+yes\s+no\s+no\s+\S+Z\n$`, out)
	require.Empty(t, stderr)

	// -v and GROUNDWORK_LOG_LEVEL=debug bring the informational logs back;
	// info, the default that .env.example sets for serve, does not.
	withLevel := func(level string) map[string]string {
		return map[string]string{"GROUNDWORK_DATA_DIR": env["GROUNDWORK_DATA_DIR"], "GROUNDWORK_LOG_LEVEL": level}
	}
	_, stderr, err = runCmd(t, env, "-v", "org", "list")
	require.NoError(t, err)
	require.Contains(t, stderr, "reusing running PostgreSQL")
	_, stderr, err = runCmd(t, withLevel("debug"), "user", "list")
	require.NoError(t, err)
	require.Contains(t, stderr, "reusing running PostgreSQL")
	_, stderr, err = runCmd(t, withLevel("info"), "user", "list")
	require.NoError(t, err)
	require.Empty(t, stderr)
	require.NoError(t, s.stop(t))
}

// TestAdminCommandsAreQuiet runs admin commands on a fresh data dir: the
// embedded cluster is created and migrated without a line of INFO on
// stderr, and no "SMTP_URL is not set" warning; the only warnings say which
// development keyset files were generated, once each.
func TestAdminCommandsAreQuiet(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t)}
	_, stderr, err := runCmdIn(t, env, "a long enough password\n", "user", "create", "-email", "a@example.com")
	require.NoError(t, err)
	require.NotContains(t, stderr, "level=INFO")
	require.NotContains(t, stderr, "SMTP_URL")
	require.Equal(t, 2, strings.Count(stderr, `level=WARN msg="generated a development keyset file`), stderr)
	require.Equal(t, 1, strings.Count(stderr, "variable=GROUNDWORK_ENCRYPTION_KEYSET"), stderr)
	require.Equal(t, 1, strings.Count(stderr, "variable=GROUNDWORK_BLIND_INDEX_KEYSET"), stderr)
	require.Equal(t, 2, strings.Count(stderr, "\n"), "two warnings and nothing else: %s", stderr)

	out, stderr, err := runCmd(t, env, "org", "list")
	require.NoError(t, err)
	require.Equal(t, "SLUG  NAME  MEMBERS  CREATED\n", out)
	require.Empty(t, stderr)
}
