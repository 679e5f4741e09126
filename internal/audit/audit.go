// Package audit is the audit log: an append-only, tamper-evident record of
// destructive and security-relevant actions.
//
// Services call Record inside the transaction of the change it records, so
// an event exists exactly when its change was committed. Events form hash
// chains (see hash.go): one per organisation for tenant events, one per
// user for account events that belong to no organisation (sign-ins from a
// new device, password, email and two-factor changes, account deletion).
// Verify walks the chains and names the first row that does not fit.
//
// The runtime role may insert and read audit rows but not update or delete
// them (migration 00006). An organisation's rows are tenant rows under
// row-level security; Service lists them for the organisation's admins.
//
// This package must not import the modules that record into it (org,
// contacts, account); it checks permissions with the leaf package authz.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Actions recorded. An action is "<thing>.<what happened>"; the list is
// the one place naming them, so that filters and pages can offer them.
const (
	ActionOrgCreated           = "org.created"
	ActionOrgRenamed           = "org.renamed"
	ActionOrgRequire2FAChanged = "org.require_2fa_changed"
	ActionOrgDeleted           = "org.deleted"
	ActionOwnershipTransferred = "org.ownership_transferred"
	ActionMemberRoleChanged    = "member.role_changed"
	ActionMemberRemoved        = "member.removed"
	ActionMemberLeft           = "member.left"
	ActionInvitationCreated    = "invitation.created"
	ActionInvitationRevoked    = "invitation.revoked"
	ActionInvitationAccepted   = "invitation.accepted"
	ActionAPIKeyCreated        = "api_key.created"
	ActionAPIKeyRevoked        = "api_key.revoked"
	ActionSCIMTokenCreated     = "scim_token.created"
	ActionSCIMTokenRevoked     = "scim_token.revoked"
	ActionMemberProvisioned    = "member.provisioned"   // added by the identity provider (SCIM)
	ActionMemberDeprovisioned  = "member.deprovisioned" // removed by the identity provider (SCIM)
	ActionContactCreated       = "contact.created"
	ActionContactUpdated       = "contact.updated"
	ActionContactDeleted       = "contact.deleted"
	ActionBillingPlanChanged   = "billing.plan_changed"
	ActionBillingCanceled      = "billing.cancel_requested"
	ActionBillingReactivated   = "billing.reactivated"
	ActionBillingResumed       = "billing.resumed"
	ActionBillingDispute       = "billing.dispute_changed"
	ActionExportRequested      = "export.requested"
	ActionExportDownloaded     = "export.downloaded"
	ActionExportCancelled      = "export.cancelled"
	ActionExportScheduled      = "export.scheduled"
	ActionExportUnscheduled    = "export.unscheduled"
	ActionImportRequested      = "import.requested"
	ActionContactsImported     = "contacts.imported"
	ActionSSOConfigured        = "sso.configured"
	ActionSSORemoved           = "sso.removed"
	ActionSSODomainAdded       = "sso.domain_added"
	ActionSSODomainVerified    = "sso.domain_verified"
	ActionSSODomainRemoved     = "sso.domain_removed"
	ActionMemberJoinedBySSO    = "member.joined_by_sso"

	ActionSignInNewDevice   = "user.sign_in_new_device"
	ActionPasswordChanged   = "user.password_changed"
	ActionPasswordReset     = "user.password_reset"
	ActionEmailChanged      = "user.email_changed"
	ActionTwoFactorEnabled  = "user.two_factor_enabled"
	ActionTwoFactorDisabled = "user.two_factor_disabled"
	ActionUserDisabled      = "user.disabled"
	ActionUserDeleted       = "user.deleted"

	// Operator (platform staff) actions, recorded in the operator's account
	// chain: grants and revocations in the grantee's, console use in the
	// operator's own (internal/operator).
	ActionOperatorGranted  = "operator.granted"
	ActionOperatorRevoked  = "operator.revoked"
	ActionOperatorViewed   = "operator.viewed"
	ActionOperatorActed    = "operator.acted"
	ActionIdentityLinked   = "user.identity_linked"
	ActionIdentityUnlinked = "user.identity_unlinked"
	ActionPasskeyAdded     = "user.passkey_registered"
	ActionPasskeyRemoved   = "user.passkey_removed"
)

