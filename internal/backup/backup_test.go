package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	db     *pgtest.DB
	local  *postgres.Local
	svc    *backup.Service
	dir    string // the file:// bucket
	source string // superuser URL of the test database
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	local := pgtest.Cluster(t)
	dir := t.TempDir()
	bucket, err := backup.OpenBucket(ctx, "file://"+dir)
	require.NoError(t, err)
	t.Cleanup(func() { bucket.Close() })
	js, err := backup.NewKeysetJSON()
	require.NoError(t, err)
	key, err := backup.ParseKey(string(js))
	require.NoError(t, err)
	svc := backup.New(bucket, key, backup.Config{AppVersion: "test"})
	f := &fixture{db: db, local: local, svc: svc, dir: dir, source: local.SuperuserURL(db.Name)}
	// Data, including a table under forced row-level security that the
	// owner itself cannot read without app.org_id.
	for _, sql := range []string{
		`CREATE TABLE secrets (org_id uuid NOT NULL, id int NOT NULL, v text, PRIMARY KEY (org_id, id))`,
		`INSERT INTO secrets SELECT gen_random_uuid(), g, 'secret ' || g FROM generate_series(1, 50) g`,
		`ALTER TABLE secrets ENABLE ROW LEVEL SECURITY`,
		`ALTER TABLE secrets FORCE ROW LEVEL SECURITY`,
		`CREATE POLICY secrets_org ON secrets USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)`,
		`INSERT INTO heartbeats (id, instance) SELECT gen_random_uuid(), 'host:' || g FROM generate_series(1, 200) g`,
	} {
		_, err := db.Owner.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	return f
}

// emptyDB creates an empty database owned by the owner role and returns
// its superuser URL.
func (f *fixture) emptyDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("r_%s_%d", f.db.Name, time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, f.local.SuperuserURL("postgres"))
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+postgres.OwnerRole)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), f.local.SuperuserURL("postgres"))
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	return f.local.SuperuserURL(name)
}

func table(m *backup.Manifest, name string) backup.Table {
	for _, t := range m.Tables {
		if t.Name == name {
			return t
		}
	}
	return backup.Table{}
}

func TestBackupRestoreMatchesManifest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	m, err := f.svc.Create(ctx, f.source)
	require.NoError(t, err)
	require.Equal(t, int64(200), table(m, "heartbeats").Rows)
	require.Equal(t, int64(50), table(m, "secrets").Rows, "row-level security must not hide rows from the backup")
	require.Equal(t, postgres.LatestVersion(), m.SchemaVersion)
	require.NotZero(t, m.RiverVersion)
	require.Equal(t, "test", m.AppVersion)
	require.FileExists(t, filepath.Join(f.dir, "backups", m.ID, "manifest.json"))

	// Writes after the backup are not in it.
	_, err = f.db.Owner.Exec(ctx, `INSERT INTO heartbeats (id, instance) SELECT gen_random_uuid(), 'late' FROM generate_series(1, 7)`)
	require.NoError(t, err)
	_, live, err := backup.Check(ctx, f.source, m)
	require.NoError(t, err)
	require.Len(t, live, 1)
	require.Contains(t, live[0], "public.heartbeats: 207 rows")

	target := f.emptyDB(t)
	rep, err := f.svc.Restore(ctx, m.ID, target, backup.RestoreOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.Equal(t, len(m.Tables), rep.TablesChecked)
	require.Greater(t, rep.TablesChecked, 5)

	// Restoring again into the now non-empty database is refused...
	_, err = f.svc.Restore(ctx, m.ID, target, backup.RestoreOptions{})
	require.ErrorIs(t, err, backup.ErrTargetNotEmpty)
	// ...unless forced.
	rep, err = f.svc.Restore(ctx, m.ID, target, backup.RestoreOptions{Force: true})
	require.NoError(t, err)
	require.True(t, rep.OK())
}

func TestRestoreRefusesNonEmptyTarget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	m, err := f.svc.Create(ctx, f.source)
	require.NoError(t, err)
	other := pgtest.New(t) // migrated: has tables
	_, err = f.svc.Restore(ctx, m.ID, f.local.SuperuserURL(other.Name), backup.RestoreOptions{})
	require.ErrorIs(t, err, backup.ErrTargetNotEmpty)
}

func TestVerifyDetectsCorruption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	m, err := f.svc.Create(ctx, f.source)
	require.NoError(t, err)
	rep, err := f.svc.Verify(ctx, m.ID)
	require.NoError(t, err)
	require.Greater(t, rep.Entries, 10)

	flipByte(t, filepath.Join(f.dir, "backups", m.ID, "dump.enc"), m.StoredBytes/2)
	_, err = f.svc.Verify(ctx, m.ID)
	require.Error(t, err)
	t.Log(err)
	_, err = f.svc.Restore(ctx, m.ID, f.emptyDB(t), backup.RestoreOptions{})
	require.Error(t, err)
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[at] ^= 0x01
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// cancelAfter cancels its context once n bytes have been written through it.
type cancelWriter struct {
	n      atomic.Int64
	limit  int64
	cancel context.CancelFunc
}

