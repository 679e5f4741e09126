package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackfillSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	month := 30 * 24 * time.Hour
	for _, tc := range []struct {
		name    string
		cursor  *time.Time
		window  time.Duration
		overlap time.Duration
		want    time.Time
	}{
		{name: "no cursor yet: the 30 days Stripe keeps", want: now.Add(-month)},
		// A recent cursor (other organisations' traffic, or a run 15
		// minutes ago) never narrows the backfill below Stripe's retry
		// window: an event missed two days ago is still listed.
		{name: "a recent cursor: Stripe's 3-day retry window", cursor: at(-15 * time.Minute), want: now.Add(-StripeRetryWindow)},
		{name: "the given window", cursor: at(-15 * time.Minute), window: 5 * 24 * time.Hour, want: now.Add(-5 * 24 * time.Hour)},
		{name: "an old cursor (reconciler down for a week): an hour before it", cursor: at(-7 * 24 * time.Hour),
			want: now.Add(-7*24*time.Hour - time.Hour)},
		{name: "the given overlap", cursor: at(-7 * 24 * time.Hour), overlap: 10 * time.Minute,
			want: now.Add(-7*24*time.Hour - 10*time.Minute)},
		{name: "a negative overlap is the default", cursor: at(-7 * 24 * time.Hour), overlap: -time.Minute,
			want: now.Add(-7*24*time.Hour - time.Hour)},
		{name: "never before the 30 days", cursor: at(-2 * month), want: now.Add(-month)},
		{name: "the overlap reaching past the 30 days", cursor: at(-month + 30*time.Minute), want: now.Add(-month)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, backfillSince(now, tc.cursor, tc.window, tc.overlap))
		})
	}
}
