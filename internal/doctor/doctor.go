// Package doctor scores a running deployment against Groundwork's
// never-skip list and hardening checklist: each check passes, warns or
// fails with its evidence and the fix, and the report ranks them by what a
// failure costs — data loss and billing first, then security, then
// performance, then the rest. The checks are pure functions of Inputs,
// which the caller gathers ("groundwork doctor", /ops/readiness), so each
// is tested with inputs of its own.
package doctor

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Status is a check's outcome.
type Status string

// Outcomes, best first.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Cost ranks what a failed check puts at risk; lower ranks first.
type Cost int

// Costs, most expensive first.
const (
	CostDataLoss    Cost = iota + 1 // data loss and billing
	CostSecurity                    // security
	CostPerformance                 // performance
	CostOther                       // the rest
)

// String names the cost for the report.
func (c Cost) String() string {
	switch c {
	case CostDataLoss:
		return "data loss & billing"
	case CostSecurity:
		return "security"
	case CostPerformance:
		return "performance"
	}
	return "other"
}

// MarshalText writes the cost's name in JSON.
func (c Cost) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a name MarshalText wrote.
func (c *Cost) UnmarshalText(b []byte) error {
	for _, x := range []Cost{CostDataLoss, CostSecurity, CostPerformance, CostOther} {
		if x.String() == string(b) {
			*c = x
			return nil
		}
	}
	return fmt.Errorf("doctor: unknown cost %q", b)
}

// Result is one check's outcome.
type Result struct {
	// ID names the check, e.g. "backups.recent".
	ID string `json:"id"`
	// Title says what is checked.
	Title string `json:"title"`
	// Cost is what a failure puts at risk.
	Cost Cost `json:"cost"`
	// Status is pass, warn or fail.
	Status Status `json:"status"`
	// Evidence is what the check saw.
	Evidence string `json:"evidence"`
	// Fix says what to do; empty on a pass.
	Fix string `json:"fix,omitempty"`
}

// Report is every check's result, ranked.
type Report struct {
	// Generated is when the report was made.
	Generated time.Time `json:"generated"`
	// Pass, Warn and Fail count the results.
	Pass int `json:"pass"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	// Results are ranked: failures before warnings before passes, and
	// within each by cost, then by ID.
	Results []Result `json:"results"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.Fail > 0 }

// Check is one check: a pure function of the inputs.
type Check struct {
	ID, Title string
	Cost      Cost
	Run       func(in Inputs) (Status, string, string) // status, evidence, fix
}

// Run runs checks on in and ranks the results.
func Run(in Inputs, checks []Check) Report {
	rep := Report{Generated: in.Now}
	for _, c := range checks {
		st, ev, fix := c.Run(in)
		if st == Pass {
			fix = ""
		}
		rep.Results = append(rep.Results, Result{ID: c.ID, Title: c.Title, Cost: c.Cost, Status: st, Evidence: ev, Fix: fix})
		switch st {
		case Pass:
			rep.Pass++
		case Warn:
			rep.Warn++
		default:
			rep.Fail++
		}
	}
	rank := map[Status]int{Fail: 0, Warn: 1, Pass: 2}
	slices.SortStableFunc(rep.Results, func(a, b Result) int {
		return cmp.Or(cmp.Compare(rank[a.Status], rank[b.Status]), cmp.Compare(a.Cost, b.Cost), cmp.Compare(a.ID, b.ID))
	})
	return rep
}
