-- Events a territory hands to hq (commissions, audit digests). hq never reads a
-- tenant schema directly: a job drains this table into hq, idempotent on event_id.
CREATE TABLE outbox (
    event_id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    drained_at timestamptz
);
CREATE INDEX outbox_undrained ON outbox (created_at) WHERE drained_at IS NULL;
