package stripefake

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// ---- subscription schedules ----

// activeSchedule is the schedule managing sub, if any (active or not started).
func (s *Server) activeSchedule(sub *stripe.Subscription) *stripe.SubscriptionSchedule {
	if sub == nil || sub.Schedule == nil {
		return nil
	}
	sc := s.schedules[sub.Schedule.ID]
	if sc == nil || (sc.Status != stripe.SubscriptionScheduleStatusActive && sc.Status != stripe.SubscriptionScheduleStatusNotStarted) {
		return nil
	}
	return sc
}

func (s *Server) phaseItems(sub *stripe.Subscription) []*stripe.SubscriptionSchedulePhaseItem {
	var out []*stripe.SubscriptionSchedulePhaseItem
	for _, it := range sub.Items.Data {
		out = append(out, &stripe.SubscriptionSchedulePhaseItem{Price: s.stripePrice(s.prices[it.Price.ID]),
			Quantity: it.Quantity, Metadata: map[string]string{}, Discounts: []*stripe.SubscriptionSchedulePhaseItemDiscount{}})
	}
	return out
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	subID := f.Get("from_subscription")
	if subID == "" {
		writeErr(w, 400, "invalid_request_error", "stripefake supports only creating subscription schedules with from_subscription")
		return
	}
	for k := range f {
		if k != "from_subscription" && !strings.HasPrefix(k, "expand") {
			writeErrParam(w, 400, "invalid_request_error", "", k, "You cannot set `"+k+"` if `from_subscription` is set.")
			return
		}
	}
	sub := s.subs[subID]
	if sub == nil {
		writeErrParam(w, 400, "invalid_request_error", "resource_missing", "from_subscription", "No such subscription: '"+subID+"'")
		return
	}
	switch sub.Status {
	case stripe.SubscriptionStatusCanceled, stripe.SubscriptionStatusIncompleteExpired:
		writeErr(w, 400, "invalid_request_error", "You cannot migrate a subscription that is canceled.")
		return
	}
	if sc := s.activeSchedule(sub); sc != nil {
		writeErr(w, 400, "invalid_request_error", "You cannot migrate a subscription that is already attached to a schedule: `"+sc.ID+"`.")
		return
	}
	start, end := period(sub)
	sc := &stripe.SubscriptionSchedule{ID: s.newID("sub_sched"), Object: "subscription_schedule", Created: s.unix(),
		Customer: &stripe.Customer{ID: sub.Customer.ID}, Subscription: &stripe.Subscription{ID: sub.ID},
		Status: stripe.SubscriptionScheduleStatusActive, EndBehavior: stripe.SubscriptionScheduleEndBehaviorRelease,
		CurrentPhase: &stripe.SubscriptionScheduleCurrentPhase{StartDate: start, EndDate: end}, Metadata: map[string]string{},
		BillingMode: &stripe.SubscriptionScheduleBillingMode{Type: stripe.SubscriptionScheduleBillingModeTypeFlexible},
		DefaultSettings: &stripe.SubscriptionScheduleDefaultSettings{BillingCycleAnchor: "automatic",
			AutomaticTax: &stripe.SubscriptionAutomaticTax{Enabled: subAutomaticTax(sub)}},
		Phases: []*stripe.SubscriptionSchedulePhase{s.newPhase(sub, start, end, s.phaseItems(sub), "create_prorations")},
	}
	s.schedules[sc.ID] = sc
	prev := s.render("subscription", sub, nil)
	sub.Schedule = &stripe.SubscriptionSchedule{ID: sc.ID}
	s.emit("subscription_schedule.created", "subscription_schedule", sc, nil)
	s.emitUpdated(sub, prev)
	writeJSON(w, 200, s.render("subscription_schedule", sc, formList(f, "expand")))
}

func (s *Server) newPhase(sub *stripe.Subscription, start, end int64, items []*stripe.SubscriptionSchedulePhaseItem, proration string) *stripe.SubscriptionSchedulePhase {
	return &stripe.SubscriptionSchedulePhase{StartDate: start, EndDate: end, Items: items, Currency: sub.Currency,
		ProrationBehavior: stripe.SubscriptionSchedulePhaseProrationBehavior(proration), Metadata: map[string]string{},
		AddInvoiceItems: []*stripe.SubscriptionSchedulePhaseAddInvoiceItem{}, Discounts: []*stripe.SubscriptionSchedulePhaseDiscount{},
		AutomaticTax: &stripe.SubscriptionAutomaticTax{Enabled: subAutomaticTax(sub)}, BillingCycleAnchor: "automatic"}
}

