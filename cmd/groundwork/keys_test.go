package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// productionKeysets returns fresh keysets in the variables production
// requires: field encryption, blind index and backups.
func productionKeysets(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, k := range []crypto.Kind{crypto.Encryption, crypto.BlindIndex} {
		out, _, err := runCmd(t, nil, "keys", "new", "-keyset", k.String())
		require.NoError(t, err)
		env[k.Variable()] = strings.TrimSpace(out)
	}
	out, _, err := runCmd(t, nil, "backup", "keyset")
	require.NoError(t, err)
	env["GROUNDWORK_BACKUP_KEYSET"] = strings.TrimSpace(out)
	return env
}

// withAppServices runs fn with the modules on env's database, as serve
// builds them.
func withAppServices(t *testing.T, env map[string]string, fn func(mods *app.App)) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(envFunc(env))
	require.NoError(t, err)
	db, err := openRuntime(ctx, cfg, discardLogger())
	require.NoError(t, err)
	defer db.close(ctx, discardLogger())
	mods, err := app.New(db.pool, cfg, discardLogger(), app.Options{})
	require.NoError(t, err)
	fn(mods)
}

var statusKeys = regexp.MustCompile(`encryption keyset, from development file \S+: keys (\d+) \(primary\)(?:, (\d+))?\n`)

// TestKeysRotateInDevelopment rotates the encryption key of a development
// install with data in it: the keyset file gets a new primary key, the job
// is enqueued, a worker re-encrypts everything, and the old key can then be
// removed while the data still reads.
func TestKeysRotateInDevelopment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := dataDir(t)
	env := map[string]string{"GROUNDWORK_DATA_DIR": dir, "PORT": "0"}

	out, _, err := runCmd(t, env, "keys", "status")
	require.NoError(t, err)
	require.Contains(t, out, "No encrypted values are stored yet.")
	m := statusKeys.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	oldKey := m[1]
	fi, err := os.Stat(filepath.Join(dir, "keyset.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	var scope gw.Scope
	var stored contacts.Contact
	withAppServices(t, env, func(mods *app.App) {
		u, err := mods.Accounts.CreateVerifiedUser(ctx, "owner@example.com", "correct horse battery staple")
		require.NoError(t, err)
		o, err := mods.Orgs.Create(ctx, u.ID, "Acme")
		require.NoError(t, err)
		scope, _, err = mods.Orgs.MemberScope(ctx, u.ID, o.ID)
		require.NoError(t, err)
		stored, err = mods.Contacts.Create(ctx, scope, contacts.Input{Name: new("Ada"), Email: new("ada@example.com"), Phone: new("+1 555 0100")})
		require.NoError(t, err)
	})

	out, _, err = runCmd(t, env, "keys", "rotate")
	require.NoError(t, err)
	require.Regexp(t, `added encryption key \d+ as the primary key in `+regexp.QuoteMeta(filepath.Join(dir, "keyset.json")), out)
	require.Contains(t, out, "re-encryption job")
	require.Contains(t, out, "2 stored values are not under the primary keys yet.")
	m = statusKeys.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	newKey := m[1]
	require.Equal(t, oldKey, m[2], "the old key stays until removed")

	_, _, err = runCmd(t, env, "keys", "remove", "-id", oldKey)
	require.ErrorContains(t, err, "2 stored values still use encryption key "+oldKey)
	_, _, err = runCmd(t, env, "keys", "remove", "-id", newKey)
	require.ErrorContains(t, err, "it is the primary key")

	// A worker, which loads the new keyset, works the job.
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(wctx, []string{"groundwork", "worker"}, envFunc(env), strings.NewReader(""), io.Discard, logs)
	}()
	require.Eventually(t, func() bool {
		out, _, err := runCmd(t, env, "keys", "status")
		return err == nil && strings.Contains(out, "Every stored value is under the primary keys.") &&
			!strings.Contains(out, "re-encryption job")
	}, 60*time.Second, 200*time.Millisecond, "worker logs:\n%s", logs)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
	require.Contains(t, logs.String(), "re-encrypted rows")

	out, _, err = runCmd(t, env, "keys", "remove", "-id", oldKey)
	require.NoError(t, err)
	require.Contains(t, out, "removed encryption key "+oldKey)
	out, _, err = runCmd(t, env, "keys", "status")
	require.NoError(t, err)
	require.Regexp(t, `keys `+newKey+` \(primary\)\n`, out)
	withAppServices(t, env, func(mods *app.App) {
		got, err := mods.Contacts.Get(ctx, scope, stored.ID)
		require.NoError(t, err)
		require.Equal(t, stored, got)
	})

	// With the keysets in the environment, rotate changes no file and
	// prints the new keyset for the operator.
	prod := map[string]string{"GROUNDWORK_DATA_DIR": dir, "PORT": "0"}
	for k, v := range productionKeysets(t) {
		prod[k] = v
	}
	before, err := os.ReadFile(filepath.Join(dir, "keyset.json"))
	require.NoError(t, err)
	out, stderr, err := runCmd(t, prod, "keys", "rotate", "-keyset", "blind-index", "-primary=false")
	require.NoError(t, err)
	ks, err := crypto.ParseKeyset(crypto.BlindIndex, out)
	require.NoError(t, err, "stdout is the new keyset alone")
	require.Len(t, ks.Keys(), 2)
	require.Contains(t, stderr, "set GROUNDWORK_BLIND_INDEX_KEYSET to the keyset above")
	after, err := os.ReadFile(filepath.Join(dir, "keyset.json"))
	require.NoError(t, err)
	require.Equal(t, before, after)

	// Bad keysets stop commands with an error naming the variable.
	bad := map[string]string{"GROUNDWORK_DATA_DIR": dir, "PORT": "0", "GROUNDWORK_ENCRYPTION_KEYSET": "{not json"}
	_, _, err = runCmd(t, bad, "keys", "status")
	require.ErrorContains(t, err, "GROUNDWORK_ENCRYPTION_KEYSET: not a valid Tink JSON keyset")
	require.NotContains(t, err.Error(), "\n")
}

func TestKeysBadInput(t *testing.T) {
	t.Parallel()
	_, _, err := runCmd(t, nil, "keys")
	require.ErrorContains(t, err, "keys: say new, status, rotate")
	_, _, err = runCmd(t, nil, "keys", "sideways")
	require.ErrorContains(t, err, `keys: unknown action "sideways"`)
	_, _, err = runCmd(t, nil, "keys", "new", "-keyset", "mac")
	require.ErrorContains(t, err, `unknown keyset "mac"`)
	out, _, err := runCmd(t, nil, "keys", "rotate", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "-primary")
}