// OrgActions lists the actions of organisation chains, for filters.
var OrgActions = []string{
	ActionOrgCreated, ActionOrgRenamed, ActionOrgRequire2FAChanged, ActionOrgDeleted, ActionOwnershipTransferred,
	ActionMemberRoleChanged, ActionMemberRemoved, ActionMemberLeft,
	ActionInvitationCreated, ActionInvitationRevoked, ActionInvitationAccepted,
	ActionAPIKeyCreated, ActionAPIKeyRevoked,
	ActionSCIMTokenCreated, ActionSCIMTokenRevoked, ActionMemberProvisioned, ActionMemberDeprovisioned,
	ActionContactCreated, ActionContactUpdated, ActionContactDeleted,
	ActionBillingPlanChanged, ActionBillingCanceled, ActionBillingReactivated, ActionBillingDispute,
	ActionBillingResumed,
	ActionExportRequested, ActionExportDownloaded, ActionExportCancelled,
	ActionExportScheduled, ActionExportUnscheduled, ActionImportRequested, ActionContactsImported,
	ActionSSOConfigured, ActionSSORemoved, ActionSSODomainAdded, ActionSSODomainVerified, ActionSSODomainRemoved,
	ActionMemberJoinedBySSO,
}

// Target types.
const (
	TargetOrg          = "org"
	TargetMember       = "member" // a user, as a member of the organisation
	TargetInvitation   = "invitation"
	TargetAPIKey       = "api_key"
	TargetSCIMToken    = "scim_token"
	TargetContact      = "contact"
	TargetUser         = "user"
	TargetSubscription = "subscription"
	TargetDispute      = "dispute"
	TargetExport       = "export"
	TargetImport       = "import"
	TargetOperator     = "operator" // a user, as platform staff
	TargetOpsPage      = "ops_page" // a page or action of the operator console; TargetID is its path
)

// Target types of single sign-on per organisation (internal/orgsso).
const (
	TargetSSOConnection = "sso_connection" // an organisation's connection; TargetID is the organisation's ID
	TargetSSODomain     = "sso_domain"     // an email domain of an organisation
)

// Redacted replaces a sensitive value in Before and After.
const Redacted = "[redacted]"

// Redact returns Redacted for a non-empty value and "" for an empty one,
// so that a record still shows that a sensitive field was set or cleared.
func Redact(v string) string {
	if v == "" {
		return ""
	}
	return Redacted
}

// sensitiveKeys are top-level keys of Before and After whose values Record
// always redacts, whatever the caller put there: secrets must never reach
// the log, even by mistake.
var sensitiveKeys = map[string]bool{
	"password": true, "password_hash": true, "secret": true, "totp_secret": true,
	"token": true, "token_hash": true, "key": true, "key_hash": true, "api_key": true,
	"recovery_code": true, "recovery_codes": true,
}

// Event is one action to record.
type Event struct {
	// OrgID is the organisation the action happened in; its chain records
	// the event, and the transaction must have app.org_id set to it (as
	// postgres.InOrgTx does). "" for an account event.
	OrgID string
	// AccountID is, for an account event (OrgID ""), the user whose chain
	// records it. Ignored when OrgID is set.
	AccountID string
	// Actor is who did it. Default: the actor of gw.ScopeFrom(ctx); a zero
	// actor there too records the system (the admin command line).
	Actor gw.Actor
	// Action is what happened: one of the Action constants. Required.
	Action string
	// TargetType and TargetID name what it happened to: one of the Target
	// constants and its ID. TargetType is required.
	TargetType, TargetID string
	// Before and After are the values before and after an update or
	// delete (Before) and a create or update (After): JSON objects, or nil
	// for none. Values of the keys in sensitiveKeys are replaced with
	// Redacted; redact other sensitive values with Redact.
	Before, After any
	// IP, UserAgent and RequestID describe the request. Defaults: gw.ClientFrom(ctx)
	// and gw.RequestID(ctx).
	IP, UserAgent, RequestID string
	// Time is when it happened. Default: now.
	Time time.Time
}

