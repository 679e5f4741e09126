package billing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// BenchmarkWebhookAccept measures signed webhook deliveries accepted per
// second: signature verification, the ledger insert and the job enqueue in
// one transaction, behind an HTTP endpoint like POST /webhooks/stripe, with
// 16 concurrent senders. It reports the p50 and p99 acknowledgement latency.
func BenchmarkWebhookAccept(b *testing.B) {
	env := newLedgerBench(b)
	payloads := make([][]byte, b.N)
	for i := range payloads {
		payloads[i] = []byte(fmt.Sprintf(`{"id":"evt_bench_%d_%s","object":"event","api_version":%q,"created":%d,`+
			`"type":"invoice.paid","livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},`+
			`"data":{"object":{"id":"in_bench_%d","object":"invoice"}}}`, i, uuid.NewString()[:8], stripe.APIVersion, time.Now().Unix(), i))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
		if err == nil {
			_, _, err = env.ledger.Receive(r.Context(), body, r.Header.Get("Stripe-Signature"))
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			p := payloads[next.Add(1)-1]
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(p))
			req.Header.Set("Stripe-Signature", stripefake.SignPayload(p, time.Now(), newSecret))
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkEventProcessing measures Stripe events processed per second by
// the billing queue's workers (10, River): each event is resolved to its
// organisation and handed to the organisation's coalesced sync job
// (DefaultSyncDebounce later), which re-fetches from the fake Stripe on
// loopback, stores the snapshot and writes the outbox. 40 organisations
// check out and renew twice; their events are recorded first, then the
// workers start. It reports the Stripe requests made per event too.
func BenchmarkEventProcessing(b *testing.B) {
	for range b.N {
		env := newLedgerBench(b)
		const orgs = 40
		for range orgs {
			org := pgtest.Org(b, env.db, "Acme")
			u, err := env.svc.StartCheckout(env.ctx, gw.Scope{Actor: gw.Actor{UserID: uuid.NewString()}, OrgID: org, Role: gw.RoleOwner},
				CheckoutInput{Plan: PlanPro})
			require.NoError(b, err)
			sub, err := env.fake.CompleteCheckout(u[strings.LastIndex(u, "/")+1:])
			require.NoError(b, err)
			for range 2 {
				_, err = env.fake.Renew(sub)
				require.NoError(b, err)
			}
		}
		evs := env.fake.Events()
		for _, ev := range evs {
			payload := stripefake.EventPayload(ev)
			_, _, err := env.ledger.Receive(env.ctx, payload, stripefake.SignPayload(payload, time.Now(), newSecret))
			require.NoError(b, err)
		}
		workers := river.NewWorkers()
		river.AddWorker(workers, &ProcessEventWorker{Syncer: env.syncer})
		river.AddWorker(workers, &SyncOrgWorker{Syncer: env.syncer})
		client, err := jobs.NewClient(env.db.Runtime, jobs.Config{Work: true, DefaultWorkers: 1, MaintenanceWorkers: 1,
			BillingWorkers: 10, Workers: workers, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(b, err)
		calls := len(env.fake.Requests())
		b.ResetTimer()
		start := time.Now()
		require.NoError(b, client.Start(env.ctx))
		for {
			var left int
			require.NoError(b, env.db.Owner.QueryRow(env.ctx, `SELECT count(*) FROM stripe_events WHERE processed_at IS NULL`).Scan(&left))
			if left == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		require.NoError(b, client.Stop(context.Background()))
		b.ReportMetric(float64(len(evs))/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(len(evs)), "events")
		b.ReportMetric(float64(len(env.fake.Requests())-calls)/float64(len(evs)), "stripe-calls/event")
	}
}

// module is the billing module on a fresh database and a fake Stripe, with
// an insert-only River client behind the ledger and the Syncer. The
// Service lets callers through authorize.
type module struct {
	ctx    context.Context
	db     *pgtest.DB
	fake   *stripefake.Server
	syncer *Syncer
	svc    *Service
	ledger *Ledger
}

func newModule(tb testing.TB, opts stripefake.Options) *module {
	tb.Helper()
	db := pgtest.New(tb)
	if opts.Prices == nil {
		opts.Prices = scenarioPrices
	}
	fake := stripefake.New(opts).Start(tb)
	cat, err := NewCatalog(PriceIDs{ProMonth: "price_pro_monthly", ProYear: "price_pro_yearly",
		BusinessMonth: "price_business_monthly", BusinessYear: "price_business_yearly"})
	require.NoError(tb, err)
	client, err := jobs.NewClient(db.Runtime, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	syncer, err := NewSyncer(SyncerConfig{Pool: db.Runtime, Stripe: fake.Client(), Catalog: cat, Clock: fake, Jobs: client})
	require.NoError(tb, err)
	ledger, err := NewLedger(db.Runtime, client, newSecret)
	require.NoError(tb, err)
	svc, err := NewService(ServiceConfig{Syncer: syncer, BaseURL: "https://app.test"})
	require.NoError(tb, err)
	return &module{ctx: context.Background(), db: db, fake: fake, syncer: syncer, svc: svc, ledger: ledger}
}

// newLedgerBench is the module for the benchmarks.
func newLedgerBench(b *testing.B) *module {
	return newModule(b, stripefake.Options{})
}
