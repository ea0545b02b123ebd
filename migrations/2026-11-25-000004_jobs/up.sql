-- btree_gist lets a tenant's bookings table refuse two overlapping bookings
-- of one pro (an exclusion constraint over a uuid and a time range).
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

SET LOCAL ROLE careservice_owner;

-- The job queue: timers and background work, each job carrying the
-- territory whose bound connection runs it (none for HQ jobs).
CREATE TABLE hq.jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    territory_id bigint REFERENCES hq.territories (id) ON DELETE CASCADE,
    payload jsonb NOT NULL DEFAULT '{}',
    run_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
    locked_until timestamptz,
    last_error text,
    finished_at timestamptz,
    failed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON hq.jobs (run_at) WHERE finished_at IS NULL AND failed_at IS NULL;
CREATE INDEX jobs_failed ON hq.jobs (failed_at) WHERE failed_at IS NOT NULL;

GRANT SELECT, INSERT, UPDATE ON hq.jobs TO careservice_hq;
-- A territory schedules its own timers in the same transaction as the change.
GRANT INSERT ON hq.jobs TO careservice_tenant;

RESET ROLE;
