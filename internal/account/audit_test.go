package account_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// accountEvent is an event of a user's audit chain, as the tests read it.
type accountEvent struct {
	Action, Actor, IP, UserAgent, Before, After string
}

// auditLog reads userID's account audit chain, oldest first.
func (b *bundle) auditLog(t *testing.T, userID string) []accountEvent {
	t.Helper()
	rows, err := b.db.Runtime.Query(b.ctx, `SELECT action, coalesce(actor_user_id::text, ''), ip, user_agent,
		coalesce(before::text, ''), coalesce(after::text, '') FROM account_audit_events WHERE user_id = $1 ORDER BY seq`, userID)
	require.NoError(t, err)
	defer rows.Close()
	var out []accountEvent
	for rows.Next() {
		var e accountEvent
		require.NoError(t, rows.Scan(&e.Action, &e.Actor, &e.IP, &e.UserAgent, &e.Before, &e.After))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

func (b *bundle) actions(t *testing.T, userID string) []string {
	t.Helper()
	var out []string
	for _, e := range b.auditLog(t, userID) {
		out = append(out, e.Action)
	}
	return out
}

func TestAccountSecurityChangesAreAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ada@example.com")
	require.Empty(t, b.auditLog(t, u.ID))

	// Failures record nothing.
	gwtest.RequireCode(t, gw.EINVALID, b.svc.ChangePassword(b.ctx, u.ID, "wrong password!", "a brand new passphrase"))
	gwtest.RequireCode(t, gw.EINVALID, b.svc.DisableTwoFactor(b.ctx, u.ID, "wrong password!"))
	require.Empty(t, b.auditLog(t, u.ID))

	require.NoError(t, b.svc.ChangePassword(b.ctx, u.ID, goodPassword, "a brand new passphrase"))
	b.enableTwoFactor(t, u)
	require.NoError(t, b.svc.DisableTwoFactor(b.ctx, u.ID, "a brand new passphrase"))

	require.NoError(t, b.svc.RequestPasswordReset(b.ctx, "ada@example.com"))
	_, err := b.svc.ResetPassword(b.ctx, b.linkToken(t, "ada@example.com", "Reset your password", "/reset-password"), "another fine passphrase")
	require.NoError(t, err)

	require.NoError(t, b.svc.RequestEmailChange(b.ctx, u.ID, "another fine passphrase", "lovelace@example.com"))
	_, err = b.svc.ConfirmEmailChange(b.ctx, b.linkToken(t, "lovelace@example.com", "Confirm your new email address", "/confirm-email"))
	require.NoError(t, err)

	require.NoError(t, b.svc.DisableUser(b.ctx, u.ID))

	log := b.auditLog(t, u.ID)
	require.Equal(t, []string{audit.ActionPasswordChanged, audit.ActionTwoFactorEnabled, audit.ActionTwoFactorDisabled,
		audit.ActionPasswordReset, audit.ActionEmailChanged, audit.ActionUserDisabled}, b.actions(t, u.ID))
	for _, e := range log[:5] {
		require.Equal(t, u.ID, e.Actor, "%s is done by the user", e.Action)
	}
	require.Empty(t, log[5].Actor, "the admin command line acts as the system")
	require.JSONEq(t, `{"two_factor":true}`, log[1].After)
	require.JSONEq(t, `{"email":"ada@example.com"}`, log[4].Before)
	require.JSONEq(t, `{"email":"lovelace@example.com"}`, log[4].After)
	for _, e := range log {
		require.NotContains(t, e.Before+e.After, "passphrase", "no password reaches the log")
	}

	// Deleting an account is its chain's last event; the chain outlives it.
	v := b.verifiedUser(t, "grace@example.com")
	require.NoError(t, b.svc.DeleteAccount(b.ctx, v.ID, goodPassword))
	require.Equal(t, []string{audit.ActionUserDeleted}, b.actions(t, v.ID))

	rep, err := audit.NewService(b.db.Runtime).Verify(b.ctx, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
	require.EqualValues(t, 7, rep.Events)
}

func TestSignInFromANewDeviceIsAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ada@example.com")
	const laptop, phone = "Firefox/140 (Linux)", "Safari/18 (iPhone)"
	signIn := func(token, ip, ua string) {
		t.Helper()
		require.NoError(t, b.svc.RecordSession(b.ctx, u.ID, token, ip, ua))
	}

	signIn("t1", "203.0.113.7", laptop)
	log := b.auditLog(t, u.ID)
	require.Len(t, log, 1, "the first device is new")
	require.Equal(t, audit.ActionSignInNewDevice, log[0].Action)
	require.Equal(t, u.ID, log[0].Actor)
	require.Equal(t, "203.0.113.7", log[0].IP)
	require.Equal(t, laptop, log[0].UserAgent)

	signIn("t2", "203.0.113.7", laptop)
	require.Len(t, b.auditLog(t, u.ID), 1, "same IP and user agent: a known device")
	signIn("t3", "203.0.113.7", phone)
	signIn("t4", "198.51.100.2", laptop)
	require.Len(t, b.auditLog(t, u.ID), 3, "another user agent, or another IP, is a new device")

	// Once every session has ended and the index forgot them, the audit
	// chain still knows the devices.
	require.NoError(t, b.svc.RevokeAllSessions(b.ctx, u.ID))
	signIn("t5", "203.0.113.7", laptop)
	signIn("t6", "198.51.100.2", phone)
	log = b.auditLog(t, u.ID)
	require.Len(t, log, 4)
	require.Equal(t, "198.51.100.2", log[3].IP)
	require.Equal(t, phone, log[3].UserAgent)

	// Devices are per user.
	v := b.verifiedUser(t, "grace@example.com")
	require.NoError(t, b.svc.RecordSession(b.ctx, v.ID, "t7", "203.0.113.7", laptop))
	require.Equal(t, []string{audit.ActionSignInNewDevice}, b.actions(t, v.ID))
}
