-- Accounts' email addresses and names are sealed by the application (longer
-- than the text they hide, so the length checks move to the application);
-- email_normalized becomes the keyed hash of the lowercased address, which
-- still finds an account and keeps addresses unique. Invitations find their
-- address the same way.
SET LOCAL ROLE careservice_owner;
ALTER TABLE hq.accounts DROP CONSTRAINT accounts_email_check;
ALTER TABLE hq.accounts DROP CONSTRAINT accounts_display_name_check;
ALTER TABLE hq.accounts ADD CONSTRAINT accounts_email_check CHECK (length(email) BETWEEN 3 AND 1000);
ALTER TABLE hq.accounts ADD CONSTRAINT accounts_display_name_check CHECK (length(display_name) BETWEEN 1 AND 1000);
RESET ROLE;
