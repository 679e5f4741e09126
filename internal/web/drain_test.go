package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// drainResult is what one keep-alive client of TestServe_Drain saw.
type drainResult struct {
	requests int          // requests sent while the server was in rotation
	failures []string     // those that did not get 200 "ok"
	closes   atomic.Int64 // responses that asked to close the connection
	newConns atomic.Int64 // connections the client opened
}

// TestServe_Drain proves the shutdown drain (item 16). Several keep-alive
// clients send requests in a loop through a "load balancer" that
// health-checks /readyz; then Serve's context is cancelled, as serve does on
// SIGTERM. While the drain lasts /readyz answers 503 and everything is still
// served, each response with Connection: close, so a client reconnects for
// its next request instead of reusing a connection the server is about to
// close. The balancer stops sending traffic once /readyz says 503 (as a
// real one takes a failing backend out of rotation), which must happen
// before the listener closes; every request sent until then succeeds — none
// is lost to a connection closed under it. A request in flight when the
// listener closes still finishes, and Serve returns nil.
//
// Requests refused after the listener closed are not counted: no client
// sends any, since all stop when the balancer sees /readyz fail. Without
// the drain, /readyz never fails before the listener closes, and the test
// fails.
func TestServe_Drain(t *testing.T) {
	t.Parallel()
	const (
		clients = 5
		// drainPeriod must outlast the balancer's noticing the 503 (a
		// loopback round trip) on a busy machine; it is not measured.
		drainPeriod = 2 * time.Second
	)
	logger, logs := testLogger()
	t.Cleanup(func() {
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("server logs:\n%s", logs.buf.String())
			logs.mu.Unlock()
		}
	})
	drain := &Drain{}
	s := newServer(Deps{Logger: logger, Drain: drain})
	mux := http.NewServeMux()
	rt := &router{mux: mux, s: s}
	rt.ops("GET /readyz", s.handleReadyz())
	rt.ops("GET /work", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	slowStarted, shuttingDown := make(chan struct{}), make(chan struct{})
	rt.ops("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(slowStarted)
		<-shuttingDown // in flight until the listener has closed
		_, _ = io.WriteString(w, "done")
	}))
	var patterns []string
	for _, r := range rt.routes {
		patterns = append(patterns, r.Pattern)
	}
	srv := NewHTTPServer(s.wrap(s.answerUnmatched(mux), patterns), logger)
	var listenerClosed atomic.Bool
	// Shutdown runs this after closing the listener.
	srv.RegisterOnShutdown(func() { listenerClosed.Store(true); close(shuttingDown) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, srv, ln, ServeOptions{Drain: drain, DrainTimeout: drainPeriod,
			ShutdownTimeout: 10 * time.Second, Logger: logger})
	}()

	// The load balancer: health-checks /readyz until it fails, then takes
	// the server out of rotation.
	var outOfRotation atomic.Bool
	readyzSeen := make(chan error, 1) // nil: 503 seen during the drain
	lbClient := &http.Client{Transport: &http.Transport{}, Timeout: ioTimeout}
	t.Cleanup(lbClient.CloseIdleConnections)
	healthCheck := func() (int, bool, error) {
		resp, err := lbClient.Get(base + "/readyz")
		if err != nil {
			return 0, false, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Close, err
	}
	status, _, err := healthCheck()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "ready before shutdown")

	// The clients, each with a keep-alive connection of its own.
	var wg sync.WaitGroup
	results := make([]drainResult, clients)
	warm := make(chan struct{}, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: ioTimeout}
			res := &results[i]
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				if !info.Reused {
					res.newConns.Add(1)
				}
			}}
			for !outOfRotation.Load() {
				res.requests++
				closed := listenerClosed.Load()
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, base+"/work", nil)
				if err != nil {
					panic(err)
				}
				resp, err := c.Do(req)
				if err != nil {
					res.failures = append(res.failures, fmt.Sprintf("request %d (listener closed before: %v): %v", res.requests, closed, err))
					continue
				}
				b, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || string(b) != "ok" {
					res.failures = append(res.failures, fmt.Sprintf("request %d: %d %q %v", res.requests, resp.StatusCode, b, err))
				}
				if resp.Close {
					res.closes.Add(1)
				}
				if res.requests == 2 {
					warm <- struct{}{} // a kept-alive connection was reused
				}
			}
		}()
	}
	for range clients {
		<-warm
	}

	// A request in flight across the whole shutdown.
	slow := make(chan error, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{}, Timeout: ioTimeout}
		resp, err := c.Get(base + "/slow")
		if err != nil {
			slow <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		switch {
		case err != nil:
			slow <- err
		case resp.StatusCode != http.StatusOK || string(b) != "done":
			slow <- fmt.Errorf("slow request: %d %q", resp.StatusCode, b)
		case !resp.Close:
			slow <- errors.New("slow request answered without Connection: close")
		default:
			slow <- nil
		}
	}()
	<-slowStarted

	cancel() // SIGTERM

	// The balancer keeps checking until /readyz fails, and must see it fail
	// while the server still answers: during the drain.
	go func() {
		for {
			status, closeConn, err := healthCheck()
			switch {
			case err != nil:
				readyzSeen <- fmt.Errorf("/readyz never answered 503 before the listener closed: %w", err)
			case status == http.StatusServiceUnavailable && !closeConn:
				readyzSeen <- errors.New("/readyz answered 503 without Connection: close")
			case status == http.StatusServiceUnavailable:
				// Like a balancer's unhealthy threshold, it keeps sending
				// traffic a little longer: until every client has been
				// answered, during the drain, with Connection: close.
				for i := range results {
					for results[i].closes.Load() == 0 && !listenerClosed.Load() {
						time.Sleep(time.Millisecond)
					}
				}
				readyzSeen <- nil
			default:
				continue
			}
			outOfRotation.Store(true)
			return
		}
	}()
	require.NoError(t, <-readyzSeen)
	require.False(t, listenerClosed.Load(), "the listener stays open during the drain")
	wg.Wait()

	require.NoError(t, <-slow, "the in-flight request finishes")
	require.NoError(t, <-served, "Serve returns nil after a clean shutdown")
	require.True(t, listenerClosed.Load())
	_, err = net.DialTimeout("tcp", ln.Addr().String(), ioTimeout)
	require.Error(t, err, "new connections are refused after shutdown")

	total, closes := 0, 0
	for i := range results {
		res := &results[i]
		require.Empty(t, res.failures, "client %d", i)
		closed := int(res.closes.Load())
		require.Positive(t, closed, "client %d was answered with Connection: close during the drain", i)
		// The first connection, and a new one for each request after a
		// response asking to close, but at most one per request.
		require.GreaterOrEqual(t, int(res.newConns.Load()), closed, "client %d reconnects after Connection: close", i)
		require.Less(t, int(res.newConns.Load()), res.requests, "client %d kept its connection alive before the drain", i)
		total += res.requests
		closes += closed
	}
	t.Logf("%d requests, %d answered during the drain with Connection: close", total, closes)
	require.Len(t, logs.withMsg(t, "http server draining"), 1)
	require.Len(t, logs.withMsg(t, "http server stopped"), 1)
}
