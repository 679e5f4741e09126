package observe

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// This file keeps the operator console's request statistics in process, in
// rolling windows (the way Laravel Pulse does), so that "is it slow right
// now?" has an answer without Prometheus: per-second slots for the last 5
// minutes, per-minute slots for the last hour and 5-minute slots for the
// last 24 hours, each a small latency histogram. They describe this
// instance only; several instances each show their own.

// LatencyBounds are the upper bounds of the console's latency histogram
// buckets, in milliseconds; a last, unbounded bucket follows.
var LatencyBounds = [...]float64{1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000}

const nBuckets = len(LatencyBounds) + 1

// slot is one interval's requests: counts, 5xx, 429s and the latency
// histogram. epoch is the interval's number (unix time / width); a slot
// whose epoch is not the one asked for is stale and counts as empty.
type slot struct {
	epoch           int64
	count, errs, rl uint32
	sumMs           float64
	buckets         [nBuckets]uint32
}

func (s *slot) add(o *slot) {
	s.count += o.count
	s.errs += o.errs
	s.rl += o.rl
	s.sumMs += o.sumMs
	for i := range s.buckets {
		s.buckets[i] += o.buckets[i]
	}
}

// ring is n slots of width seconds each.
type ring struct {
	width int64
	slots []slot
}

func newRing(width int64, n int) ring { return ring{width: width, slots: make([]slot, n)} }

func (r *ring) at(epoch int64) *slot {
	s := &r.slots[int(epoch%int64(len(r.slots)))]
	if s.epoch != epoch {
		*s = slot{epoch: epoch}
	}
	return s
}

// series is the windows of one route, or of every request.
type series struct {
	mu          sync.Mutex
	sec         ring // 300 × 1 s; only for every request (nil slots otherwise)
	min, fiveMn ring // 60 × 1 min, 288 × 5 min
}

func newSeries(withSeconds bool) *series {
	s := &series{min: newRing(60, 60), fiveMn: newRing(300, 288)}
	if withSeconds {
		s.sec = newRing(1, 300)
	}
	return s
}

func (s *series) record(unix int64, bucket int, ms float64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range [3]*ring{&s.sec, &s.min, &s.fiveMn} {
		if r.slots == nil {
			continue
		}
		sl := r.at(unix / r.width)
		sl.count++
		sl.sumMs += ms
		sl.buckets[bucket]++
		if status >= 500 {
			sl.errs++
		}
		if status == 429 {
			sl.rl++
		}
	}
}

// Window is one of the console's rolling windows.
type Window struct {
	// Name is how the console names it: "5m", "1h", "24h".
	Name string
	// Span is its length.
	Span time.Duration
}

// Windows are the console's windows, shortest first.
var Windows = []Window{{"5m", 5 * time.Minute}, {"1h", time.Hour}, {"24h", 24 * time.Hour}}

// ring picks the ring a window reads and the number of its slots.
func (s *series) ringFor(w Window) (*ring, int) {
	switch {
	case w.Span <= 5*time.Minute && s.sec.slots != nil:
		return &s.sec, int(w.Span / time.Second)
	case w.Span <= time.Hour:
		return &s.min, int(w.Span / time.Minute)
	}
	return &s.fiveMn, int(w.Span / (5 * time.Minute))
}

// Stats summarise a window of requests.
type Stats struct {
	// Requests is how many finished in the window, RPS their rate.
	Requests int64
	RPS      float64
	// P50, P95 and P99 are latency percentiles in milliseconds, estimated
	// from the histogram (the upper bound of the percentile's bucket).
	P50, P95, P99 float64
	// MeanMs is the mean latency in milliseconds.
	MeanMs float64
	// Errors are the 5xx responses, ErrorRate their share of Requests.
	Errors    int64
	ErrorRate float64
	// RateLimited are the 429 responses (rate-limit rejections).
	RateLimited int64
}

// Point is one slot of a window's chart.
type Point struct {
	// Time is the slot's start.
	Time time.Time
	// Requests, Errors and P95 (ms) are the slot's.
	Requests, Errors int64
	P95              float64
}

func (s *series) window(now time.Time, w Window) (Stats, []Point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, n := s.ringFor(w)
	last := now.Unix() / r.width
	var total slot
	points := make([]Point, 0, n)
	for e := last - int64(n) + 1; e <= last; e++ {
		sl := &r.slots[int(e%int64(len(r.slots)))]
		p := Point{Time: time.Unix(e*r.width, 0).UTC()}
		if sl.epoch == e {
			total.add(sl)
			p.Requests, p.Errors = int64(sl.count), int64(sl.errs)
			p.P95 = percentile(&sl.buckets, sl.count, 0.95)
		}
		points = append(points, p)
	}
	st := Stats{Requests: int64(total.count), Errors: int64(total.errs), RateLimited: int64(total.rl)}
	st.RPS = float64(total.count) / w.Span.Seconds()
	if total.count > 0 {
		st.ErrorRate = float64(total.errs) / float64(total.count)
		st.MeanMs = total.sumMs / float64(total.count)
		st.P50 = percentile(&total.buckets, total.count, 0.50)
		st.P95 = percentile(&total.buckets, total.count, 0.95)
		st.P99 = percentile(&total.buckets, total.count, 0.99)
	}
	return st, points
}

// percentile returns the upper bound of the bucket holding quantile q of
// n observations; the unbounded bucket reports the last bound.
func percentile(b *[nBuckets]uint32, n uint32, q float64) float64 {
	if n == 0 {
		return 0
	}
	rank := uint32(q*float64(n) + 0.999999)
	var seen uint32
	for i, c := range b {
		seen += c
		if seen >= rank {
			if i < len(LatencyBounds) {
				return LatencyBounds[i]
			}
			break
		}
	}
	return LatencyBounds[len(LatencyBounds)-1]
}

