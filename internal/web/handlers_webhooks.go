package web

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// webhookReceived is the body of an acknowledged webhook delivery.
type webhookReceived struct {
	Received bool `json:"received"`
}

// postStripeWebhook receives Stripe's webhook deliveries: it reads the raw
// body (at most billing.MaxWebhookBody bytes) and hands it with its
// Stripe-Signature header to the ledger, which verifies and records it.
//
// It answers 200 {"received":true} for a recorded event and for a
// duplicate; 400 for a bad or stale signature, a body that is not an event,
// or an event of another API version (which is also reported, since every
// event will fail until the endpoint is fixed); 413 for a body over the
// cap; 404 when Stripe is not configured; and 503 when the event could not
// be recorded (Stripe retries). It needs no session: Stripe's
// server-to-server POST carries no browser headers, so the cross-origin
// protection lets it through, and the signature authenticates it.
func (s *server) postStripeWebhook() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ledger := s.d.StripeWebhooks
		if ledger == nil {
			return gw.Errorf(gw.ENOTFOUND, "Stripe webhooks are not configured on this server.")
		}
		tooLarge := gw.Errorf(gw.ETOOLARGE, "The webhook body must not exceed %d bytes.", billing.MaxWebhookBody)
		if r.ContentLength > billing.MaxWebhookBody {
			return tooLarge
		}
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, billing.MaxWebhookBody+1))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return tooLarge
			}
			return gw.Errorf(gw.EMALFORMED, "The webhook body could not be read.")
		}
		if len(payload) > billing.MaxWebhookBody {
			return tooLarge
		}
		ctx := r.Context()
		id, dup, err := ledger.Receive(ctx, payload, r.Header.Get("Stripe-Signature"))
		if err == nil {
			s.d.Logger.LogAttrs(ctx, slog.LevelInfo, "stripe webhook received",
				slog.String("event_id", id), slog.Bool("duplicate", dup))
			writeJSON(w, http.StatusOK, webhookReceived{Received: true})
			return nil
		}
		switch code := gw.ErrorCode(err); code {
		case gw.EINVALID, gw.EMALFORMED:
			s.d.Logger.LogAttrs(ctx, slog.LevelWarn, "stripe webhook refused", slog.String("error", err.Error()))
			// 400 whatever the code: the delivery is refused, not the
			// fields of a form.
			return gw.Errorf(gw.EMALFORMED, "%s", webhookRefusal(err))
		case gw.ETOOLARGE:
			return tooLarge
		default:
			// Not recorded (the database failed): Stripe retries on 5xx.
			return fmt.Errorf("receive stripe webhook: %w (%w)",
				gw.Errorf(gw.EUNAVAILABLE, "The event could not be recorded; retry later."), err)
		}
	})
}

// webhookRefusal is the short reason a refused delivery is answered with.
func webhookRefusal(err error) string {
	switch {
	case gw.ErrorCode(err) == gw.EMALFORMED:
		return "The body is not a Stripe event."
	default:
		return "The Stripe signature is missing, invalid or too old."
	}
}
