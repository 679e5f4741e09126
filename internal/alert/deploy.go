package alert

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/maintenance"
)

// Thresholds of the error-rise-after-a-deploy alert.
const (
	// DeployWindow is how long after a new version's first start its error
	// rate is compared with the previous version's.
	DeployWindow = 10 * time.Minute
	// BaselineWindow is how much of the previous version's traffic before
	// the new one started makes its rate.
	BaselineWindow = time.Hour
	// RiseMinRequests is the fewest requests, in the new version's window
	// and in the previous version's baseline, that make a rate worth
	// comparing.
	RiseMinRequests = 20
	// RiseMinErrors is the fewest server errors of the new version that
	// may alert: a couple of 5xx are no incident.
	RiseMinErrors = 5
	// RiseFactor and RiseMargin: the new rate must be more than RiseFactor
	// times the previous one and more than RiseMargin (one percentage
	// point) above it.
	RiseFactor = 2
	RiseMargin = 0.01
)

// deployCheckGrace is how long past DeployWindow the watch still checks,
// so that the window's last minute, stored by the instances' next flush,
// counts.
const deployCheckGrace = 3 * time.Minute

// Rate is a version's requests and server errors (5xx) over some time.
type Rate struct {
	Requests, Errors int64
}

// Value is the error rate, errors per request (0 without requests).
func (r Rate) Value() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// ErrorRise reports whether the new version's rate is a rise over the
// previous version's (see the thresholds above). Too little traffic on
// either side is no rise.
func ErrorRise(current, previous Rate) bool {
	if current.Requests < RiseMinRequests || current.Errors < RiseMinErrors || previous.Requests < RiseMinRequests {
		return false
	}
	p := previous.Value()
	return current.Value() > max(p*RiseFactor, p+RiseMargin)
}

// NewVersionStart finds, in the starts of serve and worker (newest first,
// as maintenance.Store.Deployments lists them), when version began
// serving — the oldest start of serve in the newest unbroken run of its
// starts — and which version served before it. ok is false when version
// is not the newest to start serving (an older instance, during a
// rolling deploy), or no other version served before it.
func NewVersionStart(starts []maintenance.Deployment, version string) (start time.Time, previous string, ok bool) {
	seen := false
	for _, d := range starts {
		if d.Role != "serve" {
			continue
		}
		if d.Version == version {
			start, seen = d.StartedAt, true
			continue
		}
		if !seen {
			return time.Time{}, "", false // a newer version started after this one
		}
		return start, d.Version, true
	}
	return time.Time{}, "", false
}

// DeployStore is the database side of a DeployWatch;
// *maintenance.Store implements it.
type DeployStore interface {
	// AddTraffic adds to a version's counts of a minute, over all instances.
	AddTraffic(ctx context.Context, version string, minute time.Time, requests, errors int64) error
	// Traffic sums a version's counts over the minutes in [from, to).
	Traffic(ctx context.Context, version string, from, to time.Time) (requests, errors int64, err error)
	// Deployments lists the newest limit starts, newest first.
	Deployments(ctx context.Context, limit int) ([]maintenance.Deployment, error)
	// ClaimAlert reports whether this caller is the first to send alert for
	// version; ReleaseAlert undoes a claim whose alert was not delivered.
	ClaimAlert(ctx context.Context, version, alert string, at time.Time) (bool, error)
	ReleaseAlert(ctx context.Context, version, alert string) error
}

// deployStarts is how many recent starts NewVersionStart looks through.
const deployStarts = 200

// DeployWatch stores this instance's request and error counts under its
// version (Flush), and alerts when the error rate in the DeployWindow
// after a new version started rises over the previous version's rate in
// the BaselineWindow before (Check). Counts from every instance are summed
// in the database, and the alert is claimed there, so that several
// instances send it once between them. It is safe for concurrent use.
type DeployWatch struct {
	store    DeployStore
	version  string
	counts   func() (requests, errors int64)
	clock    gw.Clock
	notifier *Notifier
	instance string

	mu              sync.Mutex // guards the counts flushed so far
	flushedRequests int64
	flushedErrors   int64
}

// NewDeployWatch returns a watch of version, whose instance (named in the
// alert) counts requests with counts (observe.Requests.Totals, from the
// process's start). A nil clock is the system clock; a nil notifier stores
// the counts and alerts nothing.
func NewDeployWatch(store DeployStore, version string, counts func() (requests, errors int64), clock gw.Clock,
	notifier *Notifier, instance string) *DeployWatch {
	if clock == nil {
		clock = gw.SystemClock{}
	}
	return &DeployWatch{store: store, version: version, counts: counts, clock: clock, notifier: notifier, instance: instance}
}

// Flush adds the requests and errors counted since the last Flush to this
// version's count of the current minute. A failed Flush leaves them for
// the next.
func (w *DeployWatch) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	requests, errors := w.counts()
	dr, de := requests-w.flushedRequests, errors-w.flushedErrors
	if dr <= 0 && de <= 0 {
		return nil
	}
	if err := w.store.AddTraffic(ctx, w.version, w.clock.Now(), dr, de); err != nil {
		return err
	}
	w.flushedRequests, w.flushedErrors = requests, errors
	return nil
}

// Check posts the error-rise alert when this version is the newest to
// start serving, started at most DeployWindow (and a little grace) ago,
// and its error rate since is a rise (ErrorRise) over the previous
// version's; it reports whether it posted. The alert goes out once per
// version, across checks and instances.
func (w *DeployWatch) Check(ctx context.Context) (bool, error) {
	if w.notifier == nil {
		return false, nil
	}
	now := w.clock.Now()
	starts, err := w.store.Deployments(ctx, deployStarts)
	if err != nil {
		return false, err
	}
	start, previous, ok := NewVersionStart(starts, w.version)
	if !ok || now.Before(start) || now.Sub(start) > DeployWindow+deployCheckGrace {
		return false, nil
	}
	var cur, prev Rate
	if cur.Requests, cur.Errors, err = w.store.Traffic(ctx, w.version, start, start.Add(DeployWindow)); err != nil {
		return false, err
	}
	if prev.Requests, prev.Errors, err = w.store.Traffic(ctx, previous, start.Add(-BaselineWindow), start); err != nil {
		return false, err
	}
	if !ErrorRise(cur, prev) {
		return false, nil
	}
	const key = "deploy.error_rise"
	claimed, err := w.store.ClaimAlert(ctx, w.version, key, now)
	if err != nil || !claimed {
		return false, err
	}
	a := Alert{Key: key + ":" + w.version, Text: fmt.Sprintf(
		"*Groundwork* (%s): the error rate rose after version %s started at %s: %.1f%% of %d requests answered 5xx since, against %.1f%% of %d for version %s in the hour before. Look at the recent errors on /ops and consider rolling back.",
		w.instance, w.version, start.UTC().Format(time.RFC3339), 100*cur.Value(), cur.Requests, 100*prev.Value(), prev.Requests, previous)}
	sent, err := w.notifier.Notify(ctx, a)
	if err != nil {
		if rerr := w.store.ReleaseAlert(context.WithoutCancel(ctx), w.version, key); rerr != nil {
			return false, fmt.Errorf("%w (and %w)", err, rerr)
		}
		return false, err
	}
	return sent, nil
}
