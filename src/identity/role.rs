//! Roles and memberships.

use serde::Serialize;

/// What an account may do, per territory or HQ-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Books services in a territory (klant).
    Customer,
    /// Performs services in a territory.
    Pro,
    /// Runs a territory (franchisenemer).
    Franchisee,
    /// Runs the platform; no territory.
    HqAdmin,
}

impl Role {
    /// The value stored in `hq.memberships.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Pro => "pro",
            Self::Franchisee => "franchisee",
            Self::HqAdmin => "hq_admin",
        }
    }

    /// Reads a stored role; the CHECK constraint keeps other values out.
    pub fn from_stored(raw: &str) -> Option<Self> {
        match raw {
            "customer" => Some(Self::Customer),
            "pro" => Some(Self::Pro),
            "franchisee" => Some(Self::Franchisee),
            "hq_admin" => Some(Self::HqAdmin),
            _ => None,
        }
    }

    /// Roles that run a business get short sessions and must use MFA.
    pub fn is_privileged(self) -> bool {
        matches!(self, Self::Franchisee | Self::HqAdmin)
    }
}

/// One role of an account, in a territory or HQ-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Membership {
    pub role: Role,
    /// The territory's slug; none for HQ admins.
    pub territory: Option<String>,
    #[serde(skip)]
    pub territory_id: Option<i64>,
}
