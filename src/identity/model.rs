//! Accounts and sessions as stored in hq.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::role::{Membership, Role};
use crate::schema::{accounts, sessions};

/// A row of `hq.accounts`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub email_normalized: String,
    pub password_hash: String,
    pub display_name: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub status: String,
    pub failed_sign_ins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<DateTime<Utc>>,
    pub totp_last_step: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    /// Whether the account may sign in at all.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// Whether TOTP is enrolled and confirmed.
    pub fn has_mfa(&self) -> bool {
        self.totp_enabled_at.is_some()
    }
}

/// A row of `hq.sessions`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_timeout_seconds: i32,
    pub absolute_expires_at: DateTime<Utc>,
    pub mfa_verified_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl SessionRow {
    /// Whether the session is still usable at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none()
            && now < self.absolute_expires_at
            && now < self.last_seen_at + Duration::seconds(i64::from(self.idle_timeout_seconds))
    }
}

/// How long sessions last: shorter for those who run a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SessionPolicy {
    /// Customers and pros: a day idle, two weeks at most.
    pub const EVERYDAY: Self = Self { idle: Duration::hours(24), absolute: Duration::days(14) };
    /// Franchisees and HQ admins: 30 minutes idle, 10 hours at most.
    pub const PRIVILEGED: Self = Self { idle: Duration::minutes(30), absolute: Duration::hours(10) };

    /// The policy for an account with these memberships.
    pub fn for_memberships(memberships: &[Membership]) -> Self {
        if memberships.iter().any(|m| m.role.is_privileged()) { Self::PRIVILEGED } else { Self::EVERYDAY }
    }
}

/// A session as its owner sees it in `GET /auth/sessions`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub current: bool,
}

/// The signed-in account as `GET /auth/session` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub email_verified: bool,
    pub mfa_enabled: bool,
}

impl From<&Account> for AccountView {
    fn from(account: &Account) -> Self {
        Self {
            id: account.id,
            email: account.email.clone(),
            display_name: account.display_name.clone(),
            email_verified: account.email_verified_at.is_some(),
            mfa_enabled: account.has_mfa(),
        }
    }
}

/// Whether any of `memberships` grants `role` in `territory_id` (None: HQ-wide).
pub fn has_role(memberships: &[Membership], role: Role, territory_id: Option<i64>) -> bool {
    memberships.iter().any(|m| m.role == role && m.territory_id == territory_id)
}
