package backup

import (
	"context"
	"log/slog"
	"time"
)

// PitrFullEvery is how old the newest full base backup may get before the
// periodic base backup takes a new full one instead of a differential.
// With repo1-retention-full=2 the repository keeps two full backups, each
// with its differentials and the WAL needed to restore from them.
const PitrFullEvery = 7 * 24 * time.Hour

// pitrBackupType is the base backup to take now: "full" when the
// repository has no full backup younger than fullEvery, else "diff".
func pitrBackupType(info PitrRepoInfo, now time.Time, fullEvery time.Duration) string {
	for _, b := range info.Backups {
		if b.Type == "full" && now.Sub(b.Stop) < fullEvery {
			return "diff"
		}
	}
	return "full"
}

// PitrBaseBackup takes a pgBackRest base backup of the cluster PitrSetup
// configured under dataDir: full when the newest full backup is older than
// fullEvery, differential otherwise. Base backups bound how much WAL a
// point-in-time restore must replay (its duration) and let pgBackRest
// expire old WAL. It returns the type taken; ErrPitrNotConfigured when
// setup never ran there.
func PitrBaseBackup(ctx context.Context, dataDir string, fullEvery time.Duration, logger *slog.Logger) (string, error) {
	r, err := pitrRunnerFor(dataDir, logger)
	if err != nil {
		return "", err
	}
	info, err := PitrInfo(ctx, dataDir)
	if err != nil {
		return "", err
	}
	typ := pitrBackupType(info, time.Now(), fullEvery)
	if _, err := r.pgbackrest(ctx, "backup", "--type="+typ); err != nil {
		return "", err
	}
	if logger != nil {
		logger.InfoContext(ctx, "PITR base backup taken", "type", typ)
	}
	return typ, nil
}