// formTime parses a timestamp parameter that also accepts "now".
func (s *Server) formTime(f url.Values, key string) (int64, bool, error) {
	v := f.Get(key)
	switch v {
	case "":
		return 0, false, nil
	case "now":
		return s.unix(), true, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("Invalid timestamp for %s: %q", key, v)
	}
	return n, true, nil
}

func hasPrefix(f url.Values, prefix string) bool {
	for k := range f {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// parsePhases reads phases[i][...] into phases (see the package doc).
func (s *Server) parsePhases(f url.Values, sub *stripe.Subscription, firstStart int64) ([]*stripe.SubscriptionSchedulePhase, error) {
	var out []*stripe.SubscriptionSchedulePhase
	for i := 0; hasPrefix(f, fmt.Sprintf("phases[%d]", i)); i++ {
		k := fmt.Sprintf("phases[%d]", i)
		var items []*stripe.SubscriptionSchedulePhaseItem
		for j := 0; hasPrefix(f, fmt.Sprintf("%s[items][%d]", k, j)); j++ {
			ik := fmt.Sprintf("%s[items][%d]", k, j)
			id := f.Get(ik + "[price]")
			if id == "" {
				return nil, fmt.Errorf("Missing required param: %s[price].", ik)
			}
			p, ok := s.prices[id]
			if !ok {
				return nil, fmt.Errorf("No such price: '%s'", id)
			}
			q := int64(1)
			if v, ok := formInt(f, ik+"[quantity]"); ok {
				if v < 1 {
					return nil, fmt.Errorf("Invalid %s[quantity]: must be at least 1", ik)
				}
				q = v
			}
			items = append(items, &stripe.SubscriptionSchedulePhaseItem{Price: s.stripePrice(p), Quantity: q,
				Metadata: map[string]string{}, Discounts: []*stripe.SubscriptionSchedulePhaseItemDiscount{}})
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("Missing required param: %s[items].", k)
		}
		start, hasStart, err := s.formTime(f, k+"[start_date]")
		if err != nil {
			return nil, err
		}
		if !hasStart {
			start = firstStart
			if i > 0 {
				start = out[i-1].EndDate
			}
		}
		if i > 0 && start != out[i-1].EndDate {
			return nil, fmt.Errorf("The start_date of phase %d must equal the end_date of phase %d.", i, i-1)
		}
		end, hasEnd, err := s.formTime(f, k+"[end_date]")
		if err != nil {
			return nil, err
		}
		if iv := f.Get(k + "[duration][interval]"); iv != "" {
			if hasEnd {
				return nil, fmt.Errorf("You cannot set both %s[end_date] and %s[duration].", k, k)
			}
			n, ok := formInt(f, k+"[duration][interval_count]")
			if !ok {
				n = 1
			}
			t := time.Unix(start, 0).UTC()
			switch iv {
			case "day":
				t = t.AddDate(0, 0, int(n))
			case "week":
				t = t.AddDate(0, 0, 7*int(n))
			case "month":
				t = t.AddDate(0, int(n), 0)
			case "year":
				t = t.AddDate(int(n), 0, 0)
			default:
				return nil, fmt.Errorf("Invalid %s[duration][interval]: %q", k, iv)
			}
			end, hasEnd = t.Unix(), true
		}
		if !hasEnd { // one iteration of the phase's (first) price
			end = s.addInterval(start, s.prices[items[0].Price.ID])
		}
		if end <= start {
			return nil, fmt.Errorf("The end_date of phase %d must be after its start_date.", i)
		}
		pb := f.Get(k + "[proration_behavior]")
		switch pb {
		case "":
			pb = "create_prorations"
		case "create_prorations", "none", "always_invoice":
		default:
			return nil, fmt.Errorf("Invalid %s[proration_behavior]: must be one of create_prorations, none, or always_invoice", k)
		}
		out = append(out, s.newPhase(sub, start, end, items, pb))
	}
	return out, nil
}

func samePhaseItems(a, b []*stripe.SubscriptionSchedulePhaseItem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Price.ID != b[i].Price.ID || a[i].Quantity != b[i].Quantity {
			return false
		}
	}
	return true
}

func (s *Server) updateSchedule(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	sc := s.schedules[r.PathValue("id")]
	if sc == nil {
		writeErr(w, 404, "invalid_request_error", "No such subscription_schedule: '"+r.PathValue("id")+"'")
		return
	}
	if sc.Status != stripe.SubscriptionScheduleStatusActive && sc.Status != stripe.SubscriptionScheduleStatusNotStarted {
		writeErr(w, 400, "invalid_request_error", fmt.Sprintf("You cannot update a subscription schedule that is currently in the `%s` status. It must be in either the `not_started` or `active` status to be updated.", sc.Status))
		return
	}
	sub := s.subs[sc.Subscription.ID]
	eb := f.Get("end_behavior")
	switch eb {
	case "", "release", "cancel":
	default:
		writeErrParam(w, 400, "invalid_request_error", "", "end_behavior", "Invalid end_behavior: must be one of release or cancel")
		return
	}
	switch pb := f.Get("proration_behavior"); pb {
	case "", "create_prorations", "none", "always_invoice":
	default:
		writeErrParam(w, 400, "invalid_request_error", "", "proration_behavior", "Invalid proration_behavior: must be one of create_prorations, none, or always_invoice")
		return
	}
	var phases []*stripe.SubscriptionSchedulePhase
	if hasPrefix(f, "phases[") {
		var err error
		phases, err = s.parsePhases(f, sub, sc.CurrentPhase.StartDate)
		if err != nil {
			writeErrParam(w, 400, "invalid_request_error", "", "phases", err.Error())
			return
		}
		// The current phase must stay where it is, with the subscription's items.
		now := s.unix()
		if phases[0].StartDate != sc.CurrentPhase.StartDate {
			writeErrParam(w, 400, "invalid_request_error", "", "phases[0][start_date]", "You can not modify the start date of the current phase.")
			return
		}
		if phases[0].EndDate <= now {
			writeErrParam(w, 400, "invalid_request_error", "", "phases[0][end_date]", "The end_date of the current phase must be in the future.")
			return
		}
		if !samePhaseItems(phases[0].Items, s.phaseItems(sub)) {
			writeErrParam(w, 400, "invalid_request_error", "", "phases[0][items]",
				"stripefake: changing the current phase's items is not supported; update the subscription instead (POST /v1/subscriptions/{id})")
			return
		}
	}
	prev := s.render("subscription_schedule", sc, nil)
	if eb != "" {
		sc.EndBehavior = stripe.SubscriptionScheduleEndBehavior(eb)
	}
	for k, v := range formMetadata(f, "metadata") {
		sc.Metadata[k] = v
	}
	if phases != nil {
		sc.Phases = phases
		sc.CurrentPhase = &stripe.SubscriptionScheduleCurrentPhase{StartDate: phases[0].StartDate, EndDate: phases[0].EndDate}
	}
	s.emit("subscription_schedule.updated", "subscription_schedule", sc, prev)
	writeJSON(w, 200, s.render("subscription_schedule", sc, formList(f, "expand")))
}

func (s *Server) releaseScheduleHandler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.schedules[r.PathValue("id")]
	if sc == nil {
		writeErr(w, 404, "invalid_request_error", "No such subscription_schedule: '"+r.PathValue("id")+"'")
		return
	}
	if sc.Status != stripe.SubscriptionScheduleStatusActive && sc.Status != stripe.SubscriptionScheduleStatusNotStarted {
		writeErr(w, 400, "invalid_request_error", fmt.Sprintf("You cannot release a subscription schedule that is currently in the `%s` status. It must be in either the `not_started` or `active` status to be released.", sc.Status))
		return
	}
	sub := s.subs[sc.Subscription.ID]
	prev := s.render("subscription", sub, nil)
	s.releaseSchedule(sc, sub)
	s.emitUpdated(sub, prev)
	writeJSON(w, 200, s.render("subscription_schedule", sc, formList(r.Form, "expand")))
}

