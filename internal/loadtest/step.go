package loadtest

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// StepResult is what one step at one arrival rate measured.
type StepResult struct {
	// Rate is the arrival rate asked for, in requests per second.
	Rate float64 `json:"rate"`
	// Sent is the rate the requests actually went out at.
	Sent float64 `json:"sent_rps"`
	// Throughput is the rate of requests answered as expected.
	Throughput float64 `json:"throughput_rps"`
	// Requests counts the step's requests; Failures those that failed
	// (transport errors and unexpected statuses, 429 included);
	// RateLimited those answered 429.
	Requests    int `json:"requests"`
	Failures    int `json:"failures"`
	RateLimited int `json:"rate_limited"`
	// LimitedBy counts the 429s by the policy their RateLimit-Policy
	// header names.
	LimitedBy map[string]int `json:"limited_by,omitempty"`
	// Latency percentiles of every request of the step.
	P50 time.Duration `json:"-"`
	P95 time.Duration `json:"-"`
	P99 time.Duration `json:"-"`
	Max time.Duration `json:"-"`
	// Statuses counts the responses by status code ("0" for none).
	Statuses map[string]int `json:"statuses"`
	// Errors holds a few distinct error messages, for the report.
	Errors []string `json:"errors,omitempty"`
	// Ops is the same by operation of the mix.
	Ops map[string]OpResult `json:"ops"`
	// Usage is what the target's metrics said about the step; nil without them.
	Usage *Usage `json:"usage,omitempty"`
	// Verdict is why the step broke, "" when it held.
	Verdict Verdict `json:"verdict,omitempty"`
}

// OpResult is one operation's share of a step.
type OpResult struct {
	Requests int           `json:"requests"`
	Failures int           `json:"failures"`
	P95      time.Duration `json:"-"`
}

// ErrorRate is the fraction of the step's requests that failed.
func (s StepResult) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Failures) / float64(s.Requests)
}

// maxErrors is how many distinct error messages a step keeps.
const maxErrors = 5

// stepRecorder accumulates a step's vegeta results.
type stepRecorder struct {
	all   vegeta.Metrics
	ops   map[string]*vegeta.Metrics
	res   StepResult
	first time.Time
	last  time.Time
}

func newStepRecorder(rate float64) *stepRecorder {
	return &stepRecorder{ops: map[string]*vegeta.Metrics{}, res: StepResult{Rate: rate, Statuses: map[string]int{}, Ops: map[string]OpResult{}}}
}

// add records one result, classified by op and judged by ok.
func (r *stepRecorder) add(res *vegeta.Result, op string, ok bool) {
	r.all.Add(res)
	m := r.ops[op]
	if m == nil {
		m = &vegeta.Metrics{}
		r.ops[op] = m
	}
	m.Add(res)
	o := r.res.Ops[op]
	o.Requests++
	r.res.Requests++
	r.res.Statuses[strconv.Itoa(int(res.Code))]++
	if res.Code == 429 {
		r.res.RateLimited++
		policy, _, _ := strings.Cut(res.Headers.Get("RateLimit-Policy"), ";")
		if policy = strings.Trim(policy, `"`); policy != "" {
			if r.res.LimitedBy == nil {
				r.res.LimitedBy = map[string]int{}
			}
			r.res.LimitedBy[policy]++
		}
	}
	if !ok {
		o.Failures++
		r.res.Failures++
		msg := res.Error
		if msg == "" {
			msg = strconv.Itoa(int(res.Code))
		}
		msg = op + ": " + msg
		if len(r.res.Errors) < maxErrors && !slices.Contains(r.res.Errors, msg) {
			r.res.Errors = append(r.res.Errors, msg)
		}
	}
	r.res.Ops[op] = o
	if r.first.IsZero() || res.Timestamp.Before(r.first) {
		r.first = res.Timestamp
	}
	if end := res.End(); end.After(r.last) {
		r.last = end
	}
}

// result closes the metrics and returns the step's result; d is the
// step's planned duration.
func (r *stepRecorder) result(d time.Duration) StepResult {
	r.all.Close()
	s := r.res
	s.P50, s.P95, s.P99, s.Max = r.all.Latencies.P50, r.all.Latencies.P95, r.all.Latencies.P99, r.all.Latencies.Max
	s.Sent = r.all.Rate
	if span := r.last.Sub(r.first); span > 0 {
		s.Throughput = float64(s.Requests-s.Failures) / max(span.Seconds(), d.Seconds())
	}
	for op, m := range r.ops {
		m.Close()
		o := s.Ops[op]
		o.P95 = m.Latencies.P95
		s.Ops[op] = o
	}
	sort.Strings(s.Errors)
	return s
}
