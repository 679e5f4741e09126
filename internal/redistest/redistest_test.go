package redistest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestStartAndStop: the server answers PING at Addr until Stop, after which
// connections are refused; URL names the same address.
func TestStartAndStop(t *testing.T) {
	t.Parallel()
	s := Start(t)
	if err := s.ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	s.Stop()
	s.Stop() // again: nothing
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("connected after Stop")
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("dial after Stop: %v, want connection refused", err)
	}
}
