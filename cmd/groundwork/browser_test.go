package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's Chromium (apt package chromium; see
// scripts/install-deps.sh).
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds each browser step: one navigation, one form, one read.
const stepTimeout = 15 * time.Second

// TestBrowserSignupToTenantIsolation drives the pages in headless Chromium,
// as three people with separate cookie jars:
//
//   - A signs up, verifies the emailed link, logs in, creates an
//     organisation, adds a contact, invites B and creates an API key;
//   - B signs up, verifies, logs in, accepts the emailed invitation and sees
//     A's contact in the organisation's list;
//   - C, in an organisation of their own, opens A's contact URL directly and
//     gets the 404 page, which reveals nothing of the contact.
//
// It saves a full-page screenshot of each main page under
// artifacts/screenshots/ at the module root.
func TestBrowserSignupToTenantIsolation(t *testing.T) {
	t.Parallel()
	gwtest.RequireTool(t, chromiumPath, "run scripts/install-deps.sh (apt-get install chromium) to run the browser tests")
	ctx, cancel := context.WithTimeout(t.Context(), 110*time.Second)
	defer cancel()

	s, mails := startBrowserServe(t)
	base := s.url

	browser := startChromium(t, ctx)
	shots := screenshotDir(t)

	const (
		password     = "plum-orchard-4471" // gitleaks:allow (test fixture)
		orgName      = "Acme Research"
		contactName  = "Grace Hopper"
		contactEmail = "grace.hopper@navy.example"
	)
	emailA, emailB, emailC := "ada@example.com", "bob@example.com", "cyd@example.org"

	// A: sign up, verify, log in.
	a := newTab(t, browser, "A", base, shots)
	signUpVerifyLogIn(a, mails, emailA, password, true)

	// A creates an organisation and lands on its (empty) contacts list.
	a.submit(`form[action="/orgs"]`, map[string]string{"name": orgName})
	a.expectH1("Contacts")
	a.expectText("Organisation " + orgName + " created.")
	a.expectText("No contacts yet.")
	slug := a.match(`^` + regexp.QuoteMeta(base) + `/o/([a-z0-9-]+)/contacts$`)
	orgURL := base + "/o/" + slug

	// A adds a contact through "Add contact".
	a.click(`a[href="/o/` + slug + `/contacts/new"]`)
	a.expectH1("New contact")
	a.fill(`form[action="/o/`+slug+`/contacts"]`, map[string]string{
		"name":    contactName,
		"email":   contactEmail,
		"phone":   "+1 555 0100",
		"company": "US Navy",
		"tags":    "vip, compilers",
		"custom":  "rank = Rear Admiral\nsource = conference",
	})
	a.screenshot("05-contact-form")
	a.click(`form[action="/o/` + slug + `/contacts"] button[type=submit]`)
	a.expectH1(contactName)
	a.expectText("Contact " + contactName + " added.")
	contactURL := a.location()
	require.Regexp(t, `^`+regexp.QuoteMeta(orgURL)+`/contacts/[^/]+$`, contactURL)
	a.expectText(contactEmail) // the read view
	a.screenshot("06-contact")
	a.open(contactURL + "/edit")
	a.expectH1("Edit contact")
	require.Equal(t, contactEmail, a.value("#email"))

	a.open(orgURL + "/contacts")
	a.expectH1("Contacts")
	a.expectText(contactName)
	a.expectText(contactEmail)
	a.expectText("compilers")
	a.screenshot("07-contacts")

	// A invites B as a member.
	a.open(orgURL + "/members")
	a.expectH1("Members of " + orgName)
	a.expectText(emailA + " (you)")
	a.submit(`form[action="/o/`+slug+`/invitations"]`, map[string]string{"email": emailB, "role": "member"})
	a.expectH1("Members of " + orgName)
	a.expectText("Invitation sent to " + emailB + ".")
	a.expectText("Pending invitations")
	a.screenshot("08-members")

	// A creates an API key; it is shown once.
	a.open(orgURL + "/api-keys")
	a.expectH1("API keys")
	a.submit(`form[action="/o/`+slug+`/api-keys"]`, map[string]string{"name": "CI import", "role": "viewer"})
	a.expectH1("API keys")
	require.NotEmpty(t, a.text("#new-api-key"), "the new key is shown")
	a.expectText("CI import")
	a.screenshot("09-api-keys")

	// A subscribes to Pro: the billing page, Stripe's hosted Checkout (the
	// fake's), and back through the success redirect, which syncs before
	// any webhook arrives.
	a.open(orgURL + "/billing")
	a.expectH1("Billing")
	a.expectText("Your plan: Free")
	a.screenshot("13-billing-free")
	a.click(`form[action="/o/` + slug + `/billing/checkout"] button[type=submit]`)
	a.expectH1("Checkout")
	a.click("#pay")
	a.expectH1("Billing")
	a.expectText("Your plan: Pro (monthly)")
	a.expectText("Cancel subscription")
	require.Equal(t, orgURL+"/billing", a.location())
	a.screenshot("14-billing-pro")

	// A upgrades to Business: the preview of the prorated invoice, then
	// the change, charged at once.
	a.click(`a[href="/o/` + slug + `/billing/change?plan=business"]`)
	a.expectH1("Change plan: Pro → Business")
	a.expectText("Charged now")
	a.screenshot("15-billing-upgrade-preview")
	a.click(`form[action="/o/` + slug + `/billing/change"] button[type=submit]`)
	a.expectH1("Billing")
	a.expectText("You are now on the Business plan.")
	a.expectText("Your plan: Business (monthly)")

	// B: the invitation arrived; B signs up, verifies and logs in.
	invitation := mails.WaitFor(t, emailB, "Invitation to join "+orgName)
	invitationURL := mailtest.FirstLink(invitation.Text)
	require.True(t, strings.HasPrefix(invitationURL, base+"/invitations/"), "invitation link: %q", invitationURL)
	b := newTab(t, browser, "B", base, shots)
	signUpVerifyLogIn(b, mails, emailB, password, false)

	// B accepts the invitation and sees A's contact.
	b.open(invitationURL)
	b.expectH1("Join " + orgName)
	b.expectText(emailB)
	b.screenshot("10-invitation")
	b.click(`form[action^="/invitations/"] button[type=submit]`)
	b.expectH1("Contacts")
	b.expectText("Welcome to " + orgName + ".")
	require.Equal(t, orgURL+"/contacts", b.location())
	b.expectText(contactName)
	b.expectText(contactEmail)
	b.screenshot("11-contacts-as-member")

	// C, of another organisation, opens A's contact directly: 404, nothing revealed.
	c := newTab(t, browser, "C", base, shots)
	signUpVerifyLogIn(c, mails, emailC, password, false)
	c.submit(`form[action="/orgs"]`, map[string]string{"name": "Globex"})
	c.expectH1("Contacts")
	c.expectText("No contacts yet.")
	require.Equal(t, 404, c.open(contactURL), "another organisation's contact")
	c.expectH1("Not Found")
	c.expectText("This page does not exist, or you do not have access to it.")
	html := c.html()
	for _, secret := range []string{contactName, contactEmail, "US Navy", orgName} {
		require.NotContains(t, html, secret, "C's 404 page reveals A's data")
	}
	c.screenshot("12-not-found")
	require.Equal(t, 404, c.open(orgURL+"/contacts"), "another organisation's contact list")
	require.NotContains(t, c.html(), contactName)
}

