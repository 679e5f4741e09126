package billing

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	oldSecret = "whsec_old_secret"
	newSecret = "whsec_new_secret"
)

// ledgerEnv is a Ledger on a fresh database with an insert-only River client.
type ledgerEnv struct {
	db     *pgtest.DB
	ledger *Ledger
}

func newLedgerEnv(t *testing.T, secrets ...string) *ledgerEnv {
	t.Helper()
	db := pgtest.New(t)
	client, err := jobs.NewClient(db.Runtime, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ledger, err := NewLedger(db.Runtime, client, secrets...)
	require.NoError(t, err)
	return &ledgerEnv{db: db, ledger: ledger}
}

// counts returns the ledger rows and the billing jobs for eventID.
func (e *ledgerEnv) counts(t *testing.T, eventID string) (events, jobsQueued int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.db.Runtime.QueryRow(ctx,
		`SELECT count(*) FROM stripe_events WHERE id = $1`, eventID).Scan(&events))
	require.NoError(t, e.db.Runtime.QueryRow(ctx,
		`SELECT count(*) FROM river_job WHERE kind = $1 AND queue = $2 AND args->>'event_id' = $3`,
		ProcessEventArgs{}.Kind(), jobs.QueueBilling, eventID).Scan(&jobsQueued))
	return events, jobsQueued
}

// total returns all ledger rows and all jobs.
func (e *ledgerEnv) total(t *testing.T) (events, jobsQueued int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.db.Runtime.QueryRow(ctx, `SELECT count(*) FROM stripe_events`).Scan(&events))
	require.NoError(t, e.db.Runtime.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&jobsQueued))
	return events, jobsQueued
}

