-- Availability, bookings and their history.
ALTER TABLE pros ADD COLUMN buffer_minutes integer NOT NULL DEFAULT 15 CHECK (buffer_minutes BETWEEN 0 AND 240);

CREATE TABLE availability_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pro_id uuid NOT NULL REFERENCES pros (id) ON DELETE CASCADE,
    weekday smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts time NOT NULL,
    ends time NOT NULL,
    CHECK (starts < ends)
);
CREATE INDEX availability_rules_pro ON availability_rules (pro_id);

CREATE TABLE availability_exceptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pro_id uuid NOT NULL REFERENCES pros (id) ON DELETE CASCADE,
    day date NOT NULL,
    kind text NOT NULL CHECK (kind IN ('off', 'extra')),
    starts time,
    ends time,
    CHECK ((starts IS NULL) = (ends IS NULL) AND (starts IS NULL OR starts < ends)),
    CHECK (kind = 'off' OR starts IS NOT NULL)
);
CREATE INDEX availability_exceptions_pro ON availability_exceptions (pro_id, day);

CREATE TABLE bookings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_account_id uuid NOT NULL,
    pro_id uuid NOT NULL REFERENCES pros (id),
    service_code text NOT NULL REFERENCES hq.services (code),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    buffer_minutes integer NOT NULL,
    -- The time the booking takes from the pro: the appointment and the
    -- travel buffer after it.
    blocked tstzrange NOT NULL,
    status text NOT NULL CHECK (status IN ('held', 'awaiting_pro', 'confirmed', 'completed', 'declined',
        'expired', 'cancelled', 'no_show', 'rescheduled')),
    -- Snapshot of what was in force when booked.
    price numeric(10, 2) NOT NULL,
    vat_rate numeric(5, 4) NOT NULL,
    cancellation_free_hours integer NOT NULL,
    cancellation_fee_percent numeric(5, 2) NOT NULL,
    postcode text NOT NULL,
    address text NOT NULL,
    notes text NOT NULL DEFAULT '',
    hold_expires_at timestamptz,
    respond_by timestamptz,
    cancelled_by text CHECK (cancelled_by IN ('customer', 'pro', 'franchisee')),
    cancellation_fee numeric(10, 2),
    rescheduled_from uuid REFERENCES bookings (id),
    rescheduled_to uuid REFERENCES bookings (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (starts_at < ends_at),
    -- No race can double-book a pro, whatever the application does.
    EXCLUDE USING gist (pro_id public.gist_uuid_ops WITH =, blocked WITH &&)
        WHERE (status IN ('held', 'awaiting_pro', 'confirmed'))
);
CREATE INDEX bookings_customer ON bookings (customer_account_id, starts_at);
CREATE INDEX bookings_pro ON bookings (pro_id, starts_at);

CREATE TABLE booking_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id uuid NOT NULL REFERENCES bookings (id),
    from_status text,
    to_status text NOT NULL,
    actor_account_id uuid,
    actor text NOT NULL,
    reason text,
    at timestamptz NOT NULL
);
CREATE INDEX booking_events_booking ON booking_events (booking_id, id);

-- Idempotency-Key: the first answer to a key, replayed for the same body.
CREATE TABLE idempotency_keys (
    account_id uuid NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash text NOT NULL,
    state text NOT NULL CHECK (state IN ('running', 'done')),
    response_status integer,
    response_body jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
