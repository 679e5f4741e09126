package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// sendTimeout bounds one delivery when ctx has no earlier deadline.
const sendTimeout = time.Minute

// SMTP sends emails to a mail server (a relay or submission service such as
// Postmark, SES or Mailgun), one connection per message.
//
// With an smtp:// URL it upgrades the connection with STARTTLS whenever the
// server offers it, and refuses to go on in plain text unless the server is
// on a loopback address. With an smtps:// URL it speaks TLS from the start.
// Credentials in the URL are sent with AUTH PLAIN, never in plain text to a
// host that is not loopback.
type SMTP struct {
	addr        string // host:port
	host        string
	implicitTLS bool
	username    string
	password    string
	from        *mail.Address
	tlsConfig   *tls.Config
	dialer      net.Dialer
}

// NewSMTP returns an SMTP sender for a server URL such as
// smtp://user:password@mail.example.com:587 (STARTTLS) or
// smtps://user:password@mail.example.com:465 (implicit TLS); the port
// defaults to 587 and 465. from is the sender, e.g.
// "Groundwork <no-reply@example.com>". The error never repeats the password.
func NewSMTP(smtpURL, from string) (*SMTP, error) {
	u, err := url.Parse(smtpURL)
	if err != nil {
		return nil, errors.New("SMTP URL: not a valid URL")
	}
	s := &SMTP{host: u.Hostname(), dialer: net.Dialer{Timeout: 30 * time.Second}}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.implicitTLS = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("SMTP URL: scheme %q is not smtp or smtps", u.Scheme)
	}
	if s.host == "" {
		return nil, errors.New("SMTP URL: no host")
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	if s.from, err = mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("sender address %q: %w", from, err)
	}
	s.tlsConfig = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	return s, nil
}

// Send delivers m. It returns EINVALID for a malformed message (a line
// break in the recipient or subject, an unparsable recipient) and a plain
// error when the server could not be reached or refused the message.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return gw.Errorf(gw.EINVALID, "The recipient %q is not a valid email address.", m.To)
	}
	msg := s.compose(to, m, time.Now())
	if err := s.deliver(ctx, to.Address, msg); err != nil {
		// The connection's deadline is the context's, so the read can time
		// out a moment before the context reports it: name the context's
		// error either way.
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%w)", cerr, err)
		} else if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
		return fmt.Errorf("send email via %s: %w", s.addr, err)
	}
	return nil
}

// compose renders the message: headers, then the body as quoted-printable
// UTF-8 text with CRLF line ends.
func (s *SMTP) compose(to *mail.Address, m Message, now time.Time) []byte {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("From", s.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(s.from.Address))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	// Writes to a bytes.Buffer cannot fail.
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Text, "\r\n", "\n")))
	_ = qp.Close()
	return b.Bytes()
}

// messageID returns a new, globally unique Message-ID in the sender's domain.
func messageID(from string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">"
}

// deliver runs one SMTP conversation. Cancelling ctx aborts it.
func (s *SMTP) deliver(ctx context.Context, rcpt string, msg []byte) error {
	conn, err := s.dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(sendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	// Unblock any read or write in progress when ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	if s.implicitTLS {
		tc := tls.Client(conn, s.tlsConfig.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig.Clone()); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if !plaintextAllowed(s.host) {
			return fmt.Errorf("%s does not offer STARTTLS; refusing to send in plain text to a host that is not loopback (use smtps:// or a server with STARTTLS)", s.host)
		}
	}
	if s.username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.username, s.password, s.host)); err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The message is accepted once DATA is; a failed QUIT loses nothing.
	_ = c.Quit()
	return nil
}

// plaintextAllowed reports whether host is loopback, the only place mail
// may travel unencrypted: "localhost" or a loopback IP literal. Names are
// not resolved, since DNS could point them anywhere.
func plaintextAllowed(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
