package exports_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"

	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestSweepOrphans: on a real file bucket, the sweep deletes the files
// older than the orphan age whose export is gone or finished without
// files (cancelled here), and a key that names no export; it keeps a
// succeeded export's files (the retention job's), a running one's, and
// anything younger than the orphan age.
func TestSweepOrphans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	bucket, err := blob.OpenBucket(ctx, "file://"+dir+"?no_tmp_dir=true")
	require.NoError(t, err)
	t.Cleanup(func() { bucket.Close() })
	svc := exports.NewService(b.db.Runtime, nil, bucket, b.mods.Keys, b.mods.Jobs, b.clock,
		exports.Sources{Contacts: b.mods.Contacts, Members: b.mods.Orgs, Audit: b.mods.Audit},
		exports.Config{OrphanAge: 24 * time.Hour})
	b.contact(t, "Ada", "ada@example.com", "")

	done, err := svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)
	require.NoError(t, svc.Run(ctx, done.OrgID, done.ID, 1, 3))
	cancelled, err := svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)
	require.NoError(t, svc.Cancel(ctx, b.owner, cancelled.ID))
	running, err := svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)

	prefix := func(id string) string { return "exports/" + b.owner.OrgID + "/" + id + "/" }
	old, fresh := b.clock.Now().Add(-48*time.Hour), b.clock.Now().Add(-time.Hour)
	files := map[string]time.Time{
		prefix(done.ID) + "1/contacts.csv.gz":    old, // written by Run: kept
		prefix(cancelled.ID) + "contacts.csv.gz": old, // a crash between cancel and delete: swept
		prefix(running.ID) + "contacts.csv.gz":   old, // its retry cleans it: kept
		prefix(gw.NewID()) + "contacts.csv.gz":   old, // no such export: swept
		prefix(gw.NewID()) + "fresh.csv.gz":      fresh,
		"exports/not-an-export":                  old, // names none: swept
	}
	for key, mtime := range files {
		if key != prefix(done.ID)+"1/contacts.csv.gz" {
			require.NoError(t, bucket.WriteAll(ctx, key, []byte("x"), nil))
		}
		require.NoError(t, os.Chtimes(filepath.Join(dir, filepath.FromSlash(key)), mtime, mtime))
	}

	n, err := svc.SweepOrphans(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	for key := range files {
		ok, err := bucket.Exists(ctx, key)
		require.NoError(t, err)
		switch key {
		case prefix(done.ID) + "1/contacts.csv.gz", prefix(running.ID) + "contacts.csv.gz":
			require.True(t, ok, "%s kept", key)
		default:
			if files[key].Equal(fresh) {
				require.True(t, ok, "%s is too young", key)
			} else {
				require.False(t, ok, "%s swept", key)
			}
		}
	}
	e, err := svc.Get(ctx, b.owner, done.ID)
	require.NoError(t, err)
	link, err := svc.Link(e, "contacts.csv.gz")
	require.NoError(t, err)
	d, err := svc.Open(ctx, strings.TrimPrefix(link, "/downloads/"))
	require.NoError(t, err, "the succeeded export still downloads")
	require.NoError(t, d.Close())
}
