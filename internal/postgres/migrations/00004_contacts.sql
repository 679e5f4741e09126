-- Contacts: the example product module. Copy this shape for your own
-- tenant-owned tables: org_id leads the key and every index, and row-level
-- security limits every query to the organisation in app.org_id.
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE contacts (
    org_id     uuid        NOT NULL REFERENCES orgs ON DELETE CASCADE,
    id         uuid        NOT NULL,
    name       text        NOT NULL,
    email      text        NOT NULL DEFAULT '',
    phone      text        NOT NULL DEFAULT '',
    company    text        NOT NULL DEFAULT '',
    tags       text[]      NOT NULL DEFAULT '{}',
    custom     jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY contacts_tenant ON contacts
    USING (org_id = app_org_id())
    WITH CHECK (org_id = app_org_id());

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE contacts;
