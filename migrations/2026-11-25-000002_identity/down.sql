DROP TABLE hq.mail_outbox, hq.mfa_backup_codes, hq.invitations, hq.one_time_tokens, hq.sessions, hq.memberships, hq.accounts;
