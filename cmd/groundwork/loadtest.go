package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/loadtest"
)

const loadtestSummary = `Find where a deployment breaks. Against -base-url, create a test
organisation, user and API key (in the database the admin commands use,
DATABASE_URL or the embedded cluster), seed contacts, then send a realistic
mix (read, list, search, create, update, the log-in page, an export) at a
rising arrival rate, step by step, until the p95 latency passes -slo or the
errors pass -error-budget. Reads the target's /metrics around every step to
say what limited it (CPU, pool waits, lock waits, job backlog, rate
limits). Writes report.html and summary.json under -out (the summary to
GROUNDWORK_LOADTEST_SUMMARY if set), then removes the test data.

Run the target with the API rate limits off, or they are what you measure:
GROUNDWORK_RATE_API_KEY=off GROUNDWORK_RATE_SEARCH=off GROUNDWORK_RATE_SEARCH_ORG=off
GROUNDWORK_RATE_API_AUTH_IP=off (this one caps the API requests in flight
from one IP, e.g. behind a load balancer, at its burst).
It refuses a target off this machine or in production unless -allow-production.
`

// loadtestFlags are the flags of "groundwork loadtest".
type loadtestFlags struct {
	baseURL, out, apiKey                    string
	metricsURLs                             stringList
	start, step, maxRate, peak              float64
	stepDuration, slo, maxDuration, timeout time.Duration
	errorBudget                             float64
	maxRequests, seed                       int
	maxWorkers                              uint64
	allowProduction, keep                   bool
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runLoadtest runs "groundwork loadtest".
func runLoadtest(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("loadtest", loadtestSummary)
	var f loadtestFlags
	fs.StringVar(&f.baseURL, "base-url", "", "the deployment to test (default: this configuration's serve, http://localhost:$PORT)")
	fs.Var(&f.metricsURLs, "metrics-url", "a /metrics URL of the target, once per instance (default: BASE-URL/metrics)")
	fs.Float64Var(&f.start, "start", 10, "the first step's arrival rate, requests per second")
	fs.Float64Var(&f.step, "step", 10, "what each step adds to the rate")
	fs.Float64Var(&f.maxRate, "max", 1000, "the highest rate to try")
	fs.DurationVar(&f.stepDuration, "step-duration", 10*time.Second, "how long each step lasts")
	fs.DurationVar(&f.slo, "slo", 200*time.Millisecond, "the p95 latency objective")
	fs.Float64Var(&f.errorBudget, "error-budget", 0.01, "the share of failed requests allowed (0.01 = 1 %)")
	fs.IntVar(&f.maxRequests, "max-requests", 200_000, "the most requests the whole test may send")
	fs.DurationVar(&f.maxDuration, "max-duration", 10*time.Minute, "the most time the steps may take together")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "each request's timeout")
	fs.Uint64Var(&f.maxWorkers, "max-workers", 1000, "the most requests in flight at once")
	fs.Float64Var(&f.peak, "current-peak-rps", 0, "today's peak traffic, requests per second (default: the target's average since it started, from its metrics)")
	fs.IntVar(&f.seed, "seed", 200, "contacts to create before the test, for the reads and updates")
	fs.StringVar(&f.out, "out", "", "where to write report.html and summary.json (default: $GROUNDWORK_DATA_DIR/loadtest)")
	fs.StringVar(&f.apiKey, "api-key", "", "use this API key (an admin key of a test organisation) instead of creating one; no database needed, nothing removed")
	fs.BoolVar(&f.allowProduction, "allow-production", false, "allow a target off this machine or running in production")
	fs.BoolVar(&f.keep, "keep", false, "keep the test organisation, user and contacts")
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	if f.baseURL == "" {
		f.baseURL = localURL(cfg.Host, cfg.Port)
	}
	f.baseURL = strings.TrimRight(f.baseURL, "/")
	if len(f.metricsURLs) == 0 {
		f.metricsURLs = stringList{f.baseURL + "/metrics"}
	}
	if f.out == "" {
		f.out = filepath.Join(cfg.DataDir, "loadtest")
	}
	plan := loadtest.Plan{Start: f.start, Step: f.step, Max: f.maxRate, StepDuration: f.stepDuration, SLO: f.slo,
		ErrorBudget: f.errorBudget, MaxRequests: f.maxRequests, MaxDuration: f.maxDuration}
	if err := plan.Validate(); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	// The URL first, before anything is sent to it; then what it says it is.
	if err := loadtest.CheckTarget(f.baseURL, "", f.allowProduction); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	v, err := loadtest.FetchVersion(ctx, client, f.baseURL)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if err := loadtest.CheckTarget(f.baseURL, v.Environment, f.allowProduction); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if f.apiKey != "" {
		return loadtestRun(ctx, f, plan, cfg, v, loadtest.Target{BaseURL: f.baseURL, APIKey: f.apiKey}, e, nil)
	}
	return runAdmin(ctx, cfg, logger, e, func(a *admin) error {
		target, cleanup, err := prepareLoadtest(ctx, a, f.baseURL)
		if err != nil {
			return err
		}
		if f.keep {
			fmt.Fprintf(e.stderr, "keeping the test data (-keep): run it again with -api-key %s\n", target.APIKey)
			cleanup = nil
		}
		return loadtestRun(ctx, f, plan, cfg, v, target, e, cleanup)
	})
}

