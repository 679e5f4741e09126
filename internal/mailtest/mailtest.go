// Package mailtest runs a real SMTP server for tests, on 127.0.0.1, and
// keeps every message it receives so that a test can read it and follow
// its links.
//
//	srv := mailtest.Start(t)
//	sender, _ := mail.NewSMTP(srv.URL(), "App <app@example.com>")
//	// ... code under test sends an email ...
//	msg := srv.WaitFor(t, "ada@example.com", "Verify")
//	link := mailtest.FirstLink(msg.Text)
package mailtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// waitTimeout is how long WaitFor polls for a message.
const waitTimeout = 10 * time.Second

// Received is one message as the server received it.
type Received struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To lists the envelope recipients (RCPT TO).
	To []string
	// Subject is the decoded Subject header.
	Subject string
	// Text is the decoded body, with LF line ends.
	Text string
	// Header holds every header of the message as sent.
	Header mail.Header
	// TLS reports whether the message came over an encrypted connection.
	TLS bool
	// Username is the name the client authenticated as, or "" if it did not.
	Username string
}

// Server is a running test SMTP server. It accepts AUTH PLAIN with any
// credentials, and unauthenticated messages too.
type Server struct {
	srv     *smtp.Server
	scheme  string
	addr    string
	rootCAs *x509.CertPool

	mu       sync.Mutex
	messages []Received
	returned map[int]bool  // indexes of messages WaitFor has returned
	gate     chan struct{} // non-nil while Hold holds messages; closed to release them
	held     int           // messages waiting at the gate
}

// Start starts a plain SMTP server on 127.0.0.1 (no STARTTLS) and closes it
// when the test ends. Its URL is smtp://127.0.0.1:PORT.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, "smtp", nil)
}

// StartTLS starts a server that offers STARTTLS with a self-signed
// certificate for 127.0.0.1; clients must trust RootCAs.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	cfg, pool := selfSigned(t)
	s := start(t, "smtp", cfg)
	s.rootCAs = pool
	return s
}

// StartImplicitTLS starts a server that speaks TLS from the first byte
// (smtps://), with a self-signed certificate; clients must trust RootCAs.
func StartImplicitTLS(t testing.TB) *Server {
	t.Helper()
	cfg, pool := selfSigned(t)
	s := start(t, "smtps", cfg)
	s.rootCAs = pool
	return s
}

func start(t testing.TB, scheme string, tlsConfig *tls.Config) *Server {
	t.Helper()
	s := &Server{scheme: scheme, returned: map[int]bool{}}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)

	var ln net.Listener
	var err error
	if scheme == "smtps" {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	} else {
		s.srv.TLSConfig = tlsConfig // nil: STARTTLS is not offered
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		_ = ln.Close() // Close misses a listener that Serve has not registered yet
		<-done
	})
	return s
}

// URL returns the server's URL: smtp://127.0.0.1:PORT, or smtps://... for
// StartImplicitTLS.
func (s *Server) URL() string { return s.scheme + "://" + s.addr }

// RootCAs returns the pool that trusts the server's certificate, or nil for
// a server started without TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.rootCAs }

// Messages returns every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// WaitFor waits up to 10 seconds for a message to the recipient to (case
// insensitive) whose subject contains subjectContains, and returns it; the
// test fails if none arrives. Each call returns the oldest such message that
// no earlier WaitFor call returned, so successive calls walk through a
// series of similar messages.
func (s *Server) WaitFor(t testing.TB, to, subjectContains string) Received {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if m, ok := s.take(to, subjectContains); ok {
			return m
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var got []string
	for _, m := range s.Messages() {
		got = append(got, fmt.Sprintf("%v %q", m.To, m.Subject))
	}
	t.Fatalf("mailtest: no message to %s with subject containing %q within %v; received: %s",
		to, subjectContains, waitTimeout, strings.Join(got, "; "))
	return Received{}
}

func (s *Server) take(to, subjectContains string) (Received, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.messages {
		if s.returned[i] || !strings.Contains(m.Subject, subjectContains) {
			continue
		}
		for _, rcpt := range m.To {
			if strings.EqualFold(rcpt, to) {
				s.returned[i] = true
				return m, true
			}
		}
	}
	return Received{}, false
}

// Hold makes the server stall like a relay that stopped answering: from now
// on each message, once its data is sent, waits without an answer until
// release is called (a client sees a server that never replies). A held
// message is neither accepted nor in Messages. release lets every held
// message through; it may be called more than once, and runs when the test
// ends. Held and WaitHeld tell how many messages are waiting.
func (s *Server) Hold(t testing.TB) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	s.mu.Lock()
	if s.gate != nil {
		s.mu.Unlock()
		t.Fatalf("mailtest: Hold called while already holding")
	}
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
	t.Cleanup(release)
	return release
}

// Held returns how many messages are waiting for Hold's release.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// WaitHeld waits up to 10 seconds until at least n messages are waiting
// for Hold's release; the test fails if they are not.
func (s *Server) WaitHeld(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for s.Held() < n {
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: %d messages held, want %d, within %v", s.Held(), n, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait holds a message while Hold is in effect.
func (s *Server) wait() {
	s.mu.Lock()
	gate := s.gate
	if gate == nil {
		s.mu.Unlock()
		return
	}
	s.held++
	s.mu.Unlock()
	<-gate
	s.mu.Lock()
	s.held--
	s.mu.Unlock()
}

func (s *Server) add(m Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
}

// linkPattern matches an http or https URL up to whitespace or a delimiter.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// FirstLink returns the first http or https URL in text, without trailing
// punctuation, or "" if there is none.
func FirstLink(text string) string {
	return strings.TrimRight(linkPattern.FindString(text), ".,;:!?)]")
}

// parse decodes a raw message into a Received.
func parse(raw []byte) (Received, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, fmt.Errorf("read message: %w", err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Received{}, fmt.Errorf("decode subject: %w", err)
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "", "7bit", "8bit":
	default:
		return Received{}, errors.New("unsupported Content-Transfer-Encoding " + msg.Header.Get("Content-Transfer-Encoding"))
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return Received{}, fmt.Errorf("decode body: %w", err)
	}
	return Received{
		Subject: subject,
		Text:    strings.ReplaceAll(string(text), "\r\n", "\n"),
		Header:  msg.Header,
	}, nil
}

// backend hands each connection a session that records into the server.
type backend struct{ s *Server }

// NewSession implements smtp.Backend.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: b.s, conn: c}, nil
}

// session is one SMTP connection.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	username string
	from     string
	to       []string
}

// AuthMechanisms implements smtp.AuthSession: PLAIN only.
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.username = username
		return nil
	}), nil
}

// Mail implements smtp.Session: the envelope sender.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

// Rcpt implements smtp.Session: one envelope recipient.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

// Data implements smtp.Session: the message, recorded on the server.
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	m.From = s.from
	m.To = append([]string(nil), s.to...)
	_, m.TLS = s.conn.TLSConnectionState()
	m.Username = s.username
	s.srv.wait()
	s.srv.add(m)
	return nil
}

// Reset implements smtp.Session: forget the envelope.
func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

// Logout implements smtp.Session.
func (s *session) Logout() error { return nil }
