package alert

import "context"

// Incidents returns the billing incident hook (app.Options.Alert: a
// dispute opened or lost, a price the plan catalogue does not know, a
// Stripe API version skew) that reports each to report (error tracking)
// and posts it to n, deduplicated by its text. With a nil n it is report.
func Incidents(report func(context.Context, error), n *Notifier) func(context.Context, error) {
	if n == nil {
		return report
	}
	return func(ctx context.Context, err error) {
		if report != nil {
			report(ctx, err)
		}
		_, _ = n.Notify(ctx, Alert{Key: "billing:" + err.Error(), Text: "*Groundwork*: billing incident: " + err.Error()})
	}
}
