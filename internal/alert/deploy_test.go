package alert

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/maintenance"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestErrorRise: a rise needs traffic on both sides, a few errors, and a
// rate both double the previous one and a percentage point above it.
func TestErrorRise(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		current, prev Rate
		want          bool
	}{
		{"from 1% to 15%", Rate{200, 30}, Rate{1000, 10}, true},
		{"from none to 5%", Rate{100, 5}, Rate{1000, 0}, true},
		{"from 1% to 1.5%: not double", Rate{1000, 15}, Rate{1000, 10}, false},
		{"from 0.1% to 0.5%: double but under a point more", Rate{1000, 5}, Rate{1000, 1}, false},
		{"4 errors are too few", Rate{40, 4}, Rate{1000, 0}, false},
		{"too few new requests", Rate{10, 10}, Rate{1000, 0}, false},
		{"no previous traffic to compare with", Rate{200, 100}, Rate{5, 0}, false},
		{"from 20% to 45%", Rate{100, 45}, Rate{100, 20}, true},
	} {
		require.Equal(t, tc.want, ErrorRise(tc.current, tc.prev), tc.name)
	}
}

// TestNewVersionStart finds the newest version's first start of serve and
// the version before it.
func TestNewVersionStart(t *testing.T) {
	t.Parallel()
	at := func(m int) time.Time { return time.Date(2026, 12, 6, 12, m, 0, 0, time.UTC) }
	d := func(role, version string, m int) maintenance.Deployment {
		return maintenance.Deployment{Role: role, Version: version, StartedAt: at(m)}
	}
	// Newest first: v2 rolled out over two instances (a worker first), v1 before.
	starts := []maintenance.Deployment{d("serve", "v2", 9), d("serve", "v2", 7), d("worker", "v2", 6), d("serve", "v1", 1), d("serve", "v0", 0)}
	start, prev, ok := NewVersionStart(starts, "v2")
	require.True(t, ok)
	require.Equal(t, at(7), start)
	require.Equal(t, "v1", prev)

	_, _, ok = NewVersionStart(starts, "v1")
	require.False(t, ok, "an older version is not the new one")
	_, _, ok = NewVersionStart(starts[:2], "v2")
	require.False(t, ok, "no version before it")
	_, _, ok = NewVersionStart(nil, "v2")
	require.False(t, ok)
}

// counter stands in for observe.Requests.Totals.
type counter struct{ requests, errors atomic.Int64 }

func (c *counter) add(requests, errors int64) {
	c.requests.Add(requests)
	c.errors.Add(errors)
}

func (c *counter) totals() (int64, int64) { return c.requests.Load(), c.errors.Load() }

// deployFixture is a database where v1 started serving two hours before
// start and v2 at start, and v1 served 1000 requests, 10 of them 5xx, in
// the hour before start (flushed by its own watch).
type deployFixture struct {
	store *maintenance.Store
	clock *gwtest.Clock
	start time.Time
}

func newDeployFixture(t *testing.T) deployFixture {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 6, 12, 0, 30, 0, time.UTC)
	_, err := db.Runtime.Exec(ctx, `INSERT INTO deployments (role, version, commit, build_time, host, pid, started_at) VALUES
		('serve', 'v1', 'aaa', '', 'web-1', 1, $1), ('serve', 'v2', 'bbb', '', 'web-1', 2, $2)`, start.Add(-2*time.Hour), start)
	require.NoError(t, err)
	store := maintenance.NewStore(db.Runtime)
	clock := gwtest.NewClock(start.Add(-30 * time.Minute))
	var old counter
	v1 := NewDeployWatch(store, "v1", old.totals, clock, nil, "web-1")
	old.add(600, 6)
	require.NoError(t, v1.Flush(ctx))
	clock.Advance(10 * time.Minute)
	old.add(400, 4)
	require.NoError(t, v1.Flush(ctx))
	require.NoError(t, v1.Flush(ctx), "nothing new to flush")
	requests, errors, err := store.Traffic(ctx, "v1", start.Add(-time.Hour), start)
	require.NoError(t, err)
	require.Equal(t, [2]int64{1000, 10}, [2]int64{requests, errors}, "each flush adds what is new")
	clock.Advance(start.Sub(clock.Now()))
	return deployFixture{store: store, clock: clock, start: start}
}

