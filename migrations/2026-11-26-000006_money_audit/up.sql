-- HQ's side of the money: the commission events drained from every
-- territory's outbox, their totals per territory and month, HQ's own audit
-- chain, and the contract rates a territory may read (its own only).
SET LOCAL ROLE careservice_owner;

CREATE FUNCTION hq.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

-- One row per territory ledger event, written once (the event id is the
-- territory's outbox id); amounts are signed, refunds negative.
CREATE TABLE hq.commission_events (
    event_id uuid PRIMARY KEY,
    territory_id bigint NOT NULL REFERENCES hq.territories (id),
    period date NOT NULL CHECK (extract(day FROM period) = 1),
    kind text NOT NULL CHECK (kind IN ('capture', 'refund')),
    gross numeric(14, 2) NOT NULL,
    vat numeric(14, 2) NOT NULL,
    franchise_fee numeric(14, 2) NOT NULL,
    hq_fee numeric(14, 2) NOT NULL,
    pro_share numeric(14, 2) NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    CHECK (gross = vat + franchise_fee + hq_fee + pro_share)
);
CREATE TRIGGER commission_events_insert_only BEFORE UPDATE OR DELETE ON hq.commission_events
    FOR EACH ROW EXECUTE FUNCTION hq.refuse_change();

-- Kept in the same transaction as the events they sum.
CREATE TABLE hq.commission_totals (
    territory_id bigint NOT NULL REFERENCES hq.territories (id),
    period date NOT NULL,
    captures bigint NOT NULL DEFAULT 0,
    refunds bigint NOT NULL DEFAULT 0,
    gross numeric(16, 2) NOT NULL DEFAULT 0,
    refunded numeric(16, 2) NOT NULL DEFAULT 0,
    vat numeric(16, 2) NOT NULL DEFAULT 0,
    franchise_fee numeric(16, 2) NOT NULL DEFAULT 0,
    hq_fee numeric(16, 2) NOT NULL DEFAULT 0,
    pro_share numeric(16, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (period, territory_id)
);

-- HQ's audit chain, like each territory's (see tenant_templates/0005_money.sql).
CREATE TABLE hq.audit_log (
    seq bigint PRIMARY KEY CHECK (seq >= 1),
    prev_hash bytea NOT NULL UNIQUE CHECK (length(prev_hash) = 32),
    hash bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    at timestamptz NOT NULL,
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    actor text NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    payload text NOT NULL
);
CREATE TRIGGER audit_log_insert_only BEFORE UPDATE OR DELETE ON hq.audit_log
    FOR EACH ROW EXECUTE FUNCTION hq.refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON hq.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION hq.refuse_change();

-- The contract in force on `day` for the territory whose role is acting:
-- a territory reads its own rates and no one else's.
CREATE FUNCTION hq.own_contract_on(day date, OUT franchise_rate numeric, OUT hq_rate numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, hq AS $$
    SELECT c.franchise_rate, c.hq_rate
      FROM hq.territory_contracts c JOIN hq.territories t ON t.id = c.territory_id
     WHERE t.role_name = current_setting('role') AND c.effective_from <= day
     ORDER BY c.effective_from DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION hq.own_contract_on(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hq.own_contract_on(date) TO careservice_tenant;

-- One waiting drain per territory is enough: it drains everything there is.
CREATE UNIQUE INDEX jobs_one_waiting_drain ON hq.jobs (territory_id)
    WHERE kind = 'ledger.drain_outbox' AND attempts = 0 AND finished_at IS NULL AND failed_at IS NULL;

GRANT SELECT, INSERT ON hq.commission_events, hq.audit_log TO careservice_hq;
GRANT SELECT, INSERT, UPDATE ON hq.commission_totals TO careservice_hq;

RESET ROLE;
