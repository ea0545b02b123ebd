SET LOCAL ROLE careservice_owner;
ALTER TABLE hq.jobs DROP COLUMN claimed_by;
RESET ROLE;
