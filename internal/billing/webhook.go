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

// ErrAPIVersionMismatch is in the chain of the error Receive returns for an
// event whose API version is not stripe.APIVersion, the version this build
// of stripe-go decodes. The caller alerts on it (error tracking): it means
// the webhook endpoint in Stripe is configured with another API version, and
// every event will be refused until it is fixed.
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
// a body that is not a Stripe event (EMALFORMED); an event whose API version
// is not stripe.APIVersion (EINVALID, with ErrAPIVersionMismatch in the
// chain).
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
	if ev.APIVersion != stripe.APIVersion {
		return "", false, errors.Join(ErrAPIVersionMismatch, gw.Errorf(gw.EINVALID,
			"Stripe event %s has API version %q but this build expects %q: set the webhook endpoint's API version to %s",
			ev.ID, ev.APIVersion, stripe.APIVersion, stripe.APIVersion))
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
	return ev.ID, duplicate, nil
}

// verify checks the signature against each configured secret (any of the
// header's v1 signatures may match) and decodes the event. The API version
// is checked by the caller, exactly rather than by stripe-go's release-train
// rule, and with a clearer error.
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
