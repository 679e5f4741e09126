package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/doctor"
	"github.com/groundwork-dev/groundwork/internal/ops"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

const doctorSummary = `Score this deployment against the never-skip list and the hardening
checklist: backups, restore rehearsal, PITR archiving, migrations, the Stripe
webhook ledger, keys, HTTPS, proxies, rate limits, vulnerabilities, error
tracking, Redis, load test, job queues, alerts, SMTP, version stamps. Each
check passes, warns or fails with its evidence and the fix, ranked by what a
failure costs: data loss and billing first, then security, performance and
the rest. It exits non-zero when any check fails. The same report is at
/ops/readiness.`

// runDoctor runs "groundwork doctor".
func runDoctor(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("doctor", doctorSummary)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	var rep doctor.Report
	db, err := openRuntime(ctx, cfg, logger)
	if err != nil {
		in := baseDoctorInputs(cfg, e.getenv)
		in.DBErr = err.Error()
		rep = doctor.Run(in, doctor.Checks())
	} else {
		defer db.close(ctx, logger)
		backups, closeBackups, berr := adminBackups(ctx, cfg, logger)
		if berr == nil {
			defer closeBackups()
		}
		rep = doctor.Run(gatherDoctorInputs(ctx, cfg, e.getenv, db.pool, backups, berr), doctor.Checks())
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printDoctor(e.stdout, rep)
	}
	if rep.Failed() {
		return fmt.Errorf("doctor: %d check(s) failed", rep.Fail)
	}
	return nil
}

// printDoctor writes rep as text: one block per check, worst first.
func printDoctor(w io.Writer, rep doctor.Report) {
	fmt.Fprintf(w, "groundwork doctor: %d fail, %d warn, %d pass (%s)\n\n", rep.Fail, rep.Warn, rep.Pass, rep.Generated.UTC().Format(time.RFC3339))
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-4s  %s — %s [%s]\n", strings.ToUpper(string(r.Status)), r.ID, r.Title, r.Cost)
		fmt.Fprintf(w, "      evidence: %s\n", r.Evidence)
		if r.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", r.Fix)
		}
	}
}

// baseDoctorInputs are the inputs that need no database: configuration,
// environment and local files.
func baseDoctorInputs(cfg config.Config, getenv func(string) string) doctor.Inputs {
	in := doctor.Inputs{
		Now: time.Now(), Production: cfg.Production(), Version: version, Commit: commit,
		BackupKeysetFromEnv:   cfg.BackupKeyset != "",
		SentryDSN:             cfg.SentryDSN != "",
		AlertWebhook:          cfg.AlertWebhookURL != "",
		PrometheusAlerts:      getenv("GROUNDWORK_PROMETHEUS_RULES") == "1",
		EncryptionKeysFromEnv: cfg.EncryptionKeyset != "" && cfg.BlindIndexKeyset != "",
		SMTP:                  cfg.SMTPURL != "",
		BaseURL:               cfg.BaseURL,
		HSTS:                  cfg.Production(),
		Redis:                 cfg.RedisURL != "",
		Billing:               cfg.Billing.Enabled(),
		StripeAPIVersion:      stripe.APIVersion,
	}
	for _, p := range cfg.TrustedProxies {
		in.TrustedProxies = append(in.TrustedProxies, p.String())
	}
	for p, l := range cfg.RateLimits {
		if l.Unlimited() {
			in.RateLimitsOff = append(in.RateLimitsOff, string(p))
		}
	}
	slices.Sort(in.RateLimitsOff)
	in.SentryTestAt = readSentryTest(cfg.DataDir)
	in.LoadTest, in.LoadTestErr = readLoadTest(getenv)
	in.Vulns = readVulns(cfg.DataDir)
	return in
}

