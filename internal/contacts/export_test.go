package contacts

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestExportEach: the streamed rows, decoded from PostgreSQL's binary
// format and decrypted into reused buffers, equal what Get returns, for
// every contact of the organisation and none of another, in id order.
func TestExportEach(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	want := []Contact{
		b.create(t, b.member, "Ada", func(in *Input) {
			in.Email, in.Phone = ptr("ada@example.com"), ptr("+44 20 7946 0001")
			in.Tags = &[]string{"vip", "ünïcødé", `quo"te`, "a,b"}
			in.Custom = &map[string]any{"tier": "gold", "n": 12345678901234567, "ok": true, "x": nil}
		}),
		b.create(t, b.member, "Grace"), // no email, phone, tags or custom
	}
	b.clock.Advance(time.Second)
	want = append(want, b.create(t, b.member, "Katherine", func(in *Input) { in.Company = ptr("NASA") }))
	other := pgtest.MemberScope(t, b.db, gw.RoleOwner)
	b.create(t, other, "Other")

	var got []Contact
	var customs []string
	err := postgres.InOrgTx(ctx, b.db.Runtime, b.member.OrgID, func(tx pgx.Tx) error {
		return b.svc.ExportEach(ctx, tx, b.member.OrgID, func(r *ExportRow) error {
			c := Contact{ID: string(r.ID), Name: string(r.Name), Email: string(r.Email), Phone: string(r.Phone),
				Company: string(r.Company), Tags: []string{}, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
			for _, tag := range r.Tags {
				c.Tags = append(c.Tags, string(tag))
			}
			customs = append(customs, string(r.Custom))
			require.NoError(t, json.Unmarshal(r.Custom, &c.Custom))
			got = append(got, c)
			return nil
		})
	})
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, g := range got {
		c, err := b.svc.Get(ctx, b.member, g.ID)
		require.NoError(t, err)
		require.Equal(t, c.ID, want[i].ID, "id order")
		require.Equal(t, c.Name, g.Name)
		require.Equal(t, c.Email, g.Email)
		require.Equal(t, c.Phone, g.Phone)
		require.Equal(t, c.Company, g.Company)
		require.Equal(t, c.Tags, g.Tags)
		require.Equal(t, c.Custom, g.Custom)
		require.True(t, c.CreatedAt.Equal(g.CreatedAt) && c.UpdatedAt.Equal(g.UpdatedAt))
		require.Equal(t, time.UTC, g.CreatedAt.Location())
	}
	require.Contains(t, customs[0], "12345678901234567", "numbers exactly as stored")
	require.Equal(t, "{}", customs[1])

	stop := gw.Errorf(gw.ECONFLICT, "stop")
	n := 0
	err = postgres.InOrgTx(ctx, b.db.Runtime, b.member.OrgID, func(tx pgx.Tx) error {
		return b.svc.ExportEach(ctx, tx, b.member.OrgID, func(*ExportRow) error { n++; return stop })
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)
}
