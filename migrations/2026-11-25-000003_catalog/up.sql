-- The HQ service catalog: what a distributed deployment replicates to every
-- node as reference tables. Nothing here refers to a tenant table; tenant
-- tables may refer to these.
SET LOCAL ROLE careservice_owner;

CREATE TABLE hq.vat_categories (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name_nl text NOT NULL CHECK (length(name_nl) BETWEEN 1 AND 200),
    name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200)
);

-- Rates change by law on a date: a new row, never an update.
CREATE TABLE hq.vat_rates (
    category text NOT NULL REFERENCES hq.vat_categories (code),
    effective_from date NOT NULL,
    rate numeric(5, 4) NOT NULL CHECK (rate >= 0 AND rate < 1),
    PRIMARY KEY (category, effective_from)
);

CREATE TABLE hq.service_categories (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]{1,39}$'),
    name_nl text NOT NULL CHECK (length(name_nl) BETWEEN 1 AND 200),
    name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
    position integer NOT NULL DEFAULT 0
);

CREATE TABLE hq.services (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]{1,59}$'),
    category text NOT NULL REFERENCES hq.service_categories (code),
    name_nl text NOT NULL CHECK (length(name_nl) BETWEEN 1 AND 200),
    name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
    description_nl text NOT NULL DEFAULT '' CHECK (length(description_nl) <= 4000),
    description_en text NOT NULL DEFAULT '' CHECK (length(description_en) <= 4000),
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 15 AND 720),
    min_duration_minutes integer NOT NULL CHECK (min_duration_minutes >= 15),
    max_duration_minutes integer NOT NULL CHECK (max_duration_minutes <= 720),
    -- Prices include VAT.
    base_price numeric(10, 2) NOT NULL CHECK (base_price > 0),
    min_price numeric(10, 2) NOT NULL CHECK (min_price > 0),
    max_price numeric(10, 2) NOT NULL,
    vat_category text NOT NULL REFERENCES hq.vat_categories (code),
    instant_booking boolean NOT NULL DEFAULT false,
    active boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (min_price <= base_price AND base_price <= max_price),
    CHECK (min_duration_minutes <= duration_minutes AND duration_minutes <= max_duration_minutes)
);

-- Every change to the catalog, by whom.
CREATE TABLE hq.catalog_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now(),
    account_id uuid,
    entity text NOT NULL,
    entity_code text NOT NULL,
    action text NOT NULL,
    after jsonb NOT NULL
);

-- Every instance forgets its effective catalogs when the catalog changes:
-- '*' for HQ's catalog, the schema's name for one territory's overrides.
CREATE FUNCTION hq.notify_catalog_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('careservice_catalog', CASE WHEN TG_TABLE_SCHEMA = 'hq' THEN '*' ELSE TG_TABLE_SCHEMA END);
    RETURN NULL;
END
$$;

CREATE TRIGGER vat_rates_changed AFTER INSERT OR UPDATE OR DELETE ON hq.vat_rates
    FOR EACH STATEMENT EXECUTE FUNCTION hq.notify_catalog_change();
CREATE TRIGGER services_changed AFTER INSERT OR UPDATE OR DELETE ON hq.services
    FOR EACH STATEMENT EXECUTE FUNCTION hq.notify_catalog_change();
CREATE TRIGGER service_categories_changed AFTER INSERT OR UPDATE OR DELETE ON hq.service_categories
    FOR EACH STATEMENT EXECUTE FUNCTION hq.notify_catalog_change();

GRANT SELECT, INSERT, UPDATE ON hq.vat_categories, hq.vat_rates, hq.service_categories, hq.services
    TO careservice_hq;
GRANT SELECT, INSERT ON hq.catalog_changes TO careservice_hq;

RESET ROLE;

-- Every territory's role reads the catalog through this group.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'careservice_tenant') THEN
        CREATE ROLE careservice_tenant NOLOGIN;
    END IF;
END
$$;
GRANT careservice_tenant TO CURRENT_USER;
SET LOCAL ROLE careservice_owner;
GRANT SELECT ON hq.vat_categories, hq.vat_rates, hq.service_categories, hq.services TO careservice_tenant;
RESET ROLE;
-- Territories onboarded before this migration join the group too (the
-- registry is read as its owner, the grants made as the login role).
DO $$
DECLARE
    roles text[];
    territory_role text;
BEGIN
    SET LOCAL ROLE careservice_owner;
    SELECT coalesce(array_agg(role_name), '{}') INTO roles FROM hq.territories;
    RESET ROLE;
    FOREACH territory_role IN ARRAY roles LOOP
        EXECUTE format('GRANT careservice_tenant TO %I', territory_role);
    END LOOP;
END
$$;

-- The Dutch VAT categories as of 2026, and a small starting catalog.
SET LOCAL ROLE careservice_owner;
INSERT INTO hq.vat_categories (code, name_nl, name_en) VALUES
    ('low', 'Verlaagd tarief (schoonmaak in woningen)', 'Reduced rate (cleaning inside homes)'),
    ('standard', 'Algemeen tarief', 'Standard rate');
INSERT INTO hq.vat_rates (category, effective_from, rate) VALUES
    ('low', '2019-01-01', 0.09),
    ('standard', '2012-10-01', 0.21);
INSERT INTO hq.service_categories (code, name_nl, name_en, position) VALUES
    ('cleaning', 'Schoonmaak', 'Cleaning', 1),
    ('care', 'Thuiszorg', 'Home care', 2),
    ('garden', 'Tuin', 'Garden', 3);
INSERT INTO hq.services (code, category, name_nl, name_en, description_nl, description_en,
        duration_minutes, min_duration_minutes, max_duration_minutes, base_price, min_price, max_price,
        vat_category, instant_booking) VALUES
    ('house-cleaning', 'cleaning', 'Huishoudelijke schoonmaak', 'House cleaning',
     'Stofzuigen, dweilen, keuken en badkamer.', 'Vacuuming, mopping, kitchen and bathroom.',
     120, 60, 480, 62.00, 45.00, 95.00, 'low', true),
    ('window-cleaning-outside', 'cleaning', 'Glazenwassen buiten', 'Outside window cleaning',
     'Ramen aan de buitenkant.', 'Windows on the outside.',
     60, 30, 240, 45.00, 30.00, 80.00, 'standard', false),
    ('personal-care', 'care', 'Persoonlijke verzorging', 'Personal care',
     'Hulp bij wassen en aankleden.', 'Help with washing and dressing.',
     60, 30, 180, 58.00, 45.00, 90.00, 'standard', false),
    ('garden-maintenance', 'garden', 'Tuinonderhoud', 'Garden maintenance',
     'Snoeien, wieden en maaien.', 'Pruning, weeding and mowing.',
     120, 60, 480, 75.00, 50.00, 140.00, 'standard', false);

RESET ROLE;