func TestInterruptedBackupIsNotListedAsGood(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	good, err := f.svc.Create(ctx, f.source)
	require.NoError(t, err)

	// A backup cancelled half-way leaves no manifest (and no dump).
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	_, err = f.svc.Create(cctx, f.source)
	if err == nil {
		t.Log("backup finished before the cancel; simulating the interruption with a dump without manifest")
	}
	// A dump that was uploaded but whose manifest never was.
	stray := "20990101T000000Z-abcdef"
	require.NoError(t, os.MkdirAll(filepath.Join(f.dir, "backups", stray), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "backups", stray, "dump.enc"), []byte("partial"), 0o600))

	entries, err := f.svc.List(ctx)
	require.NoError(t, err)
	var complete []string
	for _, e := range entries {
		if e.Complete() {
			complete = append(complete, e.ID)
		}
	}
	if err == nil && len(complete) == 2 {
		// the cancelled backup won the race: still only complete ones are complete
		require.Contains(t, complete, good.ID)
	} else {
		require.Equal(t, []string{good.ID}, complete)
	}
	latest, err := f.svc.Latest(ctx)
	require.NoError(t, err)
	require.NotEqual(t, stray, latest.ID, "an incomplete backup is never the latest good one")
	_, err = f.svc.Verify(ctx, stray)
	require.ErrorIs(t, err, backup.ErrNotFound)
	_, err = f.svc.Restore(ctx, stray, f.emptyDB(t), backup.RestoreOptions{})
	require.ErrorIs(t, err, backup.ErrNotFound)
}

func TestRehearsal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	m, err := f.svc.Create(ctx, f.source)
	require.NoError(t, err)
	rep := &fakeReporter{}
	opts := backup.RehearseOptions{AdminURL: f.local.SuperuserURL("postgres"), Record: f.db.Runtime, Reporter: rep}
	r, err := f.svc.Rehearse(ctx, opts)
	require.NoError(t, err)
	require.True(t, r.OK)
	require.Equal(t, m.ID, r.BackupID)
	require.Equal(t, len(m.Tables), r.TablesChecked)
	require.Empty(t, r.Mismatches)
	require.Positive(t, r.Duration)
	t.Logf("rehearsal: %s, amcheck %s, migrations %v", r.Duration, r.Amcheck, r.Migrations)
	require.Zero(t, rep.n.Load())

	// A damaged backup fails loudly: error, record, report.
	flipByte(t, filepath.Join(f.dir, "backups", m.ID, "dump.enc"), m.StoredBytes-40)
	r, err = f.svc.Rehearse(ctx, opts)
	require.Error(t, err)
	require.False(t, r.OK)
	require.EqualValues(t, 1, rep.n.Load())

	var ok, failed int
	require.NoError(t, f.db.Runtime.QueryRow(ctx, `SELECT count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok) FROM backup_rehearsals`).Scan(&ok, &failed))
	require.Equal(t, 1, ok)
	require.Equal(t, 1, failed)
	var tables int
	var msg string
	require.NoError(t, f.db.Runtime.QueryRow(ctx, `SELECT tables_checked, error FROM backup_rehearsals WHERE NOT ok`).Scan(&tables, &msg))
	require.NotEmpty(t, msg)

	// No scratch database is left behind.
	var left int
	require.NoError(t, f.db.Owner.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE 'gw_rehearsal_%'`).Scan(&left))
	_ = left // other parallel tests may be rehearsing; checked by name below
	var mine int
	require.NoError(t, f.db.Owner.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE $1`,
		"gw_rehearsal_"+strings.ToLower(r.StartedAt.Format("20060102t150405"))+"%").Scan(&mine))
	require.Zero(t, mine)
}

type fakeReporter struct{ n atomic.Int64 }

func (r *fakeReporter) CaptureError(context.Context, error) { r.n.Add(1) }

func TestRehearsalWithoutBackupFails(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, err := f.svc.Rehearse(context.Background(), backup.RehearseOptions{AdminURL: f.local.SuperuserURL("postgres")})
	require.True(t, errors.Is(err, backup.ErrNotFound), "%v", err)
}

func TestBackupAsRoleThatCannotSeeRowsFails(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// The owner is subject to FORCE ROW LEVEL SECURITY on secrets: the
	// backup must fail rather than silently skip its rows.
	_, err := f.svc.Create(context.Background(), f.db.OwnerURL)
	require.Error(t, err)
	require.Contains(t, err.Error(), "row-level security")
}
