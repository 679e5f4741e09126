package exports_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// BenchmarkRunContacts runs a CSV gzip export of N contacts
// (GROUNDWORK_BENCH_EXPORT_ROWS, default 50,000) in process, into a file
// bucket, b.N times: the export job alone, for profiling (-cpuprofile).
// cmd/groundwork's BenchmarkExportContacts measures the whole server.
func BenchmarkRunContacts(b *testing.B) {
	rows := 50_000
	if v := os.Getenv("GROUNDWORK_BENCH_EXPORT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		rows = n
	}
	ctx := context.Background()
	db := pgtest.New(b)
	keys, err := crypto.GenerateKeyring()
	require.NoError(b, err)
	bucket, err := blob.OpenBucket(ctx, "file://"+b.TempDir())
	require.NoError(b, err)
	b.Cleanup(func() { bucket.Close() })
	mods, err := app.New(db.Runtime, config.Config{}, nil, app.Options{Keys: keys, ExportBucket: bucket})
	require.NoError(b, err)
	svc := exports.NewService(db.Runtime, nil, bucket, keys, mods.Jobs, gw.SystemClock{},
		exports.Sources{Contacts: mods.Contacts, Members: mods.Orgs, Audit: mods.Audit}, exports.Config{})
	owner := pgtest.MemberScope(b, db, gw.RoleOwner)

	const batch = 5000
	list := make([]contacts.Input, 0, batch)
	for first := 0; first < rows; first += batch {
		list = list[:0]
		for n := first; n < min(rows, first+batch); n++ {
			name, email := fmt.Sprintf("Person %d", n), fmt.Sprintf("person%d@example.com", n)
			phone, company := fmt.Sprintf("+44 20 7946 %04d", n%10000), fmt.Sprintf("Company %d", n%500)
			tags := []string{"customer", "tier" + strconv.Itoa(n%5)}
			custom := map[string]any{"n": n}
			list = append(list, contacts.Input{Name: &name, Email: &email, Phone: &phone, Company: &company,
				Tags: &tags, Custom: &custom})
		}
		require.NoError(b, postgres.InOrgTx(ctx, db.Runtime, owner.OrgID, func(tx pgx.Tx) error {
			return mods.Contacts.InsertTx(ctx, tx, owner.OrgID, gw.Actor{}, gw.NewID(), list, time.Now())
		}))
	}
	_, err = db.Owner.Exec(ctx, `VACUUM ANALYZE contacts`)
	require.NoError(b, err)

	b.ResetTimer()
	for range b.N {
		e, err := svc.Request(ctx, owner, exports.Request{Tables: []string{exports.TableContacts}})
		require.NoError(b, err)
		require.NoError(b, svc.Run(ctx, e.OrgID, e.ID, 1, 1))
		e, err = svc.Get(ctx, owner, e.ID)
		require.NoError(b, err)
		require.Equal(b, exports.StatusSucceeded, e.Status)
		require.EqualValues(b, rows, e.RowsWritten)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
