-- groundwork: backward-compatible
-- webauthn_credentials: the passkeys (WebAuthn public-key credentials) of
-- Groundwork accounts (internal/account, passkeys.go). Global, like users
-- and user_identities: an account belongs to no one organisation, so there
-- is no tenant policy. Only public material is kept: the credential's ID
-- as the authenticator made it, its public key (COSE), the signature
-- counter of the last assertion (a counter that goes back means a cloned
-- authenticator: the sign-in is refused), the authenticator's flags and
-- model (AAGUID), the transports the browser reported, and the name the
-- user gave it.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

INSERT INTO schema_compat (version) VALUES (44);

CREATE TABLE webauthn_credentials (
    id                 uuid        PRIMARY KEY,
    user_id            uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    credential_id      bytea       NOT NULL UNIQUE,
    public_key         bytea       NOT NULL,
    attestation_type   text        NOT NULL DEFAULT '',
    attestation_format text        NOT NULL DEFAULT '',
    sign_count         bigint      NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
    flags              smallint    NOT NULL DEFAULT 0,       -- the authenticator data flags (UP, UV, BE, BS)
    transports         text[]      NOT NULL DEFAULT '{}',    -- e.g. {internal,hybrid}
    aaguid             uuid,                                -- the authenticator model; all zeros for many passkeys
    name               text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz
);
CREATE INDEX webauthn_credentials_user_idx ON webauthn_credentials (user_id);
REVOKE TRUNCATE ON webauthn_credentials FROM groundwork_app;

-- +goose Down
SET LOCAL lock_timeout = '5s';
DELETE FROM schema_compat WHERE version = 44;
DROP TABLE webauthn_credentials;