// releaseSchedule detaches sc from sub (which keeps its current items).
func (s *Server) releaseSchedule(sc *stripe.SubscriptionSchedule, sub *stripe.Subscription) {
	sc.Status = stripe.SubscriptionScheduleStatusReleased
	sc.ReleasedAt = s.unix()
	sc.ReleasedSubscription = &stripe.Subscription{ID: sub.ID}
	sc.Subscription = nil
	sc.CurrentPhase = nil
	sub.Schedule = nil
	s.emit("subscription_schedule.released", "subscription_schedule", sc, nil)
}

// cancelScheduleOf cancels the schedule of a subscription being canceled.
func (s *Server) cancelScheduleOf(sub *stripe.Subscription) {
	sc := s.activeSchedule(sub)
	if sc == nil {
		return
	}
	sc.Status = stripe.SubscriptionScheduleStatusCanceled
	sc.CanceledAt = s.unix()
	sc.CurrentPhase = nil
	s.emit("subscription_schedule.canceled", "subscription_schedule", sc, nil)
}

// syncSchedule mirrors a direct item change of sub into its schedule's
// current phase, as Stripe does.
func (s *Server) syncSchedule(sub *stripe.Subscription) {
	sc := s.activeSchedule(sub)
	if sc == nil {
		return
	}
	items := s.phaseItems(sub)
	for _, ph := range sc.Phases {
		if ph.StartDate == sc.CurrentPhase.StartDate && !samePhaseItems(ph.Items, items) {
			prev := s.render("subscription_schedule", sc, nil)
			ph.Items = items
			s.emit("subscription_schedule.updated", "subscription_schedule", sc, prev)
		}
	}
}

