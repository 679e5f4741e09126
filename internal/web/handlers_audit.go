package web

import (
	"encoding/hex"
	"encoding/json"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// The audit log: GET /api/v1/audit-events for API keys, GET /o/{org}/audit
// for the organisation's admins. Both need authz.AuditRead.

// auditEventJSON is an audit event in the JSON API (see openapi.json).
type auditEventJSON struct {
	ID  string `json:"id"`
	Seq *int64 `json:"seq"` // nil until sealed

	OccurredAt time.Time       `json:"occurred_at"`
	ActorType  string          `json:"actor_type"`
	ActorID    *string         `json:"actor_id"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	IP         string          `json:"ip"`
	UserAgent  string          `json:"user_agent"`
	RequestID  string          `json:"request_id"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	Hash       *string         `json:"hash"`
	PrevHash   *string         `json:"prev_hash"`
}

// actorOf names the kind and ID of e's actor: "user", "api_key", or
// "system" (the admin command line) with no ID.
func actorOf(a gw.Actor) (string, *string) {
	switch {
	case a.UserID != "":
		return "user", &a.UserID
	case a.APIKeyID != "":
		return "api_key", &a.APIKeyID
	}
	return "system", nil
}

func toAuditEventJSON(e audit.Entry) auditEventJSON {
	j := auditEventJSON{ID: e.ID, OccurredAt: e.Time, Action: e.Action,
		TargetType: e.TargetType, TargetID: e.TargetID, IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID,
		Before: e.Before, After: e.After}
	if e.Sealed() {
		hash, prev := hex.EncodeToString(e.Hash), hex.EncodeToString(e.PrevHash)
		j.Seq, j.Hash, j.PrevHash = &e.Seq, &hash, &prev
	}
	j.ActorType, j.ActorID = actorOf(e.Actor)
	return j
}

// auditEventList is the body of GET /api/v1/audit-events.
type auditEventList struct {
	Data       []auditEventJSON `json:"data"`
	NextCursor *string          `json:"next_cursor"`
}

// auditParams reads actor, action, since, until, cursor and limit from the
// query string. Times are RFC 3339; with lenient (pages), also the
// browser's date-time and date inputs' forms, in UTC.
func auditParams(r *http.Request, lenient bool) (audit.ListParams, error) {
	q := r.URL.Query()
	p := audit.ListParams{Actor: q.Get("actor"), Action: q.Get("action"), Cursor: q.Get("cursor")}
	fields := map[string]string{}
	for _, name := range []string{"since", "until"} {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			continue
		}
		t, ok := parseTime(v, lenient)
		if !ok {
			fields[name] = "Give a time as 2026-01-02T15:04:05Z (RFC 3339)."
			continue
		}
		if name == "since" {
			p.Since = t
		} else {
			p.Until = t
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			fields["limit"] = "Must be a whole number from 1 to 200."
		}
		p.Limit = n
	}
	if len(fields) > 0 {
		return p, &gw.Error{Code: gw.EINVALID, Message: "The query is invalid.", Fields: fields}
	}
	return p, nil
}

