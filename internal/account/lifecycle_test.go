package account_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestDeleteAccountRefusesWhileSolelyOwningOrgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ada@example.com")
	b.addSession(t, u.ID, "s1", b.clock.Now().Add(hour))
	orgID := gw.NewID()
	require.NoError(t, pgx.BeginFunc(b.ctx, b.db.Owner, func(tx pgx.Tx) error {
		if _, err := tx.Exec(b.ctx, `SELECT set_config('app.org_id', $1, true)`, orgID); err != nil {
			return err
		}
		if _, err := tx.Exec(b.ctx, `INSERT INTO orgs (id, slug, name) VALUES ($1, 'acme', 'Acme')`, orgID); err != nil {
			return err
		}
		_, err := tx.Exec(b.ctx, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'member')`, orgID, u.ID)
		return err
	}))

	b.owned.set("Acme", "Beta Ltd")
	err := b.svc.DeleteAccount(b.ctx, u.ID, goodPassword)
	e := requireCode(t, gw.ECONFLICT, err)
	require.Equal(t, "Transfer or delete these organisations first: Acme, Beta Ltd.", e.Message)

	b.owned.set()
	err = b.svc.DeleteAccount(b.ctx, u.ID, "wrong password!")
	e = requireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"password": "The password is not correct."}, e.Fields)

	require.NoError(t, b.svc.DeleteAccount(b.ctx, u.ID, goodPassword))
	b.mail.WaitFor(t, "ada@example.com", "Your account was deleted")
	_, err = b.svc.User(b.ctx, u.ID)
	requireCode(t, gw.ENOTFOUND, err)
	_, err = b.svc.Authenticate(b.ctx, "ada@example.com", goodPassword)
	requireCode(t, gw.EUNAUTHORIZED, err)
	require.Zero(t, b.storedSessions(t, "s1"))
	requireCode(t, gw.ENOTFOUND, b.svc.DeleteAccount(b.ctx, u.ID, goodPassword))

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
