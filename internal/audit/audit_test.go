package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bundle is a test's database and a Service on it that lets every scope in.
type bundle struct {
	t   *testing.T
	db  *pgtest.DB
	svc *Service
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.New(t)
	return &bundle{t: t, db: db, svc: NewService(db.Runtime)}
}

// record records e in a transaction of its own, as the runtime role.
func (b *bundle) record(ctx context.Context, e Event) {
	b.t.Helper()
	require.NoError(b.t, b.tryRecord(ctx, e))
}

func (b *bundle) tryRecord(ctx context.Context, e Event) error {
	return postgres.InTx(ctx, b.db.Runtime, postgres.TxOptions{OrgID: e.OrgID}, func(tx pgx.Tx) error {
		return Record(ctx, tx, e)
	})
}

// ownerExec runs sql as the owner role with app.org_id set to orgID.
func (b *bundle) ownerExec(orgID, sql string, args ...any) {
	b.t.Helper()
	err := postgres.InTx(context.Background(), b.db.Owner, postgres.TxOptions{OrgID: orgID}, func(tx pgx.Tx) error {
		// The owner may do anything: a tamperer with its rights switches
		// off the trigger that refuses to change a sealed event.
		if _, err := tx.Exec(context.Background(), `ALTER TABLE audit_events DISABLE TRIGGER audit_events_seal_once`); err != nil {
			return err
		}
		tag, err := tx.Exec(context.Background(), sql, args...)
		if err == nil && tag.RowsAffected() == 0 {
			return errors.New("no row affected")
		}
		return err
	})
	require.NoError(b.t, err)
}

// seal seals every queued event, as the sealer job does.
func (b *bundle) seal(ctx context.Context) int {
	b.t.Helper()
	n, err := NewSealer(b.db.Runtime).SealAll(ctx)
	require.NoError(b.t, err)
	return n
}

// all lists every event of orgID, newest first.
func (b *bundle) all(orgID string) []Entry {
	b.t.Helper()
	p, err := b.svc.List(context.Background(), gw.Scope{OrgID: orgID, Role: gw.RoleOwner}, ListParams{Limit: 200})
	require.NoError(b.t, err)
	return p.Entries
}

func contactEvent(orgID string, i int) Event {
	return Event{OrgID: orgID, Action: ActionContactUpdated, TargetType: TargetContact, TargetID: gw.NewID(),
		Before: map[string]any{"name": fmt.Sprintf("Ada %d", i)}, After: map[string]any{"name": fmt.Sprintf("Ada %d'", i), "n": i}}
}

func TestChainsHashAndVerify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	orgA, orgB, user := gw.NewID(), gw.NewID(), gw.NewID()
	for i := range 5 {
		b.record(ctx, contactEvent(orgA, i))
	}
	for i := range 3 {
		b.record(ctx, contactEvent(orgB, i))
	}
	b.record(ctx, Event{AccountID: user, Actor: gw.Actor{UserID: user}, Action: ActionPasswordChanged, TargetType: TargetUser, TargetID: user})
	b.record(ctx, Event{AccountID: user, Actor: gw.Actor{UserID: user}, Action: ActionEmailChanged, TargetType: TargetUser, TargetID: user,
		Before: map[string]string{"email": "old@example.com"}, After: map[string]string{"email": "new@example.com"}})
	require.Equal(t, 8, b.seal(ctx), "the organisations' events are sealed after commit")

	events := b.all(orgA)
	require.Len(t, events, 5)
	for i, e := range events { // newest first
		require.EqualValues(t, 5-i, e.Seq)
		if i+1 < len(events) {
			require.Equal(t, events[i+1].Hash, e.PrevHash, "event %d links to the one before", e.Seq)
		}
	}
	require.Equal(t, zeroHash, events[4].PrevHash)
	require.Len(t, b.all(orgB), 3, "each organisation has its own chain")

	rep, err := b.svc.Verify(ctx, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
	require.EqualValues(t, 10, rep.Events)
	require.Len(t, rep.Heads, 3)
	heads := map[string]Head{}
	for _, h := range rep.Heads {
		heads[h.Chain] = h
	}
	require.EqualValues(t, 5, heads[orgA].Seq)
	require.Equal(t, events[0].Hash, heads[orgA].Hash)
	require.Equal(t, kindAccount, heads[user].Kind)
	require.EqualValues(t, 2, heads[user].Seq)

	rep, err = b.svc.Verify(ctx, VerifyOptions{OrgID: orgB})
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.EqualValues(t, 3, rep.Events)
}

