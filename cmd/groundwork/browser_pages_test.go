//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// viewports are the widths every page is checked at: a laptop and a phone.
var viewports = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 800}, {"phone", 390, 844}}

// axeScript is axe-core, installed from npm (package.json) by
// scripts/install-deps.sh.
const axeScript = "node_modules/axe-core/axe.min.js"

// TestE2EBrowserEveryPage visits every page a signed-in owner and an anonymous
// visitor can open, at 1280 and 390 px wide, in headless Chromium: it saves
// a screenshot of each under artifacts/screenshots/pages/, requires that
// nothing scrolls sideways (document.documentElement.scrollWidth within the
// viewport) and that axe-core finds no serious or critical accessibility
// violation. It walks the flows of issue 17 on the way: the last owner
// cannot leave and is told so on the members page, deleting a contact and
// the organisation ask first, two-factor setup shows a QR code.
func TestE2EBrowserEveryPage(t *testing.T) {
	t.Parallel()
	gwtest.RequireTool(t, chromiumPath, "run scripts/install-deps.sh (apt-get install chromium) to run the browser tests")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	s, mails := startBrowserServe(t)
	base := s.url
	browser := startChromium(t, ctx)
	shots := filepath.Join(screenshotDir(t), "pages")
	require.NoError(t, os.MkdirAll(shots, 0o755))
	axe := readAxe(t)

	const password = "plum-orchard-4471" // gitleaks:allow (test fixture)
	anon := newTab(t, browser, "anonymous", base, shots)
	for _, p := range []struct{ name, path string }{
		{"home", "/"}, {"login", "/login"}, {"signup", "/signup"}, {"forgot-password", "/forgot-password"},
		{"resend-verification", "/verify-email"}, {"not-found", "/no/such/page"},
	} {
		anon.checkPage(p.name, base+p.path, axe)
	}

	a := newTab(t, browser, "owner", base, shots)
	signUpVerifyLogIn(a, mails, "ada@example.com", password, false)
	a.checkPage("orgs-empty", base+"/orgs", axe)
	a.submit(`form[action="/orgs"]`, map[string]string{"name": "Acme Research and Development Laboratories"})
	slug := a.match(`/o/([a-z0-9-]+)/`)
	org := base + "/o/" + slug
	a.open(org + "/contacts/new")
	a.submit(`form[action="/o/`+slug+`/contacts"]`, map[string]string{
		"name": "Grace Brewster Murray Hopper", "email": "grace.brewster.murray.hopper@navy.example",
		"phone": "+1 555 0100", "company": "United States Navy Reserve", "tags": "vip, compilers, cobol",
		"custom": "rank = Rear Admiral\nsource = conference",
	})
	contact := a.location()
	a.open(org + "/members")
	a.submit(`form[action="/o/`+slug+`/invitations"]`, map[string]string{"email": "bob.with.a.long.address@example.com", "role": "member"})
	a.open(org + "/api-keys")
	a.submit(`form[action="/o/`+slug+`/api-keys"]`, map[string]string{"name": "Nightly CI import", "role": "viewer"})
	a.expectText("Your new API key.")
	a.checkPage("api-key-created", "", axe)

	for _, p := range []struct{ name, path string }{
		{"dashboard", "/o/" + slug + "/"}, {"orgs", "/orgs"}, {"account", "/account"}, {"two-factor-setup", "/account/two-factor"},
		{"contacts", "/o/" + slug + "/contacts"}, {"contacts-sorted", "/o/" + slug + "/contacts?sort=-name"}, {"contact-new", "/o/" + slug + "/contacts/new"},
		{"contact", strings.TrimPrefix(contact, base)}, {"contact-edit", strings.TrimPrefix(contact, base) + "/edit"}, {"members", "/o/" + slug + "/members"},
		{"api-keys", "/o/" + slug + "/api-keys"}, {"settings", "/o/" + slug + "/settings"},
		{"audit", "/o/" + slug + "/audit"}, {"exports", "/o/" + slug + "/exports"},
		{"imports", "/o/" + slug + "/imports"}, {"billing", "/o/" + slug + "/billing"},
		{"not-found-signed-in", "/o/" + slug + "/nothing-here"},
	} {
		a.checkPage(p.name, base+p.path, axe)
	}

	// Two-factor setup shows the key as a QR code.
	a.open(base + "/account/two-factor")
	require.Equal(t, "256", step(a, "QR width", chromedp.Evaluate[string](`String(document.querySelector("#totp-qr").naturalWidth)`)))
	// Decoded as a phone's camera would, the QR code holds the secret the
	// page shows, for the issuer and the account.
	src := step(a, "QR source", chromedp.Evaluate[string](`document.querySelector("#totp-qr").src`))
	secret := step(a, "secret", chromedp.Evaluate[string](`document.querySelector("#totp-secret").textContent.trim()`))
	key := decodeQRDataURL(t, src)
	require.Equal(t, "otpauth", key.Scheme)
	require.Equal(t, "/Groundwork:ada@example.com", key.Path)
	require.Equal(t, strings.ReplaceAll(secret, " ", ""), key.Query().Get("secret"), "the QR code holds the secret shown")
	require.Equal(t, "Groundwork", key.Query().Get("issuer"))

	// The last owner cannot leave: told so on the members page.
	a.open(org + "/members")
	a.click(`form[action="/o/` + slug + `/leave"] button[type=submit]`)
	require.Equal(t, org+"/members", a.location(), "refused at once, not asked about the key and invitation it would revoke")
	a.expectText("You are the only owner")

	// Deleting the contact asks first; Cancel goes back to it.
	a.open(contact)
	a.click(`form[action$="/delete"] button[type=submit]`)
	a.expectH1("Delete Grace Brewster Murray Hopper?")
	a.checkPage("contact-delete-confirm", "", axe)
	a.click(`main a[href$="` + strings.TrimPrefix(contact, base) + `"]`)
	require.Equal(t, contact, a.location())

	// Deleting the organisation wants its name typed.
	a.open(org + "/settings")
	a.fill(`form[action="/o/`+slug+`/delete"]`, map[string]string{"confirm_name": "Acme", "password_delete": password})
	require.Equal(t, 422, a.clickStatus(`form[action="/o/`+slug+`/delete"] button[type=submit]`))
	a.expectText("Type the organisation's name")
	a.checkPage("settings-delete-refused", "", axe)
}

