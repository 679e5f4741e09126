package backup_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/backup"
)

// TestRotateBackupKey follows the runbook: a backup made under the old key,
// the keyset rotated (a new primary key added), a backup made under the new
// key; both verify with the rotated keyset, and the old keyset alone cannot
// read the new backup.
func TestRotateBackupKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	oldJS, err := backup.NewKeysetJSON()
	require.NoError(t, err)
	oldKey, err := backup.ParseKey(string(oldJS))
	require.NoError(t, err)
	bucket, err := backup.OpenBucket(ctx, "file://"+f.dir)
	require.NoError(t, err)
	defer bucket.Close()
	before, err := backup.New(bucket, oldKey, backup.Config{AppVersion: "test"}).Create(ctx, f.source)
	require.NoError(t, err)

	newJS, err := backup.RotateKeysetJSON(string(oldJS))
	require.NoError(t, err)
	newKey, err := backup.ParseKey(string(newJS))
	require.NoError(t, err)
	rotated := backup.New(bucket, newKey, backup.Config{AppVersion: "test"})
	after, err := rotated.Create(ctx, f.source)
	require.NoError(t, err)

	for _, id := range []string{before.ID, after.ID} {
		_, err := rotated.Verify(ctx, id)
		require.NoError(t, err, "the rotated keyset reads backup %s", id)
	}
	_, err = backup.New(bucket, oldKey, backup.Config{AppVersion: "test"}).Verify(ctx, after.ID)
	require.Error(t, err, "a backup made after the rotation needs the new key")

	_, err = backup.RotateKeysetJSON("not a keyset")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "not a keyset")
}
