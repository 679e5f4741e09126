package account_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

func TestDeleteAccountRefusesWhileSolelyOwningOrgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ada@example.com")
	b.addSession(t, u.ID, "s1", b.clock.Now().Add(hour))
	orgID := pgtest.Org(t, b.db, "Acme")
	pgtest.Member(t, b.db, orgID, u.ID, gw.RoleMember)

	b.owned.set("Acme", "Beta Ltd")
	err := b.svc.DeleteAccount(b.ctx, u.ID, goodPassword)
	e := gwtest.RequireCode(t, gw.ECONFLICT, err)
	require.Equal(t, "Transfer or delete these organisations first: Acme, Beta Ltd.", e.Message)

	b.owned.set()
	err = b.svc.DeleteAccount(b.ctx, u.ID, "wrong password!")
	e = gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"password": "The password is not correct."}, e.Fields)

	require.NoError(t, b.svc.DeleteAccount(b.ctx, u.ID, goodPassword))
	b.mail.WaitFor(t, "ada@example.com", "Your account was deleted")
	_, err = b.svc.User(b.ctx, u.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, err = b.svc.Authenticate(b.ctx, "ada@example.com", goodPassword)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	require.Zero(t, b.storedSessions(t, "s1"))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.DeleteAccount(b.ctx, u.ID, goodPassword))

	var members int
	require.NoError(t, pgx.BeginFunc(b.ctx, b.db.Owner, func(tx pgx.Tx) error {
		if _, err := tx.Exec(b.ctx, `SELECT set_config('app.org_id', $1, true)`, orgID); err != nil {
			return err
		}
		return tx.QueryRow(b.ctx, `SELECT count(*) FROM memberships`).Scan(&members)
	}))
	require.Zero(t, members, "memberships go with the user")

	// The address is free again.
	_, err = b.svc.SignUp(b.ctx, "ada@example.com", goodPassword)
	require.NoError(t, err)
	b.mail.WaitFor(t, "ada@example.com", "Verify your email address")
}
