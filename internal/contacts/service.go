package contacts

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Service manages an organisation's contacts. Each method checks that the
// scope's role has the permission it needs, then runs one transaction that
// sees only the scope's organisation. Besides the codes listed per method,
// every method returns ENOTFOUND for a scope without an organisation, and
// errors of other codes (internal) when the database fails.
type Service struct {
	pool         *pgxpool.Pool
	keys         *crypto.Keyring
	clock        gw.Clock
	entitlements Entitlements // nil: no limits
}

// NewService returns a Service that stores contacts in pool, which must
// connect as the runtime role (row-level security applies), encrypts their
// email and phone with keys, stamps them with clock's time, and enforces
// each organisation's plan with entitlements (nil: no limits, for when
// billing is not configured). Create then refuses a contact beyond the
// plan's limit, and Create and Update refuse any change while the
// organisation is read-only; Delete is always allowed, so an organisation
// can get back under its limit.
func NewService(pool *pgxpool.Pool, keys *crypto.Keyring, clock gw.Clock, entitlements Entitlements) *Service {
	return &Service{pool: pool, keys: keys, clock: clock, entitlements: entitlements}
}

// Create adds a contact to the scope's organisation and returns it. It needs
// authz.ContactsWrite (else EFORBIDDEN); invalid input is EINVALID, with
// a message per field in Fields. With entitlements, a
// contact beyond the plan's limit or in a read-only organisation is
// EFORBIDDEN, its message pointing to the billing page.
func (s *Service) Create(ctx context.Context, scope gw.Scope, in Input) (Contact, error) {
	if err := authz.Require(scope, authz.ContactsWrite); err != nil {
		return Contact{}, err
	}
	in, err := in.normalize(true)
	if err != nil {
		return Contact{}, err
	}
	now := s.now()
	c := Contact{
		ID:         gw.NewID(),
		Name:       *in.Name,
		Email:      *in.Email,
		Phone:      *in.Phone,
		Company:    *in.Company,
		Tags:       *in.Tags,
		Custom:     *in.Custom,
		CustomKeys: in.CustomKeys,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if err := s.checkAdd(ctx, tx, scope.OrgID, 1); err != nil {
			return err
		}
		var err error
		if c, err = insertContact(ctx, tx, s.keys, scope.OrgID, c); err != nil {
			return err
		}
		// With an Idempotency-Key, the key commits with the contact.
		if err := idempotency.RecordTx(ctx, tx, c.ID); err != nil {
			return err
		}
		return recordContact(ctx, tx, scope, audit.ActionContactCreated, c.ID, nil, auditValues(c))
	})
	if err != nil {
		return Contact{}, fmt.Errorf("create contact: %w", err)
	}
	return c, nil
}

// Get returns contact id. It needs authz.ContactsRead (else EFORBIDDEN); a
// contact that does not exist, belongs to another organisation or whose id
// is malformed is ENOTFOUND.
func (s *Service) Get(ctx context.Context, scope gw.Scope, id string) (Contact, error) {
	if err := authz.Require(scope, authz.ContactsRead); err != nil {
		return Contact{}, err
	}
	if !gw.ValidID(id) {
		return Contact{}, errNotFound()
	}
	// One round trip: the tenant setting and the query go together.
	c, err := getContact(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), s.keys, scope.OrgID, id)
	if err != nil {
		return Contact{}, fmt.Errorf("get contact: %w", postgres.Translate(err))
	}
	return c, nil
}

// Update changes the non-nil fields of in on contact id and returns the
// contact; an Input with no field set changes nothing, not even UpdatedAt.
// It needs authz.ContactsWrite (else EFORBIDDEN); a missing contact is
// ENOTFOUND (as in Get) and invalid input EINVALID, with Fields. With
// entitlements, changing a contact of a read-only
// organisation is EFORBIDDEN.
func (s *Service) Update(ctx context.Context, scope gw.Scope, id string, in Input) (Contact, error) {
	if err := authz.Require(scope, authz.ContactsWrite); err != nil {
		return Contact{}, err
	}
	if !gw.ValidID(id) {
		return Contact{}, errNotFound()
	}
	in, err := in.normalize(false)
	if err != nil {
		return Contact{}, err
	}
	now := s.now()
	var c Contact
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		var err error
		if in.empty() {
			c, err = getContact(ctx, tx, s.keys, scope.OrgID, id)
			return err
		}
		if err := s.checkWrite(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		before, err := s.lockedContact(ctx, tx, scope.OrgID, id)
		if err != nil {
			return err
		}
		if c, err = updateContact(ctx, tx, s.keys, scope.OrgID, id, in, now); err != nil {
			return err
		}
		if b, a := auditChanges(before, c); len(a) > 0 {
			return recordContact(ctx, tx, scope, audit.ActionContactUpdated, id, b, a)
		}
		return nil
	})
	if err != nil {
		return Contact{}, fmt.Errorf("update contact: %w", err)
	}
	return c, nil
}

// Delete deletes contact id. It needs authz.ContactsWrite (else
// EFORBIDDEN); a missing contact is ENOTFOUND (as in Get). It ignores the
// plan: even a read-only organisation, or one over its contact limit, may
// delete contacts to get back under it.
func (s *Service) Delete(ctx context.Context, scope gw.Scope, id string) error {
	if err := authz.Require(scope, authz.ContactsWrite); err != nil {
		return err
	}
	if !gw.ValidID(id) {
		return errNotFound()
	}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		before, err := s.lockedContact(ctx, tx, scope.OrgID, id)
		if err != nil {
			return err
		}
		if err := deleteContact(ctx, tx, scope.OrgID, id); err != nil {
			return err
		}
		return recordContact(ctx, tx, scope, audit.ActionContactDeleted, id, auditValues(before), nil)
	})
	if err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	return nil
}

// List returns a page of the organisation's contacts, newest first,
// optionally filtered by p.Query. Pages are keyset-paginated on the id, so
// contacts added meanwhile never shift later pages. It needs
// authz.ContactsRead (else EFORBIDDEN); a malformed cursor or query is
// EINVALID, with Fields "cursor" or "q".
func (s *Service) List(ctx context.Context, scope gw.Scope, p ListParams) (Page, error) {
	if err := authz.Require(scope, authz.ContactsRead); err != nil {
		return Page{}, err
	}
	q, err := p.normalize()
	if err != nil {
		return Page{}, err
	}
	// One row more than the page tells whether a next page exists, without
	// counting; one round trip carries the tenant setting and the query.
	list, err := listContacts(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), s.keys,
		scope.OrgID, q, q.limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("list contacts: %w", postgres.Translate(err))
	}
	page := Page{Contacts: list}
	if len(list) > q.limit {
		page.Contacts = list[:q.limit]
		if last := page.Contacts[q.limit-1]; q.sort == "-created" {
			page.NextCursor = gw.Cursor(last.ID)
		} else {
			page.NextCursor = sortCursor(q.sort, last)
		}
	}
	if page.Contacts == nil {
		page.Contacts = []Contact{}
	}
	return page, nil
}

// now is the clock's time at the precision PostgreSQL stores.
func (s *Service) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}