// parseTime reads an RFC 3339 time or, when lenient, a UTC date-time
// ("2006-01-02T15:04") or date.
func parseTime(v string, lenient bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	if lenient {
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func (s *server) apiListAuditEvents() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		p, err := auditParams(r, false)
		if err != nil {
			return err
		}
		page, err := s.d.Audit.List(r.Context(), gw.ScopeFrom(r.Context()), p)
		if err != nil {
			return err
		}
		out := auditEventList{Data: make([]auditEventJSON, len(page.Entries))}
		for i, e := range page.Entries {
			out.Data[i] = toAuditEventJSON(e)
		}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// auditPage is the data of audit.html.
type auditPage struct {
	Entries []auditRow
	Actions []string
	Actors  []auditActor
	// Filter holds the query's filters, to refill the form.
	Filter struct{ Actor, Action, Since, Until string }
	// Next is the URL of the next page; "" on the last page.
	Next template.URL
}

func (auditPage) template() string { return "audit.html" }

// auditRow is one event as the page shows it.
type auditRow struct {
	audit.Entry
	ActorName, TargetName string
	// Changes are the fields of Before and After, one a row, in name
	// order; Before and After themselves only when they are not JSON
	// objects.
	Changes       []fieldChange
	Before, After string
	// Device is the user agent in a few words (shortDevice).
	Device string
}

// fieldChange is one field of an audit event's before and after states.
type fieldChange struct {
	Field, Before, After string
	Added, Removed       bool // the field is only in the after, or only in the before, state
}

// auditChanges compares the before and after states of an audit event,
// field by field when both are JSON objects (or absent): the fields whose
// values differ, or that are in one state only, in name order; fields that
// did not change are left out when there is a before state. ok is false
// when a state is not an object, for the page to show it as it is.
func auditChanges(before, after json.RawMessage) (changes []fieldChange, ok bool) {
	var b, a map[string]json.RawMessage
	if len(before) > 0 && string(before) != "null" && json.Unmarshal(before, &b) != nil {
		return nil, false
	}
	if len(after) > 0 && string(after) != "null" && json.Unmarshal(after, &a) != nil {
		return nil, false
	}
	names := map[string]bool{}
	for k := range b {
		names[k] = true
	}
	for k := range a {
		names[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		bv, inB := b[k]
		av, inA := a[k]
		if inB && inA && string(bv) == string(av) {
			continue
		}
		changes = append(changes, fieldChange{Field: k, Before: auditValue(bv), After: auditValue(av),
			Added: !inB && b != nil, Removed: !inA && a != nil})
	}
	return changes, true
}

// auditValue shows one JSON value of an audit state: a string without its
// quotes, anything else as JSON.
func auditValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// auditTargetName names an event's target from its states when the page
// knows no better name: their "name" or "email" field, else the start of
// the ID.
func auditTargetName(e audit.Entry) string {
	for _, state := range []json.RawMessage{e.After, e.Before} {
		var m map[string]any
		if json.Unmarshal(state, &m) != nil {
			continue
		}
		for _, k := range []string{"name", "email"} {
			if v, ok := m[k].(string); ok && v != "" && !strings.HasPrefix(v, "[") { // not "[redacted]"
				return v
			}
		}
	}
	if len(e.TargetID) > 8 {
		return e.TargetID[:8] + "…"
	}
	return e.TargetID
}

// auditActor is a choice of the actor filter.
type auditActor struct{ ID, Name string }

func (s *server) pageAudit() http.Handler {
	return s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		scope := gw.ScopeFrom(ctx)
		p, err := auditParams(r, true)
		if err != nil {
			return err
		}
		list, err := s.d.Audit.List(ctx, scope, p)
		if err != nil {
			return err
		}
		// Name the actors and member targets that still exist; the others
		// keep their IDs.
		names := map[string]string{}
		targets := map[string]string{} // target names where they differ from actor names
		data := auditPage{Actions: audit.OrgActions}
		members, err := s.d.Orgs.Members(ctx, scope)
		if err != nil {
			return err
		}
		for _, m := range members {
			names[m.UserID] = m.Email
			data.Actors = append(data.Actors, auditActor{ID: m.UserID, Name: m.Email})
		}
		if keys, err := s.d.Orgs.APIKeys(ctx, scope); err == nil {
			for _, k := range keys {
				names[k.ID] = "API key " + k.Name
				targets[k.ID] = k.Name
				data.Actors = append(data.Actors, auditActor{ID: k.ID, Name: "API key " + k.Name})
			}
		} else if gw.ErrorCode(err) != gw.EFORBIDDEN {
			return err
		}
		for _, e := range list.Entries {
			row := auditRow{Entry: e, Device: shortDevice(e.UserAgent)}
			if changes, ok := auditChanges(e.Before, e.After); ok {
				row.Changes = changes
			} else {
				row.Before, row.After = string(e.Before), string(e.After)
			}
			kind, id := actorOf(e.Actor)
			row.ActorName = kind
			if id != nil {
				row.ActorName = *id
				if n, ok := names[*id]; ok {
					row.ActorName = n
				}
			}
			row.TargetName = auditTargetName(e)
			if n, ok := names[e.TargetID]; ok {
				row.TargetName = n
			}
			if n, ok := targets[e.TargetID]; ok {
				row.TargetName = n
			}
			data.Entries = append(data.Entries, row)
		}
		q := r.URL.Query()
		data.Filter.Actor, data.Filter.Action, data.Filter.Since, data.Filter.Until =
			q.Get("actor"), q.Get("action"), q.Get("since"), q.Get("until")
		if list.NextCursor != "" {
			next := url.Values{}
			for _, k := range []string{"actor", "action", "since", "until", "limit"} {
				if v := q.Get(k); v != "" {
					next.Set(k, v)
				}
			}
			next.Set("cursor", list.NextCursor)
			data.Next = template.URL(orgPath(r, "/audit?") + next.Encode()) // url.Values encodes the query

		}
		s.render(w, r, http.StatusOK, page{Title: "Audit log", Data: data})
		return nil
	})
}