// gatherDoctorInputs adds what the database and the backup store say.
func gatherDoctorInputs(ctx context.Context, cfg config.Config, getenv func(string) string, pool *pgxpool.Pool,
	backups *backup.Service, backupsErr error) doctor.Inputs {
	in := baseDoctorInputs(cfg, getenv)
	in.DB = ops.NewReader(pool, nil).Snapshot(ctx)
	switch {
	case backupsErr != nil:
		in.BackupErr = backupsErr.Error()
	default:
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := backups.Latest(bctx)
		cancel()
		switch {
		case err == nil && m != nil:
			t := m.FinishedAt
			in.LastBackup = &t
		case err != nil && !errors.Is(err, backup.ErrNotFound):
			in.BackupErr = err.Error()
		}
	}
	if in.DB.SchemaVersionErr != "" {
		in.MigrationsErr = in.DB.SchemaVersionErr
	} else {
		in.PendingMigrations, in.UnsafeMigrations = pendingMigrations(in.DB.SchemaVersion)
	}
	return in
}

// pendingMigrations lists the embedded migrations after applied, and those
// of them not marked backward-compatible: applying them while the previous
// release still runs (a rolling deploy) may break it.
func pendingMigrations(applied int64) (pending, unsafe []string) {
	fsys := postgres.Migrations()
	entries, _ := fs.ReadDir(fsys, ".")
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= applied {
			continue
		}
		pending = append(pending, e.Name())
		b, _ := fs.ReadFile(fsys, e.Name())
		first, _, _ := strings.Cut(string(b), "\n")
		if strings.TrimSpace(first) != postgres.CompatMarker {
			unsafe = append(unsafe, e.Name()+" (not marked backward-compatible)")
		}
	}
	return pending, unsafe
}

// loadTestSummaryPath is where "groundwork loadtest" writes its summary.
func loadTestSummaryPath(getenv func(string) string) string {
	if p := getenv("GROUNDWORK_LOADTEST_SUMMARY"); p != "" {
		return p
	}
	return filepath.Join("var", "loadtest", "summary.json")
}

// readLoadTest reads the last load test's summary; a missing file is no
// load test, not an error.
func readLoadTest(getenv func(string) string) (*doctor.LoadTest, string) {
	b, err := os.ReadFile(loadTestSummaryPath(getenv))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ""
	}
	if err != nil {
		return nil, err.Error()
	}
	var lt doctor.LoadTest
	if err := json.Unmarshal(b, &lt); err != nil {
		return nil, fmt.Sprintf("%s: %v", loadTestSummaryPath(getenv), err)
	}
	return &lt, ""
}

// sentryTestFile records, under the data directory, when "groundwork
// sentry-test" last had an event accepted.
const sentryTestFile = "sentry-test.json"

// readSentryTest returns when sentry-test last succeeded, or nil.
func readSentryTest(dataDir string) *time.Time {
	var rec struct {
		DeliveredAt time.Time `json:"delivered_at"`
	}
	b, err := os.ReadFile(filepath.Join(dataDir, sentryTestFile))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.DeliveredAt.IsZero() {
		return nil
	}
	return &rec.DeliveredAt
}

// writeSentryTest records that a test event was accepted now.
func writeSentryTest(dataDir string) error {
	b, _ := json.Marshal(map[string]time.Time{"delivered_at": time.Now().UTC()})
	// Searchable, as the embedded cluster's launcher makes it: run first
	// on a fresh install, a 0700 data dir would keep the PostgreSQL user
	// out of it (the cluster and pgBackRest's files live there).
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, sentryTestFile), b, 0o600)
}

// govulncheckFile is where "make audit" leaves govulncheck's JSON output,
// under the data directory.
const govulncheckFile = "govulncheck.json"

// readVulns reads govulncheck's JSON stream (a sequence of messages; a
// finding whose trace starts in a function is a vulnerability the code
// calls); its time is the file's. Nil when there is none.
func readVulns(dataDir string) *doctor.Vulns {
	path := filepath.Join(dataDir, govulncheckFile)
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	v := &doctor.Vulns{CheckedAt: st.ModTime()}
	dec := json.NewDecoder(bufio.NewReader(f))
	seen := map[string]bool{}
	for {
		var msg struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Function string `json:"function"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err != nil {
			break
		}
		if fd := msg.Finding; fd != nil && len(fd.Trace) > 0 && fd.Trace[0].Function != "" && !seen[fd.OSV] {
			seen[fd.OSV] = true
			v.Called = append(v.Called, fd.OSV)
		}
	}
	return v
}
