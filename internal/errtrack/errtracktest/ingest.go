// Package errtracktest is a stand-in Sentry ingest for tests: a local HTTP
// server that accepts envelopes at /api/1/envelope/, parses them and keeps
// their events, and can be told to refuse them.
package errtracktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ProjectID is the project of the ingest's DSN.
const ProjectID = "1"

// Ingest is a running stand-in Sentry ingest.
type Ingest struct {
	srv *httptest.Server

	mu        sync.Mutex
	status    int
	raw       [][]byte
	envelopes []Envelope
	badPaths  []string
}

// Envelope is one parsed envelope: its header and items.
type Envelope struct {
	Header map[string]any
	Items  []Item
}

// Item is one envelope item: its header (with "type") and raw payload.
type Item struct {
	Header  map[string]any
	Payload []byte
}

// Event is an event item's payload, decoded.
type Event struct {
	Raw         []byte `json:"-"` // the item payload as received
	EventID     string `json:"event_id"`
	Level       string `json:"level"`
	Message     string `json:"message"`
	Release     string `json:"release"`
	Environment string `json:"environment"`
	Transaction string `json:"transaction"`
	Tags        map[string]string
	User        map[string]any `json:"user"`
	Request     map[string]any `json:"request"`
	Contexts    map[string]map[string]any
	// Exception lists the error chain, innermost first (sentry-go sends
	// the list itself rather than {"values": [...]}).
	Exception []Exception `json:"exception"`
}

// Exception is one exception of an event.
type Exception struct {
	Type      string         `json:"type"`
	Value     string         `json:"value"`
	Mechanism map[string]any `json:"mechanism"`
}

// Top returns the outermost exception of ev: the error as reported.
func (ev Event) Top() Exception {
	if len(ev.Exception) == 0 {
		return Exception{}
	}
	return ev.Exception[len(ev.Exception)-1]
}

// New starts an ingest answering 200 and stops it when the test ends.
func New(t testing.TB) *Ingest {
	t.Helper()
	in := &Ingest{status: http.StatusOK}
	in.srv = httptest.NewServer(http.HandlerFunc(in.serve))
	t.Cleanup(in.srv.Close)
	return in
}

// DSN is the DSN that sends to this ingest.
func (in *Ingest) DSN() string {
	return "http://public@" + strings.TrimPrefix(in.srv.URL, "http://") + "/" + ProjectID
}

// Close stops the ingest; later sends fail to connect.
func (in *Ingest) Close() { in.srv.Close() }

// SetStatus makes the ingest answer status from now on (200 accepts).
func (in *Ingest) SetStatus(status int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.status = status
}

func (in *Ingest) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	in.mu.Lock()
	status := in.status
	if r.Method != http.MethodPost || r.URL.Path != "/api/"+ProjectID+"/envelope/" {
		in.badPaths = append(in.badPaths, r.Method+" "+r.URL.Path)
		in.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	in.raw = append(in.raw, body)
	if env, err := parseEnvelope(body); err == nil {
		in.envelopes = append(in.envelopes, env)
	} else {
		in.badPaths = append(in.badPaths, "unparsable envelope: "+err.Error())
	}
	in.mu.Unlock()
	if status != http.StatusOK {
		http.Error(w, `{"detail":"refused by test ingest"}`, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"id":"ok"}`)
}

// Raw returns every request body received, as sent.
func (in *Ingest) Raw() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]string, len(in.raw))
	for i, b := range in.raw {
		out[i] = string(b)
	}
	return out
}

// Problems returns requests to other paths and envelopes that did not parse.
func (in *Ingest) Problems() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.badPaths...)
}

// Events returns the events received so far (items of type "event").
func (in *Ingest) Events(t testing.TB) []Event {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []Event
	for _, env := range in.envelopes {
		for _, it := range env.Items {
			if it.Header["type"] != "event" {
				continue
			}
			var ev Event
			if err := json.Unmarshal(it.Payload, &ev); err != nil {
				t.Fatalf("decode event: %v", err)
			}
			ev.Raw = it.Payload
			out = append(out, ev)
		}
	}
	return out
}

// WaitEvents waits up to 10 seconds for at least n events and returns them.
func (in *Ingest) WaitEvents(t testing.TB, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := in.Events(t)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d; problems: %v", len(evs), n, in.Problems())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parseEnvelope parses Sentry's envelope format: a JSON header line, then
// items, each a JSON header line and a payload of the header's length, or
// up to the next newline when it has none.
func parseEnvelope(b []byte) (Envelope, error) {
	rd := bufio.NewReader(bytes.NewReader(b))
	var env Envelope
	line, err := readLine(rd)
	if err != nil {
		return env, fmt.Errorf("envelope header: %w", err)
	}
	if err := json.Unmarshal(line, &env.Header); err != nil {
		return env, fmt.Errorf("envelope header: %w", err)
	}
	for {
		line, err := readLine(rd)
		if err == io.EOF {
			return env, nil
		}
		if err != nil {
			return env, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var it Item
		if err := json.Unmarshal(line, &it.Header); err != nil {
			return env, fmt.Errorf("item header %q: %w", line, err)
		}
		if n, ok := itemLength(it.Header); ok {
			it.Payload = make([]byte, n)
			if _, err := io.ReadFull(rd, it.Payload); err != nil {
				return env, fmt.Errorf("item payload: %w", err)
			}
			_, _ = rd.ReadByte() // the newline after the payload, if any
		} else if it.Payload, err = readLine(rd); err != nil && err != io.EOF {
			return env, err
		}
		env.Items = append(env.Items, it)
	}
}

func itemLength(h map[string]any) (int, bool) {
	switch v := h["length"].(type) {
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// readLine returns the next line without its newline; io.EOF only when
// nothing is left.
func readLine(rd *bufio.Reader) ([]byte, error) {
	line, err := rd.ReadBytes('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	return bytes.TrimSuffix(line, []byte("\n")), err
}
