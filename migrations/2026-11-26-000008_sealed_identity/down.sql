ALTER TABLE hq.accounts DROP CONSTRAINT accounts_email_check;
ALTER TABLE hq.accounts DROP CONSTRAINT accounts_display_name_check;
ALTER TABLE hq.accounts ADD CONSTRAINT accounts_email_check CHECK (length(email) BETWEEN 3 AND 254);
ALTER TABLE hq.accounts ADD CONSTRAINT accounts_display_name_check CHECK (length(display_name) BETWEEN 1 AND 200);
