-- Territory settings: one row, edited by the franchisee within HQ's limits.
CREATE TABLE settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    currency text NOT NULL DEFAULT 'EUR' CHECK (currency = 'EUR'),
    portal_display_name text,
    portal_primary_color text CHECK (portal_primary_color ~ '^#[0-9a-f]{6}$'),
    portal_logo_url text CHECK (length(portal_logo_url) <= 2048),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO settings DEFAULT VALUES;
