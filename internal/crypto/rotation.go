package crypto

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// Rotating a key:
//
//  1. add a new key and make it primary (groundwork keys rotate), and give
//     the new keyset to every process;
//  2. the re-encryption job (ReencryptArgs, on the maintenance queue)
//     rewrites, in small transactions, every stored value whose key prefix
//     is not the primary's;
//  3. once groundwork keys status shows nothing left under the old key,
//     remove it (groundwork keys remove).

// Table is a module's encrypted columns, as a rotation sees them. The
// modules that store encrypted values implement it on their Service.
type Table interface {
	// KeyUsage counts the stored values by column and key.
	KeyUsage(ctx context.Context) ([]KeyUsage, error)
	// Reencrypt rewrites every value that is not under the primary keys,
	// in transactions of at most batch rows, and returns how many rows it
	// rewrote. It stops at the first value that will not decrypt.
	Reencrypt(ctx context.Context, batch int) (int, error)
}

// KeyUsage is how many values of one column are under one key.
type KeyUsage struct {
	Table, Column string
	// Kind is the keyset the column uses: Encryption for ciphertexts,
	// BlindIndex for blind indexes.
	Kind Kind
	// KeyID is the key the values are under.
	KeyID uint32
	// Rows counts the values (NULLs are not counted).
	Rows int64
}

// Usage gathers the key usage of tables, sorted by table, column and key.
func Usage(ctx context.Context, tables []Table) ([]KeyUsage, error) {
	var all []KeyUsage
	for _, t := range tables {
		u, err := t.KeyUsage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, u...)
	}
	slices.SortFunc(all, func(a, b KeyUsage) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Column, b.Column), cmp.Compare(a.KeyID, b.KeyID))
	})
	return all, nil
}

// Stale reports whether u counts values that are not under r's primary key
// of their kind, i.e. that re-encryption will rewrite.
func (r *Keyring) Stale(u KeyUsage) bool {
	return u.Rows > 0 && u.KeyID != r.Keyset(u.Kind).PrimaryID()
}

// ReencryptArgs is the job that re-encrypts stored values under the
// primary keys after a rotation. It names the primary keys the rotation
// made, and waits (snoozing) until the worker that picks it up has them:
// processes still on the old keyset leave it alone.
type ReencryptArgs struct {
	// EncryptionKeyID is the primary encryption key to re-encrypt under.
	EncryptionKeyID uint32 `json:"encryption_key_id"`
	// BlindIndexKeyID is the primary blind-index key to re-index under.
	BlindIndexKeyID uint32 `json:"blind_index_key_id"`
}

// Kind names the job in River.
func (ReencryptArgs) Kind() string { return "crypto.reencrypt" }

// InsertOpts puts the job on the maintenance queue, once per target while
// one is pending.
func (ReencryptArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: jobs.QueueMaintenance,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// ReencryptArgsFor is the job that brings every value under r's primary
// keys.
func ReencryptArgsFor(r *Keyring) ReencryptArgs {
	return ReencryptArgs{EncryptionKeyID: r.enc.PrimaryID(), BlindIndexKeyID: r.bidx.PrimaryID()}
}

// Defaults of ReencryptWorker.
const (
	defaultBatch   = 500
	defaultMaxWait = 7 * 24 * time.Hour
	waitInterval   = time.Minute
)

// ReencryptWorker works ReencryptArgs: it rewrites each table's stale
// values, batch by batch, each batch its own transaction, so an interrupted
// run keeps its progress and the next attempt goes on from there.
type ReencryptWorker struct {
	river.WorkerDefaults[ReencryptArgs]
	// Keys is this process's keyring.
	Keys *Keyring
	// Tables are the modules with encrypted columns.
	Tables []Table
	// Batch is the number of rows per transaction. Default 500.
	Batch int
	// MaxWait is how long a job waits for a process with its primary keys
	// before it gives up. Default 7 days.
	MaxWait time.Duration
	// Logger receives progress.
	Logger *slog.Logger
}

// Work implements river.Worker.
func (w *ReencryptWorker) Work(ctx context.Context, job *river.Job[ReencryptArgs]) error {
	logger := w.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mine := ReencryptArgsFor(w.Keys)
	if job.Args != mine {
		maxWait := cmp.Or(w.MaxWait, defaultMaxWait)
		if time.Since(job.CreatedAt) > maxWait {
			return river.JobCancel(fmt.Errorf("re-encryption to encryption key %d and blind-index key %d: no worker had them as primary keys within %s (this one has %d and %d)",
				job.Args.EncryptionKeyID, job.Args.BlindIndexKeyID, maxWait, mine.EncryptionKeyID, mine.BlindIndexKeyID))
		}
		logger.InfoContext(ctx, "re-encryption waits for a worker with the new primary keys",
			"job_id", job.ID, "want_encryption_key_id", job.Args.EncryptionKeyID, "want_blind_index_key_id", job.Args.BlindIndexKeyID,
			"encryption_key_id", mine.EncryptionKeyID, "blind_index_key_id", mine.BlindIndexKeyID)
		return river.JobSnooze(waitInterval)
	}
	n, err := Reencrypt(ctx, w.Tables, cmp.Or(w.Batch, defaultBatch))
	logger.InfoContext(ctx, "re-encrypted rows", "job_id", job.ID, "rows", n,
		"encryption_key_id", mine.EncryptionKeyID, "blind_index_key_id", mine.BlindIndexKeyID)
	return err
}

// Reencrypt brings every value of tables under the primary keys, batch rows
// per transaction, and returns how many rows it rewrote.
func Reencrypt(ctx context.Context, tables []Table, batch int) (int, error) {
	total := 0
	for _, t := range tables {
		n, err := t.Reencrypt(ctx, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("re-encrypt: %w", err)
		}
	}
	return total, nil
}
