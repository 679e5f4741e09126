package web

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/operator"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
	"github.com/riverqueue/river"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testPassword is the password of every user the factories create.
const testPassword = "correct horse battery staple"

// env is a whole server on a fresh database: real services, real SMTP
// (mailtest), real sessions in PostgreSQL.
type env struct {
	t         *testing.T
	db        *pgtest.DB
	srv       *httptest.Server
	mail      *mailtest.Server
	accounts  *account.Service
	orgs      *org.Service
	contacts  *contacts.Service
	exports   *exports.Service
	imports   *imports.Service
	operators *operator.Service
	deps      Deps       // what the server was built with
	logs      *logBuffer // the server's log lines

	// Billing, set by newBillingEnv: a fake Stripe and the real services.
	stripe        *stripefake.Server
	billing       *billing.Service
	webhookSecret string
}

// newEnv starts the server; each opt may change its Deps first (e.g. to add
// a rate limiter).
func newEnv(t *testing.T, opts ...func(*Deps)) *env {
	t.Helper()
	return startEnv(t, false, opts...)
}

// newBillingEnv is newEnv with billing configured against a fake Stripe
// (stripefake) with the Pro and Business prices.
func newBillingEnv(t *testing.T, opts ...func(*Deps)) *env {
	t.Helper()
	return startEnv(t, true, opts...)
}

// Stripe price IDs of the test catalog.
const (
	testPriceProMonth      = "price_pro_monthly"
	testPriceProYear       = "price_pro_yearly"
	testPriceBusinessMonth = "price_business_monthly"
	testPriceBusinessYear  = "price_business_yearly"
)

// startEnv starts the server on the modules app.New wires, as serve does;
// with withBilling, billing is configured against a fresh fake Stripe
// (stripefake) with the Pro and Business prices, whose clock is then every
// module's.
func startEnv(t *testing.T, withBilling bool, opts ...func(*Deps)) *env {
	t.Helper()
	db := pgtest.New(t)
	ms := mailtest.Start(t)
	sender, err := mail.NewSMTP(ms.URL(), "Groundwork <test@localhost>")
	require.NoError(t, err)
	e := &env{t: t, db: db, mail: ms}
	logger, logs := testLogger()
	e.logs = logs
	t.Cleanup(func() {
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("server logs:\n%s", logs.buf.String())
			logs.mu.Unlock()
		}
	})
	e.srv = httptest.NewUnstartedServer(nil)
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	cfg := config.Config{BaseURL: "http://" + e.srv.Listener.Addr().String()}
	appOpts := app.Options{Clock: gw.SystemClock{}, Mailer: sender, Keys: keys}
	if withBilling {
		e.stripe = stripefake.New(stripefake.Options{Now: time.Now(), Prices: []stripefake.Price{
			{ID: testPriceProMonth, Product: "prod_pro", UnitAmount: 3000},
			{ID: testPriceProYear, Product: "prod_pro", UnitAmount: 30000, Interval: "year"},
			{ID: testPriceBusinessMonth, Product: "prod_business", UnitAmount: 9000},
			{ID: testPriceBusinessYear, Product: "prod_business", UnitAmount: 90000, Interval: "year"},
		}}).Start(t)
		e.webhookSecret = "whsec_test_" + gw.NewID()
		cfg.Billing = config.Billing{SecretKey: "sk_test_fake", WebhookSecrets: []string{e.webhookSecret},
			APIBase: e.stripe.URL(), PriceProMonthly: testPriceProMonth, PriceProYearly: testPriceProYear,
			PriceBusinessMonthly: testPriceBusinessMonth, PriceBusinessYearly: testPriceBusinessYear, GraceDays: 7}
		appOpts.Clock, appOpts.Stripe = e.stripe, e.stripe.Client()
	}
	mods, err := app.New(db.Runtime, cfg, logger, appOpts)
	require.NoError(t, err)
	// The emails the modules queue are sent by the mail job, worked here
	// as serve works it.
	workers := river.NewWorkers()
	mods.AddWorkers(workers)
	mailtest.StartJobs(t, db.Runtime, workers)
	e.accounts, e.orgs, e.contacts, e.exports = mods.Accounts, mods.Orgs, mods.Contacts, mods.Exports
	e.imports, e.operators = mods.Imports, mods.Operators
	sm := scs.New()
	sm.Store = account.NewSessionStore(db.Runtime)
	sm.Cookie.Name = "gw_session"
	sm.IdleTimeout = 12 * time.Hour
	sm.Lifetime = 168 * time.Hour
	e.deps = Deps{Logger: logger, MaxBodyBytes: 1 << 20, Sessions: sm, BaseURL: cfg.BaseURL,
		Accounts: mods.Accounts, Orgs: mods.Orgs, Contacts: mods.Contacts, Audit: mods.Audit, Idempotency: mods.Idempotency,
		Exports: mods.Exports, Imports: mods.Imports, Operators: mods.Operators, OrgSSO: mods.OrgSSO}
	if mods.Billing != nil {
		e.billing = mods.Billing.Service
		e.deps.Billing, e.deps.StripeWebhooks = mods.Billing.Service, mods.Billing.Ledger
	}
	for _, opt := range opts {
		opt(&e.deps)
	}
	e.srv.Config.Handler = NewServer(e.deps)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// user creates a verified user with testPassword.
