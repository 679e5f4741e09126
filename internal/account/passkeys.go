package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Passkey limits.
const (
	// MaxPasskeys is how many passkeys one account may register.
	MaxPasskeys = 20
	// maxPasskeyName is the longest name of a passkey, in characters.
	maxPasskeyName = 100
	// passkeyCeremonyTimeout is how long a started registration or sign-in
	// ceremony may take: the browser is told, and the server enforces it.
	passkeyCeremonyTimeout = 5 * time.Minute
)

// Ceremony kinds: a state begun for one kind of ceremony is refused by the
// others.
const (
	ceremonyRegister     = "register"
	ceremonySignIn       = "sign-in"
	ceremonySecondFactor = "second-factor"
)

// Passkey is a WebAuthn credential registered to an account, as the
// account page lists it.
type Passkey struct {
	ID         string
	Name       string
	Transports []string // as the browser reported them, e.g. "internal", "hybrid"
	AAGUID     string   // the authenticator model; all zeros for many passkeys
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// Passkeys registers passkeys (WebAuthn credentials made with
// go-webauthn/webauthn) and signs users in with them: passwordless, with
// a discoverable credential and user verification, or as the second
// factor of a password sign-in. The relying party is the app's base URL:
// its host is the RP ID and its origin the only origin accepted.
//
// Each ceremony has two steps. Begin* returns the options for the
// browser's navigator.credentials call, as JSON, and a state that the
// caller keeps on the server (in the session, never in the browser) and
// passes to the matching Finish*, once: the state holds the challenge,
// so a replayed answer finds no state or a different challenge.
type Passkeys struct {
	s  *Service
	rp *webauthn.WebAuthn
}

// NewPasskeys returns the passkey ceremonies of accounts in s, for the
// relying party at baseURL (e.g. "https://app.example.com"; its host is
// the RP ID), named displayName in the browser's prompts. It fails for a
// base URL without an http(s) scheme and a host.
func NewPasskeys(s *Service, baseURL, displayName string) (*Passkeys, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("passkeys: base URL %q is not an http(s) URL with a host", baseURL)
	}
	timeout := webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyCeremonyTimeout, TimeoutUVD: passkeyCeremonyTimeout}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:                  u.Hostname(),
		RPDisplayName:         displayName,
		RPOrigins:             []string{u.Scheme + "://" + u.Host},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts:              webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &Passkeys{s: s, rp: rp}, nil
}

// ceremony is the state of a begun ceremony between its two steps.
type ceremony struct {
	Kind   string               `json:"kind"`
	UserID string               `json:"user_id,omitempty"`
	Data   webauthn.SessionData `json:"data"`
}

func encodeCeremony(kind, userID string, data *webauthn.SessionData) (string, error) {
	b, err := json.Marshal(ceremony{Kind: kind, UserID: userID, Data: *data})
	return string(b), err
}

// decodeCeremony returns the session data of state when it was begun for
// kind and userID ("" for a passwordless sign-in), and false otherwise.
func decodeCeremony(state, kind, userID string) (webauthn.SessionData, bool) {
	var c ceremony
	if state == "" || json.Unmarshal([]byte(state), &c) != nil || c.Kind != kind || c.UserID != userID {
		return webauthn.SessionData{}, false
	}
	return c.Data, true
}

// errCeremonyGone answers a finish without its begun ceremony: none, one
// used already, one of another kind or another user.
func errCeremonyGone() error {
	return gw.Errorf(gw.EINVALID, "The passkey request expired or was already used. Try again.")
}

// passkeyUser is a user as webauthn.User: the user handle is the account
// ID (a random UUID, no personal data), the name its email address.
type passkeyUser struct {
	id    string
	email string
	creds []webauthn.Credential
}

// WebAuthnID, WebAuthnName, WebAuthnDisplayName and WebAuthnCredentials
// implement webauthn.User.
func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *passkeyUser) WebAuthnName() string                       { return u.email }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.email }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// loadPasskeyUser returns the user userID with their passkeys.
func (p *Passkeys) loadPasskeyUser(ctx context.Context, q querier, userID string) (userRow, *passkeyUser, error) {
	row, err := getUserByID(ctx, q, userID, false)
	if err != nil {
		return userRow{}, nil, err
	}
	creds, err := credentialsOf(ctx, q, userID)
	if err != nil {
		return userRow{}, nil, err
	}
	return row, &passkeyUser{id: row.ID, email: row.Email, creds: creds}, nil
}

