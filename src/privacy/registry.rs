//! Every table that holds a person's data, and what export and erasure do
//! with it. A test compares this list with the database: a new table with a
//! column that points at a person fails it until it is listed here (and so
//! covered by the export and the erasure).

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
    territory("audit_log", Erasure::Keep),
];

/// Column names that point at a person (or are a person's data). A table
/// with any of them must be listed in [`PERSONAL_DATA`].
pub const PERSON_COLUMNS: &[&str] = &[
    "account_id",
    "customer_account_id",
    "actor_account_id",
    "requested_by",
    "created_by",
    "invited_by",
    "accepted_by",
    "pro_id",
    "email",
    "email_normalized",
    "to_address",
    "display_name",
    "address",
    "notes",
    "bio",
    "ip_address",
    "user_agent",
    "actor",
];

/// Tables with such a column that hold no one's personal data, and why.
pub const NOT_PERSONAL: &[(&str, &str)] = &[
    ("territories", "display_name is the territory's name, not a person's"),
    ("services", "names of services"),
    ("service_categories", "names of categories"),
    ("ledger_entries", "account_id is a ledger account, not a person's"),
];

/// The holding for `table` in `scope`, if listed.
pub fn holding(scope: Scope, table: &str) -> Option<&'static Holding> {
    PERSONAL_DATA.iter().find(|holding| holding.scope == scope && holding.table == table)
}
