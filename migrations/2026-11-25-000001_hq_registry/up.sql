-- The hq schema: the territory registry, franchise contracts, custom domains and
-- the ledger of tenant template steps. Owned by careservice_owner; the login role
-- only reaches it by SET ROLE (it is NOINHERIT), so it holds nothing by itself.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'careservice_owner') THEN
        CREATE ROLE careservice_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'careservice_hq') THEN
        CREATE ROLE careservice_hq NOLOGIN;
    END IF;
END
$$;

GRANT careservice_owner TO CURRENT_USER;
GRANT careservice_hq TO CURRENT_USER;

CREATE SCHEMA hq AUTHORIZATION careservice_owner;
SET LOCAL ROLE careservice_owner;

-- One row: settings of this installation. The role prefix keeps the tenant roles
-- of several databases in one cluster (test databases) apart; it is '' in production.
CREATE TABLE hq.installation (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    role_prefix text NOT NULL DEFAULT '' CHECK (role_prefix ~ '^[a-z0-9_]{0,20}$')
);
INSERT INTO hq.installation DEFAULT VALUES;

CREATE TABLE hq.territories (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    time_zone text NOT NULL DEFAULT 'Europe/Amsterdam',
    locale text NOT NULL DEFAULT 'nl-NL',
    status text NOT NULL DEFAULT 'provisioning'
        CHECK (status IN ('provisioning', 'active', 'suspended', 'archived')),
    schema_name text NOT NULL UNIQUE,
    role_name text NOT NULL UNIQUE,
    schema_version integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- A no-op `territory migrate --all` is one index scan that finds nothing.
CREATE INDEX territories_pending_migration ON hq.territories (schema_version)
    WHERE status <> 'archived';

CREATE TABLE hq.territory_contracts (
    territory_id bigint NOT NULL REFERENCES hq.territories (id) ON DELETE CASCADE,
    effective_from date NOT NULL,
    franchise_rate numeric(7, 6) NOT NULL CHECK (franchise_rate >= 0),
    hq_rate numeric(7, 6) NOT NULL CHECK (hq_rate >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (territory_id, effective_from),
    CHECK (franchise_rate + hq_rate <= 1)
);

CREATE TABLE hq.territory_domains (
    host text PRIMARY KEY CHECK (host = lower(host) AND length(host) BETWEEN 3 AND 253),
    territory_id bigint NOT NULL REFERENCES hq.territories (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX territory_domains_territory ON hq.territory_domains (territory_id);

-- Checksums of every tenant template step ever applied anywhere: a changed step
-- is caught here in one query, without opening 1,000 schemas.
CREATE TABLE hq.tenant_template_steps (
    version integer PRIMARY KEY CHECK (version > 0),
    name text NOT NULL,
    checksum text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Every server instance caches host -> territory; this tells them all to forget.
CREATE FUNCTION hq.notify_territory_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('careservice_territories', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER territories_changed
    AFTER INSERT OR DELETE OR UPDATE OF slug, display_name, time_zone, locale, status
    ON hq.territories FOR EACH STATEMENT EXECUTE FUNCTION hq.notify_territory_change();
CREATE TRIGGER territory_domains_changed
    AFTER INSERT OR UPDATE OR DELETE
    ON hq.territory_domains FOR EACH STATEMENT EXECUTE FUNCTION hq.notify_territory_change();

GRANT USAGE ON SCHEMA hq TO careservice_hq;
GRANT SELECT ON ALL TABLES IN SCHEMA hq TO careservice_hq;

RESET ROLE;