// RequestSample is one finished request the console lists (slowest, errors).
type RequestSample struct {
	// Time is when it finished.
	Time time.Time
	// Method, Route and Status describe it; RequestID finds its log lines.
	Method, Route string
	Status        int
	RequestID     string
	// TraceID is the request's trace, when tracing is on ("" otherwise).
	TraceID string
	// Duration is how long it took.
	Duration time.Duration
}

// Requests is the in-process record of finished requests behind the
// operator console. Record is safe for concurrent use and allocates only
// the first time a route is seen.
type Requests struct {
	now func() time.Time

	all    *series
	mu     sync.RWMutex
	routes map[string]*series

	recentMu sync.Mutex
	recent   []RequestSample // ring of the last len(recent) requests
	next     int
	errs     []RequestSample // ring of the last 5xx responses
	nextErr  int

	total, failed atomic.Int64 // every request and 5xx answer recorded (Totals)
}

// recentSize and errorSize bound the samples kept.
const (
	recentSize = 2048
	errorSize  = 50
)

// NewRequests returns an empty record; now is the clock (nil: time.Now).
func NewRequests(now func() time.Time) *Requests {
	if now == nil {
		now = time.Now
	}
	return &Requests{now: now, all: newSeries(true), routes: make(map[string]*series),
		recent: make([]RequestSample, 0, recentSize), errs: make([]RequestSample, 0, errorSize)}
}

// Record records one finished request, with its request and trace IDs
// (traceID "" when tracing is off). A nil *Requests records nothing.
func (r *Requests) Record(method, route string, status int, d time.Duration, requestID, traceID string) {
	if r == nil {
		return
	}
	now := r.now()
	r.total.Add(1)
	if status >= 500 {
		r.failed.Add(1)
	}
	ms := float64(d.Microseconds()) / 1000
	b := sort.SearchFloat64s(LatencyBounds[:], ms)
	unix := now.Unix()
	r.all.record(unix, b, ms, status)

	key := route // ServeMux patterns start with their method
	if len(route) <= len(method) || route[:len(method)] != method {
		key = method + " " + route
	}
	r.mu.RLock()
	s := r.routes[key]
	r.mu.RUnlock()
	if s == nil {
		r.mu.Lock()
		if s = r.routes[key]; s == nil {
			s = newSeries(false)
			r.routes[key] = s
		}
		r.mu.Unlock()
	}
	s.record(unix, b, ms, status)

	sample := RequestSample{Time: now, Method: method, Route: route, Status: status, RequestID: requestID, TraceID: traceID, Duration: d}
	r.recentMu.Lock()
	if len(r.recent) < recentSize {
		r.recent = append(r.recent, sample)
	} else {
		r.recent[r.next] = sample
	}
	r.next = (r.next + 1) % recentSize
	if status >= 500 {
		if len(r.errs) < errorSize {
			r.errs = append(r.errs, sample)
		} else {
			r.errs[r.nextErr] = sample
		}
		r.nextErr = (r.nextErr + 1) % errorSize
	}
	r.recentMu.Unlock()
}

// Totals returns how many requests were recorded since the start and how
// many of them were answered with a 5xx status: the counts the deploy
// watch (internal/alert) stores per version. A nil *Requests has none.
func (r *Requests) Totals() (requests, errors int64) {
	if r == nil {
		return 0, 0
	}
	return r.total.Load(), r.failed.Load()
}

// RouteStats are one route's stats in a window.
type RouteStats struct {
	// Route is "METHOD /pattern".
	Route string
	Stats
}

// Summary is a window of the record, for the console.
type Summary struct {
	Window Window
	// Overall are every request's stats, Points the chart of them.
	Overall Stats
	Points  []Point
	// Routes are the routes that served requests in the window, slowest
	// p95 first.
	Routes []RouteStats
}

// Summary returns window w as of now.
func (r *Requests) Summary(w Window) Summary {
	now := r.now()
	sum := Summary{Window: w}
	sum.Overall, sum.Points = r.all.window(now, w)
	r.mu.RLock()
	keys := make([]string, 0, len(r.routes))
	for k := range r.routes {
		keys = append(keys, k)
	}
	r.mu.RUnlock()
	for _, k := range keys {
		r.mu.RLock()
		s := r.routes[k]
		r.mu.RUnlock()
		st, _ := s.window(now, w)
		if st.Requests > 0 {
			sum.Routes = append(sum.Routes, RouteStats{Route: k, Stats: st})
		}
	}
	slices.SortFunc(sum.Routes, func(a, b RouteStats) int {
		switch {
		case a.P95 != b.P95:
			if a.P95 > b.P95 {
				return -1
			}
			return 1
		case a.Requests != b.Requests:
			return int(b.Requests - a.Requests)
		}
		return cmpString(a.Route, b.Route)
	})
	return sum
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Slowest returns up to n of the recent requests that finished within
// since, slowest first.
func (r *Requests) Slowest(n int, since time.Duration) []RequestSample {
	cutoff := r.now().Add(-since)
	r.recentMu.Lock()
	out := make([]RequestSample, 0, len(r.recent))
	for _, s := range r.recent {
		if !s.Time.Before(cutoff) {
			out = append(out, s)
		}
	}
	r.recentMu.Unlock()
	slices.SortFunc(out, func(a, b RequestSample) int { return int(b.Duration - a.Duration) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Errors returns the last 5xx responses, newest first.
func (r *Requests) Errors() []RequestSample {
	r.recentMu.Lock()
	out := slices.Clone(r.errs)
	r.recentMu.Unlock()
	slices.SortFunc(out, func(a, b RequestSample) int { return b.Time.Compare(a.Time) })
	return out
}
