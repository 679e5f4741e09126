package alert

import (
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/internal/ops"
)

// Thresholds of the conditions.
const (
	// BackupStaleAfter is the age of the newest backup past which backups
	// count as failing (a daily job, with slack).
	BackupStaleAfter = 26 * time.Hour
	// LedgerStuckAfter is how long a Stripe event may wait unprocessed.
	LedgerStuckAfter = 30 * time.Minute
)

// Conditions returns the alerts that hold for a database snapshot and the
// newest backup (nil: none yet, which alerts only with backupsExpected) at
// now. Keys name the incident, so that a new failure alerts even within
// the window of an old one.
func Conditions(s ops.Snapshot, lastBackup *time.Time, backupsExpected bool, now time.Time, instance string) []Alert {
	var out []Alert
	prefix := "*Groundwork* (" + instance + "): "
	switch {
	case lastBackup != nil && now.Sub(*lastBackup) > BackupStaleAfter:
		out = append(out, Alert{Key: "backup.stale", Text: prefix + fmt.Sprintf(
			"the newest complete backup is %s old: backups are failing. Check the backup.create job (/ops/jobs) and run `groundwork backup create`.",
			now.Sub(*lastBackup).Round(time.Minute))})
	case lastBackup == nil && backupsExpected:
		out = append(out, Alert{Key: "backup.none", Text: prefix + "there is no complete backup. Run `groundwork backup create`."})
	}
	if r := s.Rehearsal; r != nil && !r.OK {
		out = append(out, Alert{Key: "rehearsal.failed:" + r.StartedAt.UTC().Format(time.RFC3339), Text: prefix + fmt.Sprintf(
			"the restore rehearsal of backup %s failed: %s. Run `groundwork backup rehearse` to see it again.", r.BackupID, r.Error)})
	}
	if a := s.Archiver; !a.LastFailed.IsZero() && a.LastFailed.After(a.LastArchived) {
		out = append(out, Alert{Key: "pitr.failing", Text: prefix + fmt.Sprintf(
			"WAL archiving is failing (%d failures, last at %s): point-in-time recovery is falling behind. See `groundwork backup pitr status`.",
			a.Failed, a.LastFailed.UTC().Format(time.RFC3339))})
	}
	if l := s.Ledger; l.Unprocessed > 0 && l.OldestUnprocessed > LedgerStuckAfter {
		out = append(out, Alert{Key: "ledger.stuck", Text: prefix + fmt.Sprintf(
			"the Stripe webhook ledger is stuck: %d events unprocessed (%d failing), the oldest for %s. See `groundwork billing events -unprocessed`.",
			l.Unprocessed, l.Failed, l.OldestUnprocessed.Round(time.Minute))})
	}
	return out
}
