-- Invitations find their address by its keyed hash, as accounts do:
-- email_normalized becomes HMAC(lookup key, lowercased address), and the
-- address itself (needed for the account an invitation creates) is sealed
-- beside it. Mail in the outbox keeps its address and body sealed, with the
-- address's keyed hash in to_lookup so that a person's mail is found for
-- export and erasure. The keys live outside the database: rows written
-- before this migration (email = '' and to_lookup = '') are converted by
-- the application right after it (`careservice migrate` and `serve`).
SET LOCAL ROLE careservice_owner;
ALTER TABLE hq.invitations ADD COLUMN email text NOT NULL DEFAULT '';
CREATE INDEX invitations_email_normalized ON hq.invitations (email_normalized);
ALTER TABLE hq.mail_outbox ADD COLUMN to_lookup text NOT NULL DEFAULT '';
CREATE INDEX mail_outbox_to_lookup ON hq.mail_outbox (to_lookup);
RESET ROLE;