// BeginRegistration starts registering a passkey for userID: a
// discoverable credential with user verification, none of the user's
// registered authenticators again. Errors: ENOTFOUND; ECONFLICT when the
// account has MaxPasskeys already.
func (p *Passkeys) BeginRegistration(ctx context.Context, userID string) (options []byte, state string, err error) {
	_, u, err := p.loadPasskeyUser(ctx, p.s.pool, userID)
	if err != nil {
		return nil, "", err
	}
	if len(u.creds) >= MaxPasskeys {
		return nil, "", gw.Errorf(gw.ECONFLICT, "You have %d passkeys, the most an account may have. Remove one first.", MaxPasskeys)
	}
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i, c := range u.creds {
		exclude[i] = c.Descriptor()
	}
	creation, data, err := p.rp.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithExclusions(exclude),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey registration: %w", err)
	}
	return p.begun(creation, ceremonyRegister, userID, data)
}

// begun returns the options and state of a begun ceremony.
func (p *Passkeys) begun(options any, kind, userID string, data *webauthn.SessionData) ([]byte, string, error) {
	b, err := json.Marshal(options)
	if err != nil {
		return nil, "", err
	}
	state, err := encodeCeremony(kind, userID, data)
	if err != nil {
		return nil, "", err
	}
	return b, state, nil
}

// FinishRegistration registers the passkey of response (the browser's
// PublicKeyCredential as JSON) under name, for the registration state
// began for userID, and records it in the user's audit chain. Errors:
// ENOTFOUND; EINVALID with Fields "passkey_name" for a missing or too
// long name, or without fields for a missing, expired or used state and
// an answer that does not verify; ECONFLICT for a passkey registered
// already or one past MaxPasskeys.
func (p *Passkeys) FinishRegistration(ctx context.Context, userID, state, name string, response []byte) (Passkey, error) {
	name, problem := passkeyName(name)
	if problem != "" {
		return Passkey{}, invalidFields("passkey_name", problem)
	}
	data, ok := decodeCeremony(state, ceremonyRegister, userID)
	if !ok {
		return Passkey{}, errCeremonyGone()
	}
	if len(response) == 0 {
		return Passkey{}, gw.Errorf(gw.EINVALID, "Your browser sent no passkey. Passkeys need a browser with WebAuthn and JavaScript on.")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Passkey{}, gw.Errorf(gw.EINVALID, "Your browser's passkey answer could not be read.")
	}
	_, u, err := p.loadPasskeyUser(ctx, p.s.pool, userID)
	if err != nil {
		return Passkey{}, err
	}
	cred, err := p.rp.CreateCredential(u, data, parsed)
	if err != nil {
		p.s.logger.InfoContext(ctx, "passkey registration refused", "user_id", userID, "error", webauthnDetail(err))
		return Passkey{}, gw.Errorf(gw.EINVALID, "The passkey could not be verified. Try again.")
	}
	pk := Passkey{ID: gw.NewID(), Name: name, Transports: transports(cred.Transport), AAGUID: aaguid(cred.Authenticator.AAGUID), CreatedAt: p.s.now()}
	err = p.s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := getUserByID(ctx, tx, userID, true); err != nil { // serialises the count
			return err
		}
		n, err := countCredentials(ctx, tx, userID)
		if err != nil {
			return err
		}
		if n >= MaxPasskeys {
			return gw.Errorf(gw.ECONFLICT, "You have %d passkeys, the most an account may have. Remove one first.", MaxPasskeys)
		}
		if err := insertCredential(ctx, tx, userID, pk, cred); err != nil {
			return err
		}
		return recordAccount(ctx, tx, userID, audit.ActionPasskeyAdded, nil,
			map[string]any{"passkey_id": pk.ID, "name": pk.Name, "aaguid": pk.AAGUID})
	})
	if err != nil {
		return Passkey{}, err
	}
	return pk, nil
}