// signUpVerifyLogIn signs email up at /signup, follows the verification link
// from the email and logs in, ending on /orgs. With shots it saves the
// signup, check-email, login and organisations pages.
func signUpVerifyLogIn(b *tab, mails *mailtest.Server, email, password string, shots bool) {
	b.t.Helper()
	b.open(b.base + "/signup")
	b.expectH1("Create your account")
	if shots {
		b.screenshot("01-signup")
	}
	b.submit(`form[action="/signup"]`, map[string]string{"email": email, "password": password})
	b.expectH1("Check your email")
	b.expectText(email)
	if shots {
		b.screenshot("02-check-email")
	}

	msg := mails.WaitFor(b.t, email, "Verify your email address")
	link := mailtest.FirstLink(msg.Text)
	require.True(b.t, strings.HasPrefix(link, b.base+"/"), "verification link in %q: %q", msg.Subject, link)
	b.open(link)
	b.expectH1("Log in")
	b.expectText("verified")
	if shots {
		b.screenshot("03-login")
	}

	b.submit(`form[action="/login"]`, map[string]string{"email": email, "password": password})
	b.expectH1("Your organisations")
	b.expectText(email)
	require.Equal(b.t, b.base+"/orgs", b.location())
	if shots {
		b.screenshot("04-orgs")
	}
}

