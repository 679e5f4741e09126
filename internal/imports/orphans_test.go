package imports_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

// TestSweepOrphans: on a real file bucket, the sweep deletes an upload
// older than the orphan age that has no import row, and abandons an import
// still queued since before the cutoff (failed, its file deleted); it
// keeps a younger import's upload and a young file without a row (its row
// may be about to commit).
func TestSweepOrphans(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := setup(t, options{bucket: "file://" + dir + "?no_tmp_dir=true"})
	ctx := context.Background()
	clock := b.clock

	abandoned, err := b.svc.Start(ctx, b.owner, imports.Upload{Body: strings.NewReader("name\nAda\n")})
	require.NoError(t, err)
	clock.Advance(48 * time.Hour)
	other := pgtest.MemberScope(t, b.db, gw.RoleOwner)
	young, err := b.svc.Start(ctx, other, imports.Upload{Body: strings.NewReader("name\nGrace\n")})
	require.NoError(t, err)

	key := func(orgID, id string) string { return "imports/" + orgID + "/" + id + "/upload.csv" }
	noRowOld, noRowFresh := key(b.owner.OrgID, gw.NewID()), key(b.owner.OrgID, gw.NewID())
	for _, k := range []string{noRowOld, noRowFresh} {
		require.NoError(t, b.bucket.WriteAll(ctx, k, []byte("name\nX\n"), nil))
	}
	old, fresh := clock.Now().Add(-30*time.Hour), clock.Now().Add(-time.Hour)
	mtimes := map[string]time.Time{key(abandoned.OrgID, abandoned.ID): old, key(young.OrgID, young.ID): old,
		noRowOld: old, noRowFresh: fresh}
	for k, mt := range mtimes {
		require.NoError(t, os.Chtimes(filepath.Join(dir, filepath.FromSlash(k)), mt, mt))
	}

	n, err := b.svc.SweepOrphans(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	exists := func(k string) bool {
		ok, err := b.bucket.Exists(ctx, k)
		require.NoError(t, err)
		return ok
	}
	require.False(t, exists(noRowOld))
	require.False(t, exists(key(abandoned.OrgID, abandoned.ID)))
	require.True(t, exists(noRowFresh), "too young: its row may be about to commit")
	require.True(t, exists(key(young.OrgID, young.ID)), "its import is queued since less than the orphan age")

	got, err := b.svc.Get(ctx, b.owner, abandoned.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusFailed, got.Status)
	require.Contains(t, got.Error, "abandoned")
	got, err = b.svc.Get(ctx, other, young.ID)
	require.NoError(t, err)
	require.Equal(t, imports.StatusQueued, got.Status)
	require.NoError(t, b.svc.Run(ctx, young.OrgID, young.ID, 1, 3), "and it still runs")
}
