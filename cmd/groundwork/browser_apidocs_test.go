//go:build e2e

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// cspRecorder is injected into every document before its own scripts run
// (DevTools scripts are not subject to the page's CSP): it records each
// Content-Security-Policy violation the page reports.
const cspRecorder = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});`

// TestE2EBrowserAPIDocs opens the API reference at /api/docs in headless
// Chromium: the vendored Redoc, loaded from /static, renders the operations
// of /api/v1/openapi.json under the page's CSP, with no CSP violation, no
// console error and no uncaught exception. It saves a screenshot as
// artifacts/screenshots/api-docs.png.
func TestE2EBrowserAPIDocs(t *testing.T) {
	t.Parallel()
	gwtest.RequireTool(t, chromiumPath, "run scripts/install-deps.sh (apt-get install chromium) to run the browser tests")
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()

	port := freePort(t)
	s := startServe(t, map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t), "PORT": port, "GROUNDWORK_BASE_URL": "http://localhost:" + port})
	waitReady(t, s.url)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs)
		}
	})
	browser := startChromium(t, ctx)
	b := newTab(t, browser, "reader", s.url, screenshotDir(t))

	// Console errors, log entries (Chromium reports CSP refusals there too)
	// and uncaught exceptions, collected while the page loads and renders.
	var mu sync.Mutex
	var problems []string
	require.NoError(t, chromedp.Listen(b.ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p = "console.error: " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			p = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				p += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				p = fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	}))
	_, err := chromedp.Call(b.ctx, cdplog.Enable, cdp.Empty{})
	require.NoError(t, err)
	_, err = chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder})
	require.NoError(t, err)

	require.Equal(t, 200, b.open(s.url+"/api/docs"))
	// Redoc has rendered when an operation's summary from the spec is a
	// heading of the reference (the menu lists it too, as a label).
	render, cancelRender := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancelRender()
	_, err = chromedp.Run(render, chromedp.Poll[bool](`[...document.querySelectorAll("h2")].some(h => h.textContent.trim() === "List contacts")`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		b.fatalf("Redoc did not render the operation \"List contacts\": %v", err)
	}
	b.expectText("Create a contact")
	b.expectText("Authorization") // the security scheme, from the spec

	png := step(b, "screenshot", chromedp.CaptureScreenshot())
	require.NoError(t, os.WriteFile(filepath.Join(b.shots, "api-docs.png"), png, 0o644))

	// The search runs in Redoc's worker (a blob: URL the page's CSP allows):
	// a query finds the operation.
	step(b, "search", chromedp.SendKeys(chromedp.CSS(`input[aria-label="Search"]`), "List contacts"))
	search, cancelSearch := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancelSearch()
	_, err = chromedp.Run(search, chromedp.Poll[bool](`(document.querySelector('[data-role="search:results"]') || {textContent: ""}).textContent.includes("List contacts")`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		b.fatalf("the search found no \"List contacts\": %v", err)
	}
	step(b, "scroll to the operation", chromedp.Evaluate[bool](`(() => {
		[...document.querySelectorAll("h2")].find(h => h.textContent.trim() === "List contacts").scrollIntoView();
		return true;
	})()`))
	png = step(b, "screenshot", chromedp.CaptureScreenshot())
	require.NoError(t, os.WriteFile(filepath.Join(b.shots, "api-docs-operation.png"), png, 0o644))

	violations := step(b, "read CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations`))
	require.Empty(t, violations, "the page's CSP refused something Redoc needs")
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "console errors or exceptions on /api/docs")
}
