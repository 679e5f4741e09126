package web

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// deleteRaceRounds is how many times each race of TestDeleteAccountRaces
// is run.
const deleteRaceRounds = 8

// ownersOf returns whether organisation orgID exists and how many owners it
// has, read as the database holds them now.
func (e *env) ownersOf(orgID string) (exists bool, owners int) {
	e.t.Helper()
	ctx := context.Background()
	err := postgres.InOrgTx(ctx, e.db.Runtime, orgID, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM orgs WHERE id = $1`, orgID).Scan(&n); err != nil {
			return err
		}
		exists = n > 0
		return tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'`, orgID).Scan(&owners)
	})
	require.NoError(e.t, err)
	return exists, owners
}

// TestDeleteAccountRaces proves item 8 of the security review: two owners
// of one organisation, A deleting their account while B leaves the
// organisation (or deletes their account too), started together, never
// leave the organisation without an owner: exactly one of the two
// succeeds, the other is refused with ECONFLICT as the last owner, and the
// refused one is still an owner. Each race is run deleteRaceRounds times.
//
// DeleteAccount checks the password (an argon2id hash) before its
// transaction, so the start of B's side is staggered across the rounds,
// from at once to past the time one password check takes here: some
// rounds put B's leave before A's transaction, some inside it, some after.
// Two deletions both check a password first and are not staggered. The
// stagger only spreads the interleavings; nothing is asserted on time.
func TestDeleteAccountRaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	// How long DeleteAccount takes to refuse a wrong password: about the
	// time before its transaction starts.
	probe := e.user("probe@example.com")
	started := time.Now()
	_, err := e.accounts.User(ctx, probe.ID)
	require.NoError(t, err)
	gwtest.RequireCode(t, gw.EINVALID, e.accounts.DeleteAccount(ctx, probe.ID, "not the password at all"))
	check := time.Since(started)

	races := []struct {
		name string
		// second is B's side of the race.
		second func(scopeB gw.Scope, userID string) error
		// stagger: B's start is spread across the rounds (B's side does
		// not check a password first).
		stagger bool
	}{
		{"delete account while the other owner leaves", func(scopeB gw.Scope, _ string) error {
			return e.orgs.Leave(ctx, scopeB)
		}, true},
		{"both owners delete their accounts", func(_ gw.Scope, userID string) error {
			return e.accounts.DeleteAccount(ctx, userID, testPassword)
		}, false},
	}
	for ri, race := range races {
		wins := map[string]int{}
		for round := range deleteRaceRounds {
			a := e.user(fmt.Sprintf("a%d-%d@example.com", ri, round))
			b := e.user(fmt.Sprintf("b%d-%d@example.com", ri, round))
			o, scopeA := e.org(a.ID, fmt.Sprintf("Race %d-%d", ri, round))
			e.join(scopeA, b, gw.RoleAdmin)
			require.NoError(t, e.orgs.ChangeRole(ctx, scopeA, b.ID, gw.RoleOwner))
			scopeB := e.scope(b.ID, o.ID)
			var delay time.Duration
			if race.stagger {
				delay = check * time.Duration(round) * 3 / (2 * deleteRaceRounds)
			}

			var (
				ready, wg  sync.WaitGroup
				start      = make(chan struct{})
				errA, errB error
			)
			ready.Add(2)
			wg.Add(2)
			go func() {
				defer wg.Done()
				ready.Done()
				<-start
				errA = e.accounts.DeleteAccount(ctx, a.ID, testPassword)
			}()
			go func() {
				defer wg.Done()
				ready.Done()
				<-start
				time.Sleep(delay)
				errB = race.second(scopeB, b.ID)
			}()
			ready.Wait()
			close(start)
			wg.Wait()

			what := fmt.Sprintf("%s, round %d", race.name, round)
			exists, owners := e.ownersOf(o.ID)
			require.True(t, !exists || owners >= 1, "%s: the organisation has no owner (A: %v, B: %v)", what, errA, errB)
			require.True(t, exists, "%s: nobody deleted the organisation", what)
			require.Equal(t, 1, owners, "%s: one of the two is gone, the other still owns it", what)
			switch {
			case errA == nil:
				gwtest.RequireCode(t, gw.ECONFLICT, errB, "%s: B is the last owner", what)
				_, err := e.accounts.User(ctx, a.ID)
				gwtest.RequireCode(t, gw.ENOTFOUND, err, "%s: A's account is deleted", what)
				require.Equal(t, gw.RoleOwner, e.scope(b.ID, o.ID).Role, "%s: B still owns it", what)
				wins["A"]++
			case errB == nil:
				gwtest.RequireCode(t, gw.ECONFLICT, errA, "%s: A is the last owner", what)
				require.Equal(t, "Transfer or delete these organisations first: "+o.Name+".", gw.ErrorMessage(errA), what)
				_, err := e.accounts.User(ctx, a.ID)
				require.NoError(t, err, "%s: A's account stays", what)
				require.Equal(t, gw.RoleOwner, e.scope(a.ID, o.ID).Role, "%s: A still owns it", what)
				wins["B"]++
			default:
				require.Failf(t, "both were refused", "%s: A: %v, B: %v", what, errA, errB)
			}
		}
		t.Logf("%s: won by A %d times, by B %d times (a password check took %s)", race.name, wins["A"], wins["B"], check)
	}
}
