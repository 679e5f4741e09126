package stripefake_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestRetrySchedule: with a Smart-Retries-like schedule, each failure sets
// next_payment_attempt to the schedule's next entry after the first failed
// attempt, and the last failure sets none and ends the subscription as
// Options.RetriesExhausted says.
func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	schedule := stripefake.DefaultRetrySchedule
	e := setup(t, stripefake.Options{RetrySchedule: schedule})
	cus, sub := e.subscribe(t, "price_basic_monthly")
	require.NoError(t, e.fake.SetCardDeclines(cus, true))
	invID, err := e.fake.Renew(sub)
	require.NoError(t, err)
	first := e.fake.Now()
	inv := e.fake.Invoice(invID)
	require.EqualValues(t, 1, inv.AttemptCount)
	require.Equal(t, first.Add(schedule[0]).Unix(), inv.NextPaymentAttempt)

	retries, err := e.fake.RunRetries(sub, 0)
	require.NoError(t, err)
	require.Equal(t, len(schedule), retries)
	inv = e.fake.Invoice(invID)
	require.EqualValues(t, 1+len(schedule), inv.AttemptCount)
	require.Zero(t, inv.NextPaymentAttempt)
	require.Equal(t, first.Add(schedule[len(schedule)-1]), e.fake.Now())
	require.Equal(t, "canceled", string(e.fake.Subscription(sub).Status))

	_, err = setup(t, stripefake.Options{}).fake.RunRetries(sub, 0)
	require.ErrorContains(t, err, "RetrySchedule")
}