// prepareLoadtest creates the test user, organisation and API key through
// the modules the admin commands use, and returns the target with the
// cleanup that removes them (and, with the organisation, everything the
// test created in it).
func prepareLoadtest(ctx context.Context, a *admin, baseURL string) (loadtest.Target, func(context.Context) error, error) {
	tag := strings.ToLower(rand.Text()[:10])
	email := "loadtest-" + tag + "@example.com"
	password := rand.Text()
	u, err := a.mods.Accounts.CreateVerifiedUser(ctx, email, password)
	if err != nil {
		return loadtest.Target{}, nil, cliError("loadtest: create the test user", err)
	}
	removeUser := func(ctx context.Context) error {
		if err := a.mods.Accounts.DeleteAccount(ctx, u.ID, password); err != nil {
			return cliError("loadtest: remove the test user "+email, err)
		}
		return nil
	}
	o, err := a.mods.Orgs.CreateForOwner(ctx, u.ID, "Load test "+tag)
	if err != nil {
		return loadtest.Target{}, nil, errors.Join(cliError("loadtest: create the test organisation", err), removeUser(ctx))
	}
	cleanup := func(ctx context.Context) error {
		scope, _, err := a.mods.Orgs.MemberScope(ctx, u.ID, o.ID)
		if err == nil {
			err = a.mods.Orgs.Delete(ctx, scope)
		}
		if err != nil {
			return cliError("loadtest: remove the test organisation "+o.Slug, err)
		}
		return removeUser(ctx)
	}
	_, key, err := a.mods.Orgs.CreateAPIKeyAsAdmin(ctx, o.ID, "loadtest", gw.RoleAdmin)
	if err != nil {
		return loadtest.Target{}, nil, errors.Join(cliError("loadtest: create the test API key", err), cleanup(ctx))
	}
	return loadtest.Target{BaseURL: baseURL, APIKey: key}, cleanup, nil
}

// loadtestRun seeds, runs the steps, cleans up and writes the report and
// the summary. cleanup may be nil.
func loadtestRun(ctx context.Context, f loadtestFlags, plan loadtest.Plan, cfg config.Config, v loadtest.VersionInfo,
	target loadtest.Target, e cmdEnv, cleanup func(context.Context) error) (err error) {
	started := time.Now()
	cleanedUp := false
	if cleanup != nil {
		defer func() {
			if !cleanedUp {
				err = errors.Join(err, cleanup(context.WithoutCancel(ctx)))
			}
		}()
	}
	client := &http.Client{Timeout: 30 * time.Second}
	fmt.Fprintf(e.stderr, "loadtest: %s against %s\n", plan, f.baseURL)
	if target.ContactIDs, err = loadtest.Seed(ctx, client, target, f.seed); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	scraper := loadtest.Scraper{URLs: f.metricsURLs, Client: client}
	peak, peakSource := f.peak, "given (-current-peak-rps)"
	if peak <= 0 {
		peakSource = "unknown"
		if avg, err := loadtest.AverageRate(ctx, scraper, time.Now()); err == nil && avg > 0 {
			peak, peakSource = avg, "the target's average since it started (from its metrics; below its real peak)"
		}
	}
	loopback := loadtest.Loopback(f.baseURL)
	obs := &loadtest.MetricsObserver{Scraper: scraper, Interval: time.Second}
	hostCPUs := 0
	if loopback {
		obs.HostCPU, hostCPUs = loadtest.HostCPU, runtime.NumCPU()
	}
	host, _ := os.Hostname()
	env := loadtest.Environment{CPUs: runtime.NumCPU(), LoadAvg: loadtest.LoadAvg(), Host: host, GoVersion: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, TargetVersion: v.Version, TargetCommit: v.Commit, TargetEnv: v.Environment,
		Instances: len(f.metricsURLs), Loopback: loopback}
	mix := loadtest.DefaultMix()
	att := loadtest.HTTPAttacker{Target: target, Mix: mix, Timeout: f.timeout, MaxWorkers: f.maxWorkers}
	outcome, runErr := loadtest.Run(ctx, plan, att, obs, hostCPUs, func(s loadtest.StepResult) {
		verdict := "held"
		if s.Verdict != loadtest.Held {
			verdict = string(s.Verdict)
		}
		fmt.Fprintf(e.stderr, "  %6g req/s: sent %6.1f, p50 %6.1f ms, p95 %6.1f ms, p99 %6.1f ms, errors %5.2f %%, 429s %d — %s\n",
			s.Rate, s.Sent, ms(s.P50), ms(s.P95), ms(s.P99), s.ErrorRate()*100, s.RateLimited, verdict)
	})
	if cleanup != nil {
		if err := cleanup(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(e.stderr, "loadtest: %v\n", err)
		} else {
			cleanedUp = true
		}
	}
	sum := loadtest.NewSummary(outcome, plan, mix, env, f.baseURL, peak, peakSource, started, time.Now())
	sum.CleanedUp = cleanedUp
	reportPath := filepath.Join(f.out, "report.html")
	summaryPath := e.getenv("GROUNDWORK_LOADTEST_SUMMARY")
	if summaryPath == "" {
		summaryPath = filepath.Join(f.out, "summary.json")
	}
	sum.Report = reportPath
	if err := sum.WriteHTML(reportPath); err != nil {
		return fmt.Errorf("loadtest: write the report: %w", err)
	}
	if err := sum.WriteJSON(summaryPath); err != nil {
		return fmt.Errorf("loadtest: write the summary: %w", err)
	}
	if runErr != nil {
		return fmt.Errorf("loadtest: %w", runErr)
	}
	if sum.BreakPointReached {
		fmt.Fprintf(e.stdout, "break point: %g req/s (%s), limited by %s\n", sum.BreakPointRPS, sum.BrokeBecause, sum.Limiter)
	} else {
		fmt.Fprintf(e.stdout, "break point: above %g req/s (every step held)\n", sum.BreakPointRPS)
	}
	fmt.Fprintf(e.stdout, "%s\nreport: %s\nsummary: %s\n", sum.Headroom, reportPath, summaryPath)
	return nil
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
