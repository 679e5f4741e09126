package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// setupStep is one statement of the role, database and privilege setup.
type setupStep struct {
	inDatabase bool   // run connected to DatabaseName rather than the maintenance database
	unless     string // a query returning true when the step is already done
	sql        string // may name {owner_password} and {runtime_password}
}

// setupSteps is the single source of truth for the roles, the database and
// their privileges: the embedded cluster runs it, and RoleSetupSQL renders it
// for an external server. Every step is idempotent.
var setupSteps = []setupStep{
	{unless: roleExists(OwnerRole), sql: "CREATE ROLE " + OwnerRole + " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"},
	{sql: "ALTER ROLE " + OwnerRole + " WITH LOGIN PASSWORD {owner_password}"},
	{unless: roleExists(RuntimeRole), sql: "CREATE ROLE " + RuntimeRole + " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"},
	{sql: "ALTER ROLE " + RuntimeRole + " WITH LOGIN PASSWORD {runtime_password}"},
	{
		unless: "SELECT EXISTS (SELECT FROM pg_database WHERE datname = '" + DatabaseName + "')",
		sql:    "CREATE DATABASE " + DatabaseName + " OWNER " + OwnerRole,
	},
	{inDatabase: true, sql: "REVOKE CREATE ON SCHEMA public FROM PUBLIC"},
	{inDatabase: true, sql: "GRANT USAGE, CREATE ON SCHEMA public TO " + OwnerRole},
	{inDatabase: true, sql: "GRANT USAGE ON SCHEMA public TO " + RuntimeRole},
	{inDatabase: true, sql: "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + RuntimeRole},
	{inDatabase: true, sql: "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO " + RuntimeRole},
	{inDatabase: true, sql: "ALTER DEFAULT PRIVILEGES FOR ROLE " + OwnerRole + " IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + RuntimeRole},
	{inDatabase: true, sql: "ALTER DEFAULT PRIVILEGES FOR ROLE " + OwnerRole + " IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO " + RuntimeRole},
	{inDatabase: true, sql: "ALTER DEFAULT PRIVILEGES FOR ROLE " + OwnerRole + " IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO " + RuntimeRole},
	// Slow SQL for the operator console (/ops), where the server has
	// pg_stat_statements; the runtime role may read every role's statistics.
	{
		inDatabase: true,
		unless: "SELECT NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements')" +
			" OR EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_stat_statements')",
		sql: "CREATE EXTENSION pg_stat_statements",
	},
	{inDatabase: true, sql: "GRANT pg_read_all_stats TO " + RuntimeRole},
}

func roleExists(role string) string {
	return "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + role + "')"
}

// RoleSetupSQL returns the psql script that sets up Groundwork's roles
// (OwnerRole, RuntimeRole), database (DatabaseName) and privileges on an
// external PostgreSQL server: the same steps the embedded cluster runs. It
// is idempotent; the passwords are psql variables.
func RoleSetupSQL() string {
	var b strings.Builder
	b.WriteString(`-- Groundwork: roles, database and privileges for a PostgreSQL server.
-- Run it as a superuser (on a managed service: the admin role, which needs
-- CREATEROLE, CREATEDB and membership in ` + OwnerRole + `), for example:
--   psql "postgres://admin@db.example.com/postgres" \
--     -v owner_password="$OWNER_PASSWORD" -v runtime_password="$RUNTIME_PASSWORD" \
--     -f groundwork-setup.sql
-- Then DATABASE_OWNER_URL uses ` + OwnerRole + ` (migrations) and
-- DATABASE_URL uses ` + RuntimeRole + ` (the application: no DDL, no BYPASSRLS).
-- Running it again is safe; it resets the two passwords.
\set ON_ERROR_STOP on
`)
	vars := strings.NewReplacer("{owner_password}", ":'owner_password'", "{runtime_password}", ":'runtime_password'")
	inDatabase := false
	for _, s := range setupSteps {
		if s.inDatabase && !inDatabase {
			b.WriteString(`\connect ` + DatabaseName + "\n")
			inDatabase = true
		}
		sql := vars.Replace(s.sql)
		if s.unless != "" {
			fmt.Fprintf(&b, "SELECT %s WHERE NOT (%s)\\gexec\n", quoteLiteral(sql), s.unless)
		} else {
			b.WriteString(sql + ";\n")
		}
	}
	return b.String()
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// runSetup runs setupSteps as a superuser: maintenanceURL names the
// maintenance database, appURL DatabaseName.
func runSetup(ctx context.Context, maintenanceURL, appURL string, c credentials) error {
	passwords := strings.NewReplacer(
		"{owner_password}", quoteLiteral(c.OwnerPassword),
		"{runtime_password}", quoteLiteral(c.RuntimePassword))
	var conn *pgx.Conn
	inDatabase := false
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for _, s := range setupSteps {
		if conn == nil || s.inDatabase != inDatabase {
			if conn != nil {
				conn.Close(ctx)
			}
			url, name := maintenanceURL, "postgres"
			if s.inDatabase {
				url, name = appURL, DatabaseName
			}
			var err error
			if conn, err = pgx.Connect(ctx, url); err != nil {
				return fmt.Errorf("connect to %s as superuser: %w", name, err)
			}
			inDatabase = s.inDatabase
		}
		if s.unless != "" {
			var done bool
			if err := conn.QueryRow(ctx, s.unless).Scan(&done); err != nil {
				return fmt.Errorf("check %q: %w", s.sql, err)
			}
			if done {
				continue
			}
		}
		if _, err := conn.Exec(ctx, passwords.Replace(s.sql)); err != nil {
			return fmt.Errorf("%s: %w", s.sql, err) // s.sql, not the statement: no passwords in errors
		}
	}
	return nil
}

// setupMarker, inside PGDATA, records that setupSteps completed, with the
// fingerprint of the passwords they set.
const setupMarker = "groundwork-setup.done"

// ensureSetup runs the role setup unless the marker says it completed with
// the current credentials. It runs again after a crash halfway through, or
// when the credentials file was replaced.
func (l *Local) ensureSetup(ctx context.Context) error {
	marker := filepath.Join(l.layout.pgdata, setupMarker)
	want := l.creds.fingerprint()
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == want {
		return nil
	}
	l.logger.Info("creating PostgreSQL roles and database", "owner_role", OwnerRole, "runtime_role", RuntimeRole, "database", DatabaseName)
	if err := runSetup(ctx, l.SuperuserURL("postgres"), l.SuperuserURL(DatabaseName), l.creds); err != nil {
		return fmt.Errorf("set up roles: %w", err)
	}
	return l.writeFileAs(marker, []byte(want+"\n"))
}

// credentials are the passwords of OwnerRole and RuntimeRole, kept in
// DataDir/postgres-credentials.json (0600) for clients over TCP.
type credentials struct {
	OwnerPassword   string `json:"owner_password"`
	RuntimePassword string `json:"runtime_password"`
}

func (c credentials) fingerprint() string {
	sum := sha256.Sum256([]byte(c.OwnerPassword + "\x00" + c.RuntimePassword))
	return hex.EncodeToString(sum[:16])
}

// loadCredentials reads the credentials file, creating it with fresh random
// passwords when it is missing or unreadable.
func loadCredentials(dataDir string, logger *slog.Logger) (credentials, error) {
	path := filepath.Join(dataDir, credentialsFile)
	b, err := os.ReadFile(path)
	if err == nil {
		var c credentials
		if json.Unmarshal(b, &c) == nil && c.OwnerPassword != "" && c.RuntimePassword != "" {
			return c, nil
		}
		logger.Warn("PostgreSQL credentials file is damaged; generating new passwords", "path", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return credentials{}, fmt.Errorf("read credentials %s: %w", path, pathErr(err))
	}
	c := credentials{OwnerPassword: randomPassword(), RuntimePassword: randomPassword()}
	b, _ = json.MarshalIndent(c, "", "  ")
	tmp := path + ".tmp"
	err = os.WriteFile(tmp, append(b, '\n'), 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return credentials{}, fmt.Errorf("write credentials %s: %w", path, pathErr(err))
	}
	return c, nil
}

// randomPassword returns 128 random bits as text (crypto/rand).
func randomPassword() string { return rand.Text() }
