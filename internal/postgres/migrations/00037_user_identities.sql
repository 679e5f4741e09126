-- groundwork: backward-compatible
-- user_identities: the accounts of OpenID Connect providers (internal/sso)
-- linked to a Groundwork account, one row per (provider, subject): the
-- provider's stable user ID, never the email address, which can change
-- or be reused. A user who signed up through a provider has no password:
-- users.password_hash is then '' (no password matches it). Global, like
-- users: a user may belong to several organisations.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

INSERT INTO schema_compat (version) VALUES (37);

CREATE TABLE user_identities (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    provider     text        NOT NULL,                  -- the configured provider's name, e.g. 'google'
    subject      text        NOT NULL,                  -- the ID token's sub claim
    email        text        NOT NULL DEFAULT '',       -- the provider's address when linked, for display
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    UNIQUE (provider, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);
REVOKE TRUNCATE ON user_identities FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 37;
DROP TABLE user_identities;
