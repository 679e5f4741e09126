package alert

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/ops"
)

// receiver is a local Slack-compatible incoming webhook.
type receiver struct {
	mu    sync.Mutex
	texts []string
	fail  bool
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body struct{ Text string }
	if req.Header.Get("Content-Type") != "application/json" || json.NewDecoder(req.Body).Decode(&body) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	r.texts = append(r.texts, body.Text)
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...)
}

// TestNotifierDeduplicates posts to a local receiver: one post per key per
// window, a failed post retried on the next Notify, a nil Notifier silent.
func TestNotifierDeduplicates(t *testing.T) {
	t.Parallel()
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	clock := gwtest.NewClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	n := New(srv.URL, clock, time.Hour, nil)
	ctx := context.Background()

	sent, err := n.Notify(ctx, Alert{Key: "pitr.failing", Text: "WAL archiving is failing"})
	require.NoError(t, err)
	require.True(t, sent)
	sent, err = n.Notify(ctx, Alert{Key: "pitr.failing", Text: "WAL archiving is failing"})
	require.NoError(t, err)
	require.False(t, sent, "the same key within the window is quiet")
	sent, _ = n.Notify(ctx, Alert{Key: "ledger.stuck", Text: "ledger stuck"})
	require.True(t, sent, "another key is not")
	clock.Advance(time.Hour)
	sent, _ = n.Notify(ctx, Alert{Key: "pitr.failing", Text: "still failing"})
	require.True(t, sent, "after the window it alerts again")
	require.Equal(t, []string{"WAL archiving is failing", "ledger stuck", "still failing"}, rcv.got())

	rcv.mu.Lock()
	rcv.fail = true
	rcv.mu.Unlock()
	_, err = n.Notify(ctx, Alert{Key: "backup.stale", Text: "backups stale"})
	require.Error(t, err)
	rcv.mu.Lock()
	rcv.fail = false
	rcv.mu.Unlock()
	sent, err = n.Notify(ctx, Alert{Key: "backup.stale", Text: "backups stale"})
	require.NoError(t, err)
	require.True(t, sent, "a failed post is retried")

	var none *Notifier
	require.Nil(t, New("", nil, 0, nil))
	sent, err = none.Notify(ctx, Alert{Key: "x"})
	require.NoError(t, err)
	require.False(t, sent)
}

// TestConditions: each condition holds, and does not, on a snapshot of
// its own.
func TestConditions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	recent := now.Add(-2 * time.Hour)
	keys := func(s ops.Snapshot, last *time.Time, expected bool) []string {
		var out []string
		for _, a := range Conditions(s, last, expected, now, "host-a") {
			require.Contains(t, a.Text, "host-a")
			out = append(out, a.Key)
		}
		return out
	}
	healthy := ops.Snapshot{
		Rehearsal: &ops.Rehearsal{OK: true, StartedAt: recent},
		Archiver:  ops.Archiver{Mode: "on", LastArchived: now.Add(-time.Minute), LastFailed: now.Add(-time.Hour)},
		Ledger:    ops.Ledger{Present: true, Unprocessed: 2, OldestUnprocessed: time.Minute},
	}
	require.Empty(t, keys(healthy, &recent, true))
	require.Empty(t, keys(ops.Snapshot{}, nil, false), "no backups expected, none alerted")

	old := now.Add(-30 * time.Hour)
	require.Equal(t, []string{"backup.stale"}, keys(healthy, &old, true))
	require.Equal(t, []string{"backup.none"}, keys(healthy, nil, true))

	failed := healthy
	failed.Rehearsal = &ops.Rehearsal{OK: false, StartedAt: recent, BackupID: "b1", Error: "row counts differ"}
	require.Equal(t, []string{"rehearsal.failed:" + recent.Format(time.RFC3339)}, keys(failed, &recent, true))

	pitr := healthy
	pitr.Archiver.LastFailed = now
	require.Equal(t, []string{"pitr.failing"}, keys(pitr, &recent, true))

	stuck := healthy
	stuck.Ledger.OldestUnprocessed = 2 * time.Hour
	require.Equal(t, []string{"ledger.stuck"}, keys(stuck, &recent, true))
}

// TestIncidentsPostDisputes: a billing incident (a dispute opened, as
// billing.Notifier reports it) reaches error tracking and, once, the local
// receiver; another dispute alerts too; without a webhook only error
// tracking hears of it.
func TestIncidentsPostDisputes(t *testing.T) {
	t.Parallel()
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	clock := gwtest.NewClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	var reported []string
	report := func(_ context.Context, err error) { reported = append(reported, err.Error()) }
	hook := Incidents(report, New(srv.URL, clock, time.Hour, nil))
	ctx := context.Background()
	dispute := errors.New("billing: organisation o1: a payment dispute with funds withdrawn was opened (dispute dp_1, 12.00 EUR)")
	hook(ctx, dispute)
	hook(ctx, dispute) // the outbox row delivered twice
	hook(ctx, errors.New("billing: organisation o2: a payment dispute with funds withdrawn was opened (dispute dp_2, 5.00 EUR)"))
	require.Len(t, reported, 3)
	got := rcv.got()
	require.Len(t, got, 2)
	require.Contains(t, got[0], "dispute dp_1")
	require.Contains(t, got[1], "dispute dp_2")

	reported = nil
	Incidents(report, nil)(ctx, dispute)
	require.Len(t, reported, 1)
	require.Len(t, rcv.got(), 2)
}