func TestHashCoversEveryField(t *testing.T) {
	t.Parallel()
	base := row{kind: kindOrg, chain: gw.NewID(), seq: 3, id: gw.NewID(), time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		actorUser: gw.NewID(), action: "a", targetType: "t", targetID: "x", ip: "1.2.3.4", userAgent: "ua",
		requestID: "r", before: `{"a": 1}`, after: `{"a": 2}`, prevHash: make([]byte, 32)}
	h := base.computeHash()
	changes := map[string]func(r *row){
		"kind":      func(r *row) { r.kind = kindAccount },
		"chain":     func(r *row) { r.chain = gw.NewID() },
		"seq":       func(r *row) { r.seq = 4 },
		"id":        func(r *row) { r.id = gw.NewID() },
		"time":      func(r *row) { r.time = r.time.Add(time.Microsecond) },
		"actor":     func(r *row) { r.actorUser, r.actorKey = "", r.actorUser },
		"action":    func(r *row) { r.action = "b" },
		"target":    func(r *row) { r.targetType, r.targetID = "tx", "" }, // same bytes, other split
		"ip":        func(r *row) { r.ip = "1.2.3.5" },
		"ua":        func(r *row) { r.userAgent = "ub" },
		"request":   func(r *row) { r.requestID = "s" },
		"before":    func(r *row) { r.before = "" },
		"after":     func(r *row) { r.after = `{"a": 3}` },
		"prev_hash": func(r *row) { r.prevHash = append([]byte{1}, r.prevHash[1:]...) },
	}
	for name, change := range changes {
		r := base
		change(&r)
		require.NotEqual(t, h, r.computeHash(), name)
	}
	again := base
	require.Equal(t, h, again.computeHash(), "deterministic")
}

func TestVerifyNamesTheTamperedRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		tamper func(b *bundle, org string, events []Entry) // events newest first: events[4] is seq 1
		seq    int64
		reason string
	}{
		{"changed value", func(b *bundle, org string, _ []Entry) {
			b.ownerExec(org, `UPDATE audit_events SET after = '{"name": "Mallory"}' WHERE org_id = $1 AND seq = 3`, org)
		}, 3, "hash does not match"},
		{"changed actor", func(b *bundle, org string, _ []Entry) {
			b.ownerExec(org, `UPDATE audit_events SET actor_user_id = $2 WHERE org_id = $1 AND seq = 2`, org, gw.NewID())
		}, 2, "hash does not match"},
		{"deleted row", func(b *bundle, org string, _ []Entry) {
			b.ownerExec(org, `DELETE FROM audit_events WHERE org_id = $1 AND seq = 2`, org)
		}, 3, "events 2 to 2 are missing"},
		{"rehashed row", func(b *bundle, org string, events []Entry) {
			// A forger who rewrites a row and its hash breaks the next link.
			r := row{kind: kindOrg, chain: org}
			b.ownerExec(org, `UPDATE audit_events SET target_id = 'forged' WHERE org_id = $1 AND seq = 2`, org)
			err := postgres.InTx(ctx, b.db.Owner, postgres.TxOptions{OrgID: org}, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `ALTER TABLE audit_events DISABLE TRIGGER audit_events_seal_once`); err != nil {
					return err
				}
				rows, err := chainRows(ctx, tx, kindOrg, org, 1, 1)
				if err != nil {
					return err
				}
				r = rows[0]
				_, err = tx.Exec(ctx, `UPDATE audit_events SET hash = $2 WHERE org_id = $1 AND seq = 2`, org, r.computeHash())
				return err
			})
			require.NoError(t, err)
		}, 3, "prev_hash does not match the hash of event 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			org := gw.NewID()
			for i := range 5 {
				b.record(ctx, contactEvent(org, i))
			}
			b.seal(ctx)
			events := b.all(org)
			tt.tamper(b, org, events)

			rep, err := b.svc.Verify(ctx, VerifyOptions{})
			require.NoError(t, err)
			require.False(t, rep.OK())
			require.Len(t, rep.Breaks, 1)
			brk := rep.Breaks[0]
			require.Equal(t, org, brk.Chain)
			require.Equal(t, tt.seq, brk.Seq)
			require.Equal(t, events[5-tt.seq].ID, brk.ID, "the broken row is named by its id")
			require.Contains(t, brk.Reason, tt.reason)
			require.Contains(t, brk.String(), events[5-tt.seq].ID)
		})
	}

	t.Run("account chain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		user := gw.NewID()
		for range 3 {
			b.record(ctx, Event{AccountID: user, Action: ActionPasswordChanged, TargetType: TargetUser, TargetID: user})
		}
		_, err := b.db.Owner.Exec(ctx, `UPDATE account_audit_events SET ip = '6.6.6.6' WHERE user_id = $1 AND seq = 1`, user)
		require.NoError(t, err)
		rep, err := b.svc.Verify(ctx, VerifyOptions{})
		require.NoError(t, err)
		require.Len(t, rep.Breaks, 1)
		require.Equal(t, user, rep.Breaks[0].Chain)
		require.EqualValues(t, 1, rep.Breaks[0].Seq)
	})
}

func TestRuntimeRoleCannotChangeAuditRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org, user := gw.NewID(), gw.NewID()
	b.record(ctx, contactEvent(org, 1))
	b.record(ctx, Event{AccountID: user, Action: ActionPasswordChanged, TargetType: TargetUser, TargetID: user})
	b.seal(ctx)

	for _, sql := range []string{
		`UPDATE audit_events SET action = 'x'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
		`UPDATE account_audit_events SET action = 'x'`,
		`DELETE FROM account_audit_events`,
		`TRUNCATE account_audit_events`,
		`DELETE FROM audit_chains`,
		`UPDATE audit_chains SET started_at = now()`,
		`UPDATE audit_unsealed SET id = chain_id`,
		`TRUNCATE audit_unsealed`,
	} {
		err := pgx.BeginFunc(ctx, b.db.Runtime, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, org); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql)
			return err
		})
		pgErr, ok := errors.AsType[*pgconn.PgError](err)
		require.True(t, ok, "%s: %v", sql, err)
		require.Equal(t, pgerrcode.InsufficientPrivilege, pgErr.Code, "%s: %v", sql, err)
		require.Contains(t, pgErr.Message, "permission denied", sql)
	}
	require.Len(t, b.all(org), 1)
	rep, err := b.svc.Verify(ctx, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.EqualValues(t, 2, rep.Events)
}

func TestConcurrentAppendsKeepTheChainIntact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org, other := gw.NewID(), gw.NewID()
	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each+2)
	done := make(chan struct{})
	var sealers sync.WaitGroup
	for range 2 { // two sealers at once, as on two worker instances
		sealers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := NewSealer(b.db.Runtime).SealAll(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				target := org
				if w == 0 {
					target = other // a second chain, appended to at the same time
				}
				// Hold the transaction open a moment after recording, so
				// that others record while it is open.
				errs <- postgres.InTx(ctx, b.db.Runtime, postgres.TxOptions{OrgID: target}, func(tx pgx.Tx) error {
					if err := Record(ctx, tx, contactEvent(target, w*100+i)); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `SELECT pg_sleep(0.001)`)
					return err
				})
			}
		})
	}
	wg.Wait()
	close(done)
	sealers.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	b.seal(ctx)
	events := b.all(org)
	require.Len(t, events, (writers-1)*each)
	seen := map[int64]bool{}
	for _, e := range events {
		seen[e.Seq] = true
	}
	for seq := int64(1); seq <= int64(len(events)); seq++ {
		require.True(t, seen[seq], "seq %d present: no gaps, no forks", seq)
	}
	rep, err := b.svc.Verify(ctx, VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
	require.EqualValues(t, writers*each, rep.Events)
}

func TestRecordRollsBackWithItsTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org := gw.NewID()
	boom := errors.New("the change failed")
	err := postgres.InOrgTx(ctx, b.db.Runtime, org, func(tx pgx.Tx) error {
		if err := Record(ctx, tx, contactEvent(org, 1)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Empty(t, b.all(org))
	b.record(ctx, contactEvent(org, 2))
	b.seal(ctx)
	require.EqualValues(t, 1, b.all(org)[0].Seq, "the rolled-back event left no gap")
}

func TestRecordTakesContextAndRedactsSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	org, user := gw.NewID(), gw.NewID()
	ctx := gw.WithScope(context.Background(), gw.Scope{Actor: gw.Actor{UserID: user}, OrgID: org, Role: gw.RoleOwner})
	ctx = gw.WithClient(ctx, gw.Client{IP: "203.0.113.9", UserAgent: "Firefox/140"})
	ctx = gw.WithRequestID(ctx, "req-1")
	recordedFrom := time.Now().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	b.record(ctx, Event{OrgID: org, Action: ActionAPIKeyCreated, TargetType: TargetAPIKey, TargetID: "k1",
		After: map[string]any{"name": "ci", "key": "gw_abc_secret", "key_hash": []byte{1}, "token": "", "nested": map[string]any{"ok": 1.5}}})
	e := b.all(org)[0]
	require.Equal(t, gw.Actor{UserID: user}, e.Actor)
	require.Equal(t, "203.0.113.9", e.IP)
	require.Equal(t, "Firefox/140", e.UserAgent)
	require.Equal(t, "req-1", e.RequestID)
	require.False(t, e.Time.Before(recordedFrom) || e.Time.After(time.Now()), "recorded at %s, between %s and now", e.Time, recordedFrom)
	require.Nil(t, e.Before)
	require.JSONEq(t, `{"name":"ci","key":"[redacted]","key_hash":"[redacted]","token":"","nested":{"ok":1.5}}`, string(e.After))

	// Given values win over the context's.
	key := gw.NewID()
	b.record(ctx, Event{OrgID: org, Actor: gw.Actor{APIKeyID: key}, IP: "198.51.100.1", Action: ActionContactDeleted,
		TargetType: TargetContact, Before: map[string]string{"email": Redact("a@b.example"), "phone": Redact("")}})
	e = b.all(org)[0]
	require.Equal(t, gw.Actor{APIKeyID: key}, e.Actor)
	require.Equal(t, "198.51.100.1", e.IP)
	require.JSONEq(t, `{"email":"[redacted]","phone":""}`, string(e.Before))

	rep, err := b.svc.Verify(context.Background(), VerifyOptions{OrgID: org})
	require.NoError(t, err)
	require.True(t, rep.OK(), "values normalised by PostgreSQL hash the same when read back")
}

func TestRecordRefusesMisuse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org := gw.NewID()
	tests := map[string]Event{
		"no chain":       {Action: ActionContactCreated, TargetType: TargetContact},
		"no action":      {OrgID: org, TargetType: TargetContact},
		"bad actor":      {OrgID: org, Action: ActionContactCreated, TargetType: TargetContact, Actor: gw.Actor{UserID: "bob"}},
		"not an object":  {OrgID: org, Action: ActionContactCreated, TargetType: TargetContact, After: []string{"x"}},
		"not encodable":  {OrgID: org, Action: ActionContactCreated, TargetType: TargetContact, After: map[string]any{"f": func() {}}},
		"no such target": {OrgID: org, Action: ActionContactCreated},
	}
	for name, e := range tests {
		require.Error(t, b.tryRecord(ctx, e), name)
	}
	// An organisation's event in a transaction scoped to another one is
	// refused by row-level security.
	err := postgres.InOrgTx(ctx, b.db.Runtime, gw.NewID(), func(tx pgx.Tx) error {
		return Record(ctx, tx, contactEvent(org, 1))
	})
	require.Error(t, err)
	require.Empty(t, b.all(org))
}
