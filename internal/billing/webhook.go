package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// MaxWebhookBody is the largest webhook body accepted, 256 KiB. Stripe's
// events are a few KiB; the HTTP handler reads at most this many bytes (plus
// one, to tell a body that is exactly at the cap from one over it) before
// calling Receive, which refuses anything larger.
const MaxWebhookBody = 256 << 10

// WebhookTolerance is how old a signature's timestamp may be: older
// deliveries are refused as possible replays.
const WebhookTolerance = 300 * time.Second

// ErrAPIVersionMismatch is in the chain of the error Ledger.OnVersionSkew
// is given for an event whose API version is not stripe.APIVersion, the
// version this build of stripe-go decodes. Such an event is recorded and
// processed all the same: processing reads only IDs from it and re-fetches
// every object through the API in our version
// (https://docs.stripe.com/upgrades#how-can-i-upgrade-my-api: an endpoint
// keeps its version while the account's changes). Refusing it would fail
// every delivery until Stripe disables the endpoint. The skew is alerted so
// that the endpoint is upgraded (docs/billing.md, "API version upgrades").
var ErrAPIVersionMismatch = errors.New("stripe webhook event API version mismatch")

// ProcessEventArgs is the River job that processes one recorded Stripe event
// on the billing queue.
type ProcessEventArgs struct {
	EventID string `json:"event_id"`
}

// Kind implements river.JobArgs.
func (ProcessEventArgs) Kind() string { return "billing.process_event" }

// InsertOpts implements river.JobArgsWithInsertOpts: the billing queue.
func (ProcessEventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueBilling}
}

// JobInserter enqueues a job in a transaction. *river.Client[pgx.Tx], even
// an insert-only one, is a JobInserter.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Ledger records verified Stripe webhook events in stripe_events and enqueues
// their processing.
type Ledger struct {
	pool    *pgxpool.Pool
	jobs    JobInserter
	secrets []string
	// OnVersionSkew, when set, is told of each newly recorded event whose
	// API version is not stripe.APIVersion (ErrAPIVersionMismatch in the
	// error's chain): serve points it at error tracking.
	OnVersionSkew func(ctx context.Context, err error)
}

// NewLedger returns a Ledger writing to pool (as the runtime role) and
// enqueueing with jobs. secrets are the webhook signing secrets
// (STRIPE_WEBHOOK_SECRET): while a secret is rolled, Stripe signs each
// delivery with the old and the new, and either may be configured here.
func NewLedger(pool *pgxpool.Pool, jobs JobInserter, secrets ...string) (*Ledger, error) {
	if len(secrets) == 0 {
		return nil, errors.New("billing: no Stripe webhook signing secret")
	}
	for _, s := range secrets {
		if s == "" {
			return nil, errors.New("billing: empty Stripe webhook signing secret")
		}
	}
	return &Ledger{pool: pool, jobs: jobs, secrets: secrets}, nil
}

// Receive verifies a webhook delivery, the raw request body and its
// Stripe-Signature header, and records it: it inserts the event into the
// ledger and, in the same transaction, enqueues a ProcessEventArgs job. A
// delivery of an event already recorded is a duplicate: it inserts and
// enqueues nothing, and is acknowledged like the first.
//
// It refuses, storing nothing: a body over MaxWebhookBody (ETOOLARGE); a
// missing or wrong signature, or one older than WebhookTolerance (EINVALID);
// a body that is not a Stripe event (EMALFORMED). An event in another API
// version is recorded like any other, and reported to OnVersionSkew.
func (l *Ledger) Receive(ctx context.Context, payload []byte, sigHeader string) (eventID string, duplicate bool, err error) {
	if len(payload) > MaxWebhookBody {
		return "", false, gw.Errorf(gw.ETOOLARGE, "webhook body over %d bytes", MaxWebhookBody)
	}
	ev, err := l.verify(payload, sigHeader)
	if err != nil {
		return "", false, err
	}
	if ev.ID == "" || ev.Type == "" {
		return "", false, gw.Errorf(gw.EMALFORMED, "webhook event without id or type")
	}
	err = postgres.InTx(ctx, l.pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		added, err := insertEvent(ctx, tx, &ev, payload)
		if err != nil {
			return err
		}
		if !added {
			duplicate = true
			return nil
		}
		if _, err := l.jobs.InsertTx(ctx, tx, ProcessEventArgs{EventID: ev.ID}, nil); err != nil {
			return fmt.Errorf("enqueue stripe event %s: %w", ev.ID, err)
		}
		return nil
	})
	if err != nil {
		return "", false, err
	}
	if !duplicate && ev.APIVersion != stripe.APIVersion && l.OnVersionSkew != nil {
		// No event ID in the message: error tracking groups the alerts.
		l.OnVersionSkew(ctx, fmt.Errorf("%w: the webhook endpoint sends API version %q, this build expects %q; "+
			"events are recorded and processed, but upgrade the endpoint (docs/billing.md, API version upgrades)",
			ErrAPIVersionMismatch, ev.APIVersion, stripe.APIVersion))
	}
	return ev.ID, duplicate, nil
}

// verify checks the signature against each configured secret (any of the
// header's v1 signatures may match) and decodes the event, whatever its API
// version (see ErrAPIVersionMismatch).
func (l *Ledger) verify(payload []byte, sigHeader string) (stripe.Event, error) {
	opts := webhook.ConstructEventOptions{Tolerance: WebhookTolerance, IgnoreAPIVersionMismatch: true}
	for _, secret := range l.secrets {
		ev, err := webhook.ConstructEventWithOptions(payload, sigHeader, secret, opts)
		if err == nil {
			return ev, nil
		}
		switch {
		case errors.Is(err, webhook.ErrNoValidSignature):
			continue // perhaps signed with another of the secrets
		case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader):
			return stripe.Event{}, gw.Errorf(gw.EINVALID, "missing or malformed Stripe-Signature header")
		case errors.Is(err, webhook.ErrTooOld):
			return stripe.Event{}, gw.Errorf(gw.EINVALID, "Stripe signature timestamp outside the %s tolerance", WebhookTolerance)
		default:
			// The signature matched, but the body is not an event.
			return stripe.Event{}, gw.Errorf(gw.EMALFORMED, "webhook body is not a Stripe event: %v", err)
		}
	}
	return stripe.Event{}, gw.Errorf(gw.EINVALID, "no valid Stripe signature")
}
