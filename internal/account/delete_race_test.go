package account_test

import (
	"context"
	"strings"
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
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// pausingOrgs is the real org.Service as account.OwnedOrgs, which stops
// inside DeleteAccount's transaction: before LeaveAllTx (the user's row
// locked, no organisation yet) or after it (the organisations locked too),
// until the test resumes it.
type pausingOrgs struct {
	orgs    *org.Service
	after   bool          // pause after LeaveAllTx rather than before
	paused  chan struct{} // closed when paused
	resume  chan struct{} // closed by the test to go on
	pausing bool
}

func (p *pausingOrgs) LeaveAllTx(ctx context.Context, tx pgx.Tx, userID string) (func(), error) {
	if !p.after {
		p.pause()
		return p.orgs.LeaveAllTx(ctx, tx, userID)
	}
	done, err := p.orgs.LeaveAllTx(ctx, tx, userID)
	p.pause()
	return done, err
}

func (p *pausingOrgs) pause() {
	if p.pausing {
		close(p.paused)
		<-p.resume
	}
}

// raceWorld is a real account.Service whose OwnedOrgs is a real org.Service
// paused by pausingOrgs, on a fresh database, with organisation Acme owned
// by alice and bob.
type raceWorld struct {
	db       *pgtest.DB
	accounts *account.Service
	orgs     *org.Service
	hook     *pausingOrgs
	o        org.Org
	alice    account.User
	bob      account.User
}

func newRaceWorld(t *testing.T, pauseAfter bool) *raceWorld {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	srv := mailtest.Start(t)
	sender, err := mail.NewSMTP(srv.URL(), "Groundwork <no-reply@example.com>")
	require.NoError(t, err)
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	outbox, jobs := mailtest.Outbox(t, db.Runtime, keys, sender)
	box := jobs.Mailbox(t, srv)
	w := &raceWorld{db: db}
	w.orgs = org.NewService(db.Runtime, outbox, gw.SystemClock{}, org.Config{BaseURL: baseURL + "/"}, nil)
	w.hook = &pausingOrgs{orgs: w.orgs, after: pauseAfter, paused: make(chan struct{}), resume: make(chan struct{})}
	w.accounts = account.NewService(db.Runtime, keys, outbox, gw.SystemClock{},
		account.Config{BaseURL: baseURL + "/", OwnedOrgs: w.hook}, nil)

	w.alice, err = w.accounts.CreateVerifiedUser(ctx, "alice@example.com", goodPassword)
	require.NoError(t, err)
	w.bob, err = w.accounts.CreateVerifiedUser(ctx, "bob@example.com", goodPassword)
	require.NoError(t, err)
	w.o, err = w.orgs.Create(ctx, w.alice.ID, "Acme")
	require.NoError(t, err)
	_, err = w.orgs.Invite(ctx, w.scope(t, w.alice.ID), w.bob.Email, gw.RoleAdmin)
	require.NoError(t, err)
	link := mailtest.FirstLink(box.WaitFor(t, w.bob.Email, "").Text)
	_, err = w.orgs.AcceptInvitation(ctx, w.bob.ID, w.bob.Email, link[strings.LastIndex(link, "/")+1:])
	require.NoError(t, err)
	require.NoError(t, w.orgs.ChangeRole(ctx, w.scope(t, w.alice.ID), w.bob.ID, gw.RoleOwner))
	return w
}

// scope is userID's scope in Acme.
func (w *raceWorld) scope(t *testing.T, userID string) gw.Scope {
	t.Helper()
	s, _, err := w.orgs.MemberScope(context.Background(), userID, w.o.ID)
	require.NoError(t, err)
	return s
}

// owners lists the user IDs of Acme's owners.
func (w *raceWorld) owners(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	err := postgres.InOrgTx(ctx, w.db.Runtime, w.o.ID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT user_id::text FROM memberships WHERE org_id = $1 AND role = 'owner'`, w.o.ID)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	require.NoError(t, err)
	return ids
}

// deleteAlice starts alice's account deletion and returns its result's
// channel, once the deletion is paused in its transaction.
func (w *raceWorld) deleteAlice(t *testing.T) <-chan error {
	t.Helper()
	w.hook.pausing = true
	res := make(chan error, 1)
	go func() { res <- w.accounts.DeleteAccount(context.Background(), w.alice.ID, goodPassword) }()
	select {
	case <-w.hook.paused:
	case err := <-res:
		require.FailNow(t, "DeleteAccount returned before pausing", "%v", err)
	}
	return res
}

// TestCoOwnerLeavingDuringAccountDeletionKeepsAnOwner proves item 8's fix
// for the interleaving that orphaned organisations: the co-owner leaves
// after the deletion started, before it checked the organisations (the old
// code checked "not the only owner" in one transaction and deleted in
// another). The leave goes through, and the deletion, seeing alice is now
// the only owner, is refused: Acme keeps alice as its owner and her account
// stays.
func TestCoOwnerLeavingDuringAccountDeletionKeepsAnOwner(t *testing.T) {
	t.Parallel()
	w := newRaceWorld(t, false)
	ctx := context.Background()

	res := w.deleteAlice(t)
	require.NoError(t, w.orgs.Leave(ctx, w.scope(t, w.bob.ID)), "bob leaves while alice's deletion is under way")
	close(w.hook.resume)
	err := <-res
	gwtest.RequireCode(t, gw.ECONFLICT, err)
	require.Equal(t, "Transfer or delete these organisations first: Acme.", gw.ErrorMessage(err))

	require.Equal(t, []string{w.alice.ID}, w.owners(t))
	_, err = w.accounts.User(ctx, w.alice.ID)
	require.NoError(t, err, "alice's account stays")
}

// TestCoOwnerLeaveWaitsForAccountDeletion proves the other order: once the
// deletion holds the organisation's lock (after LeaveAllTx), the co-owner's
// leave waits for its commit, and then is refused as the last owner's:
// Acme keeps bob as its owner, alice is gone.
func TestCoOwnerLeaveWaitsForAccountDeletion(t *testing.T) {
	t.Parallel()
	w := newRaceWorld(t, true)
	ctx := context.Background()
	bob := w.scope(t, w.bob.ID)

	res := w.deleteAlice(t)
	leave := make(chan error, 1)
	go func() { leave <- w.orgs.Leave(ctx, bob) }()
	// Wait until bob's leave is blocked on a lock held by alice's
	// deletion (polling; the deadline only bounds a broken test).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		require.NoError(t, w.db.Runtime.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
		if waiting > 0 {
			break
		}
		select {
		case err := <-leave:
			require.FailNow(t, "bob's leave did not wait for alice's deletion", "%v", err)
		default:
		}
		require.True(t, time.Now().Before(deadline), "bob's leave never waited for a lock")
		time.Sleep(5 * time.Millisecond)
	}
	close(w.hook.resume)
	require.NoError(t, <-res, "alice's account is deleted")
	err := <-leave
	gwtest.RequireCode(t, gw.ECONFLICT, err, "bob is now the only owner")

	require.Equal(t, []string{w.bob.ID}, w.owners(t))
	_, err = w.accounts.User(ctx, w.alice.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
}
