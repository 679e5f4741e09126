// Package redistest runs a real, throwaway Redis server for tests: the
// system's redis-server on a free 127.0.0.1 port, with no persistence and a
// temporary directory, stopped when the test ends.
//
//	srv := redistest.Start(t)
//	client := redis.NewClient(&redis.Options{Addr: srv.Addr()}) // or use srv.URL()
//	srv.Stop() // to see how the code under test copes with Redis going away
//
// Without redis-server on PATH (apt package redis-server, installed by
// scripts/install-deps.sh) the test is skipped, or fails under CI=true
// (gwtest.RequireTool).
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// Server is a running redis-server.
type Server struct {
	addr    string
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped sync.Once
}

// startTimeout bounds how long the server may take to answer PING.
const startTimeout = 10 * time.Second

// Start starts a redis-server for tb and stops it in tb's cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := gwtest.RequireTool(tb, "redis-server", "run scripts/install-deps.sh (apt-get install redis-server) to run the Redis tests")
	dir := tb.TempDir()
	// A free port can be taken by someone else between finding it and
	// redis-server binding it: try a few.
	var lastErr error
	for range 3 {
		s, err := start(bin, dir)
		if err == nil {
			tb.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	tb.Fatalf("redistest: %v", lastErr)
	return nil
}

func start(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "redis-"+strconv.Itoa(port)+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &Server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		if err := s.ping(); err == nil {
			return s, nil
		} else if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer PING within %s: %v (log: %s)", port, startTimeout, err, readFile(logPath))
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("redis-server on port %d exited at start (log: %s)", port, readFile(logPath))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server's redis:// URL, for REDIS_URL.
func (s *Server) URL() string { return "redis://" + s.addr + "/0" }

// Stop stops the server and waits for it to exit; later calls do nothing.
// After Stop, connections to Addr are refused.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// ping sends PING and expects +PONG.
func (s *Server) ping() error {
	conn, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return errors.New("unexpected reply " + strconv.Quote(line))
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
