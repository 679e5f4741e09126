package backup

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenBucketWritesBesideTheObjects: a file:// store writes its
// temporary files next to the objects, not in os.TempDir, so that the
// final rename never crosses filesystems (a container's /tmp and its data
// volume: "invalid cross-device link", found by the container e2e). With
// TMPDIR pointing nowhere, a write still succeeds.
func TestOpenBucketWritesBesideTheObjects(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "does-not-exist"))
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	b, err := OpenBucket(ctx, "file://"+dir)
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, b.WriteAll(ctx, "a/b.txt", []byte("hello"), nil))
	got, err := b.ReadAll(ctx, "a/b.txt")
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	require.FileExists(t, filepath.Join(dir, "a", "b.txt"))
}
