package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	gwmail "github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
)

const from = "Groundwork <no-reply@example.com>"

func newSMTP(t *testing.T, srv *mailtest.Server, url string) *gwmail.SMTP {
	t.Helper()
	s, err := gwmail.NewSMTP(url, from)
	require.NoError(t, err)
	if pool := srv.RootCAs(); pool != nil {
		gwmail.TrustRoots(s, pool)
	}
	return s
}

func TestSMTPSendsWellFormedMessage(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := newSMTP(t, srv, srv.URL())
	long := strings.Repeat("lorem ipsum ", 20)
	text := "Hello Zoë,\n\n.a line starting with a dot\n" + long + "\nhttps://example.com/verify?token=abc_-1\n"
	before := time.Now().Add(-time.Second)
	require.NoError(t, s.Send(context.Background(), gwmail.Message{
		To: "Zoë <zoe@example.com>", Subject: "Grüße ✓ — welcome", Text: text,
	}))

	got := srv.WaitFor(t, "zoe@example.com", "welcome")
	require.Equal(t, "no-reply@example.com", got.From)
	require.Equal(t, []string{"zoe@example.com"}, got.To)
	require.Equal(t, "Grüße ✓ — welcome", got.Subject)
	require.Equal(t, text, got.Text, "body survives quoted-printable and dot-stuffing intact")
	require.False(t, got.TLS)
	require.Empty(t, got.Username)

	h := got.Header
	require.NotContains(t, h.Get("Subject"), "ü", "the raw subject is Q-encoded")
	fromAddr, err := mail.ParseAddress(h.Get("From"))
	require.NoError(t, err)
	require.Equal(t, "Groundwork", fromAddr.Name)
	toAddrs, err := h.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "zoe@example.com", toAddrs[0].Address)
	require.Equal(t, "Zoë", toAddrs[0].Name)
	date, err := h.Date()
	require.NoError(t, err)
	require.WithinRange(t, date, before, time.Now().Add(time.Second))
	require.Regexp(t, `^<[0-9a-f]{32}@example\.com>$`, h.Get("Message-ID"))
	require.Equal(t, "1.0", h.Get("MIME-Version"))
	require.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
	require.Equal(t, "https://example.com/verify?token=abc_-1", mailtest.FirstLink(got.Text))
}

func TestSMTPAuthPlainOnLoopback(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	url := strings.Replace(srv.URL(), "smtp://", "smtp://ada:s3cr%40t@", 1)
	s := newSMTP(t, srv, url)
	require.NoError(t, s.Send(context.Background(), gwmail.Message{To: "bob@example.com", Subject: "hi", Text: "x"}))
	require.Equal(t, "ada", srv.WaitFor(t, "bob@example.com", "hi").Username)
}

func TestSMTPUsesSTARTTLSWhenOffered(t *testing.T) {
	t.Parallel()
	srv := mailtest.StartTLS(t)
	url := strings.Replace(srv.URL(), "smtp://", "smtp://ada:pw@", 1)
	s := newSMTP(t, srv, url)
	require.NoError(t, s.Send(context.Background(), gwmail.Message{To: "bob@example.com", Subject: "tls", Text: "x"}))
	got := srv.WaitFor(t, "bob@example.com", "tls")
	require.True(t, got.TLS)
	require.Equal(t, "ada", got.Username)
}

func TestSMTPSTARTTLSVerifiesCertificate(t *testing.T) {
	t.Parallel()
	srv := mailtest.StartTLS(t)
	s, err := gwmail.NewSMTP(srv.URL(), from) // does not trust the self-signed certificate
	require.NoError(t, err)
	err = s.Send(context.Background(), gwmail.Message{To: "bob@example.com", Subject: "tls", Text: "x"})
	require.ErrorContains(t, err, "certificate")
	require.Empty(t, srv.Messages())
}

func TestSMTPImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := mailtest.StartImplicitTLS(t)
	require.True(t, strings.HasPrefix(srv.URL(), "smtps://"))
	s := newSMTP(t, srv, srv.URL())
	require.NoError(t, s.Send(context.Background(), gwmail.Message{To: "bob@example.com", Subject: "smtps", Text: "x"}))
	require.True(t, srv.WaitFor(t, "bob@example.com", "smtps").TLS)
}

func TestSendersRejectHeaderInjection(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	var logged bytes.Buffer
	senders := map[string]gwmail.Sender{
		"smtp": newSMTP(t, srv, srv.URL()),
		"log":  gwmail.NewLogSender(slog.New(slog.NewJSONHandler(&logged, nil))),
	}
	bad := []gwmail.Message{
		{To: "bob@example.com\r\nBcc: eve@example.com", Subject: "hi", Text: "x"},
		{To: "bob@example.com\nBcc: eve@example.com", Subject: "hi", Text: "x"},
		{To: "bob@example.com", Subject: "hi\r\nBcc: eve@example.com", Text: "x"},
		{To: "bob@example.com", Subject: "hi\rX-Evil: 1", Text: "x"},
		{To: "", Subject: "hi", Text: "x"},
	}
	for name, s := range senders {
		for _, m := range bad {
			err := s.Send(context.Background(), m)
			require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "%s: %q / %q", name, m.To, m.Subject)
		}
	}
	err := senders["smtp"].Send(context.Background(), gwmail.Message{To: "not an address", Subject: "hi"})
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Empty(t, srv.Messages())
	require.Empty(t, logged.String())
}

func TestSMTPGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never greets. The context ends
	// once the connection is accepted, so Send is waiting for the greeting
	// (however slow the machine), not still dialling.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			cancel()
		}
	}()
	s, err := gwmail.NewSMTP("smtp://"+ln.Addr().String(), from)
	require.NoError(t, err)
	start := time.Now()
	err = s.Send(ctx, gwmail.Message{To: "bob@example.com", Subject: "hi", Text: "x"})
	require.ErrorIs(t, err, context.Canceled)
	// Without the context, only the sender's own one-minute timeout would
	// end the wait: half of it tells the two apart with room for any load.
	require.Less(t, time.Since(start), 30*time.Second, "gave up when the context ended, not on the send timeout")
}

func TestNewSMTPRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, from, want string }{
		{"http://mail.example.com:25", from, "scheme"},
		{"smtp://:25", from, "no host"},
		{"smtp://user:hunter2@mail.example.com:25", "not an address", "sender"},
		{"smtp://user:hunter2@[::1", from, "not a valid URL"},
	}
	for _, tt := range tests {
		_, err := gwmail.NewSMTP(tt.url, tt.from)
		require.ErrorContains(t, err, tt.want, tt.url)
		require.NotContains(t, err.Error(), "hunter2", "errors never repeat the password")
	}
	_, err := gwmail.NewSMTP("smtps://mail.example.com", from)
	require.NoError(t, err, "the port has a default")
}

func TestPlaintextOnlyToLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.0.0.53": true, "::1": true,
		"mail.example.com": false, "10.0.0.1": false, "192.168.1.10": false, "localhost.example.com": false, "": false,
	} {
		require.Equal(t, want, gwmail.PlaintextAllowed(host), host)
	}
}

func TestLogSenderLogsAtInfo(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := gwmail.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	require.NoError(t, s.Send(context.Background(), gwmail.Message{To: "bob@example.com", Subject: "Welcome", Text: "Click https://x/y"}))
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	require.Equal(t, "INFO", rec["level"])
	require.Equal(t, "bob@example.com", rec["to"])
	require.Equal(t, "Welcome", rec["subject"])
	require.Equal(t, "Click https://x/y", rec["body"])
}
