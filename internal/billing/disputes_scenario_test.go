package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// Items 4 and 5. Every dispute counts: an inquiry on another charge after
// a chargeback with funds withdrawn lifts nothing (before, only the newest
// dispute was kept); the chargeback lost keeps the organisation read-only
// (the default policy) until a later invoice is paid, which clears it.
func TestScenario15EveryDisputeCountsAndALaterPaymentClearsALostOne(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	first := s.fake.InvoiceCharge(s.fake.LatestInvoice(s.sub))
	_, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	second := s.fake.InvoiceCharge(s.fake.LatestInvoice(s.sub))
	require.NotEqual(t, first, second)

	chargeback, err := s.fake.OpenDispute(first, true)
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanPro, AccessReadOnly)

	s.fake.Advance(24 * time.Hour)
	inquiry, err := s.fake.OpenDispute(second, false)
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanPro, AccessReadOnly) // the later inquiry lifts nothing
	require.Equal(t, chargeback, s.account().DisputeID)
	require.NoError(t, s.fake.CloseDispute(inquiry, true))
	s.deliver()
	s.entitled(PlanPro, AccessReadOnly)

	require.NoError(t, s.fake.CloseDispute(chargeback, false))
	s.deliver()
	s.entitled(PlanPro, AccessReadOnly) // lost: restrict
	require.Equal(t, DisputeLost, s.account().Dispute.Status)

	// The organisation pays its next invoice: the lost dispute is cleared.
	_, err = s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	require.Equal(t, DisputeNone, s.account().Dispute.Status)
	s.deliver() // redelivery changes nothing
	s.entitled(PlanPro, AccessFull)
}

// Item 5. An operator clears a lost dispute (groundwork billing
// clear-dispute): the organisation is out of read-only at once, and the
// audit log says who did it.
func TestClearLostDisputeByAnOperator(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	charge := s.fake.InvoiceCharge(s.fake.LatestInvoice(s.sub))
	d, err := s.fake.OpenDispute(charge, true)
	require.NoError(t, err)
	s.deliver()
	_, err = s.syncer.ClearLostDispute(s.ctx, s.org, d, "ops@groundwork.test")
	require.True(t, gw.ErrorCode(err) == gw.ECONFLICT, "not lost yet: %v", err)
	require.NoError(t, s.fake.CloseDispute(d, false))
	s.deliver()
	s.entitled(PlanPro, AccessReadOnly)

	_, err = s.syncer.ClearLostDispute(s.ctx, s.org, "du_unknown", "ops@groundwork.test")
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	_, err = s.syncer.ClearLostDispute(s.ctx, s.org, d, "")
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))

	ent, err := s.syncer.ClearLostDispute(s.ctx, s.org, d, "ops@groundwork.test")
	require.NoError(t, err)
	require.Equal(t, AccessFull, ent.Access)
	s.entitled(PlanPro, AccessFull)
	_, err = s.syncer.ClearLostDispute(s.ctx, s.org, d, "ops@groundwork.test")
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "cleared already")

	// Its events again change nothing; the audit log names the operator.
	require.NoError(t, s.syncer.Sync(s.ctx, s.org))
	s.entitled(PlanPro, AccessFull)
	var afters []string
	require.NoError(t, postgres.InOrgTx(s.ctx, s.db.Runtime, s.org, func(tx pgx.Tx) error {
		rows, err := tx.Query(s.ctx, `SELECT after::text FROM audit_events WHERE org_id = $1 AND action = $2 ORDER BY id`,
			s.org, audit.ActionBillingDispute)
		if err != nil {
			return err
		}
		afters, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	}))
	require.NotEmpty(t, afters)
	require.True(t, strings.Contains(afters[len(afters)-1], "operator:ops@groundwork.test"), "audited with the operator: %v", afters)
}

// An inquiry that Stripe escalates to a chargeback withdraws the funds:
// the organisation, fully entitled while the inquiry was open, is
// read-only once the escalation reaches it (the default policy), and a
// dispute that a prevention program resolved (status prevented) on another
// charge changes nothing.
func TestScenario15InquiryEscalatedToAChargeback(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	charge := s.fake.InvoiceCharge(s.fake.LatestInvoice(s.sub))

	inquiry, err := s.fake.OpenDispute(charge, false)
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	require.Equal(t, DisputeInquiry, s.account().Dispute.Status)

	require.NoError(t, s.fake.EscalateInquiry(inquiry))
	s.deliver()
	s.entitled(PlanPro, AccessReadOnly)
	require.Equal(t, inquiry, s.account().DisputeID)
	require.True(t, s.account().Dispute.FundsWithdrawn)

	_, err = s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	prevented, err := s.fake.PreventDispute(s.fake.InvoiceCharge(s.fake.LatestInvoice(s.sub)))
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanPro, AccessReadOnly) // still the chargeback's doing
	require.Equal(t, inquiry, s.account().DisputeID, "a prevented dispute does not govern")
	require.NotEqual(t, inquiry, prevented)

	require.NoError(t, s.fake.CloseDispute(inquiry, true))
	s.deliver()
	s.entitled(PlanPro, AccessFull)
}