func (e *env) user(email string) account.User {
	e.t.Helper()
	u, err := e.accounts.CreateVerifiedUser(context.Background(), email, testPassword)
	require.NoError(e.t, err)
	return u
}

// org creates an organisation owned by ownerID and returns it with the
// owner's scope.
func (e *env) org(ownerID, name string) (org.Org, gw.Scope) {
	e.t.Helper()
	o, err := e.orgs.Create(context.Background(), ownerID, name)
	require.NoError(e.t, err)
	return o, e.scope(ownerID, o.ID)
}

// scope is userID's scope in orgID.
func (e *env) scope(userID, orgID string) gw.Scope {
	e.t.Helper()
	s, _, err := e.orgs.MemberScope(context.Background(), userID, orgID)
	require.NoError(e.t, err)
	return s
}

// join makes u a member of the organisation of inviter with role, through
// a real invitation email.
func (e *env) join(inviter gw.Scope, u account.User, role gw.Role) gw.Scope {
	e.t.Helper()
	ctx := context.Background()
	_, err := e.orgs.Invite(ctx, inviter, u.Email, role)
	require.NoError(e.t, err)
	msg := e.mail.WaitFor(e.t, u.Email, "")
	link := mailtest.FirstLink(msg.Text)
	token := link[strings.LastIndex(link, "/")+1:]
	_, err = e.orgs.AcceptInvitation(ctx, u.ID, u.Email, token)
	require.NoError(e.t, err)
	return e.scope(u.ID, inviter.OrgID)
}

// apiKey creates an API key of orgID with role.
func (e *env) apiKey(orgID, name string, role gw.Role) (org.APIKey, string) {
	e.t.Helper()
	k, key, err := e.orgs.CreateAPIKeyAsAdmin(context.Background(), orgID, name, role)
	require.NoError(e.t, err)
	return k, key
}

// contact creates a contact in scope's organisation.
func (e *env) contact(scope gw.Scope, name, email string) contacts.Contact {
	e.t.Helper()
	c, err := e.contacts.Create(context.Background(), scope, contacts.Input{Name: &name, Email: &email})
	require.NoError(e.t, err)
	return c
}

// client returns an HTTP client with a cookie jar that does not follow
// redirects, so tests see each response as it is.
func (e *env) client() *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login returns a client signed in as email.
func (e *env) login(email string) *http.Client {
	e.t.Helper()
	c := e.client()
	resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"email": {email}, "password": {testPassword}})
	require.NoError(e.t, err)
	resp.Body.Close()
	require.Equal(e.t, http.StatusSeeOther, resp.StatusCode, "log in as %s", email)
	return c
}
