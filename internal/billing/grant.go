package billing

import "time"

// Grant is a plan an operator granted an organisation outside Stripe
// (groundwork billing grant-plan): a pilot, a partner, a support gesture.
type Grant struct {
	// Plan is the granted plan; "" for none.
	Plan PlanID
	// Until is when the grant ends; zero: until it is revoked.
	Until time.Time
	// By names the operator who granted it.
	By string
}

// activeAt reports whether the grant is in force at now.
func (g Grant) activeAt(now time.Time) bool {
	return g.Plan != "" && (g.Until.IsZero() || now.Before(g.Until))
}
