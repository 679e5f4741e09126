package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// scheduledChange returns the price a subscription schedule switches the
// subscription to at or after periodEnd, and when; "" when the schedule
// changes nothing then (or has ended).
func (s *Syncer) scheduledChange(ctx context.Context, scheduleID string, periodEnd time.Time) (string, time.Time, error) {
	sched, err := s.cfg.Stripe.V1SubscriptionSchedules.Retrieve(ctx, scheduleID, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("billing: fetch subscription schedule %s: %w", scheduleID, err)
	}
	if sched.Status != stripe.SubscriptionScheduleStatusActive && sched.Status != stripe.SubscriptionScheduleStatusNotStarted {
		return "", time.Time{}, nil
	}
	for _, ph := range sched.Phases {
		if ph.StartDate < periodEnd.Unix() || len(ph.Items) == 0 || ph.Items[0].Price == nil {
			continue
		}
		return ph.Items[0].Price.ID, time.Unix(ph.StartDate, 0).UTC(), nil
	}
	return "", time.Time{}, nil
}
