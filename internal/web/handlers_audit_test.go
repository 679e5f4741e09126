package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestAuditEventsAPIMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// Before the organisation exists, so that every event of it is since
	// start, however slow the machine.
	start := time.Now().Add(-time.Second)
	owner := e.user("owner@acme.example")
	acme, ownerScope := e.org(owner.ID, "Acme")
	ada := e.contact(ownerScope, "Ada", "ada@acme.example")
	newName := "Ada Lovelace"
	_, err := e.contacts.Update(ctx, ownerScope, ada.ID, contacts.Input{Name: &newName})
	require.NoError(t, err)
	require.NoError(t, e.contacts.Delete(ctx, ownerScope, ada.ID))
	adminKey, key := e.apiKey(acme.ID, "auditor", gw.RoleAdmin)
	other := e.user("other@other.example")
	e.org(other.ID, "Other")
	c := newAPIClient(t, e, key)
	// Unsealed events are listed with null positions and hashes.
	status, body := c.do("GET", "/api/v1/audit-events?limit=1", "", "", true)
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.Contains(t, string(body), `"seq":null`)
	require.Contains(t, string(body), `"hash":null`)
	_, err = audit.NewSealer(e.db.Runtime).SealAll(ctx)
	require.NoError(t, err)

	list := func(query string) auditEventList {
		t.Helper()
		status, body := c.do("GET", "/api/v1/audit-events"+query, "", "", true)
		require.Equal(t, http.StatusOK, status, "%s", body)
		var l auditEventList
		require.NoError(t, json.Unmarshal(body, &l))
		return l
	}
	actions := func(l auditEventList) []string {
		var out []string
		for _, ev := range l.Data {
			out = append(out, ev.Action)
		}
		return out
	}

	all := list("")
	require.Equal(t, []string{audit.ActionAPIKeyCreated, audit.ActionContactDeleted, audit.ActionContactUpdated,
		audit.ActionContactCreated, audit.ActionOrgCreated}, actions(all), "newest first, this organisation's only")
	require.Nil(t, all.NextCursor)
	deleted := all.Data[1]
	require.Equal(t, "user", deleted.ActorType)
	require.Equal(t, owner.ID, *deleted.ActorID)
	require.Equal(t, ada.ID, deleted.TargetID)
	require.JSONEq(t, `{"name":"Ada Lovelace","email":"[redacted]","phone":"","company":"","tags":[],"custom":{}}`, string(deleted.Before))
	require.Equal(t, "null", string(deleted.After))
	require.NotContains(t, string(mustJSON(t, all)), "ada@acme.example", "contact emails never appear")
	require.Equal(t, "system", all.Data[0].ActorType, "the admin command line created the key")
	require.Nil(t, all.Data[0].ActorID)
	require.Equal(t, adminKey.ID, all.Data[0].TargetID)
	for i := 0; i+1 < len(all.Data); i++ {
		require.NotNil(t, all.Data[i].Hash, "sealed")
		require.Equal(t, all.Data[i+1].Hash, all.Data[i].PrevHash, "chained")
	}

	require.Equal(t, []string{audit.ActionContactDeleted, audit.ActionContactUpdated, audit.ActionContactCreated},
		actions(list("?action=contact.*")))
	require.Equal(t, []string{audit.ActionContactUpdated}, actions(list("?action=contact.updated")))
	require.Equal(t, []string{audit.ActionContactDeleted, audit.ActionContactUpdated, audit.ActionContactCreated, audit.ActionOrgCreated},
		actions(list("?actor="+owner.ID)))
	require.Empty(t, list("?until="+url.QueryEscape(start.Format(time.RFC3339Nano))).Data)
	require.Len(t, list("?since="+url.QueryEscape(start.Format(time.RFC3339Nano))).Data, 5)

	// Pages of two: three pages, each event once.
	var ids []string
	cursor := ""
	for pages := 1; ; pages++ {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := list(q)
		for _, ev := range p.Data {
			ids = append(ids, ev.ID)
		}
		if p.NextCursor == nil {
			require.Equal(t, 3, pages)
			break
		}
		cursor = *p.NextCursor
	}
	require.Len(t, ids, 5)
	require.Equal(t, all.Data[4].ID, ids[4])

	for _, tt := range []struct{ query, field string }{
		{"?since=yesterday", "since"},
		{"?until=2026-01-02", "until"}, // the API takes RFC 3339 only
		{"?actor=bob", "actor"},
		{"?cursor=not-a-cursor!", "cursor"},
		{"?limit=500", "limit"},
	} {
		status, body := c.do("GET", "/api/v1/audit-events"+tt.query, "", "", false)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %s", tt.query, body)
		var resp errorResponse
		require.NoError(t, json.Unmarshal(body, &resp))
		require.Contains(t, resp.Error.Fields, tt.field, tt.query)
	}

	// A member's key may not read the log.
	_, memberKey := e.apiKey(acme.ID, "app", gw.RoleMember)
	status, _ = newAPIClient(t, e, memberKey).do("GET", "/api/v1/audit-events", "", "", true)
	require.Equal(t, http.StatusForbidden, status)
}

func TestAuditRecordsTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	client := e.login(owner.Email)

	req, err := http.NewRequest("POST", e.srv.URL+"/o/"+acme.Slug+"/contacts", strings.NewReader("name=Grace"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "AuditTest/1.0")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	requestID := resp.Header.Get("X-Request-Id")

	_, key := e.apiKey(acme.ID, "auditor", gw.RoleAdmin)
	status, body := newAPIClient(t, e, key).do("GET", "/api/v1/audit-events?action=contact.created", "", "", true)
	require.Equal(t, http.StatusOK, status)
	var l auditEventList
	require.NoError(t, json.Unmarshal(body, &l))
	require.Len(t, l.Data, 1)
	ev := l.Data[0]
	require.Equal(t, owner.ID, *ev.ActorID)
	require.Equal(t, "127.0.0.1", ev.IP)
	require.Equal(t, "AuditTest/1.0", ev.UserAgent)
	require.NotEmpty(t, requestID)
	require.Equal(t, requestID, ev.RequestID, "the event names the request that made it")
}

func TestAuditPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, ownerScope := e.org(owner.ID, "Acme")
	admin := e.user("admin@acme.example")
	e.join(ownerScope, admin, gw.RoleAdmin)
	member := e.user("member@acme.example")
	e.join(ownerScope, member, gw.RoleMember)
	e.contact(ownerScope, "Zoe", "zoe@acme.example")

	get := func(c *http.Client, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	adminClient := e.login(admin.Email)
	status, body := get(adminClient, "/o/"+acme.Slug+"/audit")
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{"Audit log", audit.ActionOrgCreated, audit.ActionContactCreated, audit.ActionInvitationAccepted,
		"owner@acme.example", `href="/o/` + acme.Slug + `/audit"`} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "zoe@acme.example", "contact emails are redacted")

	status, body = get(adminClient, "/o/"+acme.Slug+"/audit?action=contact.created&since=2000-01-01T00:00")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, audit.ActionContactCreated)
	require.NotContains(t, body, "<code>"+audit.ActionOrgCreated+"</code>")

	status, body = get(adminClient, "/o/"+acme.Slug+"/audit?limit=1")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Older entries")
	require.Contains(t, body, "/o/"+acme.Slug+"/audit?cursor=")

	memberClient := e.login(member.Email)
	status, body = get(memberClient, "/o/"+acme.Slug+"/audit")
	require.Equal(t, http.StatusForbidden, status)
	require.NotContains(t, body, audit.ActionOrgCreated)
	status, body = get(memberClient, "/o/"+acme.Slug+"/contacts")
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, body, `/audit"`, "no audit link for members")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
