-- Organisations (the tenants), their members, invitations and API keys.
-- Tenant-owned tables lead with org_id and are protected by row-level
-- security on app.org_id, set per transaction by postgres.InOrgTx. Two
-- narrower doors exist: a user sees their own memberships (app.user_id), and
-- whoever holds an invitation token or API key sees that one row
-- (app.secret_hash, the SHA-256 of the secret).
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- +goose StatementBegin
CREATE FUNCTION app_org_id() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('app.org_id', true), '')::uuid
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('app.user_id', true), '')::uuid
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION app_secret_hash() RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT decode(NULLIF(current_setting('app.secret_hash', true), ''), 'hex')
$$;
-- +goose StatementEnd

-- The tenant registry itself; its id is the org_id everywhere else.
CREATE TABLE orgs (
    id          uuid        PRIMARY KEY,
    slug        text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name        text        NOT NULL,
    require_2fa boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    org_id     uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
-- A user's organisations. It does not lead with org_id: this lookup is per
-- user by nature (under Citus, memberships would be a reference table).
CREATE INDEX memberships_user_idx ON memberships (user_id, org_id);
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_tenant ON memberships
    USING (org_id = app_org_id() OR user_id = app_user_id())
    WITH CHECK (org_id = app_org_id());

CREATE TABLE invitations (
    org_id      uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id          uuid        NOT NULL,
    email       text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    token_hash  bytea       NOT NULL UNIQUE,
    invited_by  uuid        REFERENCES users ON DELETE SET NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);
-- At most one pending invitation per address: inviting again replaces it.
CREATE UNIQUE INDEX invitations_pending_email_key ON invitations (org_id, lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant ON invitations
    USING (org_id = app_org_id() OR token_hash = app_secret_hash())
    WITH CHECK (org_id = app_org_id());

CREATE TABLE api_keys (
    org_id       uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    prefix       text        NOT NULL,                   -- shown in lists to recognise the key
    key_hash     bytea       NOT NULL UNIQUE,            -- SHA-256 of the whole key
    created_by   uuid        REFERENCES users ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (org_id, id)
);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant ON api_keys
    USING (org_id = app_org_id() OR key_hash = app_secret_hash())
    WITH CHECK (org_id = app_org_id());

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE api_keys;
DROP TABLE invitations;
DROP TABLE memberships;
DROP TABLE orgs;
DROP FUNCTION app_secret_hash();
DROP FUNCTION app_user_id();
DROP FUNCTION app_org_id();
