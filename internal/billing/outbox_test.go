package billing

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"
)

// Table tests of the outbox rows a sync writes (outbox.go) and of which
// payment-failed emails it calls for (snapshot.go): no database, no Stripe.

func TestPaymentFailedEmails(t *testing.T) {
	t.Parallel()
	open1 := testInvoice("in_1", stripe.InvoiceStatusOpen, 1)
	open2 := testInvoice("in_2", stripe.InvoiceStatusOpen, 1)
	foreign := testInvoice("in_3", stripe.InvoiceStatusOpen, 1)
	foreign.Customer = stripeCustomer("cus_2")
	key := func(inv string, attempt int) string {
		return fmt.Sprintf("invoice:%s:attempt:%d:payment_failed_email", inv, attempt)
	}
	for _, tc := range []struct {
		name   string
		status stripe.SubscriptionStatus
		h      syncHint
		f      fetched
		want   []string
	}{
		{name: "open latest invoice, one attempt", status: stripe.SubscriptionStatusPastDue,
			f: fetched{invoice: open1}, want: []string{key("in_1", 1)}},
		{name: "the event's attempt of the same invoice too (the outbox keeps one per key)",
			status: stripe.SubscriptionStatusPastDue, h: syncHint{failedAttempt: 1},
			f: fetched{invoice: open1, eventInvoice: open1}, want: []string{key("in_1", 1), key("in_1", 1)}},
		{name: "a later attempt from the event", status: stripe.SubscriptionStatusPastDue, h: syncHint{failedAttempt: 2},
			f: fetched{invoice: open1, eventInvoice: open1}, want: []string{key("in_1", 1), key("in_1", 2)}},
		{name: "the event's invoice is not the latest", status: stripe.SubscriptionStatusActive, h: syncHint{failedAttempt: 3},
			f: fetched{invoice: testInvoice("in_1", stripe.InvoiceStatusPaid, 1), eventInvoice: open2}, want: []string{key("in_2", 3)}},
		{name: "another customer's invoice", status: stripe.SubscriptionStatusPastDue, h: syncHint{failedAttempt: 1},
			f: fetched{eventInvoice: foreign}},
		{name: "paid since", status: stripe.SubscriptionStatusActive,
			f: fetched{invoice: testInvoice("in_1", stripe.InvoiceStatusPaid, 2)}},
		{name: "no attempt yet", status: stripe.SubscriptionStatusActive, f: fetched{invoice: testInvoice("in_1", stripe.InvoiceStatusOpen, 0)}},
		{name: "incomplete: Checkout's to retry, not dunning", status: stripe.SubscriptionStatusIncomplete,
			f: fetched{invoice: open1}},
		{name: "subscription ended", status: stripe.SubscriptionStatusCanceled, f: fetched{invoice: open1}},
		{name: "no subscription", status: "", f: fetched{invoice: open1}},
		{name: "no invoice", status: stripe.SubscriptionStatusPastDue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, rowKeys(paymentFailedEmails(tc.status, "cus_1", tc.h, tc.f)))
		})
	}
}

func TestOutboxPayloads(t *testing.T) {
	t.Parallel()
	inv := testInvoice("in_1", stripe.InvoiceStatusOpen, 2)
	inv.NextPaymentAttempt = syncT0.Unix()
	d := &stripe.Dispute{ID: "dp_1", Amount: 500, Currency: "usd"}
	for _, tc := range []struct {
		row         outboxRow
		key, kind   string
		wantPayload string
	}{
		{row: paymentFailedRow(inv, 2, time.Time{}), key: "invoice:in_1:attempt:2:payment_failed_email", kind: OutboxPaymentFailedEmail,
			wantPayload: `{"invoice_id":"in_1","attempt":2,"amount_due":1999,"currency":"eur",
				"hosted_invoice_url":"https://pay.test/in_1","next_payment_attempt":` + jsonInt(syncT0.Unix()) + `}`},
		{row: paymentFailedRow(inv, 1, syncT0), key: "invoice:in_1:attempt:1:payment_failed_email", kind: OutboxPaymentFailedEmail,
			wantPayload: `{"invoice_id":"in_1","attempt":1,"amount_due":1999,"currency":"eur",
				"hosted_invoice_url":"https://pay.test/in_1","next_payment_attempt":` + jsonInt(syncT0.Unix()) +
				`,"pending_update_expires_at":` + jsonInt(syncT0.Unix()) + `}`},
		{row: paymentRecoveredRow(inv), key: "invoice:in_1:payment_recovered_email", kind: OutboxPaymentRecoveredEmail,
			wantPayload: `{"invoice_id":"in_1"}`},
		{row: disputeAlertRow(OutboxDisputeAlert, d), key: "dispute:dp_1:dispute_funds_withdrawn_alert", kind: OutboxDisputeAlert,
			wantPayload: `{"dispute_id":"dp_1","amount":500,"currency":"usd"}`},
		{row: disputeAlertRow(OutboxDisputeLostAlert, d), key: "dispute:dp_1:dispute_lost_alert", kind: OutboxDisputeLostAlert,
			wantPayload: `{"dispute_id":"dp_1","amount":500,"currency":"usd"}`},
	} {
		require.Equal(t, tc.key, tc.row.key)
		require.Equal(t, tc.kind, tc.row.kind)
		require.JSONEq(t, tc.wantPayload, string(tc.row.payload), tc.key)
		var p outboxPayload // what the Notifier decodes
		require.NoError(t, json.Unmarshal(tc.row.payload, &p))
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
