-- A client may require an organization (storage.Client.RequireOrganization):
-- the authorization endpoint then refuses a person who belongs to none.
-- Existing clients keep today's behaviour.

-- +goose Up
ALTER TABLE clients ADD COLUMN require_organization INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE clients DROP COLUMN require_organization;
