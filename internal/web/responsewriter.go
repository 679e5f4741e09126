package web

import (
	"bufio"
	"net"
	"net/http"
)

// responseRecorder wraps a ResponseWriter to record the status and the
// number of body bytes written. It keeps flushing and hijacking available,
// both directly and through http.ResponseController (via Unwrap).
type responseRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

// recorderFor returns w itself if it already is a *responseRecorder, so that
// stacked middleware share one, and wraps w otherwise.
func recorderFor(w http.ResponseWriter) *responseRecorder {
	if rec, ok := w.(*responseRecorder); ok {
		return rec
	}
	return &responseRecorder{ResponseWriter: w}
}

// statusOr returns the status written, or def if none was.
func (rw *responseRecorder) statusOr(def int) int {
	if !rw.wroteHeader {
		return def
	}
	return rw.status
}

// WriteHeader records the first final status and passes it on.
// Informational statuses (1xx except 101) are passed on without recording.
func (rw *responseRecorder) WriteHeader(status int) {
	if !rw.wroteHeader && (status < 100 || status >= 200 || status == http.StatusSwitchingProtocols) {
		rw.status = status
		rw.wroteHeader = true
	}
	rw.ResponseWriter.WriteHeader(status)
}

// Write counts the bytes written; a first Write implies status 200.
func (rw *responseRecorder) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Flush sends any buffered data to the client; a first Flush implies
// status 200.
func (rw *responseRecorder) Flush() {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

// Hijack lets the handler take over the connection, when the underlying
// ResponseWriter supports it.
func (rw *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.ResponseWriter).Hijack()
	if err == nil && !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return conn, brw, err
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
