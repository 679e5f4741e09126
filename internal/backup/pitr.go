package backup

// Point-in-time recovery (PITR) for the embedded PostgreSQL cluster with
// pgBackRest: continuous WAL archiving into a repository under the data dir,
// full backups, restore to a timestamp into a new data directory, repository
// verification and restore rehearsals. Names start with Pitr/pitr so that
// they do not clash with the logical backups of this package.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// PitrStanza is the pgBackRest stanza of the embedded cluster.
const PitrStanza = "groundwork"

// PitrArchiveTimeout is archive_timeout: the longest a WAL segment waits
// before being archived when traffic is low, so it bounds the data lost with
// the server.
const PitrArchiveTimeout = 60 * time.Second

// PitrHeartbeatInterval is how often the maintenance job writes a heartbeat.
const PitrHeartbeatInterval = time.Minute

// PitrRPO is the recovery point objective a rehearsal checks: the newest
// heartbeat in a restore must be at most this old relative to the target
// (a heartbeat interval plus the archive timeout).
const PitrRPO = PitrArchiveTimeout + PitrHeartbeatInterval

// pitrCompressType is the repository compression; Debian's pgbackrest links
// libzstd.
const pitrCompressType = "zst"

// PitrPaths are the files of PITR under a data dir.
type PitrPaths struct {
	Dir    string // DataDir/pitr: configuration, logs, locks, rehearsal records
	Config string // DataDir/pitr/pgbackrest.conf
	Repo   string // DataDir/pitr-repo: the pgBackRest repository
}

// PitrPathsFor returns the PITR paths under dataDir.
func PitrPathsFor(dataDir string) PitrPaths {
	dir := filepath.Join(dataDir, "pitr")
	return PitrPaths{Dir: dir, Config: filepath.Join(dir, "pgbackrest.conf"), Repo: filepath.Join(dataDir, "pitr-repo")}
}

// pitrRunner runs pgbackrest (and the PostgreSQL programs of a restore) as
// the user that owns the cluster, as pgBackRest requires.
type pitrRunner struct {
	paths  PitrPaths
	bin    string              // the pgbackrest program
	cred   *syscall.Credential // nil: run as ourselves
	logger *slog.Logger
}

func newPitrRunner(dataDir string, logger *slog.Logger) (*pitrRunner, error) {
	bin, err := exec.LookPath("pgbackrest")
	if err != nil {
		return nil, errors.New(`pgbackrest not found on PATH: install it with "apt-get install pgbackrest" (scripts/install-deps.sh does)`)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &pitrRunner{paths: PitrPathsFor(dataDir), bin: bin, logger: logger}, nil
}

// runAs makes the runner act as the owner of path (the cluster or the
// repository) when we are root and that owner is someone else.
func (r *pitrRunner) runAs(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s belongs to uid %d; run groundwork as that user", path, st.Uid)
	}
	if st.Uid == 0 {
		return nil
	}
	r.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid, Groups: []uint32{st.Gid}}
	return nil
}

// chown gives path to the runner's user; a no-op when running as ourselves.
func (r *pitrRunner) chown(path string) error {
	if r.cred == nil {
		return nil
	}
	return os.Chown(path, int(r.cred.Uid), int(r.cred.Gid))
}

// command prepares program (a path) as the runner's user, in its own
// process group, without PG* variables.
func (r *pitrRunner) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = "/"
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: r.cred}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// pgbackrest runs "pgbackrest --config=... --stanza=groundwork COMMAND args"
// and returns its stdout; a failure carries its output's last error.
func (r *pitrRunner) pgbackrest(ctx context.Context, command string, args ...string) (string, error) {
	full := append([]string{"--config=" + r.paths.Config, "--stanza=" + PitrStanza, "--log-level-console=warn"}, args...)
	full = append(full, command)
	var stdout, stderr bytes.Buffer
	cmd := r.command(ctx, r.bin, full...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r.logger.Debug("pgbackrest", "command", command, "elapsed", time.Since(start).Round(time.Millisecond), "error", err)
	if err != nil {
		return stdout.String(), fmt.Errorf("pgbackrest %s: %s", command, pitrLastError(stderr.String()+stdout.String(), err))
	}
	return stdout.String(), nil
}

// pitrLastError returns the last ERROR line of pgbackrest output, else its
// last line, else err.
func pitrLastError(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "ERROR:") {
			return strings.TrimSpace(lines[i])
		}
	}
	if s := strings.TrimSpace(lines[len(lines)-1]); s != "" {
		return s
	}
	return err.Error()
}

// pitrConfig renders pgbackrest.conf for the cluster in pgdata, listening on
// socketDir and port.
func pitrConfig(paths PitrPaths, pgdata string, port int) string {
	return fmt.Sprintf(`# Managed by "groundwork backup pitr setup"; rewritten when it runs.
[global]
repo1-path=%s
repo1-retention-full=2
compress-type=%s
log-path=%s
lock-path=%s
spool-path=%s
start-fast=y

[%s]
pg1-path=%s
pg1-socket-path=%s
pg1-port=%d
pg1-user=postgres
`, paths.Repo, pitrCompressType, filepath.Join(paths.Dir, "log"), filepath.Join(paths.Dir, "lock"),
		filepath.Join(paths.Dir, "spool"), PitrStanza, pgdata, pgdata, port)
}

// pitrArchiveConfig is the server configuration for WAL archiving.
func pitrArchiveConfig(paths PitrPaths) string {
	return fmt.Sprintf(`# Managed by "groundwork backup pitr setup": WAL archiving with pgBackRest.
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=%s --stanza=%s archive-push %%p'
archive_timeout = %d
`, strings.ReplaceAll(paths.Config, "'", "''"), PitrStanza, int(PitrArchiveTimeout.Seconds()))
}

