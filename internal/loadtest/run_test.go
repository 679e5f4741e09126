package loadtest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeAttacker answers each rate with the result its function computes, as
// if the target behaved that way, and remembers the rates asked.
type fakeAttacker struct {
	at    func(rate float64) StepResult
	rates []float64
}

func (f *fakeAttacker) Attack(_ context.Context, rate float64, d time.Duration) (StepResult, error) {
	f.rates = append(f.rates, rate)
	s := f.at(rate)
	s.Rate = rate
	if s.Sent == 0 {
		s.Sent = rate
	}
	if s.Requests == 0 {
		s.Requests = int(rate * d.Seconds())
	}
	return s, nil
}

func testPlan() Plan {
	return Plan{Start: 10, Step: 10, Max: 100, StepDuration: 10 * time.Second, SLO: 200 * time.Millisecond,
		ErrorBudget: 0.01, MaxRequests: 1_000_000, MaxDuration: time.Hour}
}

func TestRunBreaksOnSLO(t *testing.T) {
	t.Parallel()
	// p95 grows 5 ms per req/s: 200 ms at 40, 250 ms at 50.
	att := &fakeAttacker{at: func(r float64) StepResult { return StepResult{P95: time.Duration(r*5) * time.Millisecond} }}
	out, err := Run(context.Background(), testPlan(), att, nil, 0, nil)
	require.NoError(t, err)
	require.True(t, out.Reached)
	require.Equal(t, 40.0, out.BreakPoint, "40 req/s is the last step at or under the SLO")
	require.Equal(t, []float64{10, 20, 30, 40, 50}, att.rates, "no step after the breaking one")
	require.Equal(t, BrokeSLO, out.Steps[len(out.Steps)-1].Verdict)
}

func TestRunBreaksOnErrorBudget(t *testing.T) {
	t.Parallel()
	// Fast, but from 70 req/s 2 % of the requests fail.
	att := &fakeAttacker{at: func(r float64) StepResult {
		s := StepResult{P95: 20 * time.Millisecond, Requests: int(r * 10)}
		if r >= 70 {
			s.Failures = s.Requests / 50
		}
		return s
	}}
	out, err := Run(context.Background(), testPlan(), att, nil, 0, nil)
	require.NoError(t, err)
	require.True(t, out.Reached)
	require.Equal(t, 60.0, out.BreakPoint)
	require.Equal(t, BrokeErrors, out.Steps[len(out.Steps)-1].Verdict)
}

func TestRunErrorsAtTheBudgetHold(t *testing.T) {
	t.Parallel()
	// Exactly 1 % failing is within a 1 % budget.
	att := &fakeAttacker{at: func(r float64) StepResult {
		return StepResult{P95: time.Millisecond, Requests: 1000, Failures: 10}
	}}
	out, err := Run(context.Background(), testPlan(), att, nil, 0, nil)
	require.NoError(t, err)
	require.False(t, out.Reached)
	require.Equal(t, 100.0, out.BreakPoint, "every step held: the break point is above the max")
	require.Len(t, out.Steps, 10)
}

func TestRunFirstStepBreaks(t *testing.T) {
	t.Parallel()
	att := &fakeAttacker{at: func(float64) StepResult { return StepResult{P95: time.Second} }}
	out, err := Run(context.Background(), testPlan(), att, nil, 0, nil)
	require.NoError(t, err)
	require.True(t, out.Reached)
	require.Zero(t, out.BreakPoint)
	s := NewSummary(out, testPlan(), DefaultMix(), Environment{}, "http://localhost:1", 5, "given", time.Now(), time.Now())
	require.Zero(t, s.HeadroomX)
	require.Contains(t, s.Headroom, "even the first step broke")
}