func eventPayload(id, apiVersion string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"invoice.paid","api_version":%q,"created":1779278400,`+
		`"livemode":false,"pending_webhooks":1,"data":{"object":{"id":"in_123","object":"invoice","status":"paid"}}}`,
		id, apiVersion)
}

func sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// signTwice signs like Stripe during a secret roll: one v1 signature per secret.
func signTwice(payload []byte, at time.Time, secrets ...string) string {
	h := fmt.Sprintf("t=%d", at.Unix())
	for _, s := range secrets {
		h += ",v1=" + hex.EncodeToString(webhook.ComputeSignature(at, payload, s))
	}
	return h
}

func TestReceiveRecordsAndEnqueues(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t, newSecret)
	ctx := context.Background()
	payload := eventPayload("evt_1", stripe.APIVersion)

	// PostgreSQL's timestamps have microseconds: truncate to compare.
	beforeReceive := time.Now().Truncate(time.Microsecond)
	id, dup, err := e.ledger.Receive(ctx, payload, sign(payload, newSecret, time.Now()))
	require.NoError(t, err)
	require.Equal(t, "evt_1", id)
	require.False(t, dup)
	events, queued := e.counts(t, "evt_1")
	require.Equal(t, 1, events)
	require.Equal(t, 1, queued)

	var typ, version string
	var created, received time.Time
	var processed *time.Time
	var attempts int
	var stored []byte
	require.NoError(t, e.db.Runtime.QueryRow(ctx, `SELECT type, api_version, created, received_at, processed_at, attempts, payload
		FROM stripe_events WHERE id = 'evt_1'`).Scan(&typ, &version, &created, &received, &processed, &attempts, &stored))
	require.Equal(t, "invoice.paid", typ)
	require.Equal(t, stripe.APIVersion, version)
	require.Equal(t, time.Unix(1779278400, 0).UTC(), created.UTC())
	require.WithinRange(t, received, beforeReceive, time.Now(), "received during Receive, however long it took")
	require.Nil(t, processed)
	require.Zero(t, attempts)
	require.JSONEq(t, string(payload), string(stored))
}

// failingInserter fails every enqueue.
type failingInserter struct{}

func (failingInserter) InsertTx(context.Context, pgx.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return nil, errors.New("queue unavailable")
}

func TestReceiveLedgerAndJobShareATransaction(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t, newSecret)
	ctx := context.Background()
	broken, err := NewLedger(e.db.Runtime, failingInserter{}, newSecret)
	require.NoError(t, err)
	payload := eventPayload("evt_tx", stripe.APIVersion)

	_, _, err = broken.Receive(ctx, payload, sign(payload, newSecret, time.Now()))
	require.ErrorContains(t, err, "queue unavailable")
	events, _ := e.counts(t, "evt_tx")
	require.Zero(t, events, "the ledger insert is rolled back with the failed enqueue")

	// Stripe redelivers; this time the queue works, and the event is not
	// mistaken for a duplicate.
	_, dup, err := e.ledger.Receive(ctx, payload, sign(payload, newSecret, time.Now()))
	require.NoError(t, err)
	require.False(t, dup)
	events, queued := e.counts(t, "evt_tx")
	require.Equal(t, 1, events)
	require.Equal(t, 1, queued)
}

func TestReceiveDuplicateDelivery(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t, newSecret)
	ctx := context.Background()
	payload := eventPayload("evt_dup", stripe.APIVersion)

	for i, wantDup := range []bool{false, true, true} {
		// Each redelivery is signed afresh, as Stripe does.
		id, dup, err := e.ledger.Receive(ctx, payload, sign(payload, newSecret, time.Now().Add(time.Duration(i)*time.Second)))
		require.NoError(t, err)
		require.Equal(t, "evt_dup", id)
		require.Equal(t, wantDup, dup, "delivery %d", i)
	}
	events, queued := e.counts(t, "evt_dup")
	require.Equal(t, 1, events)
	require.Equal(t, 1, queued)
}

func TestReceiveConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t, newSecret)
	ctx := context.Background()

	for round := range 5 {
		id := fmt.Sprintf("evt_race_%d", round)
		payload := eventPayload(id, stripe.APIVersion)
		header := sign(payload, newSecret, time.Now())
		const n = 2
		var wg sync.WaitGroup
		start := make(chan struct{})
		dups := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				_, dups[i], errs[i] = e.ledger.Receive(ctx, payload, header)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		firsts := 0
		for _, d := range dups {
			if !d {
				firsts++
			}
		}
		require.Equal(t, 1, firsts, "exactly one delivery records the event")
		events, queued := e.counts(t, id)
		require.Equal(t, 1, events)
		require.Equal(t, 1, queued)
	}
}

func TestReceiveRefusesAndStoresNothing(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t, newSecret)
	ctx := context.Background()
	good := eventPayload("evt_bad", stripe.APIVersion)
	notEvent := []byte(`{"id":"in_1","object":"invoice"}`)
	huge := []byte(`{"id":"evt_big","object":"event","pad":"` + strings.Repeat("x", MaxWebhookBody) + `"}`)

	for _, tc := range []struct {
		name    string
		payload []byte
		header  string
		code    string
		msg     string
	}{
		{"no header", good, "", gw.EINVALID, "Stripe-Signature"},
		{"garbage header", good, "nonsense", gw.EINVALID, "Stripe-Signature"},
		{"wrong secret", good, sign(good, "whsec_attacker", time.Now()), gw.EINVALID, "no valid Stripe signature"},
		{"body altered after signing", good, sign(eventPayload("evt_other", stripe.APIVersion), newSecret, time.Now()),
			gw.EINVALID, "no valid Stripe signature"},
		{"stale timestamp", good, sign(good, newSecret, time.Now().Add(-WebhookTolerance-5*time.Second)),
			gw.EINVALID, "tolerance"},
		{"signed, but not an event", notEvent, sign(notEvent, newSecret, time.Now()), gw.EMALFORMED, "not a Stripe event"},
		{"over the size cap", huge, sign(huge, newSecret, time.Now()), gw.ETOOLARGE, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, dup, err := e.ledger.Receive(ctx, tc.payload, tc.header)
			require.Error(t, err)
			require.Empty(t, id)
			require.False(t, dup)
			require.Equal(t, tc.code, gw.ErrorCode(err), "%v", err)
			require.Contains(t, gw.ErrorMessage(err), tc.msg)
		})
	}
	events, queued := e.total(t)
	require.Zero(t, events, "nothing stored")
	require.Zero(t, queued, "nothing enqueued")
}

func TestReceiveAcceptsRotatedSecrets(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t, newSecret)
	rolling, err := NewLedger(e.db.Runtime, mustClient(t, e), oldSecret, newSecret)
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Now()

	for i, tc := range []struct {
		name    string
		ledger  *Ledger
		secrets []string // the signatures in the header
		ok      bool
	}{
		{"new secret configured, old and new signatures", e.ledger, []string{oldSecret, newSecret}, true},
		{"new secret configured, new and old signatures", e.ledger, []string{newSecret, oldSecret}, true},
		{"new secret configured, old signature only", e.ledger, []string{oldSecret}, false},
		{"both configured, old signature only", rolling, []string{oldSecret}, true},
		{"both configured, new signature only", rolling, []string{newSecret}, true},
		{"both configured, two foreign signatures", rolling, []string{"whsec_x", "whsec_y"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evt := fmt.Sprintf("evt_rot_%d", i)
			payload := eventPayload(evt, stripe.APIVersion)
			_, _, err := tc.ledger.Receive(ctx, payload, signTwice(payload, now, tc.secrets...))
			events, queued := e.counts(t, evt)
			if !tc.ok {
				require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
				require.Zero(t, events)
				require.Zero(t, queued)
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, events)
			require.Equal(t, 1, queued)
		})
	}
}

func mustClient(t *testing.T, e *ledgerEnv) JobInserter {
	t.Helper()
	client, err := jobs.NewClient(e.db.Runtime, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return client
}

func TestNewLedgerNeedsASecret(t *testing.T) {
	t.Parallel()
	_, err := NewLedger(nil, failingInserter{})
	require.Error(t, err)
	_, err = NewLedger(nil, failingInserter{}, newSecret, "")
	require.Error(t, err)
}

// TestReceiveRecordsEventsOfAnotherAPIVersion: an event whose API version
// is not ours (an endpoint left on the account's older version, or another
// release train) is recorded and enqueued like any other, since processing
// re-fetches every object; the skew is reported to OnVersionSkew once per
// new event, not for duplicates.
func TestReceiveRecordsEventsOfAnotherAPIVersion(t *testing.T) {
	t.Parallel()
	e := newLedgerEnv(t, newSecret)
	ctx := context.Background()
	var skews []error
	e.ledger.OnVersionSkew = func(_ context.Context, err error) { skews = append(skews, err) }
	for i, version := range []string{"2024-06-20", "2025-03-31.basil"} {
		id := fmt.Sprintf("evt_version_%d", i)
		payload := eventPayload(id, version)
		got, dup, err := e.ledger.Receive(ctx, payload, sign(payload, newSecret, time.Now()))
		require.NoError(t, err)
		require.Equal(t, id, got)
		require.False(t, dup)
		events, queued := e.counts(t, id)
		require.Equal(t, 1, events)
		require.Equal(t, 1, queued)
		var stored string
		require.NoError(t, e.db.Runtime.QueryRow(ctx, `SELECT api_version FROM stripe_events WHERE id = $1`, id).Scan(&stored))
		require.Equal(t, version, stored)
		require.Len(t, skews, i+1)
		require.ErrorIs(t, skews[i], ErrAPIVersionMismatch)
		require.ErrorContains(t, skews[i], version)
		require.NotContains(t, skews[i].Error(), id, "no event ID: the alerts group")

		_, dup, err = e.ledger.Receive(ctx, payload, sign(payload, newSecret, time.Now()))
		require.NoError(t, err)
		require.True(t, dup)
		require.Len(t, skews, i+1, "a duplicate is not alerted again")
	}
	payload := eventPayload("evt_our_version", stripe.APIVersion)
	_, _, err := e.ledger.Receive(ctx, payload, sign(payload, newSecret, time.Now()))
	require.NoError(t, err)
	require.Len(t, skews, 2, "our own version is no skew")
}
