-- Encrypted fields: contacts' email and phone, and users' TOTP secrets, are
-- encrypted by the application (internal/crypto: Tink AES-256-GCM) before
-- they reach the database, so that a dump, a backup or a read replica gives
-- them away only with the keys, which live outside the database.
--
-- Each ciphertext starts with Tink's 5-byte prefix, 0x01 then the ID of
-- the key (big-endian); the key rotation finds the rows to re-encrypt by it.
-- Contacts stay findable by exact email through email_bidx: a keyed blind
-- index (HMAC-SHA256, 4-byte key ID prefix) of the lower-cased address,
-- scoped to the organisation. NULL stands for an empty value.
--
-- Nothing is deployed yet, so the plaintext columns are dropped here
-- rather than in a later, contracting migration. Row-level security on
-- contacts is unchanged: its policy names org_id only.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- The squawk-ignore comments: dropping columns breaks the running code only
-- when it still reads them, and no deployment has ever read these (see above).
ALTER TABLE contacts
    -- squawk-ignore ban-drop-column
    DROP COLUMN email,
    -- squawk-ignore ban-drop-column
    DROP COLUMN phone,
    ADD COLUMN email_enc  bytea CHECK (octet_length(email_enc) > 5 AND get_byte(email_enc, 0) = 1),
    ADD COLUMN phone_enc  bytea CHECK (octet_length(phone_enc) > 5 AND get_byte(phone_enc, 0) = 1),
    ADD COLUMN email_bidx bytea CHECK (octet_length(email_bidx) = 36);
-- Exact-email lookups within an organisation. A plain CREATE INDEX locks
-- writes while it builds: fine on a table nothing writes to yet; on a live
-- table, build it CONCURRENTLY in a migration of its own, outside a transaction.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX contacts_email_bidx_idx ON contacts (org_id, email_bidx);

ALTER TABLE users
    -- squawk-ignore ban-drop-column
    DROP COLUMN totp_secret,
    ADD COLUMN totp_secret_enc bytea CHECK (octet_length(totp_secret_enc) > 5 AND get_byte(totp_secret_enc, 0) = 1);

-- +goose Down
-- Loses data: SQL cannot decrypt, so the plaintext columns come back empty
-- (contacts keep no email or phone) and TOTP secrets are gone. Users with
-- two-factor on keep it on, and must sign in with a recovery code and set
-- it up again; nothing is silently switched off.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE users
    DROP COLUMN totp_secret_enc,
    ADD COLUMN totp_secret text;

DROP INDEX contacts_email_bidx_idx;
ALTER TABLE contacts
    DROP COLUMN email_bidx,
    DROP COLUMN phone_enc,
    DROP COLUMN email_enc,
    ADD COLUMN email text NOT NULL DEFAULT '',
    ADD COLUMN phone text NOT NULL DEFAULT '';
