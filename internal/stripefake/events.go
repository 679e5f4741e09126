package stripefake

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/stripe/stripe-go/v85"
)

// ---- events ----

// maxListTypes is how many event types GET /v1/events takes in types[]:
// https://docs.stripe.com/api/events/list, "An array of up to 20 strings
// containing specific event names".
const maxListTypes = 20

// SetAPIVersion changes the account's default API version, as upgrading it
// in the Dashboard does. Events created from now on carry it; those created
// before keep theirs (https://docs.stripe.com/api/events/list: "Each event
// data is rendered according to Stripe API version at its creation time,
// specified in event object api_version attribute (not according to your
// current Stripe API version or Stripe-Version header)").
func (s *Server) SetAPIVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiVersion = v
}

// emit appends an event carrying a snapshot of obj. prev, when non-nil, is
// the rendered object before the change (for previous_attributes). The
// event is rendered in, and names, the account's API version now.
func (s *Server) emit(typ, kind string, obj any, prev map[string]any) {
	cur := s.render(kind, obj, nil)
	raw, _ := json.Marshal(cur)
	data := &stripe.EventData{Raw: raw, Object: cur}
	if prev != nil {
		data.PreviousAttributes = map[string]any{}
		for k, v := range prev {
			if !reflect.DeepEqual(cur[k], v) {
				data.PreviousAttributes[k] = v
			}
		}
	}
	e := &stripe.Event{ID: s.newID("evt"), Object: "event", APIVersion: s.apiVersion,
		Created: s.unix(), Type: stripe.EventType(typ), Data: data, PendingWebhooks: 1,
		Request: &stripe.EventRequest{}}
	s.events = append(s.events, e)
}

// deliverySucceeded reports whether event id was delivered to every
// webhook endpoint the fake knows (every URL given to Deliver or
// MarkDelivered). With no endpoint known, no event counts as delivered: a
// test that feeds events to the application directly has not told the fake.
// The caller holds s.mu.
func (s *Server) deliverySucceeded(id string) bool {
	if len(s.endpoints) == 0 {
		return false
	}
	for url := range s.endpoints {
		if !s.delivered[url+" "+id] {
			return false
		}
	}
	return true
}

// listEvents is GET /v1/events (https://docs.stripe.com/api/events/list):
// newest first, each event as it was created (its own API version); the
// filters created[gt|gte|lt|lte], type (one name or a "prefix.*"
// wildcard), types[] (up to 20 exact names; not with type) and
// delivery_success (false: events still pending or failed at some
// endpoint; true: delivered everywhere), and cursor pagination with
// starting_after.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	limit, ok := formInt(f, "limit")
	if !ok || limit <= 0 || limit > 100 {
		limit = 10
	}
	types := formList(f, "types")
	typ := f.Get("type")
	switch {
	case typ != "" && len(types) > 0:
		writeErr(w, 400, "invalid_request_error", "You may pass either `type` or `types`, but not both.")
		return
	case len(types) > maxListTypes:
		writeErrParam(w, 400, "invalid_request_error", "", "types", "Invalid array: types must have at most 20 elements.")
		return
	}
	for _, t := range types {
		if strings.Contains(t, "*") {
			writeErrParam(w, 400, "invalid_request_error", "", "types",
				"types takes specific event names; use type for a wildcard: "+t)
			return
		}
	}
	var success *bool
	switch f.Get("delivery_success") {
	case "":
	case "true", "false":
		v := f.Get("delivery_success") == "true"
		success = &v
	default:
		writeErrParam(w, 400, "invalid_request_error", "", "delivery_success", "Invalid boolean: "+f.Get("delivery_success"))
		return
	}
	var created [4]int64
	var hasCreated [4]bool
	for i, op := range []string{"gt", "gte", "lt", "lte"} {
		created[i], hasCreated[i] = formInt(f, "created["+op+"]")
	}
	if v, ok := formInt(f, "created"); ok {
		created[1], hasCreated[1], created[3], hasCreated[3] = v, true, v, true
	}
	after := f.Get("starting_after")
	var out []*stripe.Event
	skipping := after != ""
	more := false
	for i := len(s.events) - 1; i >= 0; i-- { // newest first, like Stripe
		e := s.events[i]
		if skipping {
			if e.ID == after {
				skipping = false
			}
			continue
		}
		switch {
		case hasCreated[0] && e.Created <= created[0], hasCreated[1] && e.Created < created[1],
			hasCreated[2] && e.Created >= created[2], hasCreated[3] && e.Created > created[3]:
			continue
		case typ != "" && !matchType(typ, string(e.Type)):
			continue
		case len(types) > 0 && !slices.Contains(types, string(e.Type)):
			continue
		case success != nil && *success != s.deliverySucceeded(e.ID):
			continue
		}
		if int64(len(out)) == limit {
			more = true
			break
		}
		out = append(out, e)
	}
	if out == nil {
		out = []*stripe.Event{}
	}
	writeJSON(w, 200, map[string]any{"object": "list", "url": "/v1/events", "has_more": more, "data": out})
}

// matchType reports whether event type t is pattern: the same name, or a
// "prefix.*" wildcard it falls under.
func matchType(pattern, t string) bool {
	return pattern == t || (strings.HasSuffix(pattern, ".*") && strings.HasPrefix(t, strings.TrimSuffix(pattern, "*")))
}
