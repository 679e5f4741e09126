package audit

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestWritesOfOneOrganisationDoNotWaitForEachOther: an organisation's
// event recorded in an open transaction does not hold up another write of
// the same organisation (before sealing after commit, the second waited
// for the chain's lock until the first committed).
func TestWritesOfOneOrganisationDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org := gw.NewID()

	first, err := b.db.Runtime.Begin(ctx)
	require.NoError(t, err)
	defer first.Rollback(ctx)
	_, err = first.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, org)
	require.NoError(t, err)
	require.NoError(t, Record(ctx, first, contactEvent(org, 1)))

	// The second write would wait for ever behind a lock the first holds:
	// lock_timeout turns such a wait into 55P03, whatever the machine's
	// speed.
	err = postgres.InTx(ctx, b.db.Runtime, postgres.TxOptions{OrgID: org}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
			return err
		}
		return Record(ctx, tx, contactEvent(org, 2))
	})
	require.NoError(t, err, "the second write went through while the first was open")

	// The committed one is sealed first: the chain's order is the order of
	// sealing, not of ids.
	require.Equal(t, 1, b.seal(ctx))
	require.NoError(t, first.Commit(ctx))
	require.Equal(t, 1, b.seal(ctx))
	events := b.all(org) // newest id first
	require.Len(t, events, 2)
	require.EqualValues(t, 2, events[1].Seq, "the older id, committed later, sealed second")
	require.EqualValues(t, 1, events[0].Seq)
	require.Equal(t, events[0].Hash, events[1].PrevHash)

	rep, err := b.svc.Verify(ctx, VerifyOptions{OrgID: org})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
	require.EqualValues(t, 2, rep.Events)
}

// TestVerifyCountsUnsealedEvents: events waiting for the sealer are counted
// apart, carry no position or hashes, and are sealed once.
func TestVerifyCountsUnsealedEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org := gw.NewID()
	for i := range 3 {
		b.record(ctx, contactEvent(org, i))
	}
	b.seal(ctx)
	for i := range 2 {
		b.record(ctx, contactEvent(org, 10+i))
	}

	rep, err := b.svc.Verify(ctx, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.EqualValues(t, 3, rep.Events)
	require.EqualValues(t, 2, rep.Unsealed)
	require.Len(t, rep.Heads, 1)
	require.EqualValues(t, 2, rep.Heads[0].Unsealed)
	require.Contains(t, rep.Heads[0].String(), "2 not sealed yet")
	for _, e := range b.all(org)[:2] {
		require.False(t, e.Sealed())
		require.Nil(t, e.Hash)
	}

	require.Equal(t, 2, b.seal(ctx))
	require.Equal(t, 0, b.seal(ctx), "sealing twice seals nothing more")
	rep, err = b.svc.Verify(ctx, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
	require.EqualValues(t, 5, rep.Events)
	require.Zero(t, rep.Unsealed)

	// An organisation whose only event is unsealed is still listed.
	other := gw.NewID()
	b.record(ctx, contactEvent(other, 1))
	rep, err = b.svc.Verify(ctx, VerifyOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 1, rep.Unsealed)
	require.Len(t, rep.Heads, 2)
}

// TestRuntimeRoleSealsOnlyOnce: the runtime role may set an event's seq and
// hashes while they are NULL, never change a sealed event or its content,
// and never unseal one.
func TestRuntimeRoleSealsOnlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org := gw.NewID()
	b.record(ctx, contactEvent(org, 1))
	b.seal(ctx)
	b.record(ctx, contactEvent(org, 2))

	for _, sql := range []string{
		`UPDATE audit_events SET hash = prev_hash WHERE hash IS NOT NULL`,                   // rewrite a sealed hash
		`UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL`,                 // unseal
		`UPDATE audit_events SET seq = 7, prev_hash = NULL WHERE hash IS NULL`,              // half a seal
		`UPDATE audit_events SET target_id = 'forged'`,                                      // content
		`UPDATE audit_events SET seq = 9, prev_hash = hash, hash = hash WHERE hash IS NULL`, // a NULL hash stays NULL
	} {
		err := postgres.InTx(ctx, b.db.Runtime, postgres.TxOptions{OrgID: org}, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		pgErr, ok := errors.AsType[*pgconn.PgError](err)
		require.True(t, ok, "%s: %v", sql, err)
		require.Contains(t, []string{pgerrcode.InsufficientPrivilege, pgerrcode.CheckViolation}, pgErr.Code, "%s: %v", sql, err)
	}
	require.Equal(t, 1, b.seal(ctx))
	rep, err := b.svc.Verify(ctx, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
	require.EqualValues(t, 2, rep.Events)
}

// TestRolledBackEventsLeaveNothingToSeal: an event rolled back with its
// transaction is neither stored nor queued.
func TestRolledBackEventsLeaveNothingToSeal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org := gw.NewID()
	err := postgres.InTx(ctx, b.db.Runtime, postgres.TxOptions{OrgID: org}, func(tx pgx.Tx) error {
		if err := Record(ctx, tx, contactEvent(org, 1)); err != nil {
			return err
		}
		return errors.New("the change failed")
	})
	require.Error(t, err)
	require.Zero(t, b.seal(ctx))
	var queued int
	require.NoError(t, b.db.Owner.QueryRow(ctx, `SELECT count(*) FROM audit_unsealed`).Scan(&queued))
	require.Zero(t, queued)
}
