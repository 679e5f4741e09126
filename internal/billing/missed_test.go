package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// webhookEndpoint is the URL the tests tell the fake Stripe their
// deliveries went to (delivery_success of GET /v1/events).
const webhookEndpoint = "https://app.test/webhooks/stripe"

// otherOrg is another organisation on e's database and fake Stripe that
// has completed a Pro checkout, its events not delivered yet.
type otherOrg struct{ org, cus, sub string }

func (e *syncEnv) otherOrg(name string) otherOrg {
	e.t.Helper()
	org := pgtest.Org(e.t, e.db, name)
	sc := e.fake.Client()
	cus, err := sc.V1Customers.Create(e.ctx, &stripe.CustomerCreateParams{Metadata: map[string]string{CustomerOrgMetadata: org}})
	require.NoError(e.t, err)
	cs, err := sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(cus.ID), ClientReferenceID: stripe.String(org),
		SuccessURL: stripe.String("https://app.test/billing/success"),
		LineItems:  []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_pro_monthly"), Quantity: stripe.Int64(1)}},
		SubscriptionData: &stripe.CheckoutSessionCreateSubscriptionDataParams{
			Metadata: map[string]string{CustomerOrgMetadata: org}},
	})
	require.NoError(e.t, err)
	sub, err := e.fake.CompleteCheckout(cs.ID)
	require.NoError(e.t, err)
	return otherOrg{org: org, cus: cus.ID, sub: sub}
}

// deliverAll delivers every fake event not yet received as the webhook
// endpoint does, rendered in the endpoint's API version (the SDK's)
// whatever the account's default (https://docs.stripe.com/webhooks/versioning),
// processes it, and tells the fake it was delivered.
func (e *syncEnv) deliverAll() {
	e.t.Helper()
	evs := e.fake.Events()
	for _, ev := range evs[e.next:] {
		rendered := *ev
		rendered.APIVersion = stripe.APIVersion
		payload := stripefake.EventPayload(&rendered)
		id, _, err := e.ledger.Receive(e.ctx, payload, stripefake.SignPayload(payload, time.Now(), newSecret))
		require.NoError(e.t, err)
		e.process(id)
		e.fake.MarkDelivered(webhookEndpoint, id)
	}
	e.next = len(evs)
}

// ledgerVersions returns the API version recorded for each of ids.
func (e *syncEnv) ledgerVersions(ids []string) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	require.NoError(e.t, postgres.InTx(e.ctx, e.db.Runtime, postgres.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := tx.Query(e.ctx, `SELECT id, api_version FROM stripe_events WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, v string
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			out[id] = v
		}
		return rows.Err()
	}))
	return out
}

// Item 2. One organisation's events are lost while other organisations'
// keep arriving for two days, and the account's default API version was
// upgraded meanwhile (List Events renders each event in the version of its
// creation, https://docs.stripe.com/api/events/list): one reconciler run
// repairs the organisation. Before, the backfill started an hour before the
// newest event in the ledger (another organisation's) and skipped events
// of another API version: the recovered payment stayed past_due.
func TestReconcilerRepairsOneOrganisationsMissedEvents(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	e.deliverAll()
	b := e.otherOrg("Beta")
	e.deliverAll()
	r := &Reconciler{Syncer: e.syncer}
	_, err := r.Run(e.ctx) // a first run sets the backfill's cursor
	require.NoError(t, err)

	// The renewal fails, and that is delivered: past due, with a banner.
	require.NoError(t, e.fake.SetCardDeclines(e.cus, true))
	inv, err := e.fake.Renew(e.sub)
	require.NoError(t, err)
	e.deliverAll()
	require.Equal(t, stripe.SubscriptionStatusPastDue, e.account().Snapshot.Status)

	// The account's default version is upgraded; the payment recovers, and
	// every event of it is lost.
	e.fake.SetAPIVersion("2099-01-01.future")
	e.fake.Advance(time.Hour)
	require.NoError(t, e.fake.SetCardDeclines(e.cus, false))
	require.NoError(t, e.fake.PayInvoice(inv))
	var missed []string
	for _, ev := range e.fake.Events()[e.next:] {
		missed = append(missed, ev.ID)
	}
	require.NotEmpty(t, missed)
	e.skip()
	require.Equal(t, stripe.SubscriptionStatusPastDue, e.account().Snapshot.Status, "stale")

	// Two days of the other organisation's traffic, delivered.
	for i := range 4 {
		e.fake.Advance(12 * time.Hour)
		_, err := e.fake.Client().V1Subscriptions.Update(e.ctx, b.sub, &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(i%2 == 0)})
		require.NoError(t, err)
		e.deliverAll()
		_, err = r.Run(e.ctx)
		require.NoError(t, err)
	}

	// One run repairs it (the runs above did already, as early as they could).
	res, err := r.Run(e.ctx)
	require.NoError(t, err)
	require.Zero(t, res.Failed)
	a := e.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusActive, a.Snapshot.Status)
	require.True(t, a.Snapshot.FirstPaymentFailedAt.IsZero(), "grace cleared")
	e.requireEntitled(PlanPro, AccessFull)
	require.Contains(t, e.outbox(), "invoice:"+inv+":"+OutboxPaymentRecoveredEmail)
	versions := e.ledgerVersions(missed)
	require.NotEmpty(t, versions, "the missed events are in the ledger")
	for id, v := range versions {
		require.Equal(t, "2099-01-01.future", v, id)
	}

	// The backfill lists only what Stripe has not delivered, by exact types
	// (at most 20 per request), from at least Stripe's 3-day retry window.
	var lists int
	for _, req := range e.fake.Requests() {
		if req.Method != "GET" || req.Path != "/v1/events" {
			continue
		}
		lists++
		require.Equal(t, "false", req.Form.Get("delivery_success"))
		var types int
		for k := range req.Form {
			if strings.HasPrefix(k, "types[") {
				types++
			}
		}
		require.Positive(t, types)
		require.LessOrEqual(t, types, 20)
		gte := req.Form.Get("created[gte]")
		require.NotEmpty(t, gte)
	}
	require.Positive(t, lists)
}

// Item 2, the daily sweep: an organisation whose change sent no event the
// backfill could find (here: every event given up and gone from the list)
// is repaired by the sweep, which re-syncs every organisation with a
// customer and asks Stripe nothing for one without.
func TestSweepResyncsEveryOrganisationWithACustomer(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	e.deliverAll()
	b := e.otherOrg("Beta")
	e.deliverAll()
	pgtest.Org(t, e.db, "Free Ltd") // no customer

	_, err := e.fake.Client().V1Subscriptions.Update(e.ctx, e.sub, &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(true)})
	require.NoError(t, err)
	e.skip()
	require.False(t, e.account().Snapshot.CancelAtPeriodEnd, "stale")

	res, err := (&Sweeper{Syncer: e.syncer, Pace: -1}).Run(e.ctx)
	require.NoError(t, err)
	require.Equal(t, SweepResult{Synced: 2}, res)
	require.True(t, e.requireTruth().Snapshot.CancelAtPeriodEnd)
	bAccount, err := e.syncer.Account(e.ctx, b.org)
	require.NoError(t, err)
	require.Equal(t, b.sub, bAccount.SubscriptionID)
}
