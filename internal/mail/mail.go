// Package mail sends the application's emails: over SMTP in production, to
// the log in development.
package mail

import (
	"context"
	"log/slog"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Message is one plain-text email to one recipient.
type Message struct {
	// To is the recipient, "ada@example.com" or "Ada <ada@example.com>".
	To string
	// Subject is the subject line; it may hold any UTF-8 text but no line breaks.
	Subject string
	// Text is the plain-text body.
	Text string
}

// Sender sends emails. Send returns an EINVALID error for a malformed
// message and another error when the message could not be handed over.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// validate rejects what would let a caller inject headers: line breaks in
// the recipient or the subject.
func (m Message) validate() error {
	if strings.ContainsAny(m.To, "\r\n") {
		return gw.Errorf(gw.EINVALID, "The recipient must not contain line breaks.")
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return gw.Errorf(gw.EINVALID, "The subject must not contain line breaks.")
	}
	if strings.TrimSpace(m.To) == "" {
		return gw.Errorf(gw.EINVALID, "The recipient is missing.")
	}
	return nil
}

// LogSender writes each email to a logger instead of sending it: for
// development, where no mail server is configured.
type LogSender struct {
	logger *slog.Logger
}

// NewLogSender returns a LogSender that logs to logger at INFO.
func NewLogSender(logger *slog.Logger) *LogSender {
	return &LogSender{logger: logger}
}

// Send logs m's recipient, subject and body. It returns EINVALID for a
// malformed message, as the SMTP sender does.
func (s *LogSender) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "email", "to", m.To, "subject", m.Subject, "body", m.Text)
	return nil
}
