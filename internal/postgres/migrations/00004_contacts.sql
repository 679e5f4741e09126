-- Contacts: the example product module. Copy this shape for your own
-- tenant-owned tables: org_id leads the key and every index, and row-level
-- security limits every query to the organisation in app.org_id.
--
-- Reads go through the primary key: a contact by (org_id, id), and pages of
-- an organisation's contacts by a backward scan of (org_id, id), newest
-- first, since ids are UUIDv7. A search (contacts.ListParams.Query) filters
-- that scan, so its cost grows with the organisation's contacts, not with
-- the table. When organisations hold hundreds of thousands of contacts, add
-- trigram indexes (pg_trgm, with btree_gin for the leading org_id) in a new
-- migration, created CONCURRENTLY.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE contacts (
    org_id     uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id         uuid        NOT NULL,
    name       text        NOT NULL CHECK (name <> ''),
    email      text        NOT NULL DEFAULT '',
    phone      text        NOT NULL DEFAULT '',
    company    text        NOT NULL DEFAULT '',
    tags       text[]      NOT NULL DEFAULT '{}',
    custom     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);
-- The service validates every field (contacts.Input); the checks above only
-- keep the invariants the code relies on.
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY contacts_tenant ON contacts
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE contacts;
