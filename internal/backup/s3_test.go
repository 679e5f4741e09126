package backup_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/backup"
)

// TestBackupToS3 runs a backup, list, verify and restore through an s3://
// GROUNDWORK_BACKUP_URL, against an S3-compatible server (gofakes3) on
// loopback: the same gocloud s3blob driver and AWS SDK a real bucket uses,
// with path-style addressing as MinIO and most S3-compatible stores need.
func TestBackupToS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("groundwork-backups"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)

	q := url.Values{"endpoint": {srv.URL}, "region": {"us-east-1"}, "use_path_style": {"true"},
		"anonymous": {"true"}, "request_checksum_calculation": {"when_required"}}
	bucket, err := backup.OpenBucket(ctx, "s3://groundwork-backups?"+q.Encode())
	require.NoError(t, err)
	t.Cleanup(func() { bucket.Close() })
	js, err := backup.NewKeysetJSON()
	require.NoError(t, err)
	key, err := backup.ParseKey(string(js))
	require.NoError(t, err)
	svc := backup.New(bucket, key, backup.Config{AppVersion: "test"})

	f := setup(t)
	m, err := svc.Create(ctx, f.source)
	require.NoError(t, err)
	list, err := svc.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.True(t, list[0].Complete())
	require.Positive(t, list[0].Bytes)
	_, err = svc.Verify(ctx, m.ID)
	require.NoError(t, err)
	rep, err := svc.Restore(ctx, m.ID, f.emptyDB(t), backup.RestoreOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK())
}
