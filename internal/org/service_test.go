package org

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeMailer is a mail.Sender that keeps what it is given. The Service
// queues its emails (mail.Outbox); a mail job worker sends them here.
type fakeMailer struct {
	jobs *mailtest.Jobs

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

// setErr makes Send fail with err (nil: succeed again).
func (m *fakeMailer) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// messages returns what was sent, once every queued email was worked.
func (m *fakeMailer) messages(t testing.TB) []mail.Message {
	t.Helper()
	m.jobs.Drain(t)
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail.Message(nil), m.sent...)
}

// last returns the last email sent to to, once every queued email was
// worked. (The mail jobs run concurrently: emails to different addresses
// may be sent in any order.)
func (m *fakeMailer) last(t *testing.T, to string) mail.Message {
	t.Helper()
	sent := m.messages(t)
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].To == to {
			return sent[i]
		}
	}
	require.FailNow(t, "no email was sent to "+to)
	return mail.Message{}
}

// bundle is one test's world: its own database, a Service on the runtime
// pool, a controllable clock and a mailbox.
type bundle struct {
	db     *pgtest.DB
	svc    *Service
	clock  *gwtest.Clock
	mail   *fakeMailer
	outbox *mail.Outbox
}

func setup(t testing.TB) *bundle {
	t.Helper()
	db := pgtest.New(t)
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	b := &bundle{db: db, clock: gwtest.NewClock(time.Now().Truncate(time.Second)), mail: &fakeMailer{}}
	b.outbox, b.mail.jobs = mailtest.Outbox(t, db.Runtime, keys, b.mail)
	b.svc = NewService(db.Runtime, b.outbox, b.clock, Config{BaseURL: "https://app.example.com/"},
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
		{"Acme\u202e", "", false},  // right-to-left override
		{"Ac\u200bme", "", false},  // zero-width space
		{"Bad\x00Name", "", false}, // NUL
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