// startChromium starts headless Chromium for the test and returns a
// chromedp context of the running browser. The flags keep it off the
// network: no background networking, component updates, sync or QUIC, and
// a fresh profile.
func startChromium(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in containers and CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,DialMediaRouteProvider"),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first run starts the browser; its lifetime is ctx's.
	require.NoError(t, chromedp.Do(browserCtx), "start %s", chromiumPath)
	return browserCtx
}

// tab is one person's browser tab, in a browser context of its own (a
// separate cookie jar). Its methods run one step each, bounded by
// stepTimeout, and fail the test with the page's URL and text on error.
type tab struct {
	t     *testing.T
	who   string
	ctx   context.Context
	base  string
	shots string
}

func newTab(t *testing.T, browser context.Context, who, base, shots string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx), "open a tab for %s", who) // opens the tab
	return &tab{t: t, who: who, ctx: ctx, base: base, shots: shots}
}

// step runs one bounded action and fails the test when it fails.
func step[T any](b *tab, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fatalf("%s: %v", what, err)
	}
	return v
}

// fatalf fails the test with the tab's state: URL, heading and page text,
// and a screenshot of the page.
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(b.shots, "FAILED-"+b.who+".png"), png, 0o644)
	}
	b.t.Fatalf("%s: %s\nat %s:\n%s", b.who, fmt.Sprintf(format, args...), loc, body)
}

// open navigates to url and returns the HTTP status of the page.
func (b *tab) open(url string) int {
	b.t.Helper()
	resp := step(b, "open "+url, chromedp.NavigateResponse(url))
	if resp == nil {
		b.fatalf("open %s: no response", url)
	}
	return int(resp.Status)
}

// fill sets the fields (by name) of the form that formSel selects.
func (b *tab) fill(formSel string, fields map[string]string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for name, value := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(formSel+` [name="`+name+`"]`), value))
	}
	step(b, "fill "+formSel, chromedp.Steps(steps...))
}

// click clicks the element sel, which loads a page, and fails the test when
// that page is an error (status 400 or more: a form error, a refusal).
func (b *tab) click(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err == nil && resp == nil {
		err = errors.New("no response")
	}
	if err != nil {
		b.fatalf("click %s: %v", sel, err)
	}
	if resp.Status >= 400 {
		b.fatalf("click %s: status %d", sel, resp.Status)
	}
}

// submit fills the form that formSel selects and submits it with its submit
// button; the page it loads must not be an error.
func (b *tab) submit(formSel string, fields map[string]string) {
	b.t.Helper()
	b.fill(formSel, fields)
	b.click(formSel + ` button[type=submit]`)
}

// expectH1 checks the page's first h1.
func (b *tab) expectH1(want string) {
	b.t.Helper()
	got := step(b, "read h1", chromedp.Evaluate[string](`(document.querySelector("h1") || {innerText: ""}).innerText.trim()`))
	if got != want {
		b.fatalf("h1 is %q, want %q", got, want)
	}
}

