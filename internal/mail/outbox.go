package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// No email is sent inside a request or a database transaction. A module
// that changes something and must say so by email queues the email with
// Outbox.Enqueue in the transaction of the change: the email exists if and
// only if the change commits, and SendWorker sends it afterwards, retrying
// while the relay fails. A stalled relay therefore holds no request, no
// transaction, no lock and no pooled connection, and a request takes the
// same path whether or not it leads to an email (a "forgot password" for an
// address with an account does not take the SMTP round trip that would
// tell it apart from one without).

// sendAttempts is how many times a message is tried: River's backoff
// (attempt⁴ seconds) spreads ten attempts over about four hours, longer
// than most relay outages and within the life of a verification link.
const sendAttempts = 10

// SendArgs is the job that sends one email. The message's subject and body
// are sealed: encrypted with the application's keyring (AES-256-GCM via
// Tink, internal/crypto), bound to the recipient.
//
// Why sealed: job arguments are stored in the river_job table in clear, and
// kept there after the job completes (River's retention), while the emails
// carry secret links (verification, password reset, email change,
// invitation) whose tokens the database otherwise keeps only as SHA-256
// hashes, precisely so that someone who can read the database cannot use
// them. Sealed, the body is readable only by a process holding the
// encryption keyset, as the encrypted fields are. Binding the ciphertext to
// the recipient (the associated data) means someone who can write the
// database cannot redirect a sealed reset link to their own address: the
// job would not decrypt, and is cancelled.
type SendArgs struct {
	// To is the recipient, in clear: the users and invitations tables hold
	// it in clear too, and the operator needs it to trace a delivery.
	To string `json:"to"`
	// Sealed is the subject and body (sealedMessage as JSON), encrypted
	// under sealAD(To).
	Sealed []byte `json:"sealed"`
}

// Kind implements river.JobArgs.
func (SendArgs) Kind() string { return "mail.send" }

// InsertOpts implements river.JobArgsWithInsertOpts: the mail queue, whose
// own workers keep a stalled relay from holding up other jobs, and a
// bounded number of attempts.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMail, MaxAttempts: sendAttempts}
}

// sealedMessage is what SendArgs.Sealed encrypts.
type sealedMessage struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// sealAD is the associated data of a sealed message to to.
func sealAD(to string) crypto.AD { return crypto.NewAD("river_job", "mail.send", to) }

// Outbox queues emails in the caller's transaction, for SendWorker to send
// after it commits.
type Outbox struct {
	jobs *river.Client[pgx.Tx]
	keys *crypto.Keyring
}

// NewOutbox returns an Outbox inserting jobs with jobs (an insert-only
// client is enough) and sealing messages with keys.
func NewOutbox(jobs *river.Client[pgx.Tx], keys *crypto.Keyring) *Outbox {
	return &Outbox{jobs: jobs, keys: keys}
}

// Enqueue queues m in tx: it is sent if and only if tx commits. It returns
// EINVALID for a malformed message (a line break in the recipient or the
// subject, no recipient) and a plain error when the job cannot be stored.
func (o *Outbox) Enqueue(ctx context.Context, tx pgx.Tx, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	plain, err := json.Marshal(sealedMessage{Subject: m.Subject, Text: m.Text})
	if err != nil {
		return fmt.Errorf("queue email: %w", err)
	}
	sealed, err := o.keys.Encrypt(string(plain), sealAD(m.To))
	if err != nil {
		return fmt.Errorf("queue email: %w", err)
	}
	if _, err := o.jobs.InsertTx(ctx, tx, SendArgs{To: m.To, Sealed: sealed}, nil); err != nil {
		return fmt.Errorf("queue email: %w", err)
	}
	return nil
}

// SendWorker is the River worker of SendArgs: it opens the sealed message
// and sends it with Sender. A failed send is retried (River's backoff, up
// to sendAttempts); a message that cannot be sent however often it is tried
// (malformed, or sealed with a key the keyring no longer has, or altered) is
// cancelled at once.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	// Keys open the sealed messages: the keyring Outbox sealed them with.
	Keys *crypto.Keyring
	// Sender sends the emails: SMTP, or the log in development.
	Sender Sender
	// Logger logs each email sent; nil discards.
	Logger *slog.Logger
}

// Work sends the job's email.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	plain, err := w.Keys.Decrypt(job.Args.Sealed, sealAD(job.Args.To))
	if err != nil {
		return river.JobCancel(fmt.Errorf("open email: %w", err))
	}
	var sm sealedMessage
	if err := json.Unmarshal([]byte(plain), &sm); err != nil {
		return river.JobCancel(fmt.Errorf("open email: %w", err))
	}
	if err := w.Sender.Send(ctx, Message{To: job.Args.To, Subject: sm.Subject, Text: sm.Text}); err != nil {
		if gw.ErrorCode(err) == gw.EINVALID {
			return river.JobCancel(fmt.Errorf("send email %q: %w", sm.Subject, err))
		}
		return fmt.Errorf("send email %q: %w", sm.Subject, err)
	}
	if w.Logger != nil {
		w.Logger.InfoContext(ctx, "email sent", "job_id", job.ID, "subject", sm.Subject, "attempt", job.Attempt)
	}
	return nil
}
