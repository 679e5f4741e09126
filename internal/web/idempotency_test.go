package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestContactCreateIsIdempotent: POST /api/v1/contacts with an
// Idempotency-Key has Stripe's semantics: a retry with the same key and
// body answers with the first contact and writes nothing; another body is
// refused; keys are per API key; concurrent retries create one contact;
// a create that committed without answering (the server died) is found by
// the retry.
func TestContactCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	keyA, bearerA := e.apiKey(acme.ID, "a", gw.RoleMember)
	_, bearerB := e.apiKey(acme.ID, "b", gw.RoleMember)
	type answer struct {
		status          int
		id, replayed    string
		location, field string
	}
	post := func(bearer, key, body string) answer {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/contacts", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed"), location: resp.Header.Get("Location")}
		var out struct {
			ID    string `json:"id"`
			Error struct {
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(b, &out), "%s", b)
		a.id = out.ID
		for f := range out.Error.Fields {
			a.field = f
		}
		return a
	}
	count := func() int {
		t.Helper()
		page, err := e.contacts.List(context.Background(), gw.Scope{Actor: gw.Actor{APIKeyID: keyA.ID}, OrgID: acme.ID, Role: gw.RoleMember},
			contacts.ListParams{Limit: 100})
		require.NoError(t, err)
		return len(page.Contacts)
	}
	const body = `{"name":"Ada Lovelace","email":"ada@example.com"}`

	first := post(bearerA, "order-1", body)
	require.Equal(t, http.StatusCreated, first.status)
	require.Empty(t, first.replayed)
	again := post(bearerA, "order-1", body)
	require.Equal(t, answer{status: http.StatusCreated, id: first.id, replayed: "true", location: first.location}, again)
	require.Equal(t, 1, count(), "the retry wrote nothing")

	other := post(bearerA, "order-1", `{"name":"Someone Else"}`)
	require.Equal(t, http.StatusUnprocessableEntity, other.status)
	require.Equal(t, "Idempotency-Key", other.field)

	byB := post(bearerB, "order-1", body)
	require.Equal(t, http.StatusCreated, byB.status, "keys are per API key")
	require.NotEqual(t, first.id, byB.id)
	require.Empty(t, byB.replayed)

	require.Equal(t, http.StatusUnprocessableEntity, post(bearerA, strings.Repeat("k", 256), body).status)
	require.Equal(t, http.StatusUnprocessableEntity, post(bearerA, "tab\tkey", body).status)

	// A refused request does not use up its key.
	require.Equal(t, http.StatusUnprocessableEntity, post(bearerA, "order-2", `{"name":""}`).status)
	fixed := post(bearerA, "order-2", `{"name":"Grace Hopper"}`)
	require.Equal(t, http.StatusCreated, fixed.status)

	// Concurrent retries of one key: one contact, every answer 201 or 409.
	before := count()
	var wg sync.WaitGroup
	answers := make([]answer, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = post(bearerA, "order-3", `{"name":"Concurrent"}`) })
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, a := range answers {
		require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, a.status)
		if a.status == http.StatusCreated {
			ids[a.id] = true
		}
	}
	require.Len(t, ids, 1, "one contact, whatever the answers")
	require.Equal(t, before+1, count())

	// The server committed the create and died before answering: the
	// client's retry gets that contact.
	scope := gw.Scope{Actor: gw.Actor{APIKeyID: keyA.ID}, OrgID: acme.ID, Role: gw.RoleMember}
	const lostBody = `{"name":"Lost Answer"}`
	ctx := idempotency.WithKey(context.Background(), idempotency.Key{OrgID: acme.ID, Caller: idempotency.CallerOf(scope),
		Value: "order-4", Hash: idempotency.RequestHash(http.MethodPost, "/api/v1/contacts", []byte(lostBody))})
	name := "Lost Answer"
	committed, err := e.contacts.Create(ctx, scope, contacts.Input{Name: &name})
	require.NoError(t, err)
	retry := post(bearerA, "order-4", lostBody)
	require.Equal(t, http.StatusCreated, retry.status)
	require.Equal(t, committed.ID, retry.id)
	require.Equal(t, "true", retry.replayed)
	require.Equal(t, before+2, count())
}

