package billing

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	gwmail "github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// scenario is an organisation on a fresh database with the whole billing
// module: the Service behind the billing page, the ledger the webhook route
// writes, the Syncer the worker runs, the Notifier sending over real SMTP,
// all talking to the fake Stripe.
type scenario struct {
	*syncEnv
	svc      *Service
	notifier *Notifier
	smtp     *mailtest.Mailbox // the emails the mail job worker sent
	alerts   []string
	scope    gw.Scope
}

var scenarioPrices = []stripefake.Price{
	{ID: "price_pro_monthly", Product: "prod_pro", UnitAmount: 3000},
	{ID: "price_pro_yearly", Product: "prod_pro", UnitAmount: 30000, Interval: "year"},
	{ID: "price_business_monthly", Product: "prod_business", UnitAmount: 9000},
	{ID: "price_business_yearly", Product: "prod_business", UnitAmount: 90000, Interval: "year"},
}

func newScenario(t *testing.T, opts stripefake.Options) *scenario {
	t.Helper()
	m := newModule(t, opts)
	ctx, db, fake, syncer, ledger, svc := m.ctx, m.db, m.fake, m.syncer, m.ledger, m.svc
	// Every request the application made (and the test drove) must be one
	// Stripe's API accepts: stripe-mock validates it against the OpenAPI spec.
	t.Cleanup(func() { stripefake.CheckShapesAgainstStripeMock(t, fake.Requests()) })

	org := pgtest.Org(t, db, "Acme")
	smtp := mailtest.Start(t)
	mailer, err := gwmail.NewSMTP(smtp.URL(), "Groundwork <billing@app.test>")
	require.NoError(t, err)
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	outbox, mailJobs := mailtest.Outbox(t, db.Runtime, keys, mailer)
	sc := &scenario{
		syncEnv: &syncEnv{t: t, ctx: ctx, db: db, fake: fake, syncer: syncer, ledger: ledger, org: org},
		svc:     svc, smtp: mailJobs.Mailbox(t, smtp),
		scope: gw.Scope{Actor: gw.Actor{UserID: uuid.NewString()}, OrgID: org, Role: gw.RoleOwner},
	}
	sc.notifier = &Notifier{Pool: db.Runtime, Outbox: outbox, BaseURL: "https://app.test",
		Contacts: func(context.Context, string) (string, []string, error) {
			return "Acme", []string{"owner@acme.test", "cfo@acme.test"}, nil
		},
		Alert: func(_ context.Context, err error) { sc.alerts = append(sc.alerts, err.Error()) }}
	return sc
}

// checkout starts a checkout on the billing page and returns the session ID.
func (s *scenario) checkout(plan PlanID, in CheckoutInput) string {
	s.t.Helper()
	in.Plan = plan
	if in.Interval == "" {
		in.Interval = IntervalMonth
	}
	u, err := s.svc.StartCheckout(s.ctx, s.scope, in)
	require.NoError(s.t, err)
	id := u[strings.LastIndex(u, "/")+1:]
	require.True(s.t, strings.HasPrefix(id, "cs_"), "checkout URL %s", u)
	return id
}

// subscribe checks out plan and completes the payment on the fake; the
// webhooks are not delivered yet.
func (s *scenario) subscribe(plan PlanID) {
	s.t.Helper()
	sub, err := s.fake.CompleteCheckout(s.checkout(plan, CheckoutInput{}))
	require.NoError(s.t, err)
	s.sub = sub
	s.cus = s.account().CustomerID
}

// deliver records every fake event not yet received, processes them, and
// delivers the outbox, as the webhook route, the worker and the notifier do.
func (s *scenario) deliver() {
	s.t.Helper()
	ids, _ := s.receive()
	s.process(ids...)
	s.send()
}

// send delivers the outbox.
func (s *scenario) send() {
	s.t.Helper()
	_, err := s.notifier.Deliver(s.ctx, s.org)
	require.NoError(s.t, err)
}

// mails returns the subjects of the emails received, by recipient.
func (s *scenario) mails() map[string][]string {
	out := map[string][]string{}
	for _, m := range s.smtp.Messages() {
		for _, to := range m.To {
			out[to] = append(out[to], m.Subject)
		}
	}
	return out
}

// entitled asserts the organisation's entitlements now.
func (s *scenario) entitled(plan PlanID, access Access) Entitlements {
	s.t.Helper()
	e, err := s.svc.Entitlements(s.ctx, s.scope)
	require.NoError(s.t, err)
	require.Equal(s.t, plan, e.Plan, "plan (%s)", e.Reason)
	require.Equal(s.t, access, e.Access, "access (%s)", e.Reason)
	return e
}

// auditActions returns the organisation's audit actions, oldest first.
func (s *scenario) auditActions() []string {
	s.t.Helper()
	var out []string
	require.NoError(s.t, postgres.InOrgTx(s.ctx, s.db.Runtime, s.org, func(tx pgx.Tx) error {
		rows, err := tx.Query(s.ctx, `SELECT action FROM audit_events WHERE org_id = $1 ORDER BY id`, s.org)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	}))
	return out
}
