//! The territory slug: the subdomain a territory is reached on.

use std::fmt;

/// Subdomains that can never name a territory.
const RESERVED: &[&str] = &[
    "hq",
    "www",
    "api",
    "admin",
    "app",
    "assets",
    "auth",
    "cdn",
    "docs",
    "help",
    "mail",
    "static",
    "status",
    "support",
    "public",
    "pg",
    "postgres",
    "localhost",
    "test",
    "demo-hq",
    "metrics",
];

/// A validated territory slug: a lowercase DNS label of 2 to 40 characters that
/// is not a reserved word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TerritorySlug(String);

/// Why a string is not a territory slug.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SlugError {
    #[error("a territory slug has 2 to 40 characters, {0:?} has {1}")]
    Length(String, usize),
    #[error("a territory slug is a lowercase DNS label (a-z, 0-9 and '-', not at either end): {0:?} is not")]
    Characters(String),
    #[error("{0:?} is a reserved name and cannot be a territory")]
    Reserved(String),
    #[error(
        "a territory slug cannot have '--' as its third and fourth characters (encoded Unicode names such as xn--...): {0:?} does"
    )]
    Encoded(String),
}

impl TerritorySlug {
    /// Validates `raw` as a slug.
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        let len = raw.chars().count();
        if !(2..=40).contains(&len) {
            return Err(SlugError::Length(raw.to_owned(), len));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !raw.chars().all(allowed) || raw.starts_with('-') || raw.ends_with('-') {
            return Err(SlugError::Characters(raw.to_owned()));
        }
        // "xn--" (and every "??--" label, RFC 5891 4.2.3.1) is reserved for
        // encoded Unicode names: a slug shown as `аmsterdam` with a Cyrillic
        // "а" would pass for amsterdam.
        if raw.get(2..4) == Some("--") {
            return Err(SlugError::Encoded(raw.to_owned()));
        }
        if RESERVED.contains(&raw) {
            return Err(SlugError::Reserved(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The territory's schema: `t_` and the slug with '-' as '_' (one-to-one,
    /// since a slug has no '_').
    pub fn schema_name(&self) -> String {
        format!("t_{}", self.0.replace('-', "_"))
    }
}

impl fmt::Display for TerritorySlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `label` is reserved (the HQ host and infrastructure names).
pub fn is_reserved(label: &str) -> bool {
    RESERVED.contains(&label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels_and_maps_hyphens_in_the_schema_name() {
        let slug = TerritorySlug::parse("den-haag").unwrap();
        assert_eq!(slug.schema_name(), "t_den_haag");
        assert!(TerritorySlug::parse("a1").is_ok());
        assert!(TerritorySlug::parse(&"a".repeat(40)).is_ok());
    }

    #[test]
    fn refuses_bad_lengths_characters_and_reserved_words() {
        assert!(matches!(TerritorySlug::parse("a"), Err(SlugError::Length(..))));
        assert!(matches!(TerritorySlug::parse(&"a".repeat(41)), Err(SlugError::Length(..))));
        for bad in ["Amsterdam", "-ams", "ams-", "am_s", "am s", "amé", "ams."] {
            assert!(matches!(TerritorySlug::parse(bad), Err(SlugError::Characters(_))), "{bad}");
        }
        for reserved in ["hq", "www", "api", "admin"] {
            assert_eq!(TerritorySlug::parse(reserved), Err(SlugError::Reserved(reserved.into())));
        }
    }
}
