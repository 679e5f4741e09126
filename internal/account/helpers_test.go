package account_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const baseURL = "https://app.example.com"

// fakeOwnedOrgs answers LeaveAllTx as if the user were the only owner of
// a fixed list of organisations (none: they may leave them all).
type fakeOwnedOrgs struct {
	mu    sync.Mutex
	names []string
}

func (f *fakeOwnedOrgs) LeaveAllTx(context.Context, pgx.Tx, string) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.names) > 0 {
		return nil, gw.Errorf(gw.ECONFLICT, "Transfer or delete these organisations first: %s.", strings.Join(f.names, ", "))
	}
	return func() {}, nil
}

func (f *fakeOwnedOrgs) set(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = names
}

// bundle is one test's world: its own database, mail server and clock.
type bundle struct {
	ctx   context.Context
	svc   *account.Service
	db    *pgtest.DB
	mail  *mailtest.Mailbox // the emails the mail job worker sent
	clock *gwtest.Clock
	owned *fakeOwnedOrgs
	keys  *crypto.Keyring
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.New(t)
	srv := mailtest.Start(t)
	sender, err := mail.NewSMTP(srv.URL(), "Groundwork <no-reply@example.com>")
	require.NoError(t, err)
	clock := gwtest.NewClock(time.Now().UTC().Truncate(time.Second))
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	owned := &fakeOwnedOrgs{}
	outbox, jobs := mailtest.Outbox(t, db.Runtime, keys, sender)
	svc := account.NewService(db.Runtime, keys, outbox, clock, account.Config{BaseURL: baseURL + "/", OwnedOrgs: owned}, nil)
	return &bundle{ctx: context.Background(), svc: svc, db: db, mail: jobs.Mailbox(t, srv),
		clock: clock, owned: owned, keys: keys}
}

const goodPassword = "correct horse battery staple"

const hour = time.Hour

// verifiedUser creates a verified user (as the admin command would).
func (b *bundle) verifiedUser(t *testing.T, email string) account.User {
	t.Helper()
	u, err := b.svc.CreateVerifiedUser(b.ctx, email, goodPassword)
	require.NoError(t, err)
	return u
}

// linkToken waits for an email and returns the token of its first link,
// checking that the link goes to path.
func (b *bundle) linkToken(t *testing.T, to, subject, path string) string {
	t.Helper()
	msg := b.mail.WaitFor(t, to, subject)
	link := mailtest.FirstLink(msg.Text)
	require.True(t, strings.HasPrefix(link, baseURL+path+"?token="), "link %q in %q", link, msg.Text)
	u, err := url.Parse(link)
	require.NoError(t, err)
	token := u.Query().Get("token")
	require.Len(t, token, 43, "32 random bytes, base64url")
	return token
}

// addSession stores a session as the scs store would, and indexes it.
func (b *bundle) addSession(t *testing.T, userID, token string, expiry time.Time) {
	t.Helper()
	_, err := b.db.Runtime.Exec(b.ctx, `INSERT INTO sessions (token_hash, data, expiry) VALUES ($1, '\x00', $2)`, account.SessionID(token), expiry)
	require.NoError(t, err)
	require.NoError(t, b.svc.RecordSession(b.ctx, userID, token, "203.0.113.7", "TestBrowser/1.0"))
}

// storedSessions counts the live (unrevoked) sessions among tokens in the
// session store.
func (b *bundle) storedSessions(t *testing.T, tokens ...string) int {
	t.Helper()
	hashes := make([]string, len(tokens))
	for i, token := range tokens {
		hashes[i] = account.SessionID(token)
	}
	var n int
	require.NoError(t, b.db.Runtime.QueryRow(b.ctx, `SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND token_hash = ANY($1)`, hashes).Scan(&n))
	return n
}

// messagesTo counts the emails received by an address.
func (b *bundle) messagesTo(to string) int {
	n := 0
	for _, m := range b.mail.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, to) {
				n++
			}
		}
	}
	return n
}

func requireInvalidLink(t *testing.T, err error) {
	t.Helper()
	e := gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, "This link is invalid or has expired.", e.Message)
}
