package imports_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

// BenchmarkImport100k imports a CSV file of 100,000 contacts (name,
// email, phone, company, tags: email and phone encrypted, email
// blind-indexed, as through the API) into an empty organisation, from the
// upload to the last row committed, and reports rows/s. make bench runs it
// once per mode.
func BenchmarkImport100k(b *testing.B) {
	const rows = 100_000
	var file bytes.Buffer
	file.WriteString("name,email,phone,company,tags\n")
	for n := range rows {
		fmt.Fprintf(&file, "Person %d,person%d@example.com,+44 20 7946 %04d,Company %d,\"customer,tier%d\"\n", n, n, n%10000, n%500, n%5)
	}
	for _, mode := range []string{imports.ModeSkipInvalid, imports.ModeAllOrNothing} {
		b.Run(mode, func(b *testing.B) {
			db := pgtest.New(b)
			keys, err := crypto.GenerateKeyring()
			require.NoError(b, err)
			bucket, err := blob.OpenBucket(context.Background(), "mem://")
			require.NoError(b, err)
			defer bucket.Close()
			client, err := jobs.NewClient(db.Runtime, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			cs := contacts.NewService(db.Runtime, keys, gw.SystemClock{}, nil)
			svc := imports.NewService(db.Runtime, nil, bucket, cs, client, gw.SystemClock{}, imports.Config{})
			ctx := context.Background()
			b.SetBytes(int64(file.Len()))
			b.ResetTimer()
			var total time.Duration
			for range b.N {
				b.StopTimer()
				scope := pgtest.MemberScope(b, db, gw.RoleOwner)
				b.StartTimer()
				start := time.Now()
				i, err := svc.Start(ctx, scope, imports.Upload{Mode: mode, Body: bytes.NewReader(file.Bytes())})
				require.NoError(b, err)
				require.NoError(b, svc.Run(ctx, i.OrgID, i.ID, 1, 3))
				total += time.Since(start)
				b.StopTimer()
				i, err = svc.Get(ctx, scope, i.ID)
				require.NoError(b, err)
				require.Equal(b, imports.StatusSucceeded, i.Status, i.Error)
				require.EqualValues(b, rows, i.RowsImported)
				b.StartTimer()
			}
			b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
		})
	}
}
