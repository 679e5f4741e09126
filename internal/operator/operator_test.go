package operator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestGrantRevokeAudited grants, re-grants, uses and revokes an operator,
// and checks the list, the check, the audit events and that their chain
// verifies.
func TestGrantRevokeAudited(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	svc := NewService(db.Runtime, nil)
	alice := pgtest.User(t, db, "alice@example.com")
	pgtest.User(t, db, "bob@example.com")

	ok, err := svc.IsOperator(ctx, alice)
	require.NoError(t, err)
	require.False(t, ok, "nobody is an operator by default")

	op, err := svc.Grant(ctx, "Alice@Example.com", "root")
	require.NoError(t, err)
	require.Equal(t, alice, op.UserID)
	require.False(t, op.TwoFactor)
	_, err = svc.Grant(ctx, "alice@example.com", "root") // again: nothing new
	require.NoError(t, err)
	ok, err = svc.IsOperator(ctx, alice)
	require.NoError(t, err)
	require.True(t, ok)
	ops, err := svc.List(ctx)
	require.NoError(t, err)
	require.Len(t, ops, 1)
	require.Equal(t, "alice@example.com", ops[0].Email)

	_, err = svc.Grant(ctx, "nobody@example.com", "root")
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(svc.Revoke(ctx, "bob@example.com", "root")), "bob is not an operator")

	rctx := gw.WithRequestID(ctx, "req-123")
	require.NoError(t, svc.Record(rctx, Action{UserID: alice, Method: "GET", Path: "/ops"}))
	require.NoError(t, svc.Record(rctx, Action{UserID: alice, Method: "POST", Path: "/ops/jobs/api/jobs/retry"}))
	require.NoError(t, svc.Revoke(ctx, "alice@example.com", "root"))
	ok, err = svc.IsOperator(ctx, alice)
	require.NoError(t, err)
	require.False(t, ok)

	events, err := svc.Events(ctx, alice, 10)
	require.NoError(t, err)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action+" "+e.TargetID)
	}
	require.Equal(t, []string{
		audit.ActionOperatorRevoked + " " + alice,
		audit.ActionOperatorActed + " POST /ops/jobs/api/jobs/retry",
		audit.ActionOperatorViewed + " GET /ops",
		audit.ActionOperatorGranted + " " + alice,
	}, actions, "one grant (the second changed nothing), two console actions, one revocation")
	require.Equal(t, "req-123", events[2].RequestID)
	require.Equal(t, alice, events[2].Actor.UserID)

	report, err := audit.NewService(db.Runtime).Verify(ctx, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, report.OK(), "the operator's chain verifies: %v", report.Breaks)

	// Tampering with an operator event is detected like any account event.
	_, err = db.Owner.Exec(ctx, `ALTER TABLE account_audit_events DISABLE TRIGGER ALL`)
	require.NoError(t, err)
	_, err = db.Owner.Exec(ctx, `UPDATE account_audit_events SET target_id = 'GET /elsewhere' WHERE target_id = 'GET /ops'`)
	require.NoError(t, err)
	report, err = audit.NewService(db.Runtime).Verify(ctx, audit.VerifyOptions{})
	require.NoError(t, err)
	require.False(t, report.OK(), "a changed operator event breaks its chain")
}
