-- An organization's branding on sign-in pages (storage.Organization.LogoURL
-- and BrandColor). Empty means none: existing organizations keep Foyer's.

-- +goose Up
ALTER TABLE organizations ADD COLUMN logo_url text NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN brand_color text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE organizations DROP COLUMN brand_color;
ALTER TABLE organizations DROP COLUMN logo_url;
