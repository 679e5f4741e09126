package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/imports"
)

// importScenarios are the import pages' scenarios (the multipart upload
// itself is TestImportPages'), and the export schedule's form.
func importScenarios() []scenario {
	return []scenario{
		{name: "imports page", as: "admin", path: "/o/{org}/imports", wantStatus: http.StatusOK,
			wantText: []string{"<h1>Import contacts</h1>", `enctype="multipart/form-data"`, `href="/o/{org}/imports">Import</a>`}},
		{name: "imports page is forbidden to members", as: "member", path: "/o/{org}/imports",
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "imports page of another organisation", as: "outsider", path: "/o/{org}/imports",
			wantStatus: http.StatusNotFound, wantText: []string{notFoundHint}},
		{name: "an upload that is not a multipart form", as: "admin", method: http.MethodPost, path: "/o/{org}/imports",
			form: url.Values{"mode": {"skip_invalid"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{"Choose a CSV file to import."}},
		{name: "an import's report", as: "admin", path: "/o/{org}/imports/{import}",
			setup: func(t *testing.T, fx *pageFixture) {
				i, err := fx.e.imports.Start(t.Context(), fx.scopes["owner"], imports.Upload{Mode: imports.ModeSkipInvalid,
					FileName: "people.csv", Body: strings.NewReader("name,email\nAda,ada@example.com\nBad,nope\n")})
				require.NoError(t, err)
				require.NoError(t, fx.e.imports.Run(t.Context(), i.OrgID, i.ID, 1, 3))
				fx.vars["import"] = i.ID
			},
			wantStatus: http.StatusOK,
			wantText:   []string{"Import of people.csv", "succeeded", "1 contacts imported of 2 rows; 1 rows rejected.", "<td>3</td>", "email: Enter a valid email address."}},
		{name: "an import of another organisation", as: "outsider", path: "/o/{other}/imports/{import}",
			wantStatus: http.StatusNotFound},
		{name: "an import's report is forbidden to members", as: "member", path: "/o/{org}/imports/{import}",
			wantStatus: http.StatusForbidden},
		{name: "schedule exports", as: "admin", method: http.MethodPost, path: "/o/{org}/exports/schedule",
			form:       url.Values{"frequency": {"daily"}, "hour": {"6"}, "timezone": {"UTC"}, "format": {"csv"}, "packaging": {"zip"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/exports",
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				require.Contains(t, fx.follow(t, "admin", r.location), "Every day at 06:00 (UTC)")
			}},
		{name: "scheduling is forbidden to members", as: "member", method: http.MethodPost, path: "/o/{org}/exports/schedule",
			form: url.Values{"frequency": {"daily"}, "hour": {"6"}}, wantStatus: http.StatusForbidden},
	}
}

// TestImportPageScenarios runs importScenarios.
func TestImportPageScenarios(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, importScenarios())
}