// BeginSignIn starts a passwordless sign-in: the browser offers the
// passkeys it has for this site (discoverable credentials), with user
// verification required.
func (p *Passkeys) BeginSignIn(ctx context.Context) (options []byte, state string, err error) {
	assertion, data, err := p.rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return p.begun(assertion, ceremonySignIn, "", data)
}

// errPasskeyRefused is the one answer to an assertion that does not sign
// anyone in: an unknown passkey, a bad signature, a wrong challenge or
// origin, a signature counter that did not advance.
func errPasskeyRefused() error {
	return gw.Errorf(gw.EUNAUTHORIZED, "That passkey could not sign you in.")
}

// FinishSignIn checks response (the browser's PublicKeyCredential as
// JSON) against the sign-in state and returns the user whose passkey
// signed it, with user verification: the passkey is both factors, so the
// caller signs the user in even with two-factor on. Errors: EINVALID for
// a missing, expired or used state; EUNAUTHORIZED "That passkey could not
// sign you in." for an answer that does not verify, an unknown passkey or
// a signature counter that went back (a cloned authenticator);
// EFORBIDDEN for a disabled account or an unverified address.
func (p *Passkeys) FinishSignIn(ctx context.Context, state string, response []byte) (User, error) {
	data, ok := decodeCeremony(state, ceremonySignIn, "")
	if !ok {
		return User{}, errCeremonyGone()
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return User{}, errPasskeyRefused()
	}
	var row userRow
	var lookupErr error // a failure to look up the credential, not a verdict on it
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		owner, err := credentialOwner(ctx, p.s.pool, rawID)
		if err != nil {
			if gw.ErrorCode(err) != gw.ENOTFOUND {
				lookupErr = err
			}
			return nil, err
		}
		if string(userHandle) != owner {
			return nil, errors.New("user handle is not the credential's owner")
		}
		r, u, err := p.loadPasskeyUser(ctx, p.s.pool, owner)
		if err != nil {
			lookupErr = err
		}
		row = r
		return u, err
	}
	_, cred, err := p.rp.ValidatePasskeyLogin(handler, data, parsed)
	if err != nil {
		if lookupErr != nil {
			return User{}, lookupErr
		}
		p.s.logger.InfoContext(ctx, "passkey sign-in refused", "error", webauthnDetail(err))
		return User{}, errPasskeyRefused()
	}
	if err := p.used(ctx, row.ID, cred); err != nil {
		return User{}, err
	}
	if row.Disabled {
		return User{}, errDisabled()
	}
	if !row.EmailVerified {
		return User{}, ErrUnverified
	}
	return row.User, nil
}

// BeginSecondFactor starts the second step of a sign-in of userID, who
// passed the first (a password): the browser offers userID's passkeys.
// Errors: ENOTFOUND for an unknown user or one without passkeys.
func (p *Passkeys) BeginSecondFactor(ctx context.Context, userID string) (options []byte, state string, err error) {
	_, u, err := p.loadPasskeyUser(ctx, p.s.pool, userID)
	if err != nil {
		return nil, "", err
	}
	if len(u.creds) == 0 {
		return nil, "", gw.Errorf(gw.ENOTFOUND, "This account has no passkey.")
	}
	assertion, data, err := p.rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey second factor: %w", err)
	}
	return p.begun(assertion, ceremonySecondFactor, userID, data)
}

// VerifySecondFactor checks response against the second-factor state
// began for userID: one of userID's passkeys signed it. Errors: EINVALID
// for a missing, expired or used state; EUNAUTHORIZED for an answer that
// does not verify (another user's passkey, a bad signature, a signature
// counter that went back); EFORBIDDEN for a disabled account.
func (p *Passkeys) VerifySecondFactor(ctx context.Context, userID, state string, response []byte) error {
	data, ok := decodeCeremony(state, ceremonySecondFactor, userID)
	if !ok {
		return errCeremonyGone()
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return errPasskeyRefused()
	}
	row, u, err := p.loadPasskeyUser(ctx, p.s.pool, userID)
	if err != nil {
		return err
	}
	cred, err := p.rp.ValidateLogin(u, data, parsed)
	if err != nil {
		p.s.logger.InfoContext(ctx, "passkey second factor refused", "user_id", userID, "error", webauthnDetail(err))
		return errPasskeyRefused()
	}
	if err := p.used(ctx, userID, cred); err != nil {
		return err
	}
	if row.Disabled {
		return errDisabled()
	}
	return nil
}

