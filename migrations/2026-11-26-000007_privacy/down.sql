DROP TABLE hq.privacy_exports, hq.consents;
ALTER TABLE hq.accounts DROP COLUMN erased_at;
ALTER TABLE hq.accounts DROP CONSTRAINT accounts_status_check;
ALTER TABLE hq.accounts ADD CONSTRAINT accounts_status_check CHECK (status IN ('active', 'disabled'));
