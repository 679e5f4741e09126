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
		newest  *time.Time
		overlap time.Duration
		want    time.Time
	}{
		{name: "empty ledger: the 30 days Stripe keeps", want: now.Add(-month)},
		{name: "an hour before the newest event by default", newest: at(-2 * time.Hour), want: now.Add(-3 * time.Hour)},
		{name: "a negative overlap is the default", newest: at(-2 * time.Hour), overlap: -time.Minute, want: now.Add(-3 * time.Hour)},
		{name: "the given overlap", newest: at(-2 * time.Hour), overlap: 10 * time.Minute, want: now.Add(-2*time.Hour - 10*time.Minute)},
		{name: "never before the 30 days", newest: at(-month), want: now.Add(-month)},
		{name: "the overlap reaching past the 30 days", newest: at(-month + 30*time.Minute), want: now.Add(-month)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, backfillSince(now, tc.newest, tc.overlap))
		})
	}
}
