// Package sso signs users in with OpenID Connect identity providers: the
// authorization code flow with PKCE, state and nonce, and the ID token
// verified with coreos/go-oidc (signature against the provider's published
// keys, issuer, audience, expiry, nonce). It keeps no state itself: Begin
// returns a Flow that the caller keeps server-side (in the session) and
// hands back, once, to Finish. Which account an identity signs in to is
// the account module's business (account.SignInWithIdentity).
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Provider is one configured OpenID Connect provider.
type Provider struct {
	// Name identifies it in URLs and in linked identities, e.g. "google";
	// lower-case letters, digits and dashes.
	Name string
	// Label is what the log-in button says, e.g. "Google".
	Label string
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// ClientID and ClientSecret are the app's credentials at the provider.
	ClientID, ClientSecret string
	// Scopes are asked besides "openid". Default "email", "profile".
	Scopes []string
}

// FlowTTL is how long a started sign-in may take at the provider.
const FlowTTL = 10 * time.Minute

// Flow is a started sign-in, kept server-side between Begin and Finish
// and used once.
type Flow struct {
	Provider string `json:"provider"`
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"` // the PKCE code verifier
	Next     string `json:"next"`     // where to go once signed in
	// LinkUser, when set, is the signed-in user who started the flow to
	// link the identity to their account, rather than to sign in.
	LinkUser string    `json:"link_user,omitempty"`
	Started  time.Time `json:"started"`
}

// Client signs users in with the configured providers. Its methods are safe
// for concurrent use. A provider's discovery document is fetched on first
// use and kept; a failed fetch is retried on the next use.
type Client struct {
	providers   []Provider
	callbackURL func(name string) string
	httpClient  *http.Client
	clock       gw.Clock

	mu         sync.Mutex
	discovered map[string]*discovered
}

// discovered is a provider whose discovery document was fetched.
type discovered struct {
	op       *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// New returns a Client for providers. baseURL is the app's public URL; the
// redirect URI registered at each provider is
// baseURL + "/login/oidc/" + name + "/callback" (CallbackURL). A nil
// httpClient means http.DefaultClient.
func New(providers []Provider, baseURL string, httpClient *http.Client, clock gw.Clock) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	baseURL = strings.TrimRight(baseURL, "/")
	ps := slices.Clone(providers)
	for i := range ps {
		if len(ps[i].Scopes) == 0 {
			ps[i].Scopes = []string{"email", "profile"}
		}
		if ps[i].Label == "" {
			ps[i].Label = ps[i].Name
		}
	}
	return &Client{providers: ps, httpClient: httpClient, clock: clock, discovered: map[string]*discovered{},
		callbackURL: func(name string) string { return CallbackURL(baseURL, name) }}
}

// NewSingle returns a Client for the one provider p, whose redirect URI
// is redirectURL: an organisation's own connection (internal/orgsso), whose
// callback is not under /login/oidc/. A nil httpClient means
// http.DefaultClient.
func NewSingle(p Provider, redirectURL string, httpClient *http.Client, clock gw.Clock) *Client {
	c := New([]Provider{p}, "", httpClient, clock)
	c.callbackURL = func(string) string { return redirectURL }
	return c
}

// Discover fetches issuer's discovery document and checks that it names
// issuer, as a sign-in would. Errors: EINVALID, saying whether the issuer
// cannot be reached or answers with something else.
func Discover(ctx context.Context, httpClient *http.Client, issuer string) error {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	if u, err := url.Parse(issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return gw.Errorf(gw.EINVALID, "The issuer must be an https URL, e.g. https://login.example.com.")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := oidc.NewProvider(oidc.ClientContext(ctx, httpClient), issuer)
	var mismatch *oidc.IssuerMismatchError
	var netErr *url.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mismatch):
		return gw.Errorf(gw.EINVALID, "The discovery document of %s names another issuer, %s: use exactly the issuer it shows.", issuer, mismatch.Discovered)
	case errors.As(err, &netErr):
		return gw.Errorf(gw.EINVALID, "The issuer %s cannot be reached.", issuer)
	default:
		return gw.Errorf(gw.EINVALID, "The issuer %s does not serve an OpenID Connect discovery document at /.well-known/openid-configuration.", issuer)
	}
}

// CallbackURL is the redirect URI of provider name for an app at baseURL.
func CallbackURL(baseURL, name string) string {
	return strings.TrimRight(baseURL, "/") + "/login/oidc/" + name + "/callback"
}

// Providers lists the configured providers, in configuration order,
// without their secrets.
func (c *Client) Providers() []Provider {
	if c == nil {
		return nil
	}
	out := make([]Provider, len(c.providers))
	for i, p := range c.providers {
		out[i] = Provider{Name: p.Name, Label: p.Label, Issuer: p.Issuer}
	}
	return out
}

// Label returns the label of provider name, or name when there is none.
func (c *Client) Label(name string) string {
	for _, p := range c.Providers() {
		if p.Name == name {
			return p.Label
		}
	}
	return name
}

