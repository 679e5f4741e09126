package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// TestPitrCommands runs "backup pitr setup|status|verify" through run()
// against an embedded cluster, and the "restore --at" checks that need no
// recovery (the full restore is tested in internal/backup).
func TestPitrCommands(t *testing.T) {
	gwtest.RequireTool(t, "pgbackrest", "run scripts/install-deps.sh (apt-get install pgbackrest) to run the PITR command test")
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t)}
	pitr := func(args ...string) (string, error) {
		stdout, _, err := runCmd(t, env, append([]string{"backup", "pitr"}, args...)...)
		return stdout, err
	}

	_, err := pitr("verify")
	require.ErrorContains(t, err, `run "groundwork backup pitr setup" first`)
	_, err = pitr("bogus")
	require.ErrorContains(t, err, `backup pitr: unknown action "bogus"`)

	out, err := pitr("setup")
	require.NoError(t, err)
	require.Contains(t, out, "restarted PostgreSQL to turn on WAL archiving")
	require.Contains(t, out, "full backup ")
	out, err = pitr("setup") // again: no restart, another full backup
	require.NoError(t, err)
	require.NotContains(t, out, "restarted")

	out, err = pitr("status")
	require.NoError(t, err)
	require.Contains(t, out, ": ok\n")
	require.Contains(t, out, "0 failed")
	out, err = pitr("verify")
	require.NoError(t, err)
	require.Contains(t, out, "no problems")

	restore := func(at, into string) error {
		args := []string{"restore", "--at", at}
		if into != "" {
			args = append(args, "--into", into)
		}
		_, _, err := runCmd(t, env, args...)
		return err
	}
	into := filepath.Join(dataDir(t), "restored")
	require.ErrorContains(t, restore("yesterday", into), "want an RFC 3339 time")
	require.ErrorContains(t, restore(time.Now().Format(time.RFC3339), ""), "--into DIR is required")
	require.ErrorContains(t, restore(time.Now().Add(-time.Hour).Format(time.RFC3339), into), "no backup finished before")
	full := dataDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(full, "x"), nil, 0o644))
	require.ErrorContains(t, restore(time.Now().Add(-time.Second).Format(time.RFC3339), full), "not empty")
}
