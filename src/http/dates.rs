//! Dates and times as the API accepts them: within years 1900 to 9999.
//!
//! chrono reads far more than PostgreSQL stores (`-4714-01-01` is a valid
//! chrono date, and no `date` column takes it), and no booking, contract, VAT
//! rate or ledger day of this service lies outside these years. Every date
//! and time read from a path, a query or a body goes through this module: the
//! `deserialize_with` helpers below for serde fields, [`check`] for values
//! parsed by hand. A value out of range is refused at the edge with 422
//! `date-out-of-range`, before any handler or query sees it.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Deserializer};

/// The problem code of a date outside the accepted range.
pub const OUT_OF_RANGE: &str = "date-out-of-range";

/// The reason every out-of-range refusal carries: the error handlers find it
/// in a deserialisation error to answer 422 rather than 400.
const REASON: &str = "is outside the dates this service accepts (years 1900 to 9999)";

/// The reason a leap second is refused as a time of day.
const LEAP_SECOND: &str = "is a leap second, not a time of day";

/// Whether an extractor's error message is a refused date or time.
pub fn is_out_of_range(message: &str) -> bool {
    message.contains(REASON) || message.contains(LEAP_SECOND)
}

/// `date` if its year is within 1900 to 9999; the refusal says why otherwise.
pub fn check(date: NaiveDate) -> Result<NaiveDate, String> {
    if (1900..=9999).contains(&date.year()) { Ok(date) } else { Err(format!("{date} {REASON}")) }
}

fn check_date_time(moment: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, String> {
    // The UTC day is what is stored (timestamptz); the local one is what was
    // meant: both must be in range.
    check(moment.naive_utc().date()).and_then(|_| check(moment.date_naive())).map(|_| moment)
}

fn check_time(time: NaiveTime) -> Result<NaiveTime, String> {
    // chrono reads "23:59:60" as a leap second, which no rule of a pro's
    // hours or a booking means.
    if time.nanosecond() >= 1_000_000_000 {
        return Err(format!("{time} {LEAP_SECOND}"));
    }
    Ok(time)
}

/// Reads a date within range (`#[serde(deserialize_with = "...::date")]`).
pub fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    check(NaiveDate::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// Reads an optional date within range (with `#[serde(default)]`).
pub fn optional_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<NaiveDate>, D::Error> {
    Option::<NaiveDate>::deserialize(deserializer)?.map(check).transpose().map_err(serde::de::Error::custom)
}

/// Reads an RFC 3339 date and time within range.
pub fn date_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<FixedOffset>, D::Error> {
    check_date_time(DateTime::<FixedOffset>::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// Reads an optional RFC 3339 date and time within range (with `#[serde(default)]`).
pub fn optional_date_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    Option::<DateTime<FixedOffset>>::deserialize(deserializer)?
        .map(check_date_time)
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// Reads a time of day that is not a leap second.
pub fn time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
    check_time(NaiveTime::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// Reads an optional time of day that is not a leap second (with `#[serde(default)]`).
pub fn optional_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<NaiveTime>, D::Error> {
    Option::<NaiveTime>::deserialize(deserializer)?.map(check_time).transpose().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_postgresql_cannot_store_or_no_one_means_are_refused() {
        for (raw, accepted) in [
            ("\"2026-05-04\"", true),
            ("\"1900-01-01\"", true),
            ("\"9999-12-31\"", true),
            ("\"-4714-11-23\"", false),
            ("\"0001-01-01\"", false),
            ("\"+262142-01-01\"", false),
        ] {
            let read: Result<NaiveDate, _> = date(&mut serde_json::Deserializer::from_str(raw));
            assert_eq!(read.is_ok(), accepted, "{raw}");
            if let Err(error) = read {
                assert!(is_out_of_range(&error.to_string()), "{error}");
            }
        }
        let moment = |raw: &str| date_time(&mut serde_json::Deserializer::from_str(raw)).is_ok();
        assert!(moment("\"2026-05-04T09:00:00+02:00\""));
        assert!(!moment("\"-4714-01-01T10:00:00Z\""));
        assert!(!moment("\"9999-12-31T23:00:00-05:00\""));
        let time_of_day = |raw: &str| time(&mut serde_json::Deserializer::from_str(raw)).is_ok();
        assert!(time_of_day("\"09:00:00\""));
        assert!(!time_of_day("\"23:59:60\""));
    }
}
