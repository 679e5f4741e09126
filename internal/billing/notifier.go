package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	gwmail "github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// BillingContacts returns the organisation's name and the addresses of its
// billing contacts (the members who may manage billing).
type BillingContacts func(ctx context.Context, orgID string) (orgName string, emails []string, err error)

// Notifier delivers the billing outbox: emails to the organisation's billing
// contacts and alerts to error tracking. A row is marked sent in the
// transaction that locked it, after its delivery succeeded, so each natural
// key (invoice and attempt, dispute) is delivered once; a crash between an
// alert and the commit delivers it again (at least once, never zero). The
// emails are not sent here but queued in that same transaction (the mail
// job sends them after the commit, with its own retries), so no SMTP round
// trip holds the row's lock or a pooled connection, and each is queued
// exactly once.
type Notifier struct {
	// Pool is the runtime-role pool.
	Pool *pgxpool.Pool
	// Outbox queues the emails.
	Outbox *gwmail.Outbox
	// Contacts finds who receives them.
	Contacts BillingContacts
	// Alert reports a dispute to error tracking; nil only logs it.
	Alert func(ctx context.Context, err error)
	// BaseURL is the application's public URL, for links to the billing page.
	BaseURL string
	// Logger logs what was delivered; nil discards.
	Logger *slog.Logger
}

// DeliverOutboxArgs is the job delivering an organisation's outbox on the
// billing queue. The Syncer enqueues it with the rows; the reconciler
// enqueues it for any organisation with rows left unsent.
type DeliverOutboxArgs struct {
	OrgID string `json:"org_id"`
}

// Kind implements river.JobArgs.
func (DeliverOutboxArgs) Kind() string { return "billing.deliver_outbox" }

// InsertOpts implements river.JobArgsWithInsertOpts: the billing queue. The
// jobs are not unique: a row written while a delivery runs needs a delivery
// after it, and concurrent deliveries never send a row twice (Deliver).
func (DeliverOutboxArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueBilling}
}

// DeliverOutboxWorker is the River worker of DeliverOutboxArgs.
type DeliverOutboxWorker struct {
	river.WorkerDefaults[DeliverOutboxArgs]
	Notifier *Notifier
}

// Work delivers the organisation's unsent outbox rows.
func (w *DeliverOutboxWorker) Work(ctx context.Context, job *river.Job[DeliverOutboxArgs]) error {
	_, err := w.Notifier.Deliver(ctx, job.Args.OrgID)
	return err
}

