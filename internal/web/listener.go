package web

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/observe"
)

// Bounds on refusing a connection over the limit.
const (
	// maxRefusing is how many refused connections are answered at once;
	// past it, one is closed without an answer. Answering holds a file
	// descriptor for up to refuseTimeout, so it is bounded too.
	maxRefusing = 64
	// refuseTimeout bounds answering a refused connection.
	refuseTimeout = time.Second
	// refuseReadLimit is how much of a refused connection's request is read
	// (and dropped) before it is closed.
	refuseReadLimit = 64 << 10
)

// busyBody is the JSON error body of a connection refused over the limit.
const busyBody = `{"error":{"code":"unavailable","message":"The server is busy. Please try again in a moment."}}` + "\n"

// busyResponse is the whole answer to a connection refused over the limit.
var busyResponse = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: application/json\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"Content-Length: " + strconv.Itoa(len(busyBody)) + "\r\n\r\n" + busyBody)

// LimitConnections returns ln accepting at most max connections open at
// once (GROUNDWORK_MAX_CONNS). A connection accepted while max are open is
// answered at once with 503 Service Unavailable, Retry-After and
// Connection: close, and closed; metrics counts it, and the logger is told
// at most once a minute.
//
// golang.org/x/net/netutil.LimitListener instead stops calling Accept
// while full. New connections then wait, unanswered, in the kernel's accept
// queue until the client times out: the load balancer cannot tell busy from
// dead, health checks hang with everything else, and since idle keep-alive
// connections hold their slots for up to the idle timeout, a full server can
// stay shut for minutes. A quick 503 (as nginx's limit_conn answers) lets the
// client or balancer retry elsewhere at once, and the server keeps answering.
// Each refused connection is written its answer, half-closed, and read to
// EOF before it is closed (Apache's lingering close), so the client gets the
// 503 instead of a reset; at most maxRefusing are answered this way at once,
// for at most a second each, and any more are simply closed.
func LimitConnections(ln net.Listener, max int, metrics *observe.HTTPMetrics, logger *slog.Logger) net.Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &limitListener{Listener: ln, max: int64(max), metrics: metrics, logger: logger,
		warn: observe.NewThrottle(gw.SystemClock{}, errorLogWindow)}
}

// limitListener is the net.Listener of LimitConnections.
type limitListener struct {
	net.Listener
	max      int64
	open     atomic.Int64
	refusing atomic.Int64
	metrics  *observe.HTTPMetrics
	logger   *slog.Logger
	warn     *observe.Throttle
}

// Accept returns the next connection while fewer than max are open, and
// answers and closes the ones over the limit.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			l.metrics.ConnOpened()
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refuse(c)
	}
}

// refuse answers c, which is over the limit, with busyResponse in a
// goroutine of its own, or closes it when too many are being answered.
func (l *limitListener) refuse(c net.Conn) {
	l.metrics.ConnRejected()
	if ok, repeated := l.warn.Allow("limit"); ok {
		l.logger.Warn("connection limit reached: refusing connections with 503 (GROUNDWORK_MAX_CONNS)",
			"max_conns", l.max, "refused_since_last_warning", repeated)
	}
	if l.refusing.Add(1) > maxRefusing {
		l.refusing.Add(-1)
		_ = c.Close()
		return
	}
	go func() {
		defer l.refusing.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseTimeout))
		if _, err := c.Write(busyResponse); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, refuseReadLimit))
	}()
}

// limitedConn is a connection counted against the limit until closed.
type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

// Close closes the connection and frees its slot (once).
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		c.l.metrics.ConnClosed()
	})
	return err
}

// CloseWrite half-closes the connection, as net/http does before a
// lingering close, when the underlying connection can.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom lets net/http send files with sendfile(2) through the underlying
// *net.TCPConn, as it would without the wrapper.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
