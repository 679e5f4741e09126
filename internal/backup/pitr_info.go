package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PitrBackup is one backup in the repository.
type PitrBackup struct {
	Label string
	Type  string // full, diff or incr
	Start time.Time
	Stop  time.Time
}

// PitrRepoInfo summarises the repository: its status, backups (oldest
// first) and the archived WAL range.
type PitrRepoInfo struct {
	Status     string // pgBackRest's status message: "ok" when healthy
	Backups    []PitrBackup
	WALMin     string
	WALMax     string
	Repository string
}

// PitrInfo reads the repository's state (pgbackrest info --output=json).
func PitrInfo(ctx context.Context, dataDir string) (PitrRepoInfo, error) {
	r, err := pitrRunnerFor(dataDir, nil)
	if err != nil {
		return PitrRepoInfo{}, err
	}
	out, err := r.pgbackrest(ctx, "info", "--output=json")
	if err != nil {
		return PitrRepoInfo{}, err
	}
	return pitrParseInfo(out, r.paths.Repo)
}

func pitrParseInfo(out, repo string) (PitrRepoInfo, error) {
	var stanzas []struct {
		Name   string `json:"name"`
		Status struct {
			Message string `json:"message"`
		} `json:"status"`
		Backup []struct {
			Label     string `json:"label"`
			Type      string `json:"type"`
			Timestamp struct {
				Start int64 `json:"start"`
				Stop  int64 `json:"stop"`
			} `json:"timestamp"`
		} `json:"backup"`
		Archive []struct {
			Min string `json:"min"`
			Max string `json:"max"`
		} `json:"archive"`
	}
	if err := json.Unmarshal([]byte(out), &stanzas); err != nil {
		return PitrRepoInfo{}, fmt.Errorf("pgbackrest info: %w", err)
	}
	info := PitrRepoInfo{Repository: repo, Status: "missing stanza"}
	for _, s := range stanzas {
		if s.Name != PitrStanza {
			continue
		}
		info.Status = s.Status.Message
		for _, b := range s.Backup {
			info.Backups = append(info.Backups, PitrBackup{Label: b.Label, Type: b.Type,
				Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: time.Unix(b.Timestamp.Stop, 0).UTC()})
		}
		for _, a := range s.Archive {
			if info.WALMin == "" || a.Min < info.WALMin {
				info.WALMin = a.Min
			}
			if a.Max > info.WALMax {
				info.WALMax = a.Max
			}
		}
	}
	return info, nil
}

// PitrVerifyResult is the outcome of PitrVerify.
type PitrVerifyResult struct {
	Output   string   // pgbackrest verify's text report
	Problems []string // the lines reporting damage; empty when the repository is sound
}

// PitrVerify checks the repository's backups and WAL (pgbackrest verify).
// pgbackrest verify exits 0 even when it finds damage, so the report is
// parsed: any invalid status, error, or non-zero missing / invalid / other
// count is a problem, and an error is returned.
func PitrVerify(ctx context.Context, dataDir string, logger *slog.Logger) (PitrVerifyResult, error) {
	r, err := pitrRunnerFor(dataDir, logger)
	if err != nil {
		return PitrVerifyResult{}, err
	}
	var stdout, stderr strings.Builder
	cmd := r.command(ctx, r.bin, "--config="+r.paths.Config, "--stanza="+PitrStanza,
		"--log-level-console=warn", "--output=text", "verify")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	res := PitrVerifyResult{Output: stdout.String() + stderr.String()}
	res.Problems = pitrVerifyProblems(res.Output)
	if runErr != nil && len(res.Problems) == 0 {
		res.Problems = []string{pitrLastError(res.Output, runErr)}
	}
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("pgbackrest verify found %d problem(s): %s", len(res.Problems), strings.Join(res.Problems, "; "))
	}
	return res, nil
}

var pitrVerifyCount = regexp.MustCompile(`(missing|checksum invalid|size invalid|other): (\d+)`)

// pitrVerifyProblems returns the lines of a verify report that show damage.
func pitrVerifyProblems(out string) []string {
	var problems []string
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		lower := strings.ToLower(line)
		bad := strings.Contains(line, "ERROR:") || strings.Contains(line, "WARN:") ||
			strings.HasPrefix(lower, "status: error") || strings.Contains(lower, "status: invalid")
		for _, m := range pitrVerifyCount.FindAllStringSubmatch(line, -1) {
			if n, _ := strconv.Atoi(m[2]); n > 0 {
				bad = true
			}
		}
		if bad {
			problems = append(problems, line)
		}
	}
	return problems
}

// PitrArchiverCollector exposes WAL archiving from pg_stat_archiver:
// groundwork_wal_archive_failures_total (failed_count, since the statistics
// were last reset), groundwork_wal_last_archived_timestamp_seconds and
// groundwork_wal_last_failed_timestamp_seconds (0 when never). A failed read
// counts in groundwork_wal_archiver_scrape_errors_total.
type PitrArchiverCollector struct {
	pool                     *pgxpool.Pool
	failures, archived, fail *prometheus.Desc
	errors                   prometheus.Counter
}

// NewPitrArchiverCollector returns a collector reading pg_stat_archiver
// through pool (any role may read it).
func NewPitrArchiverCollector(pool *pgxpool.Pool) *PitrArchiverCollector {
	return &PitrArchiverCollector{
		pool:     pool,
		failures: prometheus.NewDesc("groundwork_wal_archive_failures_total", "Failed attempts to archive a WAL segment (pg_stat_archiver.failed_count).", nil, nil),
		archived: prometheus.NewDesc("groundwork_wal_last_archived_timestamp_seconds", "When the last WAL segment was archived (pg_stat_archiver.last_archived_time); 0 if never.", nil, nil),
		fail:     prometheus.NewDesc("groundwork_wal_last_failed_timestamp_seconds", "When archiving last failed (pg_stat_archiver.last_failed_time); 0 if never.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "groundwork_wal_archiver_scrape_errors_total",
			Help: "Failed reads of pg_stat_archiver.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *PitrArchiverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failures
	ch <- c.archived
	ch <- c.fail
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *PitrArchiverCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := PitrArchiverStats(ctx, c.pool)
	if err != nil {
		c.errors.Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.FailedCount))
	ch <- prometheus.MustNewConstMetric(c.archived, prometheus.GaugeValue, unixSeconds(s.LastArchived))
	ch <- prometheus.MustNewConstMetric(c.fail, prometheus.GaugeValue, unixSeconds(s.LastFailed))
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// PitrArchiver is one reading of pg_stat_archiver.
type PitrArchiver struct {
	ArchivedCount, FailedCount int64
	LastArchived, LastFailed   time.Time // zero when never
	LastArchivedWAL            string
}

// PitrArchiverStats reads pg_stat_archiver.
func PitrArchiverStats(ctx context.Context, pool *pgxpool.Pool) (PitrArchiver, error) {
	var s PitrArchiver
	var archived, failed *time.Time
	err := pool.QueryRow(ctx, `SELECT archived_count, failed_count, last_archived_time, last_failed_time, coalesce(last_archived_wal, '')
		FROM pg_stat_archiver`).Scan(&s.ArchivedCount, &s.FailedCount, &archived, &failed, &s.LastArchivedWAL)
	if err != nil {
		return s, fmt.Errorf("read pg_stat_archiver: %w", err)
	}
	if archived != nil {
		s.LastArchived = *archived
	}
	if failed != nil {
		s.LastFailed = *failed
	}
	return s, nil
}
