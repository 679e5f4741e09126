package backup

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	day := func(d int, h int) time.Time {
		return now.AddDate(0, 0, -d).Truncate(24 * time.Hour).Add(time.Duration(h) * time.Hour)
	}
	id := func(at time.Time) string { return at.Format("20060102T150405Z") + "-000000" }
	daily := func(n int) []Candidate { // one backup a day at 02:00 for n days
		var cs []Candidate
		for d := range n {
			cs = append(cs, Candidate{ID: id(day(d, 2)), At: day(d, 2), Complete: true})
		}
		return cs
	}
	tests := []struct {
		name       string
		cands      []Candidate
		policy     Retention
		keepN      int
		mustKeep   []string
		mustRemove []string
	}{
		{name: "nothing", policy: Retention{7, 4, 6}},
		{name: "fewer than the daily count keeps all", cands: daily(5), policy: Retention{7, 0, 0}, keepN: 5},
		{name: "daily only", cands: daily(10), policy: Retention{7, 0, 0}, keepN: 7,
			mustKeep: []string{id(day(0, 2)), id(day(6, 2))}, mustRemove: []string{id(day(7, 2)), id(day(9, 2))}},
		{name: "zero policy still keeps the newest", cands: daily(3), policy: Retention{}, keepN: 1, mustKeep: []string{id(day(0, 2))}},
		{name: "two a day: the newest of the day", policy: Retention{1, 0, 0}, keepN: 1,
			cands:    []Candidate{{ID: id(day(0, 1)), At: day(0, 1), Complete: true}, {ID: id(day(0, 3)), At: day(0, 3), Complete: true}},
			mustKeep: []string{id(day(0, 3))}, mustRemove: []string{id(day(0, 1))}},
		// 120 days of daily backups to Tuesday 31 March, 7/4/6: the 7 days
		// (25-31 March), 2 more week-ends (22 and 15 March; the two newest
		// weeks are already kept), 3 more month-ends (28 Feb, 31 Jan, 31
		// Dec; the backups only reach back to 2 December).
		{name: "grandfather-father-son", cands: daily(120), policy: Retention{7, 4, 6}, keepN: 7 + 2 + 3,
			mustKeep:   []string{id(day(0, 2)), id(day(9, 2)), id(day(16, 2)), id(day(31, 2)), id(day(90, 2))},
			mustRemove: []string{id(day(8, 2)), id(day(119, 2)), id(day(17, 2))}},
		{name: "incomplete and old is removed, incomplete and recent kept", policy: Retention{7, 4, 6}, keepN: 2,
			cands: []Candidate{
				{ID: id(day(0, 2)), At: day(0, 2), Complete: true},
				{ID: id(day(3, 2)), At: day(3, 2)},
				{ID: id(now.Add(-time.Hour)), At: now.Add(-time.Hour)},
			},
			mustKeep: []string{id(now.Add(-time.Hour))}, mustRemove: []string{id(day(3, 2))}},
		{name: "incomplete backups never count as the newest", policy: Retention{1, 0, 0}, keepN: 1,
			cands:    []Candidate{{ID: id(day(2, 2)), At: day(2, 2), Complete: true}, {ID: id(day(1, 2)), At: day(1, 2)}},
			mustKeep: []string{id(day(2, 2))}, mustRemove: []string{id(day(1, 2))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keep, remove := Plan(tt.cands, tt.policy, now)
			require.Len(t, keep, tt.keepN, "keep %v", keep)
			require.Len(t, remove, len(tt.cands)-tt.keepN)
			for _, k := range tt.mustKeep {
				require.Contains(t, keep, k)
			}
			for _, r := range tt.mustRemove {
				require.Contains(t, remove, r)
			}
		})
	}
}
