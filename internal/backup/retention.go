package backup

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Retention says how many backups to keep: the newest of each of the last
// Daily days, Weekly ISO weeks and Monthly months that have a backup (in
// UTC). A backup kept for several reasons counts for each. The newest
// complete backup is always kept.
type Retention struct {
	Daily, Weekly, Monthly int
}

// IncompleteGrace is how long an incomplete backup (no manifest) is left
// alone, since it may still be running; prune removes older ones.
const IncompleteGrace = 24 * time.Hour

// Candidate is a backup as retention sees it.
type Candidate struct {
	ID       string
	At       time.Time
	Complete bool
}

// Plan decides which backups to keep and which to remove. It is a pure
// function of its arguments: candidates in any order, result sorted by ID.
func Plan(cands []Candidate, p Retention, now time.Time) (keep, remove []string) {
	var complete []Candidate
	for _, c := range cands {
		if c.Complete {
			complete = append(complete, c)
		}
	}
	slices.SortFunc(complete, func(a, b Candidate) int { return b.At.Compare(a.At) }) // newest first
	kept := map[string]bool{}
	if len(complete) > 0 {
		kept[complete[0].ID] = true
	}
	bucket := func(n int, period func(time.Time) string) {
		seen := map[string]bool{}
		for _, c := range complete {
			if len(seen) >= n {
				return
			}
			k := period(c.At.UTC())
			if !seen[k] {
				seen[k] = true
				kept[c.ID] = true
			}
		}
	}
	bucket(p.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) })
	bucket(p.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	for _, c := range cands {
		switch {
		case kept[c.ID]:
			keep = append(keep, c.ID)
		case c.Complete || now.Sub(c.At) > IncompleteGrace:
			remove = append(remove, c.ID)
		default:
			keep = append(keep, c.ID) // incomplete, maybe still running
		}
	}
	slices.Sort(keep)
	slices.Sort(remove)
	return keep, remove
}

// idTime reads the time an ID starts with (newID's format).
func idTime(id string) (time.Time, bool) {
	if len(id) < 16 {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405Z", id[:16])
	return t, err == nil
}

// Prune deletes the backups that Plan does not keep, and returns their
// IDs. With dryRun it only returns them.
func (s *Service) Prune(ctx context.Context, p Retention, dryRun bool) (removed []string, err error) {
	entries, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	cands := make([]Candidate, 0, len(entries))
	for _, e := range entries {
		c := Candidate{ID: e.ID, Complete: e.Complete()}
		if e.Manifest != nil {
			c.At = e.Manifest.StartedAt
		} else if t, ok := idTime(e.ID); ok {
			c.At = t
		} else {
			continue // not ours: leave it alone
		}
		cands = append(cands, c)
	}
	_, remove := Plan(cands, p, s.cfg.Clock.Now())
	if dryRun {
		return remove, nil
	}
	for _, id := range remove {
		if err := s.Delete(ctx, id); err != nil {
			return removed, err
		}
		removed = append(removed, id)
		s.cfg.Logger.Info("backup pruned", "backup", id)
	}
	return removed, nil
}