// readAxe returns the axe-core script, or "" when it is not installed
// (outside CI only: under CI=true a missing axe-core fails the test).
func readAxe(t *testing.T) string {
	t.Helper()
	root := filepath.Dir(screenshotDir(t))
	b, err := os.ReadFile(filepath.Join(filepath.Dir(root), axeScript))
	if errors.Is(err, os.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Logf("%s is missing (run scripts/install-deps.sh): accessibility not checked", axeScript)
		return ""
	}
	require.NoError(t, err, "run scripts/install-deps.sh (npm ci) to install axe-core")
	return string(b)
}

// checkPage opens url (or, when url is "", takes the page the tab is on)
// at each viewport: it saves a screenshot as name-<viewport>.png, requires
// no sideways scrolling and, with axe, no serious or critical violation.
func (b *tab) checkPage(name, url, axe string) {
	b.t.Helper()
	for _, vp := range viewports {
		var opts []chromedp.EmulateViewportOption
		if vp.name == "phone" {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
		}
		step(b, "viewport "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, opts...))
		if url != "" {
			b.open(url)
		} else {
			step(b, "settle", chromedp.Evaluate[bool](`document.readyState === "complete"`))
		}
		b.screenshot(name + "-" + vp.name)
		widths := step(b, "measure", chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if widths[0] > widths[1] {
			b.fatalf("%s at %s: the page is %d px wide in a %d px viewport", name, vp.name, widths[0], widths[1])
		}
		if axe == "" {
			continue
		}
		step(b, "load axe", chromedp.Evaluate[bool](axe+";true"))
		found := step(b, "run axe", chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
			r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
				.map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", ")))`,
			chromedp.EvalAwaitPromise))
		if len(found) > 0 {
			b.fatalf("%s at %s: accessibility violations:\n%s", name, vp.name, strings.Join(found, "\n"))
		}
	}
}

// clickStatus clicks the element sel, which loads a page, and returns the
// page's HTTP status, for a form that is meant to be refused.
func (b *tab) clickStatus(sel string) int {
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
	return int(resp.Status)
}

// decodeQRDataURL decodes a data:image/png;base64 URL's QR code (with
// gozxing, as a camera app would) and parses the URI it holds.
func decodeQRDataURL(t *testing.T, src string) *url.URL {
	t.Helper()
	b64, ok := strings.CutPrefix(src, "data:image/png;base64,")
	require.True(t, ok, "a PNG data: URL: %.40s", src)
	raw, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	require.NoError(t, err, "the QR code decodes")
	u, err := url.Parse(res.GetText())
	require.NoError(t, err)
	return u
}
