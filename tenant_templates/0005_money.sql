-- Money: payments, a double-entry ledger, payouts, and the territory's
-- hash-chained audit log. The ledger and the audit log are insert-only: the
-- database refuses an UPDATE, DELETE or TRUNCATE whatever the grants say.

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

-- A booking's payment, following the booking through reschedules. Its split
-- rates are snapshotted at authorisation so that refunds split like capture.
CREATE TABLE payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id uuid NOT NULL UNIQUE REFERENCES bookings (id),
    pro_id uuid NOT NULL REFERENCES pros (id),
    provider text NOT NULL,
    provider_ref text NOT NULL UNIQUE,
    status text NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'voided', 'failed')),
    amount numeric(10, 2) NOT NULL CHECK (amount > 0),
    refunded numeric(10, 2) NOT NULL DEFAULT 0,
    vat_rate numeric(5, 4) NOT NULL,
    franchise_rate numeric(7, 6) NOT NULL,
    hq_rate numeric(7, 6) NOT NULL,
    -- The split at capture, in euros; refunds take back from these.
    captured_vat numeric(10, 2),
    captured_franchise numeric(10, 2),
    captured_hq numeric(10, 2),
    captured_pro numeric(10, 2),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK (refunded >= 0 AND refunded <= amount),
    CHECK ((status = 'captured') = (captured_pro IS NOT NULL)),
    CHECK (refunded = 0 OR status = 'captured')
);

-- Refunds asked for and their outcome; the ledger holds the money side.
CREATE TABLE refunds (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id uuid NOT NULL REFERENCES payments (id),
    external_id text NOT NULL UNIQUE,
    amount numeric(10, 2) NOT NULL CHECK (amount > 0),
    vat numeric(10, 2) NOT NULL,
    franchise_fee numeric(10, 2) NOT NULL,
    hq_fee numeric(10, 2) NOT NULL,
    pro_share numeric(10, 2) NOT NULL,
    reason text NOT NULL CHECK (reason IN ('goodwill', 'cancellation', 'release')),
    requested_by uuid,
    created_at timestamptz NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Provider webhooks already applied: a second delivery changes nothing.
CREATE TABLE payment_webhooks (
    event_id text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 200),
    kind text NOT NULL,
    received_at timestamptz NOT NULL
);

CREATE TABLE ledger_accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE,
    pro_id uuid UNIQUE REFERENCES pros (id),
    CHECK (code IN ('provider_clearing', 'customer_funds', 'franchise_revenue', 'hq_fee_payable', 'vat_payable',
        'refunds') OR (code = 'pro_payable:' || pro_id::text))
);
INSERT INTO ledger_accounts (code) VALUES
    ('provider_clearing'), ('customer_funds'), ('franchise_revenue'), ('hq_fee_payable'), ('vat_payable'),
    ('refunds');

-- external_id makes posting idempotent: the same event posts once, ever.
CREATE TABLE ledger_transactions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id text NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('capture', 'refund', 'payout', 'reversal')),
    payment_id uuid REFERENCES payments (id),
    reverses bigint UNIQUE REFERENCES ledger_transactions (id),
    effective_on date NOT NULL,
    posted_at timestamptz NOT NULL
);
CREATE INDEX ledger_transactions_payment ON ledger_transactions (payment_id);
CREATE INDEX ledger_transactions_effective ON ledger_transactions (effective_on);

-- Debits positive, credits negative: the entries of a transaction sum to zero.
CREATE TABLE ledger_entries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    account_id bigint NOT NULL REFERENCES ledger_accounts (id),
    amount numeric(12, 2) NOT NULL CHECK (amount <> 0)
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, transaction_id);

-- Checked at commit, once the whole transaction is in: an unbalanced or
-- empty transaction never commits, whatever the application does.
CREATE FUNCTION ledger_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lines bigint;
    total numeric;
BEGIN
    SELECT count(*), coalesce(sum(amount), 0) INTO lines, total
      FROM ledger_entries WHERE transaction_id = NEW.id;
    IF lines < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (% entries, sum %)', NEW.external_id, lines, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balanced();
-- Entries added to a transaction committed earlier must balance on their own.
CREATE FUNCTION ledger_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE transaction_id = NEW.transaction_id) <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entries_balanced();

CREATE TRIGGER ledger_transactions_insert_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_entries_insert_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Pro payouts: each payment is paid out at most once.
CREATE TABLE payouts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cutoff timestamptz NOT NULL,
    total numeric(12, 2) NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'paid')),
    created_by uuid,
    created_at timestamptz NOT NULL,
    paid_at timestamptz,
    CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE TABLE payout_items (
    payout_id uuid NOT NULL REFERENCES payouts (id),
    payment_id uuid NOT NULL UNIQUE REFERENCES payments (id),
    pro_id uuid NOT NULL REFERENCES pros (id),
    amount numeric(12, 2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (payout_id, payment_id)
);

-- The territory's audit chain: each row's hash covers the previous row's
-- hash, so a changed, removed or inserted row breaks every link after it.
-- Two rows after the same link (a fork) are refused by the unique prev_hash.
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY CHECK (seq >= 1),
    prev_hash bytea NOT NULL UNIQUE CHECK (length(prev_hash) = 32),
    hash bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    at timestamptz NOT NULL,
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    actor text NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    payload text NOT NULL
);
CREATE TRIGGER audit_log_insert_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
