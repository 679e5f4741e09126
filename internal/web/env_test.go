package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testPassword is the password of every user the factories create.
const testPassword = "correct horse battery staple"

// env is a whole server on a fresh database: real services, real SMTP
// (mailtest), real sessions in PostgreSQL.
type env struct {
	t        *testing.T
	db       *pgtest.DB
	srv      *httptest.Server
	mail     *mailtest.Server
	accounts *account.Service
	orgs     *org.Service
	contacts *contacts.Service
	deps     Deps       // what the server was built with
	logs     *logBuffer // the server's log lines

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

// withBilling builds the billing services on e's database and a fresh fake
// Stripe, into deps.
func (e *env) withBilling(deps *Deps, base string, logger *slog.Logger) {
	t := e.t
	t.Helper()
	e.stripe = stripefake.New(stripefake.Options{Prices: []stripefake.Price{
		{ID: testPriceProMonth, Product: "prod_pro", UnitAmount: 3000},
		{ID: testPriceProYear, Product: "prod_pro", UnitAmount: 30000, Interval: "year"},
		{ID: testPriceBusinessMonth, Product: "prod_business", UnitAmount: 9000},
		{ID: testPriceBusinessYear, Product: "prod_business", UnitAmount: 90000, Interval: "year"},
	}}).Start(t)
	cat, err := billing.NewCatalog(billing.PriceIDs{ProMonth: testPriceProMonth, ProYear: testPriceProYear,
		BusinessMonth: testPriceBusinessMonth, BusinessYear: testPriceBusinessYear})
	require.NoError(t, err)
	syncer, err := billing.NewSyncer(billing.SyncerConfig{Pool: e.db.Runtime, Stripe: e.stripe.Client(), Catalog: cat, Now: e.stripe.Now})
	require.NoError(t, err)
	authorize := func(s gw.Scope) error { return org.Require(s, org.PermBillingManage) }
	e.billing, err = billing.NewService(billing.ServiceConfig{Syncer: syncer, BaseURL: base,
		AuthorizeView: authorize, AuthorizeManage: authorize})
	require.NoError(t, err)
	inserter, err := jobs.NewClient(e.db.Runtime, jobs.Config{Logger: logger})
	require.NoError(t, err)
	e.webhookSecret = "whsec_test_" + gw.NewID()
	ledger, err := billing.NewLedger(e.db.Runtime, inserter, e.webhookSecret)
	require.NoError(t, err)
	deps.Billing, deps.StripeWebhooks = e.billing, ledger
}

// startEnv starts the server, with billing when withBilling is set.
func startEnv(t *testing.T, withBilling bool, opts ...func(*Deps)) *env {
	t.Helper()
	db := pgtest.New(t)
	ms := mailtest.Start(t)
	sender, err := mail.NewSMTP(ms.URL(), "Groundwork <test@localhost>")
	require.NoError(t, err)
	e := &env{t: t, db: db, mail: ms}
	clock := gw.SystemClock{}
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
	base := "http://" + e.srv.Listener.Addr().String()
	e.orgs = org.NewService(db.Runtime, sender, clock, org.Config{BaseURL: base}, logger)
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	e.accounts = account.NewService(db.Runtime, keys, sender, clock, account.Config{BaseURL: base}, logger)
	e.accounts.SetOwnedOrgs(e.orgs)
	e.contacts = contacts.NewService(db.Runtime, keys, clock)
	sm := scs.New()
	sm.Store = pgxstore.NewWithCleanupInterval(db.Runtime, 0)
	sm.Cookie.Name = "gw_session"
	e.deps = Deps{Logger: logger, MaxBodyBytes: 1 << 20, Sessions: sm,
		Accounts: e.accounts, Orgs: e.orgs, Contacts: e.contacts, Audit: audit.NewService(db.Runtime, org.CanReadAudit)}
	if withBilling {
		e.withBilling(&e.deps, base, logger)
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
