package loadtest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Environment describes where a load test ran and what it ran against.
type Environment struct {
	// CPUs and LoadAvg are the generating machine's CPU count and its load
	// averages (1, 5, 15 min) before the test.
	CPUs    int        `json:"cpus"`
	LoadAvg [3]float64 `json:"load_avg"`
	// Host is the generating machine's name; GoVersion and OS its runtime.
	Host      string `json:"host"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	// TargetVersion, TargetCommit and TargetEnv come from the target's /version.
	TargetVersion string `json:"target_version"`
	TargetCommit  string `json:"target_commit"`
	TargetEnv     string `json:"target_environment"`
	// Instances is the number of metrics endpoints read (one per instance).
	Instances int `json:"instances"`
	// Loopback says the target runs on this machine, sharing its CPUs.
	Loopback bool `json:"loopback"`
}

// Summary is the JSON a load test leaves for "groundwork doctor" and for
// comparing runs: the break point, what limited it, the headroom and every
// step.
type Summary struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	BaseURL    string    `json:"base_url"`
	// BreakPointRPS is the highest arrival rate that met the SLO and the
	// error budget; BreakPointReached is false when no step broke, so the
	// real break point is higher.
	BreakPointRPS     float64 `json:"break_point_rps"`
	BreakPointReached bool    `json:"break_point_reached"`
	// BrokeBecause is the breaking step's verdict.
	BrokeBecause string `json:"broke_because,omitempty"`
	// Limiter names what most likely limited it; Limiters gives the evidence.
	Limiter  string   `json:"limiter"`
	Limiters []Signal `json:"limiters"`
	// CurrentPeakRPS is today's peak traffic, and CurrentPeakSource where it
	// came from ("flag", "target metrics: average since start", or "unknown").
	CurrentPeakRPS    float64 `json:"current_peak_rps"`
	CurrentPeakSource string  `json:"current_peak_source"`
	// HeadroomX is BreakPointRPS / CurrentPeakRPS, 0 when the peak is unknown.
	HeadroomX float64 `json:"headroom_x"`
	// Headroom says it in words: "fine to 40× current traffic".
	Headroom    string      `json:"headroom"`
	P95SLOMs    float64     `json:"p95_slo_ms"`
	ErrorBudget float64     `json:"error_budget"`
	Plan        PlanJSON    `json:"plan"`
	Mix         []Op        `json:"mix"`
	Steps       []StepJSON  `json:"steps"`
	Environment Environment `json:"environment"`
	// Requests counts every request sent; Stopped says the run was interrupted.
	Requests int  `json:"requests"`
	Stopped  bool `json:"stopped,omitempty"`
	// CleanedUp says the test data was removed afterwards.
	CleanedUp bool `json:"cleaned_up"`
	// Report is the HTML report's path.
	Report string `json:"report,omitempty"`
}

// PlanJSON is a Plan in the summary.
type PlanJSON struct {
	StartRPS       float64 `json:"start_rps"`
	StepRPS        float64 `json:"step_rps"`
	MaxRPS         float64 `json:"max_rps"`
	StepSeconds    float64 `json:"step_seconds"`
	MaxRequests    int     `json:"max_requests"`
	MaxDurationSec float64 `json:"max_duration_seconds"`
}

// StepJSON is a StepResult in the summary, latencies in milliseconds.
type StepJSON struct {
	StepResult
	P50Ms    float64            `json:"p50_ms"`
	P95Ms    float64            `json:"p95_ms"`
	P99Ms    float64            `json:"p99_ms"`
	MaxMs    float64            `json:"max_ms"`
	ErrorPct float64            `json:"error_pct"`
	OpP95Ms  map[string]float64 `json:"op_p95_ms"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// NewSummary builds the summary of outcome o.
func NewSummary(o Outcome, plan Plan, mix []Op, env Environment, baseURL string, peak float64, peakSource string, started, finished time.Time) Summary {
	s := Summary{
		StartedAt: started.UTC(), FinishedAt: finished.UTC(), BaseURL: baseURL,
		BreakPointRPS: o.BreakPoint, BreakPointReached: o.Reached, Limiter: o.Limiter(), Limiters: o.Limiters,
		CurrentPeakRPS: peak, CurrentPeakSource: peakSource,
		P95SLOMs: ms(plan.SLO), ErrorBudget: plan.ErrorBudget, Mix: mix, Environment: env, Stopped: o.Stopped,
		Plan: PlanJSON{StartRPS: plan.Start, StepRPS: plan.Step, MaxRPS: plan.Max, StepSeconds: plan.StepDuration.Seconds(),
			MaxRequests: plan.MaxRequests, MaxDurationSec: plan.MaxDuration.Seconds()},
	}
	if s.Limiters == nil {
		s.Limiters = []Signal{}
	}
	if n := len(o.Steps); n > 0 && o.Reached {
		s.BrokeBecause = string(o.Steps[n-1].Verdict)
	}
	for _, st := range o.Steps {
		j := StepJSON{StepResult: st, P50Ms: ms(st.P50), P95Ms: ms(st.P95), P99Ms: ms(st.P99), MaxMs: ms(st.Max),
			ErrorPct: math.Round(st.ErrorRate()*10000) / 100, OpP95Ms: map[string]float64{}}
		for op, r := range st.Ops {
			j.OpP95Ms[op] = ms(r.P95)
		}
		s.Steps = append(s.Steps, j)
		s.Requests += st.Requests
	}
	if s.Steps == nil {
		s.Steps = []StepJSON{}
	}
	s.HeadroomX, s.Headroom = headroom(o, peak)
	return s
}

// headroom is the break point against the current peak, as a factor and
// in words.
func headroom(o Outcome, peak float64) (float64, string) {
	bp := fmt.Sprintf("%g req/s", o.BreakPoint)
	switch {
	case o.BreakPoint == 0:
		return 0, "no headroom measured: even the first step broke"
	case peak <= 0:
		return 0, "headroom unknown: the current peak is not known (pass -current-peak-rps); breaks at " + bp
	}
	x := math.Floor(o.BreakPoint/peak*10) / 10
	if !o.Reached {
		return x, fmt.Sprintf("fine to at least %g× current traffic (%.3g req/s peak; nothing broke up to %s)", x, peak, bp)
	}
	return x, fmt.Sprintf("fine to %g× current traffic (%.3g req/s peak, breaks above %s)", x, peak, bp)
}

// WriteJSON writes s to path, creating its directory, through a temporary
// file so that a reader never sees half of it.
func (s Summary) WriteJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
