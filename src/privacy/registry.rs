//! Every table that holds a person's data, and what export and erasure do
//! with it; and every column of every table, each decided to be a person's
//! data or not. A test compares the columns with the database both ways, so
//! a new table or column (a `phone`, an `iban`) fails it until it is decided
//! here, and a table with a personal column fails it until it is listed in
//! [`PERSONAL_DATA`] (and so covered by the export and the erasure).

/// Where a table lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Hq,
    Territory,
}

/// What erasure does to a table's rows about the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasure {
    /// The rows are deleted.
    Delete,
    /// The personal columns are overwritten; the row stays (fiscal or
    /// referential reasons), keyed by the pseudonym (the account id).
    Scrub,
    /// The rows hold no personal data beyond the pseudonym and are kept:
    /// fiscal records (7 years), consent proof, the audit trail.
    Keep,
}

/// A table holding a person's data.
#[derive(Debug, Clone, Copy)]
pub struct Holding {
    pub scope: Scope,
    pub table: &'static str,
    pub erasure: Erasure,
}

const fn hq(table: &'static str, erasure: Erasure) -> Holding {
    Holding { scope: Scope::Hq, table, erasure }
}

const fn territory(table: &'static str, erasure: Erasure) -> Holding {
    Holding { scope: Scope::Territory, table, erasure }
}

/// Every table with a person's data; each is a section of the export.
pub const PERSONAL_DATA: &[Holding] = &[
    hq("accounts", Erasure::Scrub),
    hq("memberships", Erasure::Delete),
    hq("sessions", Erasure::Delete),
    hq("one_time_tokens", Erasure::Delete),
    hq("invitations", Erasure::Delete),
    hq("mfa_backup_codes", Erasure::Delete),
    hq("mail_outbox", Erasure::Delete),
    hq("consents", Erasure::Keep),
    hq("privacy_exports", Erasure::Delete),
    hq("catalog_changes", Erasure::Keep),
    hq("audit_log", Erasure::Keep),
    territory("bookings", Erasure::Scrub),
    territory("booking_events", Erasure::Keep),
    territory("idempotency_keys", Erasure::Delete),
    territory("pros", Erasure::Scrub),
    territory("pro_offerings", Erasure::Delete),
    territory("availability_rules", Erasure::Delete),
    territory("availability_exceptions", Erasure::Delete),
    territory("payments", Erasure::Keep),
    territory("refunds", Erasure::Keep),
    territory("payouts", Erasure::Keep),
    territory("payout_items", Erasure::Keep),
    territory("ledger_accounts", Erasure::Keep),
    territory("ledger_transactions", Erasure::Keep),
    territory("service_overrides", Erasure::Keep),
    territory("audit_log", Erasure::Keep),
];

/// The columns of one table, each decided: `personal` ones point at a
/// person or hold a person's data, `other` ones do not.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    /// Where the table lives.
    pub scope: Scope,
    /// The table's name.
    pub table: &'static str,
    /// Columns that point at a person or hold a person's data.
    pub personal: &'static [&'static str],
    /// Columns that hold no one's personal data.
    pub other: &'static [&'static str],
}

const fn hq_columns(table: &'static str, personal: &'static [&'static str], other: &'static [&'static str]) -> Columns {
    Columns { scope: Scope::Hq, table, personal, other }
}

const fn territory_columns(
    table: &'static str,
    personal: &'static [&'static str],
    other: &'static [&'static str],
) -> Columns {
    Columns { scope: Scope::Territory, table, personal, other }
}

