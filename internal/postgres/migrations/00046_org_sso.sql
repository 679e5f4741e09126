-- groundwork: backward-compatible
-- Single sign-on per organisation (internal/orgsso).
-- org_sso_connections: an organisation's own OpenID Connect connection, at
-- most one: the issuer, the client ID and the client secret, encrypted
-- with the field-encryption keyring (associated data
-- "org_sso_connections|client_secret|<org_id>"), and its options.
-- org_sso_domains: the organisation's email domains, each verified by a
-- DNS TXT record holding its token. A domain is verified by at most one
-- organisation (org_sso_domains_verified_key, which therefore does not lead
-- with org_id, like memberships_user_idx: the uniqueness across tenants is
-- its point). Both are tenant-owned, under row-level security on
-- app.org_id; a verified domain's row is also visible to whoever names it
-- (app.secret_hash = SHA-256 of the domain), which "Continue with SSO"
-- needs to find the organisation of an email address, and nothing else.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

INSERT INTO schema_compat (version) VALUES (46);

CREATE TABLE org_sso_connections (
    org_id               uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    issuer               text        NOT NULL,
    client_id            text        NOT NULL,
    client_secret        bytea,                           -- crypto.Keyring ciphertext
    require_sso          boolean     NOT NULL DEFAULT false,
    jit                  boolean     NOT NULL DEFAULT false,
    default_role         text        NOT NULL DEFAULT 'member' CHECK (default_role IN ('admin', 'member', 'viewer')),
    break_glass_user_id  uuid        REFERENCES users ON DELETE SET NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (org_id)
);
ALTER TABLE org_sso_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_sso_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY org_sso_connections_tenant ON org_sso_connections
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON org_sso_connections FROM groundwork_app;

CREATE TABLE org_sso_domains (
    org_id       uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id           uuid        NOT NULL,
    domain       text        NOT NULL CHECK (domain = lower(domain)),
    domain_hash  bytea       NOT NULL,                    -- SHA-256 of domain
    token        text        NOT NULL,                    -- the TXT record's value after "groundwork-verification="
    verified_at  timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, domain)
);
CREATE UNIQUE INDEX org_sso_domains_verified_key ON org_sso_domains (domain_hash) WHERE verified_at IS NOT NULL;
ALTER TABLE org_sso_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_sso_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY org_sso_domains_tenant ON org_sso_domains
    USING (org_id = app_org_id() OR (verified_at IS NOT NULL AND domain_hash = app_secret_hash()))
    WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON org_sso_domains FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DELETE FROM schema_compat WHERE version = 46;
DROP TABLE org_sso_domains;
DROP TABLE org_sso_connections;
