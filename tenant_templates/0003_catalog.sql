-- The territory's tailoring of HQ's catalog, within HQ's bounds (checked by
-- the application against hq.services, which this table refers to).
CREATE TABLE service_overrides (
    service_code text PRIMARY KEY REFERENCES hq.services (code),
    enabled boolean NOT NULL DEFAULT true,
    price numeric(10, 2) CHECK (price > 0),
    duration_minutes integer CHECK (duration_minutes BETWEEN 15 AND 720),
    name_nl text CHECK (length(name_nl) BETWEEN 1 AND 200),
    name_en text CHECK (length(name_en) BETWEEN 1 AND 200),
    description_nl text CHECK (length(description_nl) <= 4000),
    description_en text CHECK (length(description_en) <= 4000),
    cancellation_free_hours integer CHECK (cancellation_free_hours BETWEEN 0 AND 168),
    cancellation_fee_percent numeric(5, 2) CHECK (cancellation_fee_percent BETWEEN 0 AND 100),
    min_notice_minutes integer CHECK (min_notice_minutes BETWEEN 0 AND 20160),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid
);

CREATE TRIGGER service_overrides_changed AFTER INSERT OR UPDATE OR DELETE ON service_overrides
    FOR EACH STATEMENT EXECUTE FUNCTION hq.notify_catalog_change();

-- Territory-wide defaults the franchisee sets within HQ's limits.
ALTER TABLE settings
    ADD COLUMN portal_secondary_color text CHECK (portal_secondary_color ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN cancellation_free_hours integer NOT NULL DEFAULT 24 CHECK (cancellation_free_hours BETWEEN 0 AND 168),
    ADD COLUMN cancellation_fee_percent numeric(5, 2) NOT NULL DEFAULT 50 CHECK (cancellation_fee_percent BETWEEN 0 AND 100),
    ADD COLUMN min_notice_minutes integer NOT NULL DEFAULT 120 CHECK (min_notice_minutes BETWEEN 0 AND 20160),
    ADD COLUMN booking_horizon_days integer NOT NULL DEFAULT 60 CHECK (booking_horizon_days BETWEEN 1 AND 365);

CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION hq.notify_catalog_change();

-- Pros of this territory. account_id names an hq account; there is no
-- foreign key to hq.accounts, which is not a reference table.
CREATE TABLE pros (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL UNIQUE,
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    bio text NOT NULL DEFAULT '' CHECK (length(bio) <= 4000),
    languages text[] NOT NULL DEFAULT '{}',
    postcodes text[] NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'pending_approval'
        CHECK (status IN ('invited', 'pending_approval', 'active', 'paused', 'offboarded')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pros_active ON pros (status) WHERE status = 'active';

CREATE TABLE pro_offerings (
    pro_id uuid NOT NULL REFERENCES pros (id) ON DELETE CASCADE,
    service_code text NOT NULL REFERENCES hq.services (code),
    price numeric(10, 2) CHECK (price > 0),
    PRIMARY KEY (pro_id, service_code)
);
CREATE INDEX pro_offerings_service ON pro_offerings (service_code);
