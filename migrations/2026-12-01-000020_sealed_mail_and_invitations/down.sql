SET LOCAL ROLE careservice_owner;
DROP INDEX hq.mail_outbox_to_lookup;
ALTER TABLE hq.mail_outbox DROP COLUMN to_lookup;
DROP INDEX hq.invitations_email_normalized;
ALTER TABLE hq.invitations DROP COLUMN email;
RESET ROLE;
