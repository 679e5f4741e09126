package stripefake

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
)

// DeliverOptions shape one delivery run.
type DeliverOptions struct {
	// Seed drives every random choice below (same seed, same run).
	Seed uint64
	// Shuffle delivers pending events in a random order; Reverse newest first.
	Shuffle, Reverse bool
	// Duplicate is the probability that an event is sent a second time.
	Duplicate float64
	// Drop is the probability that an event is not sent at all in this run
	// (it stays pending and goes out with a later Deliver).
	Drop float64
	// GiveUp is the probability that Stripe gives up on an event for good
	// at this endpoint, as after three days of failed retries or with the
	// endpoint disabled (https://docs.stripe.com/webhooks#retries): it is
	// not sent, never becomes pending again (only Redeliver, a manual
	// resend, sends it), and GET /v1/events?delivery_success=false lists it.
	GiveUp float64
	// APIVersion is the webhook endpoint's API version: each delivered
	// event is rendered in it (its api_version says so). "" sends each
	// event in the version it was created in. The fake has one shape, so
	// only the api_version field differs.
	APIVersion string
	// Fail500 is the probability that a delivery is counted as failed even
	// though the receiver answered 2xx (as when Stripe times out): the event
	// stays pending and is redelivered by a later Deliver.
	Fail500 float64
	// Redeliver resends every event, including ones already delivered.
	Redeliver bool
	// Only restricts the run to these event IDs (nil: all pending).
	Only []string
	// Concurrency sends up to this many requests at once (default 1).
	Concurrency int
	// ExtraSecrets add a v1 signature per secret (as during secret rotation).
	ExtraSecrets []string
	// SignedAt is the signature timestamp (default: wall-clock now, so that
	// a receiver's 300 s tolerance accepts it).
	SignedAt time.Time
	// Client sends the requests (default http.DefaultClient).
	Client *http.Client
}

// Attempt is one delivery attempt.
type Attempt struct {
	EventID, Type string
	Status        int // HTTP status; 0 when not sent
	Dropped       bool
	GaveUp        bool // Stripe gave up on the event (DeliverOptions.GiveUp)
	Injected500   bool
	Err           error
}

// Delivered reports whether the attempt counts as a successful delivery.
func (a Attempt) Delivered() bool {
	return !a.Dropped && !a.Injected500 && a.Err == nil && a.Status >= 200 && a.Status < 300
}

// SignPayload returns the Stripe-Signature header for payload, exactly as
// Stripe computes it: t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<payload>")>
// with one v1 per secret.
func SignPayload(payload []byte, at time.Time, secrets ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%d", at.Unix())
	for _, sec := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(webhook.ComputeSignature(at, payload, sec)))
	}
	return b.String()
}

// EventPayload returns the JSON body Stripe would POST for the event.
func EventPayload(e *stripe.Event) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}

// Deliver POSTs pending events (oldest first unless told otherwise) to url,
// signed with secret, and marks those answered with 2xx as delivered. A
// non-2xx answer or an injected failure leaves the event pending; an event
// given up (GiveUp) is never pending again. url becomes one of the fake's
// webhook endpoints (see GET /v1/events?delivery_success).
func (s *Server) Deliver(ctx context.Context, url, secret string, o DeliverOptions) ([]Attempt, error) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	s.mu.Lock()
	s.endpoints[url] = true
	only := map[string]bool{}
	for _, id := range o.Only {
		only[id] = true
	}
	var evs []*stripe.Event
	for _, e := range s.events {
		k := url + " " + e.ID
		if (len(only) > 0 && !only[e.ID]) || (!o.Redeliver && (s.delivered[k] || s.abandoned[k])) {
			continue
		}
		evs = append(evs, e)
	}
	s.mu.Unlock()
	if o.Reverse {
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	if o.Shuffle {
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	}
	type job struct {
		e      *stripe.Event
		drop   bool
		giveUp bool
		fail   bool
		second bool
	}
	var jobs []job
	for _, e := range evs {
		j := job{e: e, drop: rng.Float64() < o.Drop, fail: rng.Float64() < o.Fail500}
		if o.GiveUp > 0 && !o.Redeliver && rng.Float64() < o.GiveUp {
			j.drop, j.giveUp = true, true
		}
		jobs = append(jobs, j)
		if !j.drop && rng.Float64() < o.Duplicate {
			jobs = append(jobs, job{e: e, second: true})
		}
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	conc := max(o.Concurrency, 1)
	out := make([]Attempt, len(jobs))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, j := range jobs {
		out[i] = Attempt{EventID: j.e.ID, Type: string(j.e.Type), Dropped: j.drop, GaveUp: j.giveUp, Injected500: j.fail}
		if j.drop {
			continue
		}
		if err := ctx.Err(); err != nil {
			out[i].Err = err
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(a *Attempt, e *stripe.Event) {
			defer func() { <-sem; wg.Done() }()
			a.Status, a.Err = post(ctx, client, url, secret, e, o)
		}(&out[i], j.e)
	}
	wg.Wait()
	s.mu.Lock()
	for _, a := range out {
		switch {
		case a.Delivered():
			s.delivered[url+" "+a.EventID] = true
		case a.GaveUp:
			s.abandoned[url+" "+a.EventID] = true
		}
	}
	s.mu.Unlock()
	return out, ctx.Err()
}

// MarkDelivered records that the webhook endpoint at url acknowledged the
// events ids, for tests that hand events to the application without
// Deliver. url becomes one of the fake's endpoints.
func (s *Server) MarkDelivered(url string, ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoints[url] = true
	for _, id := range ids {
		s.delivered[url+" "+id] = true
	}
}

func post(ctx context.Context, c *http.Client, url, secret string, e *stripe.Event, o DeliverOptions) (int, error) {
	if o.APIVersion != "" && o.APIVersion != e.APIVersion {
		rendered := *e
		rendered.APIVersion = o.APIVersion
		e = &rendered
	}
	payload := EventPayload(e)
	at := o.SignedAt
	if at.IsZero() {
		at = time.Now()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", SignPayload(payload, at, append([]string{secret}, o.ExtraSecrets...)...))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// Pending returns the IDs of events not yet delivered to url and not
// given up on.
func (s *Server) Pending(url string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, e := range s.events {
		if !s.delivered[url+" "+e.ID] && !s.abandoned[url+" "+e.ID] {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// GivenUp returns the IDs of events Stripe gave up delivering to url
// (DeliverOptions.GiveUp) and that were not delivered since.
func (s *Server) GivenUp(url string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, e := range s.events {
		if s.abandoned[url+" "+e.ID] && !s.delivered[url+" "+e.ID] {
			ids = append(ids, e.ID)
		}
	}
	return ids
}