/// Every column of every table in hq and in a territory's schema.
pub const COLUMNS: &[Columns] = &[
    hq_columns(
        "accounts",
        &["id", "email", "email_normalized", "password_hash", "display_name", "totp_secret"],
        &[
            "email_verified_at",
            "status",
            "failed_sign_ins",
            "locked_until",
            "totp_enabled_at",
            "totp_last_step",
            "created_at",
            "updated_at",
            "erased_at",
        ],
    ),
    // The actor and the payload name accounts.
    hq_columns("audit_log", &["actor", "payload"], &["seq", "prev_hash", "hash", "at", "kind"]),
    hq_columns("catalog_changes", &["account_id"], &["id", "changed_at", "entity", "entity_code", "action", "after"]),
    hq_columns(
        "commission_events",
        &[],
        &[
            "event_id",
            "territory_id",
            "period",
            "kind",
            "gross",
            "vat",
            "franchise_fee",
            "hq_fee",
            "pro_share",
            "occurred_at",
            "received_at",
        ],
    ),
    hq_columns(
        "commission_totals",
        &[],
        &[
            "territory_id",
            "period",
            "captures",
            "refunds",
            "gross",
            "refunded",
            "vat",
            "franchise_fee",
            "hq_fee",
            "pro_share",
        ],
    ),
    hq_columns("consents", &["account_id"], &["id", "territory_id", "purpose", "text_version", "given", "at"]),
    hq_columns("installation", &[], &["singleton", "role_prefix"]),
    hq_columns(
        "invitations",
        &["email", "email_normalized", "invited_by", "accepted_by"],
        &["id", "token_hash", "territory_id", "role", "created_at", "expires_at", "accepted_at"],
    ),
    // A job's payload holds the ids it works on: bookings, exports, and the
    // pseudonym an erasure erases, which the fiscal records keep anyway.
    hq_columns(
        "jobs",
        &[],
        &[
            "id",
            "kind",
            "territory_id",
            "payload",
            "run_at",
            "attempts",
            "max_attempts",
            "locked_until",
            "claimed_by",
            "last_error",
            "finished_at",
            "failed_at",
            "created_at",
        ],
    ),
    hq_columns(
        "mail_outbox",
        &["to_address", "to_lookup", "body", "last_error"],
        &["id", "subject", "created_at", "sent_at", "attempts"],
    ),
    hq_columns("memberships", &["account_id"], &["id", "territory_id", "role", "created_at"]),
    hq_columns("mfa_backup_codes", &["account_id", "code_hash"], &["used_at"]),
    hq_columns("one_time_tokens", &["account_id"], &["token_hash", "purpose", "created_at", "expires_at", "used_at"]),
    hq_columns(
        "privacy_exports",
        &["account_id", "bundle"],
        &["id", "token_hash", "status", "requested_at", "ready_at", "expires_at"],
    ),
    hq_columns("service_categories", &[], &["code", "name_nl", "name_en", "position"]),
    hq_columns(
        "services",
        &[],
        &[
            "code",
            "category",
            "name_nl",
            "name_en",
            "description_nl",
            "description_en",
            "duration_minutes",
            "min_duration_minutes",
            "max_duration_minutes",
            "base_price",
            "min_price",
            "max_price",
            "vat_category",
            "instant_booking",
            "active",
            "updated_at",
        ],
    ),
    hq_columns(
        "sessions",
        &["account_id", "user_agent", "ip_address"],
        &[
            "id",
            "token_hash",
            "created_at",
            "last_seen_at",
            "idle_timeout_seconds",
            "absolute_expires_at",
            "mfa_verified_at",
            "revoked_at",
        ],
    ),
    hq_columns("tenant_template_steps", &[], &["version", "name", "checksum", "recorded_at"]),
    // display_name is the territory's name, not a person's.
    hq_columns(
        "territories",
        &[],
        &[
            "id",
            "slug",
            "display_name",
            "time_zone",
            "locale",
            "status",
            "schema_name",
            "role_name",
            "schema_version",
            "created_at",
            "updated_at",
        ],
    ),
    hq_columns(
        "territory_contracts",
        &[],
        &["territory_id", "effective_from", "franchise_rate", "hq_rate", "created_at"],
    ),
    hq_columns("territory_domains", &[], &["host", "territory_id", "created_at"]),
    hq_columns("vat_categories", &[], &["code", "name_nl", "name_en"]),
    hq_columns("vat_rates", &[], &["category", "effective_from", "rate"]),
    territory_columns("audit_log", &["actor", "payload"], &["seq", "prev_hash", "hash", "at", "kind"]),
    territory_columns("availability_exceptions", &["pro_id"], &["id", "day", "kind", "starts", "ends"]),
    territory_columns("availability_rules", &["pro_id"], &["id", "weekday", "starts", "ends"]),
    // actor is a role (customer, pro, system), not a person.
    territory_columns(
        "booking_events",
        &["actor_account_id"],
        &["id", "booking_id", "from_status", "to_status", "actor", "reason", "at"],
    ),
    // cancelled_by is a role, not a person.
    territory_columns(
        "bookings",
        &["customer_account_id", "pro_id", "postcode", "address", "notes"],
        &[
            "id",
            "service_code",
            "starts_at",
            "ends_at",
            "buffer_minutes",
            "blocked",
            "status",
            "price",
            "vat_rate",
            "cancellation_free_hours",
            "cancellation_fee_percent",
            "hold_expires_at",
            "respond_by",
            "cancelled_by",
            "cancellation_fee",
            "rescheduled_from",
            "rescheduled_to",
            "created_at",
            "updated_at",
        ],
    ),
    // A stored answer repeats the booking it made (address, notes).
    territory_columns(
        "idempotency_keys",
        &["account_id", "response_body"],
        &["key", "request_hash", "state", "response_status", "created_at", "booking_id"],
    ),
    // A pro's account is coded pro_payable:{pro}.
    territory_columns("ledger_accounts", &["code", "pro_id"], &["id"]),
    // account_id is a ledger account, not a person's.
    territory_columns("ledger_entries", &[], &["id", "transaction_id", "account_id", "amount"]),
    // External ids name what a transaction is for: a payout's pro, a
    // goodwill refund's franchisee.
    territory_columns(
        "ledger_transactions",
        &["external_id"],
        &["id", "kind", "payment_id", "reverses", "effective_on", "posted_at"],
    ),
    territory_columns("outbox", &[], &["event_id", "kind", "payload", "created_at", "drained_at"]),
    territory_columns("payment_webhooks", &[], &["event_id", "kind", "received_at"]),
    territory_columns(
        "payments",
        &["pro_id"],
        &[
            "id",
            "booking_id",
            "provider",
            "provider_ref",
            "method",
            "status",
            "amount",
            "refunded",
            "vat_rate",
            "franchise_rate",
            "hq_rate",
            "captured_vat",
            "captured_franchise",
            "captured_hq",
            "captured_pro",
            "created_at",
            "updated_at",
        ],
    ),
    territory_columns("payout_items", &["pro_id"], &["payout_id", "payment_id", "amount"]),
    territory_columns("payouts", &["created_by"], &["id", "cutoff", "total", "status", "created_at", "paid_at"]),
    territory_columns("pro_offerings", &["pro_id"], &["service_code", "price"]),
    territory_columns(
        "pros",
        &["id", "account_id", "display_name", "bio", "languages", "postcodes", "pending_display_name", "pending_bio"],
        &["status", "created_at", "updated_at", "buffer_minutes", "pending_since", "profile_revision"],
    ),
    territory_columns(
        "refunds",
        &["external_id", "requested_by"],
        &[
            "id",
            "payment_id",
            "amount",
            "vat",
            "franchise_fee",
            "hq_fee",
            "pro_share",
            "reason",
            "created_at",
            "status",
        ],
    ),
    // updated_by is the franchisee who tailored the service.
    territory_columns(
        "service_overrides",
        &["updated_by"],
        &[
            "service_code",
            "enabled",
            "price",
            "duration_minutes",
            "name_nl",
            "name_en",
            "description_nl",
            "description_en",
            "cancellation_free_hours",
            "cancellation_fee_percent",
            "min_notice_minutes",
            "updated_at",
        ],
    ),
    territory_columns(
        "settings",
        &[],
        &[
            "singleton",
            "currency",
            "portal_display_name",
            "portal_primary_color",
            "portal_logo_url",
            "updated_at",
            "portal_secondary_color",
            "cancellation_free_hours",
            "cancellation_fee_percent",
            "min_notice_minutes",
            "booking_horizon_days",
        ],
    ),
    territory_columns("template_steps", &[], &["version", "name", "checksum", "applied_at"]),
];

/// The holding for `table` in `scope`, if listed.
pub fn holding(scope: Scope, table: &str) -> Option<&'static Holding> {
    PERSONAL_DATA.iter().find(|holding| holding.scope == scope && holding.table == table)
}
