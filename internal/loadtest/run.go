package loadtest

import (
	"context"
	"fmt"
	"time"
)

// Attacker sends the mix at a rate for a duration and measures it. The
// vegeta-based HTTPAttacker is the real one; tests inject their own.
type Attacker interface {
	Attack(ctx context.Context, rate float64, d time.Duration) (StepResult, error)
}

// Observer reads the target's state around a step: Begin before it, End
// after it with what was used. The MetricsObserver reads /metrics.
type Observer interface {
	Begin(ctx context.Context) error
	End(ctx context.Context) (*Usage, error)
}

// Outcome is a whole load test's result.
type Outcome struct {
	// Steps are the steps run, in order; the last one broke unless Reached
	// is false.
	Steps []StepResult `json:"steps"`
	// Reached says a step broke; false means every step held, and the
	// break point is above the highest rate tried.
	Reached bool `json:"break_point_reached"`
	// BreakPoint is the highest rate that held, in requests per second (0
	// when even the first step broke).
	BreakPoint float64 `json:"break_point_rps"`
	// Limiters are what limited the breaking step (or the last one),
	// most likely first.
	Limiters []Signal `json:"limiters"`
	// Stopped says the run was interrupted (its context ended).
	Stopped bool `json:"stopped,omitempty"`
}

// Run raises the rate step by step through plan.Rates() until a step breaks
// (Plan.Judge), the rates run out or ctx ends. obs may be nil; progress, if
// not nil, is called after every step. Only an Observer or Attacker error
// that prevents measuring ends it with an error.
func Run(ctx context.Context, plan Plan, att Attacker, obs Observer, hostCPUs int, progress func(StepResult)) (Outcome, error) {
	var out Outcome
	if err := plan.Validate(); err != nil {
		return out, err
	}
	for _, rate := range plan.Rates() {
		if ctx.Err() != nil {
			out.Stopped = true
			break
		}
		if obs != nil {
			if err := obs.Begin(ctx); err != nil {
				return out, fmt.Errorf("before the %g req/s step: %w", rate, err)
			}
		}
		s, err := att.Attack(ctx, rate, plan.StepDuration)
		if err != nil {
			return out, fmt.Errorf("the %g req/s step: %w", rate, err)
		}
		if obs != nil {
			u, err := obs.End(context.WithoutCancel(ctx))
			if err != nil {
				return out, fmt.Errorf("after the %g req/s step: %w", rate, err)
			}
			s.Usage = u
		}
		if ctx.Err() != nil { // an interrupted step measures nothing
			out.Stopped = true
			break
		}
		s.Verdict = plan.Judge(s)
		if s.Verdict == Held && s.Sent < 0.9*s.Rate {
			s.Verdict = BrokeSending
		}
		out.Steps = append(out.Steps, s)
		if progress != nil {
			progress(s)
		}
		if s.Verdict != Held {
			out.Reached = true
			break
		}
		out.BreakPoint = s.Rate
	}
	if n := len(out.Steps); n > 0 {
		out.Limiters = Diagnose(out.Steps[n-1], hostCPUs)
	}
	return out, nil
}
