package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// PitrRestoreOptions configures PitrRestore.
type PitrRestoreOptions struct {
	DataDir string    // the data dir where PitrSetup ran (holds the repository)
	Into    string    // the new data directory; must not exist or be empty
	Target  time.Time // the point in time to recover to
	// Check, when set, runs against the restored cluster once promoted,
	// with a superuser URL of database db; its error fails the restore.
	Check  func(ctx context.Context, url func(db string) string) error
	Logger *slog.Logger
}

// PitrRestored describes a restored, stopped cluster.
type PitrRestored struct {
	PGData string // the restored data directory
	Port   int    // the port written into its groundwork.conf
	Log    string // its server log
	PgCtl  string // the pg_ctl to start it with
}

// StartCommand is the command that starts the restored cluster.
func (r PitrRestored) StartCommand(asUser string) string {
	cmd := fmt.Sprintf("%s start -D %s -l %s", r.PgCtl, r.PGData, r.Log)
	if asUser != "" {
		cmd = fmt.Sprintf("runuser -u %s -- %s", asUser, cmd)
	}
	return cmd
}

// PitrRestore restores the cluster to Target into a new data directory:
// pgbackrest restore --type=time with archiving off in the copy, then starts
// it on a free port until recovery reaches the target and promotes, runs
// Check, and stops it. Its groundwork.conf then names the new directory's
// socket and the port, so pg_ctl can start it as it is.
func PitrRestore(ctx context.Context, opts PitrRestoreOptions) (PitrRestored, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	into, err := filepath.Abs(opts.Into)
	if err != nil {
		return PitrRestored{}, err
	}
	res := PitrRestored{PGData: into, Log: into + ".log"}
	if n := len(into) + len("/.s.PGSQL.65535"); n > 107 {
		return res, fmt.Errorf("restore into %s: path too long for PostgreSQL's unix socket (%d bytes, at most 107)", into, n)
	}
	if opts.Target.IsZero() {
		return res, errors.New("restore: no target time")
	}
	if opts.Target.After(time.Now()) {
		return res, fmt.Errorf("restore: target %s is in the future", opts.Target.Format(time.RFC3339))
	}
	r, err := pitrRunnerFor(opts.DataDir, logger)
	if err != nil {
		return res, err
	}
	entries, err := os.ReadDir(into)
	created := false
	switch {
	case err == nil && len(entries) > 0:
		return res, fmt.Errorf("restore into %s: directory is not empty; give a new or empty directory", into)
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(into, 0o700); err != nil {
			return res, fmt.Errorf("create %s: %w", into, err)
		}
		created = true
	default:
		return res, fmt.Errorf("restore into %s: %w", into, err)
	}
	res, err = pitrRestoreInto(ctx, r, opts, res, logger)
	if err != nil {
		// Leave the directory as we found it (new or empty), so that the
		// next attempt is not refused; the server log stays for diagnosis.
		if created {
			os.RemoveAll(into)
		} else if entries, rerr := os.ReadDir(into); rerr == nil {
			for _, e := range entries {
				os.RemoveAll(filepath.Join(into, e.Name()))
			}
		}
	}
	return res, err
}

func pitrRestoreInto(ctx context.Context, r *pitrRunner, opts PitrRestoreOptions, res PitrRestored, logger *slog.Logger) (PitrRestored, error) {
	into := res.PGData
	var err error
	if err := os.Chmod(into, 0o700); err != nil {
		return res, err
	}
	if err := r.chown(into); err != nil {
		return res, fmt.Errorf("give %s to the cluster's user: %w", into, err)
	}
	target := opts.Target.UTC().Format("2006-01-02 15:04:05.999999-07")
	logger.Info("restoring", "target", target, "into", into)
	if _, err := r.pgbackrest(ctx, "restore", "--type=time", "--target="+target,
		"--target-action=promote", "--archive-mode=off", "--pg1-path="+into); err != nil {
		if strings.Contains(err.Error(), "unable to find backup set") {
			return res, fmt.Errorf("no backup finished before %s; the oldest restorable point is the end of the oldest backup (groundwork backup pitr status): %w", target, err)
		}
		return res, err
	}

	version, err := os.ReadFile(filepath.Join(into, "PG_VERSION"))
	if err != nil {
		return res, fmt.Errorf("restored cluster: %w", err)
	}
	bin := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(version)), "bin")
	if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err != nil {
		if bin, err = postgres.FindBinaries(); err != nil {
			return res, err
		}
	}
	res.PgCtl = filepath.Join(bin, "pg_ctl")
	if res.Port, err = pitrFreePort(); err != nil {
		return res, err
	}
	if err := pitrRewriteConf(r, into, res.Port); err != nil {
		return res, err
	}
	if err := pitrWriteFile(r, res.Log, ""); err != nil {
		return res, err
	}
	out, err := r.command(ctx, res.PgCtl, "start", "-w", "-t", "300", "-s", "-D", into, "-l", res.Log).CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("start restored cluster: %s (log: %s)", pitrLogError(res.Log, string(out)), res.Log)
	}
	stop := func() error {
		out, err := r.command(context.WithoutCancel(ctx), res.PgCtl, "stop", "-w", "-t", "60", "-s", "-m", "fast", "-D", into).CombinedOutput()
		if err != nil {
			return fmt.Errorf("stop restored cluster: %s", pitrLastError(string(out), err))
		}
		return nil
	}
	urlFor := func(db string) string {
		q := url.Values{"host": {into}, "port": {strconv.Itoa(res.Port)}, "sslmode": {"disable"}}
		return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + db, RawQuery: q.Encode()}).String()
	}
	if err := pitrWaitPromoted(ctx, urlFor("postgres"), res.Log); err != nil {
		stop()
		return res, err
	}
	if opts.Check != nil {
		if err := opts.Check(ctx, urlFor); err != nil {
			stop()
			return res, err
		}
	}
	return res, stop()
}

