-- Web sessions keep only a hash of their token, and a revoked session
-- leaves a tombstone (internal/account/session_store.go):
--   * sessions.token and user_sessions.token become token_hash, the SHA-256
--     of the cookie's token in hex: someone who reads the database (a
--     backup, a replica, a leaked dump) cannot take over a session with it.
--     The existing tokens are hashed in place, so nobody is signed out.
--   * sessions.revoked_at marks a session signed out: its row stays (for an
--     hour) so that a request still in flight cannot write it back, and the
--     store never revives a revoked row.
-- Not backward-compatible: the previous release looks sessions up by the
-- clear token, so serve of that release refuses this schema.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore renaming-column
ALTER TABLE sessions RENAME COLUMN token TO token_hash;
UPDATE sessions SET token_hash = encode(sha256(convert_to(token_hash, 'UTF8')), 'hex');
ALTER TABLE sessions ADD COLUMN revoked_at timestamptz;

-- squawk-ignore renaming-column
ALTER TABLE user_sessions RENAME COLUMN token TO token_hash;
UPDATE user_sessions SET token_hash = encode(sha256(convert_to(token_hash, 'UTF8')), 'hex');

-- +goose Down
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
-- A hash cannot be turned back into a token: going down signs everyone out.
DELETE FROM user_sessions;
DELETE FROM sessions;
ALTER TABLE sessions DROP COLUMN revoked_at;
ALTER TABLE user_sessions RENAME COLUMN token_hash TO token;
ALTER TABLE sessions RENAME COLUMN token_hash TO token;
