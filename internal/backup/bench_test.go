package backup_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// envInt reads a positive integer from the environment, or returns def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// newBenchService is a Service storing backups in a file:// bucket under a
// temp dir of b, with a fresh key.
func newBenchService(b *testing.B) *backup.Service {
	b.Helper()
	bucket, err := backup.OpenBucket(context.Background(), "file://"+b.TempDir())
	require.NoError(b, err)
	b.Cleanup(func() { bucket.Close() })
	js, err := backup.NewKeysetJSON()
	require.NoError(b, err)
	key, err := backup.ParseKey(string(js))
	require.NoError(b, err)
	return backup.New(bucket, key, backup.Config{})
}

// generate fills table (created here) with rows of wide, partly
// compressible text until pg_total_relation_size reaches targetBytes, using
// two connections (the bench machines have two cores). Each row is about
// 540 bytes with its index entry: a random-looking md5, then 256 and 192
// bytes of repeated md5s.
func generate(b *testing.B, pool *pgxpool.Pool, table string, targetBytes int64) (rows int64, size int64) {
	b.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE `+table+` (id bigint PRIMARY KEY, a text NOT NULL, b text NOT NULL, c text NOT NULL)`)
	require.NoError(b, err)
	sizeOf := func() int64 {
		var n int64
		require.NoError(b, pool.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, table).Scan(&n))
		return n
	}
	// About 54 MB a batch, or less for a small target (two run at once).
	batch := max(1000, min(100_000, targetBytes/540/8))
	var next atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			conn, err := pool.Acquire(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, `SET synchronous_commit = off`); err != nil {
				errs <- err
				return
			}
			for !done.Load() {
				hi := next.Add(batch)
				lo := hi - batch + 1
				_, err := conn.Exec(ctx, `INSERT INTO `+table+` SELECT g, md5(g::text),
					repeat(md5((g * 31)::text), 8), repeat(md5((g * 7)::text), 6)
					FROM generate_series($1::bigint, $2::bigint) g`, lo, hi)
				if err != nil {
					errs <- err
					return
				}
				var n int64
				if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, table).Scan(&n); err != nil {
					errs <- err
					return
				}
				if n >= targetBytes {
					done.Store(true)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	_, err = pool.Exec(ctx, `VACUUM ANALYZE `+table)
	require.NoError(b, err)
	require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&rows))
	return rows, sizeOf()
}

// BenchmarkBackup measures, on a generated table of about
// GROUNDWORK_BENCH_BACKUP_MB (default 20) megabytes (pg_total_relation_size):
//
//   - groundwork: a backup (table checksums + pg_dump + gzip + encryption +
//     upload to a file:// store);
//   - pg_dump: bare pg_dump -Fc to a file, on the same data;
//   - rehearse: the restore rehearsal of that backup (Service.Rehearse:
//     scratch database, download, decrypt, restore, check every table,
//     pg_amcheck, migrations). rto_s is Rehearsal.Duration, the measured
//     recovery time; total_s adds pg_amcheck and the migrations.
//
// Every line also reports data_MB, the generated table's size.
func BenchmarkBackup(b *testing.B) {
	ctx := context.Background()
	mb := envInt("GROUNDWORK_BENCH_BACKUP_MB", 20)
	db := pgtest.New(b)
	local := pgtest.Cluster(b)
	start := time.Now()
	rows, size := generate(b, db.Owner, "bench", int64(mb)<<20)
	genSeconds := time.Since(start).Seconds()
	dataMB := float64(size) / (1 << 20)
	b.Logf("generated %d rows, %.0f MB (pg_total_relation_size) in %.1fs", rows, dataMB, genSeconds)
	source := local.SuperuserURL(db.Name)
	svc := newBenchService(b)

	var m *backup.Manifest
	b.Run("groundwork", func(b *testing.B) {
		var err error
		start := time.Now()
		for b.Loop() {
			m, err = svc.Create(ctx, source)
			require.NoError(b, err)
		}
		secs := time.Since(start).Seconds() / float64(b.N)
		b.ReportMetric(dataMB, "data_MB")
		b.ReportMetric(float64(rows), "rows")
		b.ReportMetric(genSeconds, "generate_s")
		b.ReportMetric(secs, "backup_s")
		b.ReportMetric(float64(m.StoredBytes)/(1<<20), "stored_MB")
		b.ReportMetric(float64(m.DumpBytes)/(1<<20), "dump_MB")
		b.ReportMetric(dataMB/secs, "data_MB/s")
	})
	b.Run("pg_dump", func(b *testing.B) {
		bin, err := postgres.FindBinaries()
		require.NoError(b, err)
		out := filepath.Join(b.TempDir(), "dump")
		start := time.Now()
		for b.Loop() {
			cmd := exec.Command(filepath.Join(bin, "pg_dump"), "--format=custom", "--file="+out, "--dbname="+source)
			o, err := cmd.CombinedOutput()
			require.NoError(b, err, string(o))
		}
		secs := time.Since(start).Seconds() / float64(b.N)
		fi, err := os.Stat(out)
		require.NoError(b, err)
		b.ReportMetric(dataMB, "data_MB")
		b.ReportMetric(secs, "pg_dump_s")
		b.ReportMetric(float64(fi.Size())/(1<<20), "pg_dump_MB")
		b.ReportMetric(dataMB/secs, "data_MB/s")
	})
	b.Run("rehearse", func(b *testing.B) {
		if m == nil { // groundwork was filtered out
			var err error
			m, err = svc.Create(ctx, source)
			require.NoError(b, err)
		}
		var r *backup.Rehearsal
		var err error
		start := time.Now()
		for b.Loop() {
			r, err = svc.Rehearse(ctx, backup.RehearseOptions{AdminURL: local.SuperuserURL("postgres"), BackupID: m.ID})
			require.NoError(b, err)
		}
		total := time.Since(start).Seconds() / float64(b.N)
		require.True(b, r.OK)
		b.Logf("rehearsal of %s: %d tables checked, amcheck %s, %d migrations", r.BackupID, r.TablesChecked, r.Amcheck, len(r.Migrations))
		b.ReportMetric(dataMB, "data_MB")
		b.ReportMetric(r.Duration.Seconds(), "rto_s")
		b.ReportMetric(total, "total_s")
		b.ReportMetric(float64(r.TablesChecked), "tables")
	})
}

// BenchmarkWriteDuringBackup measures a write-heavy workload (8 goroutines
// of single-row INSERTs and UPDATEs, half each, through the runtime role's
// pool) for GROUNDWORK_BENCH_WRITE_SECONDS (default 10) seconds, first with
// no backup running (no_backup), then while backups of the same database,
// which also holds a GROUNDWORK_BENCH_WRITE_MB (default 256) MB table, run
// back to back (with_backup). Each reports p50_ms, p99_ms, max_ms and
// writes/s; with_backup also how many backups completed in the window.
func BenchmarkWriteDuringBackup(b *testing.B) {
	ctx := context.Background()
	seconds := envInt("GROUNDWORK_BENCH_WRITE_SECONDS", 10)
	mb := envInt("GROUNDWORK_BENCH_WRITE_MB", 256)
	window := time.Duration(seconds) * time.Second
	const workers = 8
	db := pgtest.New(b)
	local := pgtest.Cluster(b)
	_, size := generate(b, db.Owner, "bulk", int64(mb)<<20)
	b.Logf("the database holds a %.0f MB table", float64(size)/(1<<20))
	_, err := db.Owner.Exec(ctx, `CREATE TABLE writes (id bigint PRIMARY KEY, n int NOT NULL, note text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO writes (id, n, note) SELECT g, 0, md5(g::text) FROM generate_series(1, 10000) g;
		ANALYZE writes`)
	require.NoError(b, err)
	var maxID atomic.Int64
	maxID.Store(10000)
	source := local.SuperuserURL(db.Name)
	svc := newBenchService(b)
	pool := db.Runtime

	// workload runs the writers for the window and returns every latency.
	workload := func(b *testing.B) []time.Duration {
		deadline := time.Now().Add(window)
		lat := make([][]time.Duration, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				for time.Now().Before(deadline) {
					t0 := time.Now()
					var err error
					if rng.IntN(2) == 0 {
						id := maxID.Add(1)
						_, err = pool.Exec(ctx, `INSERT INTO writes (id, n, note) VALUES ($1::bigint, 0, md5($1::bigint::text))`, id)
					} else {
						id := 1 + rng.Int64N(maxID.Load())
						_, err = pool.Exec(ctx, `UPDATE writes SET n = n + 1, updated_at = now() WHERE id = $1`, id)
					}
					if err != nil {
						errs[w] = err
						return
					}
					lat[w] = append(lat[w], time.Since(t0))
				}
			})
		}
		wg.Wait()
		require.NoError(b, errors.Join(errs...))
		return slices.Concat(lat...)
	}
	report := func(b *testing.B, lat []time.Duration) {
		require.NotEmpty(b, lat)
		slices.Sort(lat)
		q := func(p float64) float64 {
			return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
		}
		b.ReportMetric(q(0.50), "p50_ms")
		b.ReportMetric(q(0.99), "p99_ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
		b.ReportMetric(float64(len(lat))/window.Seconds(), "writes/s")
	}

	b.Run("no_backup", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			lat = workload(b)
		}
		report(b, lat)
	})
	b.Run("with_backup", func(b *testing.B) {
		var lat []time.Duration
		var backups int
		for b.Loop() {
			bctx, cancel := context.WithCancel(ctx)
			var berr error
			var wg sync.WaitGroup
			backups = 0
			wg.Go(func() {
				for bctx.Err() == nil {
					if _, err := svc.Create(bctx, source); err != nil {
						if bctx.Err() == nil {
							berr = err
						}
						return
					}
					backups++
				}
			})
			// Let the backup get past connecting and into its scan.
			time.Sleep(100 * time.Millisecond)
			lat = workload(b)
			cancel()
			wg.Wait()
			require.NoError(b, berr)
		}
		report(b, lat)
		b.ReportMetric(float64(backups), "backups")
	})
}