func TestRunBreaksWhenRequestsCannotBeSent(t *testing.T) {
	t.Parallel()
	// The generator sends only 60 req/s whatever it is asked: latency
	// looks fine, but the asked rate was never offered.
	att := &fakeAttacker{at: func(r float64) StepResult { return StepResult{P95: time.Millisecond, Sent: min(r, 60)} }}
	out, err := Run(context.Background(), testPlan(), att, nil, 0, nil)
	require.NoError(t, err)
	require.Equal(t, 60.0, out.BreakPoint)
	require.Equal(t, BrokeSending, out.Steps[len(out.Steps)-1].Verdict)
	require.Equal(t, "load generator", out.Limiters[0].Name)
}

func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	att := &fakeAttacker{at: func(r float64) StepResult {
		if r == 30 {
			cancel()
		}
		return StepResult{P95: time.Millisecond}
	}}
	out, err := Run(ctx, testPlan(), att, nil, 0, nil)
	require.NoError(t, err)
	require.True(t, out.Stopped)
	require.False(t, out.Reached)
	require.Equal(t, 20.0, out.BreakPoint, "the interrupted step counts for nothing")
}

func TestPlanRatesAreBounded(t *testing.T) {
	t.Parallel()
	p := testPlan()
	require.Equal(t, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, p.Rates())
	p.MaxRequests = 1000 // 100 + 200 + 300 + 400 = 1000 requests in four 10 s steps
	require.Equal(t, []float64{10, 20, 30, 40}, p.Rates())
	p = testPlan()
	p.MaxDuration = 35 * time.Second
	require.Equal(t, []float64{10, 20, 30}, p.Rates())
	p.Start = 0
	require.Error(t, p.Validate())
}

func TestDiagnose(t *testing.T) {
	t.Parallel()
	// Pool exhausted, CPU half busy: the pool comes first.
	s := StepResult{Rate: 100, Sent: 100, Requests: 1000, Usage: &Usage{Seconds: 10, HostCPUBusy: 0.4, CPUCores: 0.5,
		PoolAcquires: 1000, PoolWaits: 600, PoolWaitMs: 30, PoolMax: 20, PoolBusyMax: 20}}
	sig := Diagnose(s, 2)
	require.Equal(t, "database pool", sig[0].Name)
	require.Contains(t, sig[0].Detail, "60 % of 1000 acquires waited")
	require.Equal(t, "database pool", Outcome{Limiters: sig}.Limiter())

	// 429s are named first, with their policy.
	s.RateLimited, s.LimitedBy = 50, map[string]int{"api-key": 50}
	sig = Diagnose(s, 2)
	require.Equal(t, "rate limits", sig[0].Name)
	require.Contains(t, sig[0].Detail, "api-key ×50")

	// Lock waits and a growing job backlog are reported.
	s = StepResult{Rate: 100, Sent: 100, Requests: 1000, Usage: &Usage{HostCPUBusy: 0.3, LockWaitsMax: 4, ActiveMax: 8,
		JobsAvailableStart: 0, JobsAvailableEnd: 40}}
	names := []string{}
	for _, x := range Diagnose(s, 2) {
		names = append(names, x.Name)
	}
	require.Equal(t, []string{"job backlog", "lock waits", "CPU"}, names)

	// Nothing saturated: said so, not guessed.
	s.Usage = &Usage{HostCPUBusy: 0.2}
	require.Contains(t, Outcome{Limiters: Diagnose(s, 2)}.Limiter(), "nothing saturated")
}

