-- groundwork: backward-compatible
-- SCIM 2.0 provisioning (internal/org scim_*.go, internal/scim): an
-- organisation's SCIM bearer tokens, hashed like API keys; the users its
-- identity provider provisioned (platform accounts, with the attributes the
-- provider sent and whether they are active, i.e. members); and its groups,
-- whose names map to roles. All tenant-owned, under row-level security.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- New tables nothing reads yet: the previous release runs on this schema.
INSERT INTO schema_compat (version) VALUES (48);

CREATE TABLE scim_tokens (
    org_id       uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    prefix       text        NOT NULL,                   -- shown in lists to recognise the token
    token_hash   bytea       NOT NULL UNIQUE,            -- SHA-256 of the whole token
    created_by   uuid        REFERENCES users ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (org_id, id)
);
ALTER TABLE scim_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY scim_tokens_tenant ON scim_tokens
    USING (org_id = app_org_id() OR token_hash = app_secret_hash())
    WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON scim_tokens FROM groundwork_app;

-- A provisioned user: its SCIM id is the platform user's id. active = false
-- keeps the row (the provider may reactivate it) without a membership.
CREATE TABLE scim_users (
    org_id      uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    user_name   text        NOT NULL,
    external_id text        NOT NULL DEFAULT '',
    given_name  text        NOT NULL DEFAULT '',
    family_name text        NOT NULL DEFAULT '',
    active      boolean     NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE UNIQUE INDEX scim_users_user_name_key ON scim_users (org_id, lower(user_name));
ALTER TABLE scim_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_users FORCE ROW LEVEL SECURITY;
CREATE POLICY scim_users_tenant ON scim_users
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON scim_users FROM groundwork_app;

CREATE TABLE scim_groups (
    org_id       uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id           uuid        NOT NULL,
    display_name text        NOT NULL,
    external_id  text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX scim_groups_display_name_key ON scim_groups (org_id, lower(display_name));
ALTER TABLE scim_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY scim_groups_tenant ON scim_groups
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON scim_groups FROM groundwork_app;

CREATE TABLE scim_group_members (
    org_id   uuid NOT NULL,
    group_id uuid NOT NULL,
    user_id  uuid NOT NULL,
    PRIMARY KEY (org_id, group_id, user_id),
    FOREIGN KEY (org_id, group_id) REFERENCES scim_groups ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES scim_users ON DELETE CASCADE
);
CREATE INDEX scim_group_members_user_idx ON scim_group_members (org_id, user_id);
ALTER TABLE scim_group_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim_group_members FORCE ROW LEVEL SECURITY;
CREATE POLICY scim_group_members_tenant ON scim_group_members
    USING (org_id = app_org_id()) WITH CHECK (org_id = app_org_id());
REVOKE TRUNCATE ON scim_group_members FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 48;
DROP TABLE scim_group_members;
DROP TABLE scim_groups;
DROP TABLE scim_users;
DROP TABLE scim_tokens;