// TestDeployWatchAlertsOnErrorRise: v2's error rate in the minutes after it
// started (15%) rises over v1's (1%): one alert reaches the local receiver,
// however often this and another instance check; a failed post is retried.
func TestDeployWatchAlertsOnErrorRise(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	ctx := context.Background()
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)

	var a, b counter
	webA := NewDeployWatch(f.store, "v2", a.totals, f.clock, New(srv.URL, f.clock, time.Hour, nil), "web-1")
	webB := NewDeployWatch(f.store, "v2", b.totals, f.clock, New(srv.URL, f.clock, time.Hour, nil), "web-2")
	f.clock.Advance(time.Minute)
	a.add(100, 2)
	require.NoError(t, webA.Flush(ctx))
	sent, err := webA.Check(ctx)
	require.NoError(t, err)
	require.False(t, sent, "2 errors in 100 are too few to tell")

	f.clock.Advance(2 * time.Minute)
	a.add(50, 14)
	b.add(50, 14)
	require.NoError(t, webA.Flush(ctx))
	require.NoError(t, webB.Flush(ctx))
	rcv.mu.Lock()
	rcv.fail = true
	rcv.mu.Unlock()
	_, err = webA.Check(ctx)
	require.Error(t, err, "the receiver is down")
	rcv.mu.Lock()
	rcv.fail = false
	rcv.mu.Unlock()

	sent, err = webA.Check(ctx)
	require.NoError(t, err)
	require.True(t, sent, "15% against 1%, retried after the failed post")
	for range 3 {
		f.clock.Advance(time.Minute)
		for _, w := range []*DeployWatch{webA, webB} {
			sent, err = w.Check(ctx)
			require.NoError(t, err)
			require.False(t, sent, "once per version, across checks and instances")
		}
	}
	got := rcv.got()
	require.Len(t, got, 1)
	require.Contains(t, got[0], "version v2")
	require.Contains(t, got[0], "15.0% of 200 requests")
	require.Contains(t, got[0], "1.0% of 1000 for version v1")
	require.Contains(t, got[0], "web-1")
}

// TestDeployWatchQuietWithoutRise: an error rate like the previous
// version's alerts nothing; nor does a rise once the ten minutes are past,
// nor a check by an instance of the older version.
func TestDeployWatchQuietWithoutRise(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	ctx := context.Background()
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)

	var c counter
	web := NewDeployWatch(f.store, "v2", c.totals, f.clock, New(srv.URL, f.clock, time.Hour, nil), "web-1")
	for range 10 {
		f.clock.Advance(time.Minute)
		c.add(100, 1) // 1%, as v1
		require.NoError(t, web.Flush(ctx))
		sent, err := web.Check(ctx)
		require.NoError(t, err)
		require.False(t, sent)
	}

	f.clock.Advance(f.start.Add(DeployWindow + deployCheckGrace + time.Minute).Sub(f.clock.Now()))
	c.add(200, 150)
	require.NoError(t, web.Flush(ctx))
	sent, err := web.Check(ctx)
	require.NoError(t, err)
	require.False(t, sent, "errors after the window are the other alerts' business")

	var o counter
	old := NewDeployWatch(f.store, "v1", o.totals, f.clock, New(srv.URL, f.clock, time.Hour, nil), "web-2")
	f.clock.Advance(f.start.Add(2 * time.Minute).Sub(f.clock.Now()))
	o.add(100, 90)
	require.NoError(t, old.Flush(ctx))
	sent, err = old.Check(ctx)
	require.NoError(t, err)
	require.False(t, sent, "v1 is not the new version")
	require.Empty(t, rcv.got())
}