// PitrSetupResult says what PitrSetup did.
type PitrSetupResult struct {
	Paths     PitrPaths
	Restarted bool   // the cluster was restarted to turn archiving on
	Backup    string // the label of the first full backup
}

// PitrSetup configures WAL archiving of the embedded cluster local into a
// pgBackRest repository under dataDir, restarting the cluster when
// archive_mode changes, and creates the stanza, checks archiving and takes
// a full backup. Running it again is safe: it rewrites the configuration
// and takes another full backup.
func PitrSetup(ctx context.Context, local *postgres.Local, dataDir string, logger *slog.Logger) (PitrSetupResult, error) {
	r, err := newPitrRunner(dataDir, logger)
	if err != nil {
		return PitrSetupResult{}, err
	}
	res := PitrSetupResult{Paths: r.paths}
	pgdata := local.PGData()
	if err := r.runAs(pgdata); err != nil {
		return res, err
	}
	for _, dir := range []string{r.paths.Dir, filepath.Join(r.paths.Dir, "log"), filepath.Join(r.paths.Dir, "lock"), filepath.Join(r.paths.Dir, "spool"), r.paths.Repo} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return res, fmt.Errorf("create %s: %w", dir, err)
		}
		if err := r.chown(dir); err != nil {
			return res, fmt.Errorf("give %s to the cluster's user: %w", dir, err)
		}
	}
	if err := pitrWriteFile(r, r.paths.Config, pitrConfig(r.paths, pgdata, local.Port())); err != nil {
		return res, err
	}
	if err := local.WriteExtraConfig(pitrArchiveConfig(r.paths)); err != nil {
		return res, err
	}
	conn, err := pgx.Connect(ctx, local.SuperuserURL("postgres"))
	if err != nil {
		return res, fmt.Errorf("connect as superuser: %w", err)
	}
	var mode, level string
	err = conn.QueryRow(ctx, `SELECT current_setting('archive_mode'), current_setting('wal_level')`).Scan(&mode, &level)
	if err == nil && mode == "on" && level != "minimal" {
		_, err = conn.Exec(ctx, `SELECT pg_reload_conf()`)
	}
	conn.Close(ctx)
	if err != nil {
		return res, fmt.Errorf("read archive settings: %w", err)
	}
	if mode != "on" || level == "minimal" {
		logger.Info("restarting PostgreSQL to turn on WAL archiving", "archive_mode", mode, "wal_level", level)
		if err := local.Restart(ctx); err != nil {
			return res, err
		}
		res.Restarted = true
	}
	if err := pitrWaitSettings(ctx, local.SuperuserURL("postgres")); err != nil {
		return res, err
	}
	if _, err := r.pgbackrest(ctx, "stanza-create"); err != nil {
		return res, err
	}
	if _, err := r.pgbackrest(ctx, "check"); err != nil {
		return res, err
	}
	if _, err := r.pgbackrest(ctx, "backup", "--type=full"); err != nil {
		return res, err
	}
	info, err := PitrInfo(ctx, dataDir)
	if err == nil && len(info.Backups) > 0 {
		res.Backup = info.Backups[len(info.Backups)-1].Label
	}
	return res, err
}

// pitrWaitSettings waits until the server runs with archiving on and the
// archive command of pitrArchiveConfig (a reload is asynchronous), and fails
// when ALTER SYSTEM overrides them.
func pitrWaitSettings(ctx context.Context, url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("connect as superuser: %w", err)
		}
		var mode, command string
		err = conn.QueryRow(ctx, `SELECT current_setting('archive_mode'), current_setting('archive_command')`).Scan(&mode, &command)
		conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("read archive settings: %w", err)
		}
		if mode == "on" && strings.Contains(command, "pgbackrest") && strings.Contains(command, "archive-push") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server runs with archive_mode=%q archive_command=%q, not the ones in %s: remove them from postgresql.auto.conf (ALTER SYSTEM RESET)", mode, command, postgres.ExtraConfigFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pitrWriteFile writes path (0640) owned by the runner's user.
func pitrWriteFile(r *pitrRunner, path, content string) error {
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, []byte(content), 0o640)
	if err == nil {
		err = r.chown(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ErrPitrNotConfigured is returned for a data dir where PitrSetup never ran.
var ErrPitrNotConfigured = errors.New("no PITR configuration")

// pitrRunnerFor returns a runner for a data dir where PitrSetup ran.
func pitrRunnerFor(dataDir string, logger *slog.Logger) (*pitrRunner, error) {
	r, err := newPitrRunner(dataDir, logger)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(r.paths.Config); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf(`%w in %s: run "groundwork backup pitr setup" first`, ErrPitrNotConfigured, r.paths.Config)
	}
	if err := r.runAs(r.paths.Repo); err != nil {
		return nil, err
	}
	return r, nil
}

// PitrFlushWAL switches to a new WAL segment and waits until the finished
// one is archived, so that everything committed so far can be restored. url
// connects as a superuser.
func PitrFlushWAL(ctx context.Context, url string, timeout time.Duration) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	defer conn.Close(ctx)
	var segment string
	if err := conn.QueryRow(ctx, `SELECT pg_walfile_name(pg_switch_wal())`).Scan(&segment); err != nil {
		return fmt.Errorf("switch WAL: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		var archived, failed string
		if err := conn.QueryRow(ctx, `SELECT coalesce(last_archived_wal, ''), coalesce(last_failed_wal, '') FROM pg_stat_archiver`).Scan(&archived, &failed); err != nil {
			return fmt.Errorf("read pg_stat_archiver: %w", err)
		}
		if archived >= segment {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("WAL segment %s not archived after %s (last archived %q, last failed %q)", segment, timeout, archived, failed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
