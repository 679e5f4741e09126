package web

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestExportSchedulePage: an admin schedules a weekly export from the
// exports page, sees it there, is told what is wrong with a bad hour or
// time zone, and stops it; a viewer may not.
func TestExportSchedulePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, scope := e.org(owner.ID, "Acme")
	viewer := e.user("viewer@acme.example")
	e.join(scope, viewer, gw.RoleViewer)
	admin := e.login(owner.Email)
	u := e.srv.URL + "/o/" + acme.Slug + "/exports/schedule"

	body := getOK(t, admin, e.srv.URL+"/o/"+acme.Slug+"/exports")
	require.Contains(t, body, "No scheduled export.")

	status, _, _ := post(t, e.login(viewer.Email), u, url.Values{"frequency": {"daily"}, "hour": {"6"}})
	require.Equal(t, http.StatusForbidden, status)

	status, _, body = post(t, admin, u, url.Values{"frequency": {"weekly"}, "weekday": {"2"}, "hour": {"25"},
		"timezone": {"Nowhere/Atlantis"}, "format": {"csv"}, "packaging": {"zip"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "Choose an hour from 0 to 23.")
	require.Contains(t, body, "Choose a time zone such as UTC or Europe/Paris.")

	status, loc, _ := post(t, admin, u, url.Values{"frequency": {"weekly"}, "weekday": {"2"}, "hour": {"7"},
		"timezone": {"Europe/Paris"}, "format": {"csv"}, "packaging": {"zip"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/o/"+acme.Slug+"/exports", loc)
	body = getOK(t, admin, e.srv.URL+loc)
	require.Contains(t, body, "Scheduled: the next export is requested at")
	require.Contains(t, body, "Every Tuesday at 07:00 (Europe/Paris)")
	sc, err := e.exports.GetSchedule(t.Context(), scope)
	require.NoError(t, err)
	require.NotNil(t, sc)
	require.Equal(t, owner.ID, sc.CreatedBy)

	status, _, _ = post(t, admin, u, url.Values{"frequency": {"none"}})
	require.Equal(t, http.StatusSeeOther, status)
	body = getOK(t, admin, e.srv.URL+"/o/"+acme.Slug+"/exports")
	require.Contains(t, body, "Scheduled exports stopped.")
	require.Contains(t, body, "No scheduled export.")
}
