package billing

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// The billing outbox: the side effects of a sync (emails to the billing
// contacts, alerts) are rows written in the sync's transaction, each under
// a natural key so that a redelivered event writes nothing new; the
// Notifier delivers them (notifier.go).

// Outbox kinds written by the Syncer.
const (
	OutboxPaymentFailedEmail    = "payment_failed_email"
	OutboxPaymentRecoveredEmail = "payment_recovered_email"
	OutboxDisputeAlert          = "dispute_funds_withdrawn_alert"
	OutboxDisputeLostAlert      = "dispute_lost_alert"
	OutboxUnknownPriceAlert     = "unknown_price_alert"
)

// outboxRow is one side effect: its natural key, its kind and its JSON
// payload (outboxPayload).
type outboxRow struct {
	key, kind string
	payload   []byte
}

// newOutbox returns the row of kind under key with payload as JSON.
func newOutbox(key, kind string, payload map[string]any) outboxRow {
	b, _ := json.Marshal(payload)
	return outboxRow{key: key, kind: kind, payload: b}
}

// paymentFailedRow is the email for failed attempt number attempt at
// invoice in: once per invoice and attempt. pendingExpiresAt, when not
// zero, says in is the invoice of a plan change pending its payment, which
// Stripe discards (voiding in) at that time.
func paymentFailedRow(in *stripe.Invoice, attempt int64, pendingExpiresAt time.Time) outboxRow {
	key := fmt.Sprintf("invoice:%s:attempt:%d:%s", in.ID, attempt, OutboxPaymentFailedEmail)
	payload := map[string]any{
		"invoice_id": in.ID, "attempt": attempt, "amount_due": in.AmountDue, "currency": in.Currency,
		"hosted_invoice_url": in.HostedInvoiceURL, "next_payment_attempt": in.NextPaymentAttempt,
	}
	if !pendingExpiresAt.IsZero() {
		payload["pending_update_expires_at"] = pendingExpiresAt.Unix()
	}
	return newOutbox(key, OutboxPaymentFailedEmail, payload)
}

// paymentRecoveredRow is the email saying that invoice in, which ended a
// dunning cycle, was paid: once per invoice.
func paymentRecoveredRow(in *stripe.Invoice) outboxRow {
	return newOutbox("invoice:"+in.ID+":"+OutboxPaymentRecoveredEmail, OutboxPaymentRecoveredEmail,
		map[string]any{"invoice_id": in.ID})
}

// disputeAlertRow is the alert of kind about dispute d: once per dispute and
// kind.
func disputeAlertRow(kind string, d *stripe.Dispute) outboxRow {
	return newOutbox("dispute:"+d.ID+":"+kind, kind,
		map[string]any{"dispute_id": d.ID, "amount": d.Amount, "currency": d.Currency})
}

// unknownPriceRow is the alert that subscription subID has no item whose
// price the plan catalogue knows (prices are its items' price IDs): once
// per subscription and set of prices.
func unknownPriceRow(subID string, prices []string) outboxRow {
	return newOutbox("subscription:"+subID+":prices:"+strings.Join(prices, ",")+":"+OutboxUnknownPriceAlert,
		OutboxUnknownPriceAlert, map[string]any{"subscription_id": subID, "price_ids": prices})
}
