package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestAuditVerifyNamesTheBrokenEvent records events through the admin
// commands, verifies the chains, alters an event as the owner role (the
// runtime role may not) and sees verify fail, naming it.
func TestAuditVerifyNamesTheBrokenEvent(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	env := map[string]string{"GROUNDWORK_DATA_DIR": dir}
	_, _, err := runCmdIn(t, env, "a long enough password\n", "user", "create", "-email", "founder@example.com")
	require.NoError(t, err)
	out, _, err := runCmd(t, env, "org", "create", "-name", "Acme Corp", "-owner", "founder@example.com")
	require.NoError(t, err)
	orgID := strings.TrimSpace(out)
	_, _, err = runCmd(t, env, "apikey", "create", "-org", orgID, "-name", "ci")
	require.NoError(t, err)

	out, _, err = runCmd(t, env, "audit", "verify")
	require.NoError(t, err)
	require.Contains(t, out, "2 events not sealed yet, so not verified")
	out, _, err = runCmd(t, env, "audit", "seal")
	require.NoError(t, err)
	require.Equal(t, "sealed 2 events\n", out)

	out, _, err = runCmd(t, env, "audit", "verify", "-v")
	require.NoError(t, err)
	require.Contains(t, out, "org "+orgID+": 2 events, head ")
	require.Contains(t, out, "audit log verified: 1 chains, 2 events")

	ctx := context.Background()
	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: dir, Logger: discardLogger()})
	require.NoError(t, err)
	pool, err := postgres.Open(ctx, local.OwnerURL(), 2)
	require.NoError(t, err)
	var eventID string
	err = postgres.InOrgTx(ctx, pool, orgID, func(tx pgx.Tx) error {
		// The owner may do anything: a tamperer with its rights switches
		// off the trigger that refuses to change a sealed event.
		if _, err := tx.Exec(ctx, `ALTER TABLE audit_events DISABLE TRIGGER audit_events_seal_once`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE audit_events SET after = '{"name": "innocent"}'
			WHERE org_id = $1 AND seq = 2 RETURNING id::text`, orgID).Scan(&eventID)
	})
	require.NoError(t, err)
	pool.Close()
	require.NoError(t, local.Close(ctx))

	out, _, err = runCmd(t, env, "audit", "verify")
	require.ErrorContains(t, err, "1 of 1 chains broken")
	require.ErrorContains(t, err, "event 2 (id "+eventID+")")
	require.Contains(t, out, "BROKEN org "+orgID+": event 2 (id "+eventID+"): hash does not match")
	_, _, err = runCmd(t, env, "audit", "verify", "-org", "acme-corp")
	require.ErrorContains(t, err, eventID)

	_, _, err = runCmd(t, env, "audit", "verify", "-org", "no-such-org")
	require.ErrorContains(t, err, "organisation no-such-org")
	_, _, err = runCmd(t, env, "audit")
	require.ErrorContains(t, err, `audit: say verify or seal (run "groundwork audit -h")`)
}
