package mailtest_test

import (
	"net/smtp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/mailtest"
)

func TestServerReceivesAndWaitForWalksMessages(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	addr := strings.TrimPrefix(srv.URL(), "smtp://")
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"))
	send := func(to, subject, body string) {
		msg := "From: a@example.com\r\nTo: " + to + "\r\nSubject: " + subject +
			"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
		require.NoError(t, smtp.SendMail(addr, nil, "a@example.com", []string{to}, []byte(msg)))
	}
	send("bob@example.com", "=?utf-8?q?Gr=C3=BC=C3=9Fe_1?=", "first https://example.com/a.\r\n")
	send("bob@example.com", "Grüße 2", "second (see https://example.com/b?x=1&y=2)\r\n")
	send("carol@example.com", "Grüße 3", "no link\r\n")

	first := srv.WaitFor(t, "BOB@example.com", "Grüße")
	require.Equal(t, "Grüße 1", first.Subject)
	require.Equal(t, "a@example.com", first.From)
	require.Equal(t, []string{"bob@example.com"}, first.To)
	require.Equal(t, "https://example.com/a", mailtest.FirstLink(first.Text))
	second := srv.WaitFor(t, "bob@example.com", "Grüße")
	require.Equal(t, "https://example.com/b?x=1&y=2", mailtest.FirstLink(second.Text))
	require.Equal(t, "", mailtest.FirstLink(srv.WaitFor(t, "carol@example.com", "3").Text))
	require.Len(t, srv.Messages(), 3)
}

func TestServerAcceptsAnyPlainCredentials(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	addr := strings.TrimPrefix(srv.URL(), "smtp://")
	auth := smtp.PlainAuth("", "someone", "anything", "127.0.0.1")
	require.NoError(t, smtp.SendMail(addr, auth, "a@example.com", []string{"b@example.com"}, []byte("Subject: x\r\n\r\nhi\r\n")))
	require.Equal(t, "someone", srv.WaitFor(t, "b@example.com", "x").Username)
}

func TestHoldStallsMessagesUntilReleased(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	addr := strings.TrimPrefix(srv.URL(), "smtp://")
	release := srv.Hold(t)
	sent := make(chan error, 1)
	go func() {
		sent <- smtp.SendMail(addr, nil, "a@example.com", []string{"b@example.com"}, []byte("Subject: held\r\n\r\nhi\r\n"))
	}()
	srv.WaitHeld(t, 1)
	require.Empty(t, srv.Messages(), "a held message is not accepted")
	select {
	case err := <-sent:
		t.Fatalf("the client got an answer while the message was held: %v", err)
	default:
	}
	release()
	require.NoError(t, <-sent)
	require.Equal(t, "held", srv.WaitFor(t, "b@example.com", "held").Subject)
	require.Zero(t, srv.Held())
	release() // twice is harmless
}
