-- Accounts, memberships, sessions, one-time tokens, invitations, MFA and the
-- mail outbox. One login across territories, so all of it lives in hq.
SET LOCAL ROLE careservice_owner;

CREATE TABLE hq.accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- Lowercased: one account per address whatever its case.
    email_normalized text NOT NULL UNIQUE CHECK (email_normalized = lower(email_normalized)),
    password_hash text NOT NULL,
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    email_verified_at timestamptz,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_sign_ins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    totp_secret text,
    totp_enabled_at timestamptz,
    totp_last_step bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hq.memberships (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES hq.accounts (id) ON DELETE CASCADE,
    territory_id bigint REFERENCES hq.territories (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('customer', 'pro', 'franchisee', 'hq_admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'hq_admin') = (territory_id IS NULL)),
    UNIQUE NULLS NOT DISTINCT (account_id, territory_id, role)
);
CREATE INDEX memberships_territory ON hq.memberships (territory_id, role);

CREATE TABLE hq.sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- SHA-256 of the token; the token itself is never stored.
    token_hash bytea NOT NULL UNIQUE,
    account_id uuid NOT NULL REFERENCES hq.accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    idle_timeout_seconds integer NOT NULL CHECK (idle_timeout_seconds > 0),
    absolute_expires_at timestamptz NOT NULL,
    mfa_verified_at timestamptz,
    user_agent text,
    ip_address text,
    revoked_at timestamptz
);
CREATE INDEX sessions_account ON hq.sessions (account_id) WHERE revoked_at IS NULL;

CREATE TABLE hq.one_time_tokens (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES hq.accounts (id) ON DELETE CASCADE,
    purpose text NOT NULL CHECK (purpose IN ('password_reset', 'verify_email')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX one_time_tokens_account ON hq.one_time_tokens (account_id, purpose);

CREATE TABLE hq.invitations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash bytea NOT NULL UNIQUE,
    email_normalized text NOT NULL,
    territory_id bigint NOT NULL REFERENCES hq.territories (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('pro', 'franchisee')),
    invited_by uuid REFERENCES hq.accounts (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES hq.accounts (id) ON DELETE SET NULL
);

CREATE TABLE hq.mfa_backup_codes (
    account_id uuid NOT NULL REFERENCES hq.accounts (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE hq.mail_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    to_address text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX mail_outbox_unsent ON hq.mail_outbox (created_at) WHERE sent_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON hq.accounts, hq.memberships, hq.sessions, hq.one_time_tokens,
    hq.invitations, hq.mfa_backup_codes, hq.mail_outbox TO careservice_hq;

RESET ROLE;
