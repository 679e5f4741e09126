-- Accounts: users, their single-use email tokens, two-factor recovery codes,
-- and web sessions (the scs PostgreSQL store plus a per-user index of them).
-- These tables are global, not tenant-owned: a user may belong to several
-- organisations.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE users (
    id                uuid        PRIMARY KEY,
    email             text        NOT NULL,
    password_hash     text        NOT NULL,              -- argon2id PHC string
    email_verified_at timestamptz,
    totp_secret       text,                              -- set while two-factor is enabled
    totp_enabled_at   timestamptz,
    totp_last_step    bigint,                            -- time step of the last accepted code; no replays
    disabled_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Email verification, password reset and email change tokens. Only a
-- SHA-256 of the token is stored; the token itself is only in the email.
CREATE TABLE email_tokens (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    email      text        NOT NULL,                     -- where it was sent (the new address for change_email)
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id);

CREATE TABLE recovery_codes (
    user_id   uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    code_hash bytea       NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- The table alexedwards/scs/pgxstore reads and writes.
CREATE TABLE sessions (
    token  text        PRIMARY KEY,
    data   bytea       NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- Which sessions belong to which user, for "your sessions" and sign-out
-- elsewhere. Rows whose session expired are ignored and pruned.
CREATE TABLE user_sessions (
    token        text        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ip           text        NOT NULL DEFAULT '',
    user_agent   text        NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE user_sessions;
DROP TABLE sessions;
DROP TABLE recovery_codes;
DROP TABLE email_tokens;
DROP TABLE users;
