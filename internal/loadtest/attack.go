package loadtest

import (
	"context"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// HTTPAttacker sends the mix over HTTP with vegeta, at a constant arrival
// rate per step (an open model: requests go out on schedule whether or not
// earlier ones were answered, as users' requests do).
type HTTPAttacker struct {
	// Target and Mix say what to send.
	Target Target
	Mix    []Op
	// Timeout bounds each request; a request past it fails.
	Timeout time.Duration
	// MaxWorkers bounds the concurrent requests (and so the generator's
	// memory): past it, requests go out late and the step reports it.
	MaxWorkers uint64
}

// Attack implements Attacker.
func (a HTTPAttacker) Attack(ctx context.Context, rate float64, d time.Duration) (StepResult, error) {
	atk := vegeta.NewAttacker(
		vegeta.Timeout(a.Timeout),
		vegeta.MaxWorkers(a.MaxWorkers),
		vegeta.Workers(min(a.MaxWorkers, 10)),
		vegeta.MaxBody(512),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.KeepAlive(true),
	)
	// Hundredths of a request per second: 0.5 req/s is one every 2 s.
	pacer := vegeta.ConstantPacer{Freq: max(int(rate*100+0.5), 1), Per: 100 * time.Second}
	rec := newStepRecorder(rate)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for res := range atk.Attack(a.Target.Targeter(a.Mix), pacer, d, "groundwork-loadtest") {
		op, ok := classify(res.Method, res.URL, res.Code)
		rec.add(res, op, ok)
	}
	return rec.result(d), nil
}
