package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewHTTPServer(t *testing.T) {
	t.Parallel()
	h := http.NewServeMux()
	srv := NewHTTPServer(h, nil)
	require.Equal(t, h, srv.Handler)
	require.Equal(t, 5*time.Second, srv.ReadHeaderTimeout)
	require.Equal(t, 30*time.Second, srv.ReadTimeout)
	require.Equal(t, 60*time.Second, srv.WriteTimeout)
	require.Equal(t, 120*time.Second, srv.IdleTimeout)
	require.Equal(t, 1<<20, srv.MaxHeaderBytes)
	require.NotNil(t, srv.ErrorLog)
}

func TestServe_GracefulShutdown(t *testing.T) {
	t.Parallel()
	logger, _ := testLogger()
	started := make(chan struct{})
	shuttingDown := make(chan struct{})
	// The handler answers only once shutdown has begun, so the request is
	// in flight during shutdown however the goroutines are scheduled.
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-shuttingDown
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	srv := NewHTTPServer(h, logger)
	srv.RegisterOnShutdown(func() { close(shuttingDown) })
	go func() { served <- Serve(ctx, srv, ln, ServeOptions{ShutdownTimeout: 10 * time.Second, Logger: logger}) }()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b), err: err}
	}()

	<-started
	cancel() // shut down while the request is in flight

	res := <-got
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "done", res.body)
	require.NoError(t, <-served)

	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "new connections are refused after shutdown")
}

func TestServe_ShutdownTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(started)
		<-release
	})
	t.Cleanup(func() { close(release) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, NewHTTPServer(h, nil), ln, ServeOptions{ShutdownTimeout: 50 * time.Millisecond})
	}()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			_ = resp.Body.Close()
		}
	}()

	<-started
	cancel()
	err = <-served
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestServe_ListenerError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	err = Serve(context.Background(), NewHTTPServer(http.NotFoundHandler(), nil), ln, ServeOptions{ShutdownTimeout: time.Second})
	require.Error(t, err)
}