// pitrWaitPromoted waits until recovery has reached its target and the
// server has promoted, or fails with the server's reason.
func pitrWaitPromoted(ctx context.Context, url, logPath string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(attempt, url)
		if err == nil {
			var recovering bool
			err = conn.QueryRow(attempt, `SELECT pg_is_in_recovery()`).Scan(&recovering)
			conn.Close(attempt)
			if err == nil && !recovering {
				cancel()
				return nil
			}
		}
		cancel()
		if log, _ := os.ReadFile(logPath); strings.Contains(string(log), "FATAL:") || strings.Contains(string(log), "PANIC:") {
			return fmt.Errorf("recovery failed: %s (log: %s)", pitrLogError(logPath, ""), logPath)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("recovery did not finish in 5 minutes (log: %s)", logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pitrLogError returns the last FATAL, PANIC or ERROR line of the server
// log, else the last line of out.
func pitrLogError(logPath, out string) string {
	b, _ := os.ReadFile(logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		for _, m := range []string{"FATAL:", "PANIC:", "ERROR:"} {
			if j := strings.Index(lines[i], m); j >= 0 {
				return strings.TrimSpace(lines[i][j:])
			}
		}
	}
	return pitrLastError(out, errors.New("no output"))
}

var (
	pitrPortLine   = regexp.MustCompile(`(?m)^port = .*$`)
	pitrSocketLine = regexp.MustCompile(`(?m)^unix_socket_directories = .*$`)
)

// pitrRewriteConf points the restored copy's groundwork.conf at its own
// directory (socket) and port, so it does not collide with the original.
func pitrRewriteConf(r *pitrRunner, pgdata string, port int) error {
	path := filepath.Join(pgdata, "groundwork.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("restored cluster: %w", err)
	}
	conf := pitrPortLine.ReplaceAllString(string(b), "port = "+strconv.Itoa(port))
	conf = pitrSocketLine.ReplaceAllLiteralString(conf, "unix_socket_directories = '"+strings.ReplaceAll(pgdata, "'", "''")+"'")
	if err := pitrWriteFile(r, path, conf); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

func pitrFreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// PitrRehearsal is the outcome of a restore rehearsal.
type PitrRehearsal struct {
	Time      time.Time     `json:"time"`
	Target    time.Time     `json:"target"`
	Heartbeat time.Time     `json:"newest_heartbeat,omitzero"`
	Lag       time.Duration `json:"lag_ns"` // Target - Heartbeat
	RPO       time.Duration `json:"rpo_ns"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	OK        bool          `json:"ok"`
	Error     string        `json:"error,omitempty"`
}

// PitrRehearse restores to target into a temporary directory, checks that
// the newest heartbeat there is no older than rpo before target, records the
// outcome in DataDir/pitr/rehearsals.jsonl and removes the directory. A
// rehearsal that ran but missed the objective returns its outcome and an
// error.
func PitrRehearse(ctx context.Context, dataDir string, target time.Time, rpo time.Duration, logger *slog.Logger) (PitrRehearsal, error) {
	start := time.Now()
	out := PitrRehearsal{Time: start.UTC(), Target: target.UTC(), RPO: rpo}
	err := pitrRehearse(ctx, dataDir, &out, logger)
	out.Elapsed = time.Since(start)
	out.OK = err == nil
	if err != nil {
		out.Error = err.Error()
	}
	if b, jerr := json.Marshal(out); jerr == nil {
		path := filepath.Join(PitrPathsFor(dataDir).Dir, "rehearsals.jsonl")
		if f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); ferr == nil {
			_, _ = f.Write(append(b, '\n'))
			f.Close()
		}
	}
	return out, err
}

func pitrRehearse(ctx context.Context, dataDir string, out *PitrRehearsal, logger *slog.Logger) error {
	tmp, err := os.MkdirTemp("", "gwpitr-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil { // the cluster's user must reach it
		return err
	}
	restored, err := PitrRestore(ctx, PitrRestoreOptions{
		DataDir: dataDir, Into: filepath.Join(tmp, "pg"), Target: out.Target, Logger: logger,
		Check: func(ctx context.Context, url func(string) string) error {
			conn, err := pgx.Connect(ctx, url(postgres.DatabaseName))
			if err != nil {
				return fmt.Errorf("connect to the restored database: %w", err)
			}
			defer conn.Close(ctx)
			var newest *time.Time
			if err := conn.QueryRow(ctx, `SELECT max(written_at) FROM heartbeats`).Scan(&newest); err != nil {
				return fmt.Errorf("read heartbeats: %w", err)
			}
			if newest == nil {
				return errors.New("the restored database holds no heartbeat")
			}
			out.Heartbeat = newest.UTC()
			out.Lag = out.Target.Sub(*newest)
			if out.Lag < -time.Second {
				return fmt.Errorf("newest heartbeat %s is after the target %s: recovery went past its target", newest.Format(time.RFC3339), out.Target.Format(time.RFC3339))
			}
			if out.Lag > out.RPO {
				return fmt.Errorf("newest heartbeat %s is %s before the target: more than the RPO %s", newest.Format(time.RFC3339), out.Lag.Round(time.Second), out.RPO)
			}
			return nil
		},
	})
	os.Remove(restored.Log)
	return err
}