// expectText checks that the page's visible text contains want.
func (b *tab) expectText(want string) {
	b.t.Helper()
	body := step(b, "read the page", chromedp.Evaluate[string](`document.body.innerText`))
	if !strings.Contains(body, want) {
		b.fatalf("the page does not say %q", want)
	}
}

// text returns the visible text of the element sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(step(b, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// value returns the value of the form field sel.
func (b *tab) value(sel string) string {
	b.t.Helper()
	return step(b, "read "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// html returns the page's whole HTML.
func (b *tab) html() string {
	b.t.Helper()
	return step(b, "read the HTML", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// location returns the page's URL.
func (b *tab) location() string {
	b.t.Helper()
	return step(b, "read the URL", chromedp.Location())
}

// match returns the first group of pattern in the page's URL.
func (b *tab) match(pattern string) string {
	b.t.Helper()
	loc := b.location()
	m := regexp.MustCompile(pattern).FindStringSubmatch(loc)
	if m == nil {
		b.fatalf("URL %s does not match %s", loc, pattern)
	}
	return m[1]
}

// screenshot saves a full-page PNG of the page as name.png.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	png := step(b, "screenshot "+name, chromedp.FullScreenshot(100))
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644))
}

// screenshotDir is artifacts/screenshots at the module root (gitignored),
// created if needed.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
	shots := filepath.Join(dir, "artifacts", "screenshots")
	require.NoError(t, os.MkdirAll(shots, 0o755))
	return shots
}

// startBrowserServe starts serve for a browser test on a localhost base URL
// fixed before start (it goes into emailed links), with a mail server and
// billing against the fake Stripe, whose hosted pages the browser visits
// like Stripe's. It logs the server's output when the test fails.
func startBrowserServe(t *testing.T) (*server, *mailtest.Server) {
	t.Helper()
	port := freePort(t)
	base := "http://localhost:" + port
	mails := mailtest.Start(t)
	fake := stripefake.New(stripefake.Options{Now: time.Now(), Prices: []stripefake.Price{
		{ID: "price_pro_m", Product: "prod_pro", UnitAmount: 3000},
		{ID: "price_pro_y", Product: "prod_pro", UnitAmount: 30000, Interval: "year"},
		{ID: "price_biz_m", Product: "prod_biz", UnitAmount: 9000},
		{ID: "price_biz_y", Product: "prod_biz", UnitAmount: 90000, Interval: "year"},
	}}).Start(t)
	s := startServe(t, map[string]string{
		"GROUNDWORK_DATA_DIR": dataDir(t),
		"PORT":                port,
		"GROUNDWORK_BASE_URL": base,
		"SMTP_URL":            mails.URL(),
		"STRIPE_SECRET_KEY":   "sk_test_browser", "STRIPE_WEBHOOK_SECRET": "whsec_browser", "STRIPE_API_BASE": fake.URL(),
		"STRIPE_PRICE_PRO_MONTHLY": "price_pro_m", "STRIPE_PRICE_PRO_YEARLY": "price_pro_y",
		"STRIPE_PRICE_BUSINESS_MONTHLY": "price_biz_m", "STRIPE_PRICE_BUSINESS_YEARLY": "price_biz_y",
	})
	require.Equal(t, base, s.url)
	waitReady(t, s.url)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs)
		}
	})
	return s, mails
}

// freePort returns a TCP port that was free a moment ago, for a server
// started after it. It is drawn from 20000–32767, below Linux's default
// ephemeral range (32768–60999): a port the kernel picks for ":0" is one
// it also gives to outgoing connections, and with the tests' many database
// and HTTP connections one of them took such a port before serve bound it
// ("address already in use"). Ports found taken are skipped.
func freePort(t *testing.T) string {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(32768-20000)
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue // taken
		}
		require.NoError(t, ln.Close())
		return strconv.Itoa(port)
	}
	t.Fatal("no free TCP port in 20000–32767 after 100 tries")
	return ""
}