// Deliver delivers the organisation's unsent outbox rows, oldest first, and
// returns how many it delivered. Each row is locked (SKIP LOCKED, so two
// deliveries never send one row twice), delivered and marked sent in its
// own transaction; a failed row is left for the next attempt.
func (n *Notifier) Deliver(ctx context.Context, orgID string) (int, error) {
	var keys []string
	err := postgres.InOrgTx(ctx, n.Pool, orgID, func(tx pgx.Tx) error {
		var err error
		keys, err = unsentOutbox(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, key := range keys {
		err := postgres.InOrgTx(ctx, n.Pool, orgID, func(tx pgx.Tx) error {
			kind, payload, ok, err := lockUnsentOutbox(ctx, tx, orgID, key)
			if err != nil || !ok {
				return err // !ok: sent meanwhile, or being sent
			}
			if err := n.deliver(ctx, tx, orgID, key, kind, payload); err != nil {
				return err
			}
			if err := markOutboxSent(ctx, tx, orgID, key); err != nil {
				return err
			}
			sent++
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("billing: deliver outbox %s of %s: %w", key, orgID, err))
		}
	}
	return sent, errors.Join(errs...)
}

// outboxPayload is the union of the outbox kinds' payloads.
type outboxPayload struct {
	InvoiceID          string   `json:"invoice_id"`
	Attempt            int64    `json:"attempt"`
	AmountDue          int64    `json:"amount_due"`
	Currency           string   `json:"currency"`
	HostedInvoiceURL   string   `json:"hosted_invoice_url"`
	NextPaymentAttempt int64    `json:"next_payment_attempt"`
	DisputeID          string   `json:"dispute_id"`
	Amount             int64    `json:"amount"`
	SubscriptionID     string   `json:"subscription_id"`
	PriceIDs           []string `json:"price_ids"`
	// PendingUpdateExpiresAt is set for the invoice of a plan change
	// pending its payment: Stripe discards the change then.
	PendingUpdateExpiresAt int64 `json:"pending_update_expires_at"`
}

// deliver delivers one outbox row in tx, the transaction that holds it
// locked: alerts are reported, emails queued in tx.
func (n *Notifier) deliver(ctx context.Context, tx pgx.Tx, orgID, key, kind string, raw []byte) error {
	var p outboxPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	logger := n.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	switch kind {
	case OutboxDisputeAlert, OutboxDisputeLostAlert:
		what := "a payment dispute with funds withdrawn was opened"
		if kind == OutboxDisputeLostAlert {
			what = "a payment dispute was lost"
		}
		err := fmt.Errorf("billing: organisation %s: %s (dispute %s, %s)", orgID, what, p.DisputeID, FormatAmount(p.Amount, p.Currency))
		logger.WarnContext(ctx, "billing dispute", "org_id", orgID, "dispute_id", p.DisputeID, "kind", kind)
		if n.Alert != nil {
			n.Alert(ctx, err)
		}
		return nil
	case OutboxUnknownPriceAlert:
		err := fmt.Errorf("billing: organisation %s: subscription %s has no price the plan catalogue knows (%s): "+
			"add it to plans.json (prices, other_prices, lookup_keys or products) or set metadata[%s] on the price",
			orgID, p.SubscriptionID, strings.Join(p.PriceIDs, ", "), PlanMetadata)
		logger.ErrorContext(ctx, "billing unknown price", "org_id", orgID, "subscription_id", p.SubscriptionID, "price_ids", p.PriceIDs)
		if n.Alert != nil {
			n.Alert(ctx, err)
		}
		return nil
	case OutboxPaymentFailedEmail, OutboxPaymentRecoveredEmail:
		name, emails, err := n.Contacts(ctx, orgID)
		if err != nil {
			return fmt.Errorf("billing contacts: %w", err)
		}
		m := n.message(orgID, name, kind, p)
		for _, to := range emails {
			m.To = to
			if err := n.Outbox.Enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		logger.InfoContext(ctx, "billing email queued", "org_id", orgID, "key", key, "recipients", len(emails))
		return nil
	default:
		return fmt.Errorf("unknown outbox kind %q", kind)
	}
}

func (n *Notifier) message(orgID, orgName, kind string, p outboxPayload) gwmail.Message {
	page := strings.TrimRight(n.BaseURL, "/") + BillingPage(orgID)
	if kind == OutboxPaymentRecoveredEmail {
		return gwmail.Message{
			Subject: fmt.Sprintf("Payment received for %s", orgName),
			Text: fmt.Sprintf("Thank you: the payment for %s went through (invoice %s) and the subscription is back in good standing.\n\n"+
				"Billing: %s\n", orgName, p.InvoiceID, page),
		}
	}
	if p.PendingUpdateExpiresAt > 0 {
		return failedPlanChangeMessage(orgName, page, p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The payment of %s for %s failed (invoice %s, attempt %d).\n\n", FormatAmount(p.AmountDue, p.Currency), orgName, p.InvoiceID, p.Attempt)
	if p.NextPaymentAttempt > 0 {
		fmt.Fprintf(&b, "Stripe will try again on %s. ", time.Unix(p.NextPaymentAttempt, 0).UTC().Format("2 January 2006"))
	}
	b.WriteString("Please update the payment method so that your organisation keeps full access.\n\n")
	if p.HostedInvoiceURL != "" {
		fmt.Fprintf(&b, "Pay the invoice: %s\n", p.HostedInvoiceURL)
	}
	fmt.Fprintf(&b, "Billing: %s\n", page)
	return gwmail.Message{Subject: fmt.Sprintf("Payment failed for %s", orgName), Text: b.String()}
}

// failedPlanChangeMessage is the email for the failed payment of a plan
// change made with payment_behavior=pending_if_incomplete. Stripe does not
// treat it as a renewal in dunning: the change waits for the invoice to be
// paid, and at the pending update's expires_at Stripe discards the change
// and voids the invoice (https://docs.stripe.com/billing/subscriptions/pending-updates).
// So the email says the change is not applied, the plan and access are
// unchanged, and until when paying applies it; it promises no retry.
func failedPlanChangeMessage(orgName, page string, p outboxPayload) gwmail.Message {
	expires := time.Unix(p.PendingUpdateExpiresAt, 0).UTC().Format("2 January 2006 at 15:04 UTC")
	var b strings.Builder
	fmt.Fprintf(&b, "The payment of %s for the plan change of %s failed (invoice %s).\n\n", FormatAmount(p.AmountDue, p.Currency), orgName, p.InvoiceID)
	b.WriteString("The change has not been applied: your organisation stays on its current plan, with the same access.\n\n")
	fmt.Fprintf(&b, "To apply it, pay the invoice before %s. After that, Stripe discards the change and voids the invoice: nothing is owed, and you can request the change again from the billing page.\n\n", expires)
	if p.HostedInvoiceURL != "" {
		fmt.Fprintf(&b, "Pay the invoice: %s\n", p.HostedInvoiceURL)
	}
	fmt.Fprintf(&b, "Billing: %s\n", page)
	return gwmail.Message{Subject: fmt.Sprintf("Payment failed for the plan change of %s", orgName), Text: b.String()}
}

// FormatAmount formats an amount in a currency's minor unit, e.g. 1999 "eur"
// as "19.99 EUR". Zero-decimal currencies (JPY, KRW, ...) have no fraction.
func FormatAmount(minor int64, currency string) string {
	cur := strings.ToUpper(currency)
	switch cur {
	case "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return fmt.Sprintf("%d %s", minor, cur)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, cur)
}
