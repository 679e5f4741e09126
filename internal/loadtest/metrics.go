package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The target's metrics a load test reads (see internal/observe, postgres,
// jobs and ratelimit for what they mean).
const (
	mCPU            = "process_cpu_seconds_total"
	mRequests       = "groundwork_http_request_duration_seconds"
	mInFlight       = "groundwork_http_requests_in_flight"
	mAcquires       = "pgxpool_acquire_count"
	mEmptyAcquires  = "pgxpool_empty_acquire"
	mEmptyWaitNs    = "pgxpool_empty_acquire_wait_time_ns"
	mAcquired       = "pgxpool_acquired_conns"
	mMaxConns       = "pgxpool_max_conns"
	mJobs           = "groundwork_jobs"
	mRateRejected   = "groundwork_ratelimit_rejected_total"
	mLockWaits      = "groundwork_db_lock_waiting"
	mActiveBackends = "groundwork_db_active"
)

// Snapshot is one reading of the target's metrics, summed over its
// instances: each family's value summed over its series (a histogram's
// count), and River's available jobs as "groundwork_jobs:available".
type Snapshot struct {
	At     time.Time
	Values map[string]float64
}

// Scraper reads the /metrics of one or more instances of the target.
type Scraper struct {
	// URLs are the metrics endpoints, one per instance.
	URLs   []string
	Client *http.Client
}

// Scrape reads every URL and sums their values. A URL that cannot be read
// is an error: a reading of some instances would mislead.
func (s Scraper) Scrape(ctx context.Context) (Snapshot, error) {
	snap := Snapshot{At: time.Now(), Values: map[string]float64{}}
	for _, u := range s.URLs {
		fams, err := s.scrapeOne(ctx, u)
		if err != nil {
			return snap, err
		}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				v := value(f.GetType(), m)
				snap.Values[name] += v
				if name == mJobs && label(m, "state") == "available" {
					snap.Values[mJobs+":available"] += v
				}
			}
		}
	}
	return snap, nil
}

func (s Scraper) scrapeOne(ctx context.Context, u string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read metrics %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read metrics %s: %s (with GROUNDWORK_METRICS_ADDR set, pass its URL as -metrics-url)", u, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse metrics %s: %w", u, err)
	}
	return fams, nil
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	case dto.MetricType_SUMMARY:
		return float64(m.GetSummary().GetSampleCount())
	default:
		return m.GetUntyped().GetValue()
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Usage is what the target's metrics and this machine said about one step.
type Usage struct {
	// Seconds is the time between the readings before and after the step.
	Seconds float64 `json:"seconds"`
	// CPUCores is the CPU the target's processes used, in cores (1.5 = one
	// and a half cores busy on average).
	CPUCores float64 `json:"cpu_cores"`
	// HostCPUBusy is the busy fraction of this machine's CPUs over the
	// step (0 to 1), read from /proc/stat; -1 when unknown. It includes
	// PostgreSQL and the load generator when they run here.
	HostCPUBusy float64 `json:"host_cpu_busy"`
	// Served counts the requests the target recorded.
	Served float64 `json:"served"`
	// PoolAcquires counts connection acquires from the runtime pool;
	// PoolWaits those that found no idle connection and waited;
	// PoolWaitMs the average wait of those, in milliseconds.
	PoolAcquires float64 `json:"pool_acquires"`
	PoolWaits    float64 `json:"pool_waits"`
	PoolWaitMs   float64 `json:"pool_wait_ms"`
	// PoolMax is the pool's size; PoolBusyMax the most connections in use
	// at a sample.
	PoolMax     float64 `json:"pool_max"`
	PoolBusyMax float64 `json:"pool_busy_max"`
	// JobsAvailableStart and JobsAvailableEnd are River's jobs waiting to
	// run before and after the step.
	JobsAvailableStart float64 `json:"jobs_available_start"`
	JobsAvailableEnd   float64 `json:"jobs_available_end"`
	// LockWaitsMax is the most database sessions waiting on a lock at a
	// sample; ActiveMax the most running a statement.
	LockWaitsMax float64 `json:"lock_waits_max"`
	ActiveMax    float64 `json:"db_active_max"`
	// InFlightMax is the most requests in flight at a sample.
	InFlightMax float64 `json:"in_flight_max"`
	// RateLimited counts requests the target refused by a rate limit.
	RateLimited float64 `json:"rate_limited"`
}

// usageOf computes the usage between two snapshots and the samples taken
// during the step.
func usageOf(before, after Snapshot, samples []Snapshot) Usage {
	d := func(k string) float64 { return after.Values[k] - before.Values[k] }
	u := Usage{Seconds: after.At.Sub(before.At).Seconds(), HostCPUBusy: -1}
	if u.Seconds > 0 {
		u.CPUCores = d(mCPU) / u.Seconds
	}
	u.Served = d(mRequests)
	u.PoolAcquires, u.PoolWaits = d(mAcquires), d(mEmptyAcquires)
	if u.PoolWaits > 0 {
		u.PoolWaitMs = d(mEmptyWaitNs) / u.PoolWaits / 1e6
	}
	u.PoolMax = after.Values[mMaxConns]
	u.JobsAvailableStart, u.JobsAvailableEnd = before.Values[mJobs+":available"], after.Values[mJobs+":available"]
	u.RateLimited = d(mRateRejected)
	for _, s := range append(samples, after) {
		u.PoolBusyMax = max(u.PoolBusyMax, s.Values[mAcquired])
		u.LockWaitsMax = max(u.LockWaitsMax, s.Values[mLockWaits])
		u.ActiveMax = max(u.ActiveMax, s.Values[mActiveBackends])
		u.InFlightMax = max(u.InFlightMax, s.Values[mInFlight])
	}
	return u
}

// MetricsObserver reads the target's metrics before and after each step,
// and samples them every Interval during it for the gauges.
type MetricsObserver struct {
	Scraper  Scraper
	Interval time.Duration
	// HostCPU reads this machine's CPU counters; nil when the target is
	// elsewhere.
	HostCPU func() (busy, total float64, err error)

	mu       sync.Mutex
	before   Snapshot
	samples  []Snapshot
	cpu0     [2]float64
	cpuOK    bool
	stop     context.CancelFunc
	sampling sync.WaitGroup
}

// Begin implements Observer.
func (o *MetricsObserver) Begin(ctx context.Context) error {
	before, err := o.Scraper.Scrape(ctx)
	if err != nil {
		return err
	}
	o.before, o.samples = before, nil
	o.cpuOK = false
	if o.HostCPU != nil {
		if b, t, err := o.HostCPU(); err == nil {
			o.cpu0, o.cpuOK = [2]float64{b, t}, true
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	o.stop = cancel
	interval := o.Interval
	if interval <= 0 {
		interval = time.Second
	}
	o.sampling.Add(1)
	go func() {
		defer o.sampling.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				if s, err := o.Scraper.Scrape(sctx); err == nil {
					o.mu.Lock()
					o.samples = append(o.samples, s)
					o.mu.Unlock()
				}
			}
		}
	}()
	return nil
}

// End implements Observer.
func (o *MetricsObserver) End(ctx context.Context) (*Usage, error) {
	o.stop()
	o.sampling.Wait()
	after, err := o.Scraper.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	u := usageOf(o.before, after, o.samples)
	o.mu.Unlock()
	if o.cpuOK {
		if b, t, err := o.HostCPU(); err == nil && t > o.cpu0[1] {
			u.HostCPUBusy = (b - o.cpu0[0]) / (t - o.cpu0[1])
		}
	}
	return &u, nil
}
