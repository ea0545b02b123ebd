-- A pro's edit of its public text (name and bio) waits for the franchisee's
-- review: the public keeps seeing the approved text, the pro sees its
-- pending edit. The revision names the edit a review decides on, so a
-- franchisee never approves an edit it has not seen.
ALTER TABLE pros
    ADD COLUMN pending_display_name text CHECK (length(pending_display_name) BETWEEN 1 AND 200),
    ADD COLUMN pending_bio text CHECK (length(pending_bio) <= 4000),
    ADD COLUMN pending_since timestamptz,
    ADD COLUMN profile_revision integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT pros_pending_whole CHECK (
        (pending_display_name IS NULL) = (pending_bio IS NULL)
        AND (pending_bio IS NULL) = (pending_since IS NULL));

-- A refund is claimed (pending) under the payment's lock before the provider
-- is asked, and completed once it has paid out; earlier refunds were
-- completed.
ALTER TABLE refunds
    ADD COLUMN status text NOT NULL DEFAULT 'completed' CHECK (status IN ('pending', 'completed'));