// advanceSchedule moves sub's schedule to the phase in effect at t (a period
// boundary): the subscription takes that phase's items, without prorations.
// Past the last phase the schedule ends: released (the subscription keeps
// its items) or, with end_behavior=cancel, completed; it returns true when
// the subscription must be canceled.
func (s *Server) advanceSchedule(sub *stripe.Subscription, t int64) bool {
	sc := s.activeSchedule(sub)
	if sc == nil {
		return false
	}
	var cur *stripe.SubscriptionSchedulePhase
	for _, ph := range sc.Phases {
		if ph.StartDate <= t && t < ph.EndDate {
			cur = ph
		}
	}
	if cur == nil {
		if last := sc.Phases[len(sc.Phases)-1]; t < last.EndDate {
			return false // before the first phase
		}
		if sc.EndBehavior == stripe.SubscriptionScheduleEndBehaviorCancel {
			sc.Status = stripe.SubscriptionScheduleStatusCompleted
			sc.CompletedAt = s.unix()
			sc.CurrentPhase = nil
			s.emit("subscription_schedule.completed", "subscription_schedule", sc, nil)
			return true
		}
		s.releaseSchedule(sc, sub)
		return false
	}
	if sc.CurrentPhase != nil && sc.CurrentPhase.StartDate == cur.StartDate {
		return false
	}
	prev := s.render("subscription_schedule", sc, nil)
	sc.CurrentPhase = &stripe.SubscriptionScheduleCurrentPhase{StartDate: cur.StartDate, EndDate: cur.EndDate}
	s.setItems(sub, cur.Items)
	s.emit("subscription_schedule.updated", "subscription_schedule", sc, prev)
	return false
}

// setItems replaces sub's items by position with the phase items.
func (s *Server) setItems(sub *stripe.Subscription, items []*stripe.SubscriptionSchedulePhaseItem) {
	start, end := period(sub)
	var out []*stripe.SubscriptionItem
	for i, pi := range items {
		p := s.prices[pi.Price.ID]
		if i < len(sub.Items.Data) {
			it := sub.Items.Data[i]
			it.Price = s.stripePrice(p)
			it.Quantity = pi.Quantity
			out = append(out, it)
			continue
		}
		out = append(out, &stripe.SubscriptionItem{ID: s.newID("si"), Object: "subscription_item", Created: s.unix(),
			Subscription: sub.ID, Price: s.stripePrice(p), Quantity: pi.Quantity, CurrentPeriodStart: start,
			CurrentPeriodEnd: end, Metadata: map[string]string{}})
	}
	sub.Items.Data = out
}

// SubscriptionSchedule returns a copy of the stored subscription schedule
// (nil if unknown).
func (s *Server) SubscriptionSchedule(id string) *stripe.SubscriptionSchedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.schedules[id])
}
