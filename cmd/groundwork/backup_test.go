package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBackupCLI takes, lists, verifies and rehearses a backup of the
// embedded cluster through run(), then damages it and sees verify fail.
func TestBackupCLI(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	env := map[string]string{"GROUNDWORK_DATA_DIR": dir}
	out, errOut, err := runCmd(t, env, "backup", "create")
	require.NoError(t, err, errOut)
	id := regexp.MustCompile(`backup (\S+):`).FindStringSubmatch(out)
	require.NotNil(t, id, out)
	require.FileExists(t, filepath.Join(dir, "backups", "backups", id[1], "manifest.json"))
	require.FileExists(t, filepath.Join(dir, "backup-keyset.json"))

	out, errOut, err = runCmd(t, env, "backup", "list")
	require.NoError(t, err, errOut)
	require.Regexp(t, id[1]+`\s+complete`, out)

	out, errOut, err = runCmd(t, env, "backup", "verify", id[1])
	require.NoError(t, err, errOut)
	require.Contains(t, out, "ok")

	out, errOut, err = runCmd(t, env, "backup", "rehearse")
	require.NoError(t, err, errOut+out)
	require.Contains(t, out, "rehearsal of "+id[1]+": ok")

	// migrate rehearse without -from-url: the latest backup is restored into
	// a scratch database and the pending migrations (none here) applied.
	out, errOut, err = runCmd(t, env, "migrate", "rehearse")
	require.NoError(t, err, errOut+out)
	require.Contains(t, out, "rehearsal of "+id[1]+": ok")
	_, _, err = runCmd(t, env, "migrate", "rehearse", "-max-duration", "0s")
	require.ErrorContains(t, err, "must be positive")

	dump := filepath.Join(dir, "backups", "backups", id[1], "dump.enc")
	b, err := os.ReadFile(dump)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(dump, b, 0o600))
	_, _, err = runCmd(t, env, "backup", "verify", id[1])
	require.Error(t, err)

	// Rotating the development backup keyset keeps older backups readable.
	out, errOut, err = runCmd(t, env, "backup", "keyset", "-rotate")
	require.NoError(t, err, errOut)
	require.Contains(t, out, "rotated the development backup keyset")
	out, errOut, err = runCmd(t, env, "backup", "create")
	require.NoError(t, err, errOut)
	_, _, err = runCmd(t, env, "migrate", "rehearse")
	require.NoError(t, err, "the newest backup, made with the new key, restores")

	// Point-in-time restore needs "backup pitr setup" first.
	_, _, err = runCmd(t, env, "restore", "--at", "2026-01-01T00:00:00Z", "--into", t.TempDir())
	require.Error(t, err)
}
