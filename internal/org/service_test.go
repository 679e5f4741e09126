package org

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeMailer is a mail.Sender that keeps what it is given.
type fakeMailer struct {
	mu   sync.Mutex
	sent []mail.Message
	err  error
}

func (m *fakeMailer) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *fakeMailer) last(t *testing.T) mail.Message {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.NotEmpty(t, m.sent, "no email was sent")
	return m.sent[len(m.sent)-1]
}

// bundle is one test's world: its own database, a Service on the runtime
// pool, a controllable clock and a mailbox.
type bundle struct {
	db    *pgtest.DB
	svc   *Service
	clock *gwtest.Clock
	mail  *fakeMailer
}

func setup(t testing.TB) *bundle {
	t.Helper()
	db := pgtest.New(t)
	b := &bundle{db: db, clock: gwtest.NewClock(time.Now().Truncate(time.Second)), mail: &fakeMailer{}}
	b.svc = NewService(db.Runtime, b.mail, b.clock, Config{BaseURL: "https://app.example.com/"},
		slog.New(slog.NewTextHandler(t.Output(), nil)))
	return b
}

// user inserts a user with email and returns its ID.
func (b *bundle) user(t testing.TB, email string) string {
	t.Helper()
	return pgtest.User(t, b.db, email)
}

// org creates an organisation owned by a new user and returns the owner's scope.
func (b *bundle) org(t testing.TB, name string) (gw.Scope, Org) {
	t.Helper()
	owner := b.user(t, gw.NewID()+"@example.com")
	o, err := b.svc.Create(context.Background(), owner, name)
	require.NoError(t, err)
	return b.scope(t, owner, o.ID), o
}

// member adds a new user to orgID with role and returns their scope.
func (b *bundle) member(t testing.TB, orgID string, role gw.Role) gw.Scope {
	t.Helper()
	userID := b.user(t, gw.NewID()+"@example.com")
	err := postgres.InOrgTx(context.Background(), b.db.Runtime, orgID, func(tx pgx.Tx) error {
		return insertMembership(context.Background(), tx, orgID, userID, role, time.Now())
	})
	require.NoError(t, err)
	return b.scope(t, userID, orgID)
}

// scope is userID's scope in orgID, through MemberScope.
func (b *bundle) scope(t testing.TB, userID, orgID string) gw.Scope {
	t.Helper()
	s, _, err := b.svc.MemberScope(context.Background(), userID, orgID)
	require.NoError(t, err)
	return s
}

func TestRowLevelSecurityHidesEverythingWithoutSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, _ := b.org(t, "Acme")
	_, _, err := b.svc.CreateAPIKey(ctx, owner, "CI", gw.RoleMember)
	require.NoError(t, err)
	_, err = b.svc.Invite(ctx, owner, "new@example.com", gw.RoleViewer)
	require.NoError(t, err)

	for _, table := range []string{"memberships", "invitations", "api_keys"} {
		var n int
		require.NoError(t, b.db.Runtime.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		require.Zero(t, n, "%s without app settings", table)
		// Another organisation's setting shows nothing either.
		err := postgres.InOrgTx(ctx, b.db.Runtime, gw.NewID(), func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n)
		})
		require.NoError(t, err)
		require.Zero(t, n, "%s in another org", table)
		// The owner role is subject to the policies too (FORCE).
		require.NoError(t, b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		require.Zero(t, n, "%s as owner role", table)
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	long := ""
	for range 101 {
		long += "é"
	}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  Acme  ", "Acme", true},
		{"", "", false},
		{"   ", "", false},
		{long[:200], long[:200], true}, // 100 characters
		{long, "", false},
		{"bad\nname", "", false},
	}
	for _, tt := range tests {
		got, err := checkName(tt.in, "Name")
		if !tt.ok {
			gwtest.RequireCode(t, gw.EINVALID, err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}
