package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// redocBundle is the vendored Redoc bundle's path under /static/.
const redocBundle = "vendor/redoc/redoc.standalone.js"

func TestAPIDocsPage(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{})
	w := serve(h, httptest.NewRequest(http.MethodGet, "/api/docs", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	body := w.Body.String()
	require.Contains(t, body, `<script src="/static/`+redocBundle+`"></script>`)
	require.Contains(t, body, `<script src="/static/api-docs.js"></script>`)
	require.Contains(t, body, `<link rel="stylesheet" href="/static/api-docs.css">`)
	require.Contains(t, body, `data-spec="/api/v1/openapi.json"`)
	require.Regexp(t, `(?s)<noscript>.*href="/api/v1/openapi.json".*</noscript>`, body)
	// No inline script: every script element loads a file; no handler attributes.
	tags := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
	require.Len(t, tags, 2)
	for _, tag := range tags {
		require.Contains(t, tag, ` src="/static/`, tag)
	}
	require.NotRegexp(t, `(?i)\son[a-z]+=`, body)
	require.NotContains(t, body, "https://", "nothing from another origin")

	// The CSP is relaxed for inline styles on this page only; scripts stay
	// the app's own.
	csp := w.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "style-src 'self' 'unsafe-inline';")
	require.Contains(t, csp, "worker-src 'self' blob:;")
	require.Contains(t, csp, "script-src 'self';")
	require.Contains(t, csp, "frame-ancestors 'none'")
	for _, path := range []string{"/api/v1/openapi.json", "/login", "/static/" + redocBundle} {
		w := serve(h, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, contentSecurityPolicy(nil), w.Header().Get("Content-Security-Policy"), path)
	}
}

func TestAPIDocsStaticFiles(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{})
	for _, name := range []string{redocBundle, "api-docs.js"} {
		w := serve(h, httptest.NewRequest(http.MethodGet, "/static/"+name, nil))
		require.Equal(t, http.StatusOK, w.Code, name)
		require.Equal(t, "text/javascript; charset=utf-8", w.Header().Get("Content-Type"), name)
		require.Equal(t, "public, max-age=3600", w.Header().Get("Cache-Control"), name)
		want, err := staticFiles.ReadFile("static/" + name)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, w.Body.Bytes()), name)
	}
	b, err := staticFiles.ReadFile("static/" + redocBundle)
	require.NoError(t, err)
	require.Less(t, len(b), 2<<20, "the bundle stays small enough to embed")
	require.Contains(t, string(b), "Redoc", "the bundle is Redoc's")
	require.NotContains(t, string(b), "cdn.redoc.ly", "nothing loaded from Redocly's CDN")
}

// TestVendoredRedocMatchesNPM checks the vendored Redoc against the package
// pinned in tools/npm/package.json, when it is installed there (npm ci in
// tools/npm; scripts/install-deps.sh): same version, same files but for the
// one change scripts/vendor-redoc.sh makes (the logo from Redocly's CDN).
func TestVendoredRedocMatchesNPM(t *testing.T) {
	t.Parallel()
	var pinned struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	b, err := os.ReadFile("../../tools/npm/package.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pinned))
	version := pinned.DevDependencies["redoc"]
	require.Regexp(t, `^\d+\.\d+\.\d+$`, version, "redoc is pinned to an exact version")
	readme, err := staticFiles.ReadFile("static/vendor/redoc/README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "("+version+")", "the vendored README names the pinned version")

	pkg := "../../tools/npm/node_modules/redoc"
	b, err = os.ReadFile(filepath.Join(pkg, "package.json"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("tools/npm/node_modules/redoc is not installed (npm ci in tools/npm): the vendored copy is not compared")
	}
	require.NoError(t, err)
	var installed struct{ Version string }
	require.NoError(t, json.Unmarshal(b, &installed))
	require.Equal(t, version, installed.Version, "tools/npm/node_modules is stale: run npm ci in tools/npm")
	upstreamLogo, localLogo := []byte(`"https://cdn.redoc.ly/redoc/logo-mini.svg"`), []byte(`"data:,"`)
	for vendored, src := range map[string]string{
		"redoc.standalone.js":             "bundles/redoc.standalone.js",
		"redoc.standalone.js.LICENSE.txt": "bundles/redoc.standalone.js.LICENSE.txt",
		"LICENSE":                         "LICENSE",
	} {
		want, err := os.ReadFile(filepath.Join(pkg, src))
		require.NoError(t, err)
		if vendored == "redoc.standalone.js" {
			require.Equal(t, 1, bytes.Count(want, upstreamLogo), "redoc %s's bundle names the logo once: review scripts/vendor-redoc.sh", version)
			want = bytes.Replace(want, upstreamLogo, localLogo, 1)
		}
		got, err := staticFiles.ReadFile("static/vendor/redoc/" + vendored)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "static/vendor/redoc/%s differs from redoc %s's %s: run scripts/vendor-redoc.sh", vendored, version, src)
	}
}