// Begin starts a sign-in with provider name and returns the flow to keep
// and the provider's URL to send the browser to. next is kept in the flow.
// Errors: ENOTFOUND for an unknown provider; EUNAVAILABLE when the
// provider's discovery document cannot be fetched.
func (c *Client) Begin(ctx context.Context, name, next string) (Flow, string, error) {
	d, err := c.provider(ctx, name)
	if err != nil {
		return Flow{}, "", err
	}
	f := Flow{Provider: name, State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
		Next: next, Started: c.clock.Now().UTC()}
	u := d.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return f, u, nil
}

// Identity is who the provider vouches for, from a verified ID token.
type Identity struct {
	Provider      string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// Finish completes flow, the one Begin returned for this browser, with the
// provider's answer at the callback: state and code, or an error. It
// checks state against the flow's, exchanges the code with the PKCE
// verifier, verifies the ID token (signature, issuer, audience = our
// client ID, expiry by the Client's clock) and its nonce. Errors:
// EUNAUTHORIZED for everything the browser or provider got wrong (the
// message says what, without secrets); EUNAVAILABLE when the provider
// cannot be reached.
func (c *Client) Finish(ctx context.Context, flow Flow, state, code, providerError string) (Identity, error) {
	if flow.State == "" || subtle.ConstantTimeCompare([]byte(flow.State), []byte(state)) != 1 {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "This sign-in was not started here or was used already. Try again.")
	}
	if c.clock.Now().Sub(flow.Started) > FlowTTL {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "This sign-in took too long. Try again.")
	}
	if providerError != "" {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider refused the sign-in (%s).", providerError)
	}
	if code == "" {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider sent no code.")
	}
	d, err := c.provider(ctx, flow.Provider)
	if err != nil {
		return Identity{}, err
	}
	tok, err := d.oauth.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider refused the code (%s).", re.ErrorCode)
		}
		return Identity{}, gw.Errorf(gw.EUNAVAILABLE, "The identity provider cannot be reached. Try again later.")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider sent no ID token.")
	}
	idt, err := d.verifier.Verify(c.ctx(ctx), raw)
	if err != nil {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider's ID token is not valid: %s.", verifyProblem(err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider's ID token is not valid: it answers another sign-in (nonce).")
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // a bool, or "true" at some providers
		Name          string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider's ID token has unreadable claims.")
	}
	if claims.Email == "" {
		// Some providers keep the email claims for the UserInfo endpoint
		// when an access token is issued too; ask it, for the same subject.
		info, err := d.op.UserInfo(c.ctx(ctx), oauth2.StaticTokenSource(tok))
		if err != nil {
			return Identity{}, gw.Errorf(gw.EUNAVAILABLE, "The identity provider's user information cannot be read. Try again later.")
		}
		if info.Subject != idt.Subject {
			return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider's user information is about another user.")
		}
		if err := info.Claims(&claims); err != nil {
			return Identity{}, gw.Errorf(gw.EUNAUTHORIZED, "The identity provider's user information is unreadable.")
		}
	}
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	return Identity{Provider: flow.Provider, Subject: idt.Subject, Email: claims.Email,
		EmailVerified: verified, Name: claims.Name}, nil
}

// verifyProblem says in a few words why go-oidc refused an ID token.
func verifyProblem(err error) string {
	var expired *oidc.TokenExpiredError
	switch {
	case errors.As(err, &expired):
		return "it has expired"
	case strings.Contains(err.Error(), "audience"):
		return "it was issued to another application (audience)"
	case strings.Contains(err.Error(), "issuer"):
		return "it was issued by another provider (issuer)"
	case strings.Contains(err.Error(), "signature"):
		return "its signature does not match the provider's keys"
	default:
		return "it failed verification"
	}
}

// ctx carries the Client's HTTP client to oauth2 and go-oidc.
func (c *Client) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.httpClient)
}

// provider returns the discovered provider name, fetching its discovery
// document on first use.
func (c *Client) provider(ctx context.Context, name string) (*discovered, error) {
	var p *Provider
	for i := range c.providers {
		if c.providers[i].Name == name {
			p = &c.providers[i]
		}
	}
	if p == nil {
		return nil, gw.Errorf(gw.ENOTFOUND, "No identity provider %q is configured.", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.discovered[name]; ok {
		return d, nil
	}
	op, err := oidc.NewProvider(c.ctx(ctx), p.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %v: %w", p.Issuer, err,
			gw.Errorf(gw.EUNAVAILABLE, "The identity provider cannot be reached. Try again later."))
	}
	d := &discovered{
		op: op,
		oauth: oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: op.Endpoint(),
			RedirectURL: c.callbackURL(name), Scopes: append([]string{oidc.ScopeOpenID}, p.Scopes...)},
		verifier: op.Verifier(&oidc.Config{ClientID: p.ClientID, Now: c.clock.Now}),
	}
	c.discovered[name] = d
	return d, nil
}
