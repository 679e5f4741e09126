package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Authorizer returns nil when scope may read its organisation's audit log,
// and the error to return otherwise. In production it is org.Require with
// authz.AuditRead; the org module records into this package, so this
// package cannot import it.
type Authorizer func(scope gw.Scope) error

// Service reads the audit log: an organisation's events for its admins,
// and every chain for verification.
type Service struct {
	pool *pgxpool.Pool
}

// NewService returns a Service on pool (the runtime role) that lets a scope
// whose role has authz.AuditRead list its organisation's events.
func NewService(pool *pgxpool.Pool) *Service {
	return &Service{pool: pool}
}

// Entry is a recorded event.
type Entry struct {
	// ID is a UUIDv7, so IDs sort by recording time.
	ID string
	// Seq numbers the event in its chain, from 1; 0 until the event is
	// sealed (see Record).
	Seq int64
	// OrgID is the organisation whose chain holds the event.
	OrgID string
	// Time is when it happened, in UTC.
	Time time.Time
	// Actor is who did it; zero for the system (the admin command line).
	Actor gw.Actor
	// Action is what happened, e.g. "contact.updated".
	Action string
	// TargetType and TargetID name what it happened to.
	TargetType, TargetID string
	// IP, UserAgent and RequestID describe the request; "" when unknown.
	IP, UserAgent, RequestID string
	// Before and After are JSON objects, or nil.
	Before, After json.RawMessage
	// PrevHash and Hash link the event into its chain (SHA-256); nil
	// until the event is sealed.
	PrevHash, Hash []byte
}

// Sealed reports whether the event is sealed into its chain.
func (e Entry) Sealed() bool { return e.Seq > 0 }

// entry converts r, an event of organisation orgID, to an Entry.
func (r *row) entry(orgID string) Entry {
	e := Entry{ID: r.id, Seq: r.seq, OrgID: orgID, Time: r.time.UTC(),
		Actor:  gw.Actor{UserID: r.actorUser, APIKeyID: r.actorKey},
		Action: r.action, TargetType: r.targetType, TargetID: r.targetID,
		IP: r.ip, UserAgent: r.userAgent, RequestID: r.requestID,
		PrevHash: r.prevHash, Hash: r.hash}
	if r.before != "" {
		e.Before = json.RawMessage(r.before)
	}
	if r.after != "" {
		e.After = json.RawMessage(r.after)
	}
	return e
}

// Page sizes of List.
const (
	defaultLimit = 50
	maxLimit     = 200
	maxActionLen = 100
)

// maxID is the largest UUID: the first page lists ids below it.
const maxID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

// ListParams selects a page of events.
type ListParams struct {
	// Actor keeps the events done by this user or API key (an ID); "" for all.
	Actor string
	// Action keeps the events with this action; a trailing ".*" keeps those
	// starting with the part before the "*" (e.g. "contact.*"). "" for all.
	Action string
	// Since keeps the events at or after it; zero for no bound.
	Since time.Time
	// Until keeps the events before it; zero for no bound.
	Until time.Time
	// Cursor is the NextCursor of the previous page; "" for the first.
	Cursor string
	// Limit is the page size: 50 when zero or less, at most 200.
	Limit int
}

// Page is one page of events, newest first.
type Page struct {
	// Entries are the page's events; never nil.
	Entries []Entry
	// NextCursor fetches the next page; "" on the last page.
	NextCursor string
}

// List returns a page of the scope's organisation's events, newest first,
// filtered by p. Pages are keyset-paginated on the id, so events recorded
// meanwhile never shift later pages. It returns EFORBIDDEN for a role
// without authz.AuditRead, ENOTFOUND for a scope without an organisation, and
// EINVALID, with Fields "actor", "action" or "cursor", for bad parameters.
func (s *Service) List(ctx context.Context, scope gw.Scope, p ListParams) (Page, error) {
	if scope.OrgID == "" {
		return Page{}, gw.Errorf(gw.ENOTFOUND, "not found")
	}
	if err := authz.Require(scope, authz.AuditRead); err != nil {
		return Page{}, err
	}
	f, err := p.filter()
	if err != nil {
		return Page{}, err
	}
	// One row more than the page tells whether there is a next page; one
	// round trip carries the tenant setting and the query.
	list, err := listEvents(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), scope.OrgID, f)
	if err != nil {
		return Page{}, fmt.Errorf("list audit events: %w", postgres.Translate(err))
	}
	page := Page{Entries: list}
	if len(list) > p.limitOrDefault() {
		page.Entries = list[:p.limitOrDefault()]
		page.NextCursor = gw.Cursor(page.Entries[len(page.Entries)-1].ID)
	}
	if page.Entries == nil {
		page.Entries = []Entry{}
	}
	return page, nil
}

func (p ListParams) limitOrDefault() int {
	if p.Limit <= 0 {
		return defaultLimit
	}
	return min(p.Limit, maxLimit)
}

// filter checks p and returns its query arguments, or EINVALID with Fields.
func (p ListParams) filter() (listFilter, error) {
	f := listFilter{before: maxID, limit: p.limitOrDefault() + 1}
	invalid := func(field, msg string) error {
		return &gw.Error{Code: gw.EINVALID, Message: "The filter is not valid.", Fields: map[string]string{field: msg}}
	}
	if p.Actor != "" {
		u, err := uuid.Parse(p.Actor)
		if err != nil || len(p.Actor) != 36 {
			return listFilter{}, invalid("actor", "Give the ID of a user or API key.")
		}
		s := u.String()
		f.actor = &s
	}
	action := strings.TrimSpace(p.Action)
	if strings.ContainsFunc(action, unicode.IsControl) {
		return listFilter{}, invalid("action", "Give an action as plain text on one line, without control characters.")
	}
	if utf8.RuneCountInString(action) > maxActionLen {
		return listFilter{}, invalid("action", fmt.Sprintf("Give an action of at most %d characters.", maxActionLen))
	}
	if prefix, ok := strings.CutSuffix(action, "*"); ok {
		f.actionPrefix = prefix
	} else {
		f.action = action
	}
	if !p.Since.IsZero() {
		f.since = &p.Since
	}
	if !p.Until.IsZero() {
		f.until = &p.Until
	}
	if p.Cursor != "" {
		id, ok := gw.ParseCursor(p.Cursor)
		if !ok {
			return listFilter{}, invalid("cursor", "This cursor is not valid; start again from the first page.")
		}
		f.before = id
	}
	return f, nil
}
