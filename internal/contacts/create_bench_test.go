package contacts

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// BenchmarkCreate measures creating a contact with audit and encryption on
// (Service.Create: validation, AES-GCM for email and phone, the blind index,
// the row, and a hash-chained audit event, in one row-level-security
// transaction) against the same row written with them off (a plain INSERT
// of the cleartext row into an unencrypted, unaudited copy of the table, in
// the same kind of transaction).
func BenchmarkCreate(b *testing.B) {
	tb := setup(b)
	ctx := context.Background()
	name, email, phone, company := "Ada Lovelace", "ada@example.com", "+44 20 7946 0958", "Analytical Engines"
	tags, custom := []string{"vip", "math"}, map[string]any{"born": 1815}

	b.Run("audit+encryption", func(b *testing.B) {
		in := Input{Name: &name, Email: &email, Phone: &phone, Company: &company, Tags: &tags, Custom: &custom}
		for b.Loop() {
			if _, err := tb.svc.Create(ctx, tb.member, in); err != nil {
				b.Fatal(err)
			}
		}
	})

	_, err := tb.db.Owner.Exec(ctx, `CREATE TABLE plain_contacts (
		org_id uuid NOT NULL, id uuid NOT NULL, name text NOT NULL, email text NOT NULL, phone text NOT NULL,
		company text NOT NULL, tags text[] NOT NULL, custom jsonb NOT NULL,
		created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, PRIMARY KEY (org_id, id))`)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			err := postgres.InOrgTx(ctx, tb.db.Runtime, tb.member.OrgID, func(tx pgx.Tx) error {
				now := tb.clock.Now()
				_, err := tx.Exec(ctx, `INSERT INTO plain_contacts VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
					tb.member.OrgID, gw.NewID(), name, email, phone, company, tags, custom, now)
				return err
			})
			if err != nil {
				b.Fatal(fmt.Errorf("insert: %w", err))
			}
		}
	})
}
