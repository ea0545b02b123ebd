//! The tenant schema's steps: numbered, additive SQL files from
//! `tenant_templates/`, embedded in the binary, each with its SHA-256.

use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

static TEMPLATE_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/tenant_templates");

/// One step of the tenant schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1, 2, 3, ... with no gap.
    pub version: i32,
    /// The file name, `0001_settings.sql`.
    pub name: String,
    /// The SQL, run with the search_path on the tenant schema.
    pub sql: String,
    /// Hex SHA-256 of the SQL.
    pub checksum: String,
}

impl Step {
    /// A step from its file name and text.
    pub fn new(version: i32, name: impl Into<String>, sql: impl Into<String>) -> Self {
        let sql = sql.into();
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        Self { version, name: name.into(), sql, checksum }
    }
}

/// The ordered steps of a tenant schema.
#[derive(Debug, Clone)]
pub struct Steps(Vec<Step>);

/// A tenant_templates directory that does not form a sequence.
#[derive(Debug, thiserror::Error)]
pub enum StepsError {
    #[error("tenant template {0:?} is not named NNNN_name.sql")]
    BadName(String),
    #[error("tenant template {0:?} is not UTF-8")]
    NotUtf8(String),
    #[error("tenant templates must be numbered 1, 2, 3, ... with no gap: expected {expected}, found {found:?}")]
    Gap { expected: i32, found: String },
}

impl Steps {
    /// The steps embedded in this binary.
    pub fn embedded() -> Result<Self, StepsError> {
        let mut files: Vec<_> = TEMPLATE_DIR.files().collect();
        files.sort_by_key(|file| file.path().to_path_buf());
        let mut steps = Vec::with_capacity(files.len());
        for (index, file) in files.iter().enumerate() {
            let name = file.path().to_string_lossy().into_owned();
            let version = parse_version(&name).ok_or_else(|| StepsError::BadName(name.clone()))?;
            let expected = i32::try_from(index).unwrap_or(i32::MAX).saturating_add(1);
            if version != expected {
                return Err(StepsError::Gap { expected, found: name });
            }
            let sql = file.contents_utf8().ok_or_else(|| StepsError::NotUtf8(name.clone()))?;
            steps.push(Step::new(version, name, sql));
        }
        Ok(Self(steps))
    }

    /// These steps and one more after them (benchmarks and tests of a real migration).
    pub fn with_extra(mut self, name: &str, sql: &str) -> Self {
        let version = self.latest() + 1;
        self.0.push(Step::new(version, format!("{version:04}_{name}.sql"), sql));
        self
    }

    /// The version a fully migrated schema has.
    pub fn latest(&self) -> i32 {
        self.0.last().map_or(0, |step| step.version)
    }

    /// All steps in order.
    pub fn all(&self) -> &[Step] {
        &self.0
    }

    /// The steps after `version`.
    pub fn after(&self, version: i32) -> &[Step] {
        let applied = usize::try_from(version.max(0)).unwrap_or(0).min(self.0.len());
        &self.0[applied..]
    }

    /// The steps up to and including `version`.
    pub fn up_to(&self, version: i32) -> &[Step] {
        let count = usize::try_from(version.max(0)).unwrap_or(0).min(self.0.len());
        &self.0[..count]
    }
}

fn parse_version(name: &str) -> Option<i32> {
    let (number, rest) = name.split_once('_')?;
    if number.len() != 4 || !rest.ends_with(".sql") || rest.len() <= 4 {
        return None;
    }
    number.parse().ok().filter(|version| *version > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_steps_are_numbered_from_one_without_gaps() {
        let steps = Steps::embedded().unwrap();
        assert!(steps.latest() >= 1);
        for (index, step) in steps.all().iter().enumerate() {
            assert_eq!(step.version as usize, index + 1);
            assert_eq!(step.checksum.len(), 64);
        }
    }

    #[test]
    fn names_must_carry_a_four_digit_version() {
        assert_eq!(parse_version("0007_bookings.sql"), Some(7));
        assert_eq!(parse_version("7_bookings.sql"), None);
        assert_eq!(parse_version("0007_bookings.txt"), None);
        assert_eq!(parse_version("0000_zero.sql"), None);
    }

    #[test]
    fn a_changed_step_has_a_different_checksum() {
        assert_ne!(
            Step::new(1, "a", "CREATE TABLE a ();").checksum,
            Step::new(1, "a", "CREATE TABLE a (x int);").checksum
        );
    }
}
