-- Privacy: erased accounts (kept as a pseudonym for the fiscal records),
-- append-only consent records, and personal data exports.
SET LOCAL ROLE careservice_owner;

ALTER TABLE hq.accounts DROP CONSTRAINT accounts_status_check;
ALTER TABLE hq.accounts ADD CONSTRAINT accounts_status_check CHECK (status IN ('active', 'disabled', 'erased'));
ALTER TABLE hq.accounts ADD COLUMN erased_at timestamptz;

-- Consent given or withdrawn, per purpose and version of the text shown; the
-- latest row per purpose is the current state. Rows are never changed.
CREATE TABLE hq.consents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES hq.accounts (id),
    territory_id bigint REFERENCES hq.territories (id),
    purpose text NOT NULL CHECK (purpose IN ('marketing', 'care_notes', 'reviews')),
    text_version text NOT NULL CHECK (length(text_version) BETWEEN 1 AND 40),
    given boolean NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX consents_current ON hq.consents (account_id, purpose, id DESC);
CREATE INDEX consents_territory ON hq.consents (territory_id, purpose, account_id, id DESC);
CREATE TRIGGER consents_insert_only BEFORE UPDATE OR DELETE ON hq.consents
    FOR EACH ROW EXECUTE FUNCTION hq.refuse_change();
CREATE TRIGGER consents_no_truncate BEFORE TRUNCATE ON hq.consents
    FOR EACH STATEMENT EXECUTE FUNCTION hq.refuse_change();

-- An account's export: the bundle is sealed (encrypted) for its row, and
-- downloadable with a token (stored hashed) until it expires.
CREATE TABLE hq.privacy_exports (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES hq.accounts (id),
    token_hash bytea NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    bundle text,
    requested_at timestamptz NOT NULL,
    ready_at timestamptz,
    expires_at timestamptz NOT NULL
);
CREATE INDEX privacy_exports_account ON hq.privacy_exports (account_id);

GRANT SELECT, INSERT ON hq.consents TO careservice_hq;
GRANT SELECT, INSERT, UPDATE, DELETE ON hq.privacy_exports TO careservice_hq;

RESET ROLE;
