package web

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// caller is one kind of outsider the isolation test plays.
type caller struct {
	name   string
	client *http.Client
	key    string // API key for /api/v1 routes ("" for none)
	scim   string // SCIM token for /scim/v2 routes ("" sends the API key)
}

var pathParam = regexp.MustCompile(`\{([a-z$]+)\}`)

// TestEveryRouteRefusesOutsiders calls every route in routes.go as an
// anonymous visitor, as a member (and API key) of another organisation, and
// with a role too weak for it, and asserts refusal and that no data of the
// target organisation appears. A new route is covered without editing this
// test; a route whose Access it cannot judge fails it.
func TestEveryRouteRefusesOutsiders(t *testing.T) {
	t.Parallel()
	e := newBillingEnv(t, withPasskeys("http://localhost")) // billing and passkeys on, so their handlers are the real ones
	ctx := context.Background()

	owner := e.user("owner@acme.example")
	acme, ownerScope := e.org(owner.ID, "Acme Hidden Org")
	viewer := e.user("viewer@acme.example")
	e.join(ownerScope, viewer, gw.RoleViewer)
	outsider := e.user("outsider@other.example")
	other, _ := e.org(outsider.ID, "Other Org")

	contact := e.contact(ownerScope, "Zebulon Secret", "zebulon@secret.example")
	inv, err := e.orgs.Invite(ctx, ownerScope, "invitee@hidden.example", gw.RoleMember)
	require.NoError(t, err)
	hiddenExport, err := e.exports.Request(ctx, ownerScope, exports.Request{})
	require.NoError(t, err)
	hiddenImport, err := e.imports.Start(ctx, ownerScope, imports.Upload{FileName: "hidden.csv", Body: strings.NewReader("name\nZebulon Secret\n")})
	require.NoError(t, err)
	hiddenKey, _ := e.apiKey(acme.ID, "hidden-key", gw.RoleAdmin)
	hiddenSCIMToken, _, err := e.orgs.CreateSCIMToken(ctx, ownerScope, "hidden-scim-token")
	require.NoError(t, err)
	acmeSCIM, err := e.orgs.AuthenticateSCIMToken(ctx, e.scimToken(ownerScope, "idp"))
	require.NoError(t, err)
	scimUser := e.user("scim.secret@hidden.example")
	_, _, err = e.orgs.SCIMCreateUser(ctx, acmeSCIM, scimUser.ID, org.SCIMUserInput{UserName: scimUser.Email, Active: true})
	require.NoError(t, err)
	scimGroup, _, err := e.orgs.SCIMCreateGroup(ctx, acmeSCIM, org.SCIMGroupInput{DisplayName: "Hidden Admins", Members: []string{scimUser.ID}})
	require.NoError(t, err)
	_, viewerKey := e.apiKey(acme.ID, "viewer-key", gw.RoleViewer)
	_, outsiderKey := e.apiKey(other.ID, "outsider-key", gw.RoleAdmin)
	outsiderSCIM := e.scimToken(e.scope(outsider.ID, other.ID), "outsider-scim")
	_, err = e.accounts.LinkIdentity(ctx, owner.ID, testPassword,
		account.ExternalIdentity{Provider: "idp", Subject: "owner-sub", Email: owner.Email, EmailVerified: true})
	require.NoError(t, err)
	ownerIdentities, err := e.accounts.Identities(ctx, owner.ID)
	require.NoError(t, err)
	ownerPasskey := gw.NewID()
	_, err = e.db.Owner.Exec(ctx, `INSERT INTO webauthn_credentials (id, user_id, credential_id, public_key, name, created_at)
		VALUES ($1, $2, $3, $4, 'Owner hidden passkey', now())`, ownerPasskey, owner.ID, []byte("hidden-credential"), []byte{0xa0})
	require.NoError(t, err)
	hiddenDomain, err := e.deps.OrgSSO.AddDomain(ctx, ownerScope, "hidden-domain.example")
	require.NoError(t, err)
	ownerClient := e.login(owner.Email)
	ownerSessions, err := e.accounts.Sessions(ctx, owner.ID)
	require.NoError(t, err)
	require.NotEmpty(t, ownerSessions)

	secrets := []string{"Zebulon Secret", "zebulon@secret.example", "Acme Hidden Org", "invitee@hidden.example",
		"hidden-key", "hidden-domain.example", hiddenDomain.Token, hiddenDomain.ID, contact.ID, inv.ID, hiddenKey.ID, hiddenExport.ID, hiddenImport.ID, "hidden.csv",
		ownerPasskey, "Owner hidden passkey",
		"hidden-scim-token", hiddenSCIMToken.ID, "scim.secret@hidden.example", scimUser.ID, "Hidden Admins", scimGroup.ID}

	// idFor names the object of acme a route's {id} refers to.
	idFor := func(pattern string) string {
		switch {
		case strings.Contains(pattern, "/scim/tokens/"):
			return hiddenSCIMToken.ID
		case strings.Contains(pattern, "/scim/v2/Users/"):
			return scimUser.ID
		case strings.Contains(pattern, "/scim/v2/Groups/"):
			return scimGroup.ID
		case strings.Contains(pattern, "/scim/v2/Schemas/"):
			return "urn:ietf:params:scim:schemas:core:2.0:User"
		case strings.Contains(pattern, "/scim/v2/ResourceTypes/"):
			return "User"
		case strings.Contains(pattern, "/contacts/"):
			return contact.ID
		case strings.Contains(pattern, "/invitations/"):
			return inv.ID
		case strings.Contains(pattern, "/api-keys/"):
			return hiddenKey.ID
		case strings.Contains(pattern, "/exports/"):
			return hiddenExport.ID
		case strings.Contains(pattern, "/imports/"):
			return hiddenImport.ID
		case strings.Contains(pattern, "/sessions/"):
			return ownerSessions[0].ID
		case strings.Contains(pattern, "/identities/"):
			return ownerIdentities[0].ID
		case strings.Contains(pattern, "/passkeys/"):
			return ownerPasskey
		case strings.Contains(pattern, "/sso/domains/"):
			return hiddenDomain.ID
		}
		t.Fatalf("route %s: the test does not know what its {id} is; teach idFor", pattern)
		return ""
	}
	pathFor := func(pattern string) string {
		_, path, _ := strings.Cut(pattern, " ")
		return pathParam.ReplaceAllStringFunc(path, func(p string) string {
			switch p {
			case "{org}":
				return acme.Slug
			case "{id}":
				return idFor(pattern)
			case "{user}":
				return owner.ID
			case "{token}":
				return "not-a-real-token"
			case "{provider}":
				return "idp"
			case "{$}":
				return ""
			}
			t.Fatalf("route %s: unknown path parameter %s", pattern, p)
			return ""
		})
	}
	call := func(c caller, pattern string) (int, string) {
		method, _, _ := strings.Cut(pattern, " ")
		var body io.Reader
		var ctype string
		switch {
		case strings.HasPrefix(pattern, method+" /api/") && (method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut):
			body, ctype = strings.NewReader(`{"name":"Intruder"}`), "application/json"
		case strings.HasPrefix(pattern, method+" /scim/") && (method == http.MethodPost || method == http.MethodPut):
			body, ctype = strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:core:2.0:Group"],`+
				`"userName":"intruder@other.example","displayName":"Intruders","active":false}`), "application/scim+json"
		case strings.HasPrefix(pattern, method+" /scim/v2/Users/") && method == http.MethodPatch:
			body, ctype = strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],`+
				`"Operations":[{"op":"replace","path":"active","value":false}]}`), "application/scim+json"
		case strings.HasPrefix(pattern, method+" /scim/v2/Groups/") && method == http.MethodPatch:
			body, ctype = strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],`+
				`"Operations":[{"op":"remove","path":"members"}]}`), "application/scim+json"
		case method == http.MethodPost:
			body, ctype = strings.NewReader("role=owner&name=Intruder&user="+owner.ID), "application/x-www-form-urlencoded"
		}
		req, err := http.NewRequest(method, e.srv.URL+pathFor(pattern), body)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/html")
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if c.key != "" && strings.Contains(pattern, " /api/") {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		if strings.Contains(pattern, " /scim/") {
			if c.scim != "" {
				req.Header.Set("Authorization", "Bearer "+c.scim)
			} else if c.key != "" {
				req.Header.Set("Authorization", "Bearer "+c.key) // an API key is no SCIM token
			}
		}
		resp, err := c.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	noSecrets := func(c caller, pattern, body string) {
		path := pathFor(pattern)
		for _, s := range secrets {
			if strings.Contains(path, s) {
				continue // the caller sent it: echoing it (say, in ?next=) reveals nothing
			}
			require.NotContains(t, body, s, "%s as %s leaks %q", pattern, c.name, s)
		}
	}

	anonymous := caller{name: "anonymous", client: e.client()}
	stranger := caller{name: "member of another organisation", client: e.login(outsider.Email), key: outsiderKey, scim: outsiderSCIM}
	weak := caller{name: "viewer", client: e.login(viewer.Email), key: viewerKey}

	routes := Routes(Deps{})
	checked := 0
	for _, r := range routes {
		switch r.Access {
		case AccessOps, AccessPage:
			continue // public by design
		case AccessUser:
			status, body := call(anonymous, r.Pattern)
			require.Equal(t, http.StatusSeeOther, status, "%s as anonymous", r.Pattern)
			noSecrets(anonymous, r.Pattern, body)
			status, body = call(stranger, r.Pattern)
			if strings.Contains(r.Pattern, "{") {
				require.GreaterOrEqual(t, status, 400, "%s as %s acts on another user's object", r.Pattern, stranger.name)
			}
			noSecrets(stranger, r.Pattern, body)
		case AccessOrg:
			status, body := call(anonymous, r.Pattern)
			require.Equal(t, http.StatusSeeOther, status, "%s as anonymous", r.Pattern)
			noSecrets(anonymous, r.Pattern, body)
			status, body = call(stranger, r.Pattern)
			require.Equal(t, http.StatusNotFound, status, "%s as %s", r.Pattern, stranger.name)
			noSecrets(stranger, r.Pattern, body)
			if !authz.Can(gw.RoleViewer, r.Perm) {
				status, _ = call(weak, r.Pattern)
				require.Equal(t, http.StatusForbidden, status, "%s as %s", r.Pattern, weak.name)
			}
		case AccessOperator:
			// Nobody here is an operator: sent to log in, or told nothing.
			status, body := call(anonymous, r.Pattern)
			require.Equal(t, http.StatusSeeOther, status, "%s as anonymous", r.Pattern)
			noSecrets(anonymous, r.Pattern, body)
			for _, c := range []caller{stranger, weak} {
				status, body = call(c, r.Pattern)
				require.Equal(t, http.StatusNotFound, status, "%s as %s", r.Pattern, c.name)
				noSecrets(c, r.Pattern, body)
			}
			ownerStatus, _ := call(caller{name: "organisation owner", client: ownerClient}, r.Pattern)
			require.Equal(t, http.StatusNotFound, ownerStatus, "%s: an organisation's owner is not platform staff", r.Pattern)
		case AccessAPI:
			status, body := call(anonymous, r.Pattern)
			require.Equal(t, http.StatusUnauthorized, status, "%s as anonymous", r.Pattern)
			noSecrets(anonymous, r.Pattern, body)
			status, body = call(stranger, r.Pattern)
			if strings.Contains(r.Pattern, "{") {
				require.Equal(t, http.StatusNotFound, status, "%s as %s", r.Pattern, stranger.name)
			}
			noSecrets(stranger, r.Pattern, body)
			if !authz.Can(gw.RoleViewer, r.Perm) {
				status, _ = call(weak, r.Pattern)
				require.Equal(t, http.StatusForbidden, status, "%s as %s", r.Pattern, weak.name)
			}
		case AccessSCIM:
			for _, c := range []caller{anonymous, weak} { // weak sends an API key
				status, body := call(c, r.Pattern)
				require.Equal(t, http.StatusUnauthorized, status, "%s as %s", r.Pattern, c.name)
				noSecrets(c, r.Pattern, body)
			}
			status, body := call(stranger, r.Pattern)
			if strings.Contains(r.Pattern, "/Users/{id}") || strings.Contains(r.Pattern, "/Groups/{id}") {
				require.Equal(t, http.StatusNotFound, status, "%s as %s: %s", r.Pattern, stranger.name, body)
			}
			noSecrets(stranger, r.Pattern, body)
		default:
			t.Fatalf("route %s has access %q, which this test cannot judge", r.Pattern, r.Access)
		}
		checked++
	}
	require.Greater(t, checked, 30, "the protected routes were enumerated")

	// Nothing of acme changed: the contact, the invitation, the key, the
	// owner's role and session are all as they were.
	_, err = e.contacts.Get(ctx, ownerScope, contact.ID)
	require.NoError(t, err)
	invs, err := e.orgs.Invitations(ctx, ownerScope)
	require.NoError(t, err)
	require.Len(t, invs, 1)
	keys, err := e.orgs.APIKeys(ctx, ownerScope)
	require.NoError(t, err)
	for _, k := range keys {
		require.Nil(t, k.RevokedAt, "key %s", k.Name)
	}
	require.Equal(t, gw.RoleOwner, e.scope(owner.ID, acme.ID).Role)
	_, _, domains, err := e.deps.OrgSSO.Settings(ctx, ownerScope)
	require.NoError(t, err)
	require.Len(t, domains, 1, "no outsider removed or added a single sign-on domain")
	require.Equal(t, gw.RoleAdmin, e.scope(scimUser.ID, acme.ID).Role, "no outsider deprovisioned acme's SCIM user")
	scimTokens, err := e.orgs.SCIMTokens(ctx, ownerScope)
	require.NoError(t, err)
	for _, tok := range scimTokens {
		require.Nil(t, tok.RevokedAt, "SCIM token %s", tok.Name)
	}
	stillLinked, err := e.accounts.Identities(ctx, owner.ID)
	require.NoError(t, err)
	require.Len(t, stillLinked, 1, "no outsider unlinked the owner's sign-in")
	stillPasskeys, err := e.deps.Passkeys.List(ctx, owner.ID)
	require.NoError(t, err)
	require.Len(t, stillPasskeys, 1, "no outsider removed the owner's passkey")
	require.Equal(t, "Owner hidden passkey", stillPasskeys[0].Name, "no outsider renamed the owner's passkey")
	stillQueued, err := e.exports.Get(ctx, ownerScope, hiddenExport.ID)
	require.NoError(t, err)
	require.Equal(t, exports.StatusQueued, stillQueued.Status, "no outsider cancelled acme's export")
	resp, err := ownerClient.Get(e.srv.URL + "/account")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the owner's session survived")
	require.Empty(t, e.stripe.Requests(), "no outsider reached Stripe")
}