// used records a verified assertion of cred: its new signature counter,
// flags and time. A counter that did not advance past the stored one
// (go-webauthn's CloneWarning), or a concurrent use that advanced it
// first, refuses the sign-in: either a cloned authenticator or a
// replayed assertion.
func (p *Passkeys) used(ctx context.Context, userID string, cred *webauthn.Credential) error {
	if cred.Authenticator.CloneWarning {
		p.s.logger.WarnContext(ctx, "passkey signature counter went back", "user_id", userID,
			"sign_count", cred.Authenticator.SignCount)
		return errPasskeyRefused()
	}
	ok, err := advanceCredential(ctx, p.s.pool, cred, p.s.now())
	if err != nil {
		return err
	}
	if !ok {
		return errPasskeyRefused()
	}
	return nil
}

// List returns userID's passkeys, oldest first.
func (p *Passkeys) List(ctx context.Context, userID string) ([]Passkey, error) {
	return listPasskeys(ctx, p.s.pool, userID)
}

// Rename names userID's passkey id. Errors: ENOTFOUND (also for another
// user's passkey); EINVALID with Fields "passkey_name".
func (p *Passkeys) Rename(ctx context.Context, userID, id, name string) error {
	name, problem := passkeyName(name)
	if problem != "" {
		return invalidFields("passkey_name", problem)
	}
	if !gw.ValidID(id) {
		return gw.Errorf(gw.ENOTFOUND, "Passkey not found.")
	}
	return renamePasskey(ctx, p.s.pool, userID, id, name)
}

// Remove deletes userID's passkey id once the user confirmed with their
// password, and records it in the user's audit chain. An account without
// a password cannot remove passkeys (they may be its only way in) until a
// password is set. Errors: ENOTFOUND (also for another user's passkey);
// EINVALID with Fields "password" for a wrong password or an account
// without one; EUNAVAILABLE when no hashing slot comes free.
func (p *Passkeys) Remove(ctx context.Context, userID, id, password string) error {
	if !gw.ValidID(id) {
		return gw.Errorf(gw.ENOTFOUND, "Passkey not found.")
	}
	row, err := getUserByID(ctx, p.s.pool, userID, false)
	if err != nil {
		return err
	}
	if _, err := getPasskey(ctx, p.s.pool, userID, id); err != nil {
		return err
	}
	if row.PasswordHash == noPassword {
		return invalidFields("password", "Your account has no password to confirm with. Set one (through \"Forgot your password?\") first.")
	}
	if err := p.s.ConfirmPassword(ctx, userID, password); err != nil {
		return err
	}
	return p.s.inTx(ctx, func(tx pgx.Tx) error {
		pk, err := deletePasskey(ctx, tx, userID, id)
		if err != nil {
			return err
		}
		return recordAccount(ctx, tx, userID, audit.ActionPasskeyRemoved,
			map[string]any{"passkey_id": pk.ID, "name": pk.Name, "aaguid": pk.AAGUID}, nil)
	})
}

// passkeyName returns name trimmed, or a problem with it.
func passkeyName(name string) (string, string) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", "Name your passkey, e.g. after the device it is on."
	case utf8.RuneCountInString(name) > maxPasskeyName:
		return "", fmt.Sprintf("Use at most %d characters.", maxPasskeyName)
	}
	return name, ""
}

// webauthnDetail is what the log says of a refused ceremony: go-webauthn's
// details (its DevInfo), which are not shown to the user.
func webauthnDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Type + ": " + pe.Details + " " + pe.DevInfo
	}
	return err.Error()
}

func transports(ts []protocol.AuthenticatorTransport) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}