func TestUsageOf(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before := Snapshot{At: t0, Values: map[string]float64{mCPU: 10, mAcquires: 100, mEmptyAcquires: 10, mEmptyWaitNs: 1e7,
		mJobs + ":available": 2, mRequests: 50}}
	mid := Snapshot{At: t0.Add(5 * time.Second), Values: map[string]float64{mAcquired: 7, mLockWaits: 3, mInFlight: 12}}
	after := Snapshot{At: t0.Add(10 * time.Second), Values: map[string]float64{mCPU: 25, mAcquires: 300, mEmptyAcquires: 30,
		mEmptyWaitNs: 1e7 + 2e8, mJobs + ":available": 5, mRequests: 250, mMaxConns: 20, mAcquired: 1}}
	u := usageOf(before, after, []Snapshot{mid})
	require.InDelta(t, 1.5, u.CPUCores, 1e-9)
	require.Equal(t, 200.0, u.Served)
	require.Equal(t, 200.0, u.PoolAcquires)
	require.Equal(t, 20.0, u.PoolWaits)
	require.InDelta(t, 10.0, u.PoolWaitMs, 1e-9)
	require.Equal(t, 7.0, u.PoolBusyMax)
	require.Equal(t, 3.0, u.LockWaitsMax)
	require.Equal(t, 12.0, u.InFlightMax)
	require.Equal(t, 2.0, u.JobsAvailableStart)
	require.Equal(t, 5.0, u.JobsAvailableEnd)
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		method, url string
		code        uint16
		op          string
		ok          bool
	}{
		{"GET", "http://h/api/v1/contacts/0190", 200, OpGet, true},
		{"GET", "http://h/api/v1/contacts?limit=50", 200, OpList, true},
		{"GET", "http://h/api/v1/contacts?q=ada", 429, OpSearch, false},
		{"POST", "http://h/api/v1/contacts", 201, OpCreate, true},
		{"PATCH", "http://h/api/v1/contacts/0190", 500, OpUpdate, false},
		{"GET", "http://h/login", 200, OpLoginPage, true},
		{"POST", "http://h/api/v1/exports", 409, OpExport, true},
		{"POST", "http://h/api/v1/exports", 500, OpExport, false},
	} {
		op, ok := classify(tt.method, tt.url, tt.code)
		require.Equal(t, tt.op, op, tt.url)
		require.Equal(t, tt.ok, ok, tt.url)
	}
}

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	require.NoError(t, CheckTarget("http://localhost:8080", "development", false))
	require.NoError(t, CheckTarget("http://127.0.0.1:8080", "", false))
	require.ErrorContains(t, CheckTarget("http://localhost:8080", "production", false), "GROUNDWORK_ENV=production")
	require.ErrorContains(t, CheckTarget("https://app.example.com", "development", false), "not on this machine")
	require.NoError(t, CheckTarget("https://staging.example.com", "production", true))
	require.Error(t, CheckTarget("ftp://localhost", "", true))
}

func TestSummaryAndReport(t *testing.T) {
	t.Parallel()
	att := &fakeAttacker{at: func(r float64) StepResult {
		return StepResult{P50: time.Duration(r) * time.Millisecond, P95: time.Duration(r*5) * time.Millisecond,
			P99: time.Duration(r*8) * time.Millisecond, Throughput: r, Ops: map[string]OpResult{OpGet: {Requests: 1, P95: time.Millisecond}}}
	}}
	out, err := Run(context.Background(), testPlan(), att, nil, 0, nil)
	require.NoError(t, err)
	s := NewSummary(out, testPlan(), DefaultMix(), Environment{CPUs: 2}, "http://localhost:1", 2, "given", time.Now(), time.Now())
	require.Equal(t, 20.0, s.HeadroomX)
	require.Equal(t, "fine to 20× current traffic (2 req/s peak, breaks above 40 req/s)", s.Headroom)
	dir := t.TempDir()
	require.NoError(t, s.WriteJSON(filepath.Join(dir, "summary.json")))
	require.NoError(t, s.WriteHTML(filepath.Join(dir, "report.html")))
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	for _, k := range []string{"finished_at", "base_url", "break_point_rps", "headroom_x", "p95_slo_ms", "error_budget"} {
		require.Contains(t, got, k)
	}
	require.Equal(t, 40.0, got["break_point_rps"])
	require.Equal(t, 200.0, got["p95_slo_ms"])
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	require.Contains(t, string(html), "<svg")
	require.Contains(t, string(html), "Breaks above <strong>40 req/s</strong>")
	require.Contains(t, string(html), "break point 40 req/s")
}