// TestRowLevelSecurityCoversEveryTenantTable lists every table with an
// org_id column from the catalog and asserts that row-level security is
// forced on it, that the runtime role neither owns it nor bypasses RLS, that
// without app.org_id it reads zero rows, and that it cannot insert a row for
// another organisation.
func TestRowLevelSecurityCoversEveryTenantTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	owner := e.user("owner@acme.example")
	acme, ownerScope := e.org(owner.ID, "Acme")
	member := e.user("member@acme.example")
	e.join(ownerScope, member, gw.RoleMember)
	_, err := e.orgs.Invite(ctx, ownerScope, "later@acme.example", gw.RoleViewer)
	require.NoError(t, err)
	e.apiKey(acme.ID, "ci", gw.RoleMember)
	e.contact(ownerScope, "Ada", "ada@acme.example")
	seedCtx := idempotency.WithKey(ctx, idempotency.Key{OrgID: acme.ID, Caller: idempotency.CallerOf(ownerScope), Value: "seed", Hash: "seed"})
	name := "Idempotent"
	_, err = e.contacts.Create(seedCtx, ownerScope, contacts.Input{Name: &name}) // idempotency_keys
	require.NoError(t, err)
	_, err = e.exports.Request(ctx, ownerScope, exports.Request{}) // exports (internal/exports)
	require.NoError(t, err)
	_, err = e.imports.Start(ctx, ownerScope, imports.Upload{Body: strings.NewReader("name\nAda\n")}) // imports (internal/imports)
	require.NoError(t, err)
	_, err = e.exports.SetSchedule(ctx, ownerScope, exports.ScheduleInput{Frequency: exports.FrequencyDaily}) // export_schedules
	require.NoError(t, err)
	_, err = e.deps.OrgSSO.AddDomain(ctx, ownerScope, "acme.example") // org_sso_domains (internal/orgsso)
	require.NoError(t, err)
	require.NoError(t, postgres.InOrgTx(ctx, e.db.Runtime, acme.ID, func(tx pgx.Tx) error { // org_sso_connections, without the discovery check
		_, err := tx.Exec(ctx, `INSERT INTO org_sso_connections (org_id, issuer, client_id, created_at, updated_at)
			VALUES ($1, 'https://idp.example', 'c', now(), now())`, acme.ID)
		return err
	}))
	require.NoError(t, postgres.InOrgTx(ctx, e.db.Runtime, acme.ID, func(tx pgx.Tx) error { // billing (internal/billing)
		if _, err := tx.Exec(ctx, `INSERT INTO billing_accounts (org_id) VALUES ($1)`, acme.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO billing_outbox (org_id, key, kind) VALUES ($1, 'seed', 'seed')`, acme.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO billing_disputes (org_id, dispute_id, created) VALUES ($1, 'du_seed', now())`, acme.ID)
		return err
	}))
	sc, err := e.orgs.AuthenticateSCIMToken(ctx, e.scimToken(ownerScope, "idp")) // scim_tokens
	require.NoError(t, err)
	_, _, err = e.orgs.SCIMCreateUser(ctx, sc, member.ID, org.SCIMUserInput{UserName: member.Email, Active: true}) // scim_users
	require.NoError(t, err)
	_, _, err = e.orgs.SCIMCreateGroup(ctx, sc, org.SCIMGroupInput{DisplayName: "admins", Members: []string{member.ID}}) // scim_groups, scim_group_members
	require.NoError(t, err)
	outsider := e.user("outsider@other.example")
	other, _ := e.org(outsider.ID, "Other")

	var super, bypass bool
	require.NoError(t, e.db.Runtime.QueryRow(ctx,
		`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super, &bypass))
	require.False(t, super)
	require.False(t, bypass)

	rows, err := e.db.Owner.Query(ctx, `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
			pg_get_userbyid(c.relowner)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`)
	require.NoError(t, err)
	type table struct {
		name       string
		rls, force bool
		owner      string
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		return tb, r.Scan(&tb.name, &tb.rls, &tb.force, &tb.owner)
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(tables), 4, "memberships, invitations, api_keys, contacts at least")

	for _, tb := range tables {
		t.Run(tb.name, func(t *testing.T) {
			require.True(t, tb.rls, "ENABLE ROW LEVEL SECURITY")
			require.True(t, tb.force, "FORCE ROW LEVEL SECURITY")
			require.NotEqual(t, postgres.RuntimeRole, tb.owner)
			ident := pgx.Identifier{tb.name}.Sanitize()

			var seeded int
			require.NoError(t, postgres.InOrgTx(ctx, e.db.Runtime, acme.ID, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*) FROM `+ident).Scan(&seeded)
			}))
			require.Positive(t, seeded, "seed %s in this test so that reading zero rows means something", tb.name)

			var visible int
			require.NoError(t, e.db.Runtime.QueryRow(ctx, `SELECT count(*) FROM `+ident).Scan(&visible))
			require.Zero(t, visible, "without app.org_id the runtime role sees nothing")

			err := postgres.InOrgTx(ctx, e.db.Runtime, other.ID, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO `+ident+` (org_id) VALUES ($1)`, acme.ID)
				return err
			})
			require.Error(t, err, "insert into another organisation")
			require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err), "refused by row-level security, got %v", err)
		})
	}
}
