package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Org inserts an organisation named name straight into db (no owner, no
// audit event) and returns its ID; its slug is "org-" and the ID. It is
// for the tests of modules that need a tenant to exist, not of the org
// module's rules.
func Org(t testing.TB, db *DB, name string) string {
	t.Helper()
	id := gw.NewID()
	inOrg(t, db, id, `INSERT INTO orgs (id, slug, name) VALUES ($1, $2, $3)`, id, "org-"+id, name)
	return id
}

// User inserts a user with email (unverified, with a password hash that
// matches no password) straight into db and returns its ID.
func User(t testing.TB, db *DB, email string) string {
	t.Helper()
	id := gw.NewID()
	_, err := db.Owner.Exec(context.Background(),
		`INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')`, id, email)
	if err != nil {
		t.Fatalf("pgtest: insert user %s: %v", email, err)
	}
	return id
}

// Member makes userID a member of orgID with role, straight in db.
func Member(t testing.TB, db *DB, orgID, userID string, role gw.Role) {
	t.Helper()
	inOrg(t, db, orgID, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)`, orgID, userID, string(role))
}

// MemberScope inserts an organisation and a user who is its member with
// role, and returns that member's scope.
func MemberScope(t testing.TB, db *DB, role gw.Role) gw.Scope {
	t.Helper()
	orgID := Org(t, db, "Acme")
	userID := User(t, db, gw.NewID()+"@example.com")
	Member(t, db, orgID, userID, role)
	return gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: orgID, Role: role}
}

// inOrg runs one statement as the owner role in a transaction scoped to
// orgID (row-level security is forced on the owner too).
func inOrg(t testing.TB, db *DB, orgID, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, db.Owner, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, orgID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
