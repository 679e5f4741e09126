package backup_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// BenchmarkBackup measures a backup (pg_dump + gzip + encryption + upload
// to a file:// store + manifest checksums) against bare pg_dump -Fc to a
// file, on a generated dataset of GROUNDWORK_BENCH_BACKUP_MB (default 20)
// megabytes of table data. It reports MB/s and the stored size.
func BenchmarkBackup(b *testing.B) {
	ctx := context.Background()
	mb := 20
	if v, err := strconv.Atoi(os.Getenv("GROUNDWORK_BENCH_BACKUP_MB")); err == nil && v > 0 {
		mb = v
	}
	db := pgtest.New(b)
	local := pgtest.Cluster(b)
	// ~200 bytes a row of half-compressible text.
	rows := mb * 1024 * 1024 / 200
	_, err := db.Owner.Exec(ctx, `CREATE TABLE bench (id bigint PRIMARY KEY, payload text NOT NULL);
		INSERT INTO bench SELECT g, repeat(md5(g::text), 3) || repeat('x', 100) FROM generate_series(1, `+strconv.Itoa(rows)+`) g`)
	require.NoError(b, err)
	source := local.SuperuserURL(db.Name)

	b.Run("groundwork", func(b *testing.B) {
		bucket, err := backup.OpenBucket(ctx, "file://"+b.TempDir())
		require.NoError(b, err)
		defer bucket.Close()
		js, _ := backup.NewKeysetJSON()
		key, _ := backup.ParseKey(string(js))
		svc := backup.New(bucket, key, backup.Config{})
		var m *backup.Manifest
		for b.Loop() {
			m, err = svc.Create(ctx, source)
			require.NoError(b, err)
		}
		b.ReportMetric(float64(m.StoredBytes)/(1<<20), "stored_MB")
		b.ReportMetric(float64(m.DumpBytes)/(1<<20), "dump_MB")
	})
	b.Run("pg_dump", func(b *testing.B) {
		bin, err := postgres.FindBinaries()
		require.NoError(b, err)
		out := filepath.Join(b.TempDir(), "dump")
		for b.Loop() {
			cmd := exec.Command(filepath.Join(bin, "pg_dump"), "--format=custom", "--file="+out, "--dbname="+source)
			o, err := cmd.CombinedOutput()
			require.NoError(b, err, string(o))
		}
		fi, err := os.Stat(out)
		require.NoError(b, err)
		b.ReportMetric(float64(fi.Size())/(1<<20), "stored_MB")
	})
}