// TestExportRequestIsIdempotent: POST /api/v1/exports with an
// Idempotency-Key answers a retry with the export the first request
// queued (where a second request would be refused while it runs).
func TestExportRequestIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, bearer := e.apiKey(acme.ID, "a", gw.RoleAdmin)
	post := func(key string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/exports", strings.NewReader(`{"format":"csv"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct {
			ID string `json:"id"`
		}
		b, _ := io.ReadAll(resp.Body)
		require.NoError(t, json.Unmarshal(b, &out), "%s", b)
		return resp.StatusCode, out.ID, resp.Header.Get("Idempotent-Replayed")
	}
	status, id, replayed := post("weekly-1")
	require.Equal(t, http.StatusAccepted, status)
	require.Empty(t, replayed)
	status, again, replayed := post("weekly-1")
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, id, again)
	require.Equal(t, "true", replayed)
	status, _, _ = post("weekly-2")
	require.Equal(t, http.StatusConflict, status, "a new key is a new request: one export runs at a time")
}

// TestImportUploadIsIdempotent: POST /api/v1/imports with an
// Idempotency-Key answers a retried upload (same query, same file) with
// the import the first one created, and creates one import, one upload
// and one job; the same key with another file, or another mode, is 422;
// without the header the upload is refused while the import runs.
func TestImportUploadIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, bearer := e.apiKey(acme.ID, "a", gw.RoleAdmin)
	post := func(key, query, file string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/imports"+query, strings.NewReader(file))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Content-Type", "text/csv")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct {
			ID string `json:"id"`
		}
		b, _ := io.ReadAll(resp.Body)
		require.NoError(t, json.Unmarshal(b, &out), "%s", b)
		return resp.StatusCode, out.ID, resp.Header.Get("Idempotent-Replayed")
	}
	count := func(sql string) int {
		t.Helper()
		var n int
		require.NoError(t, postgres.InOrgTx(t.Context(), e.db.Owner, acme.ID, func(tx pgx.Tx) error {
			return tx.QueryRow(t.Context(), sql, acme.ID).Scan(&n)
		}))
		return n
	}
	const file = "name,email\nAda,ada@example.com\n"
	status, id, replayed := post("upload-1", "?mode=skip_invalid&file_name=a.csv", file)
	require.Equal(t, http.StatusAccepted, status)
	require.Empty(t, replayed)
	status, again, replayed := post("upload-1", "?mode=skip_invalid&file_name=a.csv", file)
	require.Equal(t, http.StatusAccepted, status, "not 409: the retry is the same request")
	require.Equal(t, id, again)
	require.Equal(t, "true", replayed)
	require.Equal(t, 1, count(`SELECT count(*) FROM imports WHERE org_id = $1`), "one import")
	require.Equal(t, 1, count(`SELECT count(*) FROM river_job WHERE kind = 'import' AND args->>'org_id' = $1::text`), "one job")

	status, _, _ = post("upload-1", "?mode=skip_invalid&file_name=a.csv", file+"Grace,\n")
	require.Equal(t, http.StatusUnprocessableEntity, status, "another file")
	status, _, _ = post("upload-1", "?mode=all_or_nothing&file_name=a.csv", file)
	require.Equal(t, http.StatusUnprocessableEntity, status, "another mode")
	status, _, _ = post("", "?mode=skip_invalid&file_name=a.csv", file)
	require.Equal(t, http.StatusConflict, status, "without a key, a new request: one import at a time")
	require.Equal(t, 1, count(`SELECT count(*) FROM imports WHERE org_id = $1`))
}
