-- A booking request that dies half-way (a dropped connection, a crash) is
-- resumed by a retry with the same Idempotency-Key, never run again.

-- The booking a key created, recorded in the transaction that creates it.
ALTER TABLE idempotency_keys ADD COLUMN booking_id uuid REFERENCES bookings (id);

-- The payment is recorded as requested, with the method to ask for, before
-- the provider is asked: a retry, or the timer that releases the hold, asks
-- again under the same provider key (the provider answers it once) and so
-- learns the reference it did not record.
ALTER TABLE payments ADD COLUMN method text CHECK (length(method) BETWEEN 1 AND 200);
ALTER TABLE payments ALTER COLUMN provider_ref DROP NOT NULL;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('requested', 'pending', 'authorized', 'captured', 'voided', 'failed'));
ALTER TABLE payments ADD CONSTRAINT payments_reference_once_answered
    CHECK (status = 'requested' OR provider_ref IS NOT NULL);
