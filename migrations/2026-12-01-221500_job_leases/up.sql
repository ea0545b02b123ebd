-- A claim on a job is a lease: the claiming worker names itself
-- (claimed_by, one random id per batch) and renews locked_until while it runs,
-- so a job whose worker died is claimed again within seconds, while a job
-- whose worker is alive is never claimed twice. A lease, not a lock tied to
-- the worker's session, because the app must run behind a pooler in
-- transaction mode, where no session outlives a transaction.
SET LOCAL ROLE careservice_owner;
ALTER TABLE hq.jobs ADD COLUMN claimed_by uuid;
RESET ROLE;
