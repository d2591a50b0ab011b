-- A client may require an organization (storage.Client.RequireOrganization):
-- the authorization endpoint then refuses a person who belongs to none.
-- Existing clients keep today's behaviour.

-- +goose Up
ALTER TABLE clients ADD COLUMN require_organization boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE clients DROP COLUMN require_organization;