// Longest IP, user agent and request ID kept, in bytes.
const (
	maxIPLen        = 64
	maxUserAgentLen = 512
	maxRequestIDLen = 128
)

// Record records e inside tx, the transaction of the change it records:
// the event is committed, or rolled back, with the change.
//
// An organisation's event is inserted unsealed, without a lock, in one
// round trip: concurrent writes of one organisation do not wait for each
// other. The sealer (Sealer, run every few seconds by a job) numbers and
// hashes it into the organisation's chain after it commits; until then its
// Seq is 0 and its hashes nil. An account's event is appended to the
// user's chain at once, under the chain's lock until tx ends (a user's own
// actions come one at a time): call Record last in tx then, after every
// other write, so that the lock is held only until the commit and a
// transaction holding it never waits for a row lock. tx must run at READ
// COMMITTED (the default).
func Record(ctx context.Context, tx pgx.Tx, e Event) error {
	r, err := newRow(ctx, e)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	if r.kind == kindOrg {
		err = insertUnsealed(ctx, tx, &r)
	} else {
		err = appendRow(ctx, tx, &r)
	}
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// newRow fills e's defaults from ctx, checks it and encodes its values.
func newRow(ctx context.Context, e Event) (row, error) {
	if e.Actor.Anonymous() {
		e.Actor = gw.ScopeFrom(ctx).Actor
	}
	c := gw.ClientFrom(ctx)
	if e.IP == "" {
		e.IP = c.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = c.UserAgent
	}
	if e.RequestID == "" {
		e.RequestID = gw.RequestID(ctx)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r := row{
		kind:       kindOrg,
		chain:      e.OrgID,
		id:         gw.NewID(),
		time:       e.Time.UTC().Truncate(time.Microsecond),
		actorUser:  e.Actor.UserID,
		actorKey:   e.Actor.APIKeyID,
		action:     e.Action,
		targetType: e.TargetType,
		targetID:   e.TargetID,
		ip:         truncate(e.IP, maxIPLen),
		userAgent:  truncate(e.UserAgent, maxUserAgentLen),
		requestID:  truncate(e.RequestID, maxRequestIDLen),
	}
	if e.OrgID == "" {
		r.kind, r.chain = kindAccount, e.AccountID
	}
	var ok bool
	if r.chain, ok = canonicalUUID(r.chain); !ok || r.chain == "" {
		return row{}, fmt.Errorf("event needs an organisation or account ID, got %q", r.chain)
	}
	if e.Action == "" || e.TargetType == "" {
		return row{}, fmt.Errorf("event needs an action and a target type")
	}
	user, okUser := canonicalUUID(r.actorUser)
	key, okKey := canonicalUUID(r.actorKey)
	if !okUser || !okKey {
		return row{}, fmt.Errorf("malformed actor %+v", e.Actor)
	}
	r.actorUser, r.actorKey = user, key
	var err error
	if r.before, err = encodeValues(e.Before); err != nil {
		return row{}, fmt.Errorf("encode before: %w", err)
	}
	if r.after, err = encodeValues(e.After); err != nil {
		return row{}, fmt.Errorf("encode after: %w", err)
	}
	return r, nil
}

// encodeValues returns v as JSON, with sensitive top-level keys redacted,
// or "" for nil. v must encode as a JSON object.
func encodeValues(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("values must be a JSON object: %w", err)
	}
	if m == nil {
		return "", nil // a nil map or pointer: no values
	}
	redacted, _ := json.Marshal(Redacted)
	for k, val := range m {
		if sensitiveKeys[k] && string(val) != "null" && string(val) != `""` {
			m[k] = redacted
		}
	}
	b, err = json.Marshal(m)
	return string(b), err
}

// canonicalUUID returns s, a UUID, in the lower-case form PostgreSQL
// prints, so that the hash of a row computed before and after storing it
// agree; "" stays "". It reports false for anything else.
func canonicalUUID(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", false
	}
	return u.String(), true
}

// truncate shortens s to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
