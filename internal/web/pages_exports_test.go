package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/exports"
)

// TestExportPages: the whole walk of a data export on its page — request,
// progress, cancel, download through the signed link — and who may not.
func TestExportPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, exportScenarios())
}

// runExports works Acme's queued export as the exports job would.
func runExports(t *testing.T, fx *pageFixture) {
	t.Helper()
	list, err := fx.e.exports.List(t.Context(), fx.scopes["owner"])
	require.NoError(t, err)
	for _, e := range list {
		if e.Active() {
			require.NoError(t, fx.e.exports.Run(t.Context(), e.OrgID, e.ID, 1, 3))
		}
	}
}

var downloadLinkRE = regexp.MustCompile(`href="(/downloads/[^"]+)"`)

func exportScenarios() []scenario {
	str := func(s string) *string { return &s }
	return []scenario{
		{name: "exports page", as: "admin", path: "/o/{org}/exports", wantStatus: http.StatusOK,
			wantText: []string{"<h1>Exports</h1>", "No exports yet.", `action="/o/{org}/exports"`, `href="/o/{org}/exports">Exports</a>`}},
		{name: "exports page is forbidden to members", as: "member", path: "/o/{org}/exports",
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "exports page of another organisation", as: "outsider", path: "/o/{org}/exports",
			wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}},
		{name: "an export with an unknown format", as: "admin", method: http.MethodPost, path: "/o/{org}/exports",
			form:       url.Values{"tables": {"contacts"}, "format": {"xlsx"}, "packaging": {"gzip"}},
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"Choose csv or jsonl."}},
		{name: "request an export", as: "admin", method: http.MethodPost, path: "/o/{org}/exports",
			setup: func(t *testing.T, fx *pageFixture) {
				_, err := fx.e.contacts.Create(t.Context(), fx.scopes["owner"], contacts.Input{Name: str("Ada Lovelace"),
					Email: str("ada@engines.example"), Phone: str("+44 20 7946 0958")})
				require.NoError(t, err)
			},
			form:       url.Values{"tables": {"contacts", "members"}, "format": {"csv"}, "packaging": {"gzip"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/exports",
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				body := fx.follow(t, "admin", r.location)
				require.Contains(t, body, "Export requested.")
				require.Contains(t, body, "queued")
				require.Contains(t, body, "Refresh progress")
				require.Contains(t, body, ">Cancel</button>")
			}},
		{name: "a second export while one runs", as: "owner", method: http.MethodPost, path: "/o/{org}/exports",
			form:       url.Values{"format": {"jsonl"}, "packaging": {"zip"}},
			wantStatus: http.StatusConflict, wantText: []string{"already running"}},
		{name: "cancel the export", as: "owner", method: http.MethodPost, path: "/o/{org}/exports/{export}/cancel",
			setup: func(t *testing.T, fx *pageFixture) {
				list, err := fx.e.exports.List(t.Context(), fx.scopes["owner"])
				require.NoError(t, err)
				fx.vars["export"] = list[0].ID
			},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/exports",
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				body := fx.follow(t, "owner", r.location)
				require.Contains(t, body, "Export cancelled; nothing of it is kept.")
				require.Contains(t, body, "cancelled")
			}},
		{name: "cancel a finished export", as: "owner", method: http.MethodPost, path: "/o/{org}/exports/{export}/cancel",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/exports",
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				require.Contains(t, fx.follow(t, "owner", r.location), "This export has already finished.")
			}},
		{name: "cancel another organisation's export", as: "outsider", method: http.MethodPost, path: "/o/{other}/exports/{export}/cancel",
			wantStatus: http.StatusNotFound},
		{name: "a finished export offers its files", as: "owner", path: "/o/{org}/exports",
			setup: func(t *testing.T, fx *pageFixture) {
				_, err := fx.e.exports.Request(t.Context(), fx.scopes["owner"], exports.Request{Tables: []string{exports.TableContacts}})
				require.NoError(t, err)
				runExports(t, fx)
			},
			wantStatus: http.StatusOK, wantText: []string{"succeeded", "contacts.csv.gz", "1 rows"},
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				m := downloadLinkRE.FindStringSubmatch(r.body)
				require.NotNil(t, m, "a download link")
				link := strings.ReplaceAll(m[1], "&amp;", "&")
				// The link is the authorisation: a visitor without a session downloads.
				resp, err := fx.client(t, "").Get(fx.e.srv.URL + link)
				require.NoError(t, err)
				defer resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, "application/gzip", resp.Header.Get("Content-Type"))
				require.Regexp(t, `^attachment; filename=export-\d{4}-\d\d-\d\d-contacts\.csv\.gz$`, resp.Header.Get("Content-Disposition"))
				data, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Contains(t, string(gunzipBytes(t, data)), "ada@engines.example,+44 20 7946 0958")
				fx.vars["link"] = link
			}},
		{name: "an altered download link", as: "", path: "/downloads/not-a-real-token",
			wantStatus: http.StatusNotFound, wantText: []string{"This download link is invalid or has expired"}},
	}
}

func gunzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}
