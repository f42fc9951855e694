//! The times and dates a client may send: years 2000 to 9999, in UTC.
//!
//! Every time or date that arrives in a request — body, query parameter or cursor — is read as
//! a [`BoundedTime`] or a [`BoundedDate`], whose only way in from the wire checks the range.
//! Without it, PostgreSQL fails on years its types cannot hold (a 500), while SQLite stores
//! them, so the two backends would disagree.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

use super::validation::FieldProblem;

pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 9999;

/// What a time or a date outside the range is told; the HTTP layer reports it as
/// `out_of_range`.
pub const OUT_OF_RANGE: &str = "must be in the years 2000 to 9999 (UTC)";

const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1) {
    Some(day) => day,
    None => panic!("the first day of MIN_YEAR exists"),
};
const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31) {
    Some(day) => day,
    None => panic!("the last day of MAX_YEAR exists"),
};
/// The earliest time accepted, `2000-01-01T00:00:00Z`.
pub const EARLIEST: DateTime<Utc> = match FIRST_DAY.and_hms_micro_opt(0, 0, 0, 0) {
    Some(time) => time.and_utc(),
    None => panic!("midnight exists"),
};
/// The latest time accepted at the stores' precision, `9999-12-31T23:59:59.999999Z`.
pub const LATEST: DateTime<Utc> = match LAST_DAY.and_hms_micro_opt(23, 59, 59, 999_999) {
    Some(time) => time.and_utc(),
    None => panic!("the last microsecond of a day exists"),
};

fn out_of_range() -> FieldProblem {
    FieldProblem::new("out_of_range", OUT_OF_RANGE)
}

/// A time from [`EARLIEST`] to the end of [`MAX_YEAR`], in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct BoundedTime(DateTime<Utc>);

impl BoundedTime {
    pub fn new(time: DateTime<Utc>) -> Result<Self, FieldProblem> {
        if (MIN_YEAR..=MAX_YEAR).contains(&time.year()) {
            Ok(Self(time))
        } else {
            Err(out_of_range())
        }
    }

    /// `time` moved into the range: for times this program wrote (always in it), such as the
    /// position a cursor resumes from.
    pub fn clamped(time: DateTime<Utc>) -> Self {
        Self(time.clamp(EARLIEST, LATEST))
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl<'de> Deserialize<'de> for BoundedTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let time = DateTime::<Utc>::deserialize(deserializer)?;
        Self::new(time).map_err(|problem| serde::de::Error::custom(problem.message))
    }
}

impl utoipa::PartialSchema for BoundedTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(
                "An RFC 3339 time from 2000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z \
                 (in UTC).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for BoundedTime {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Time")
    }
}

/// A calendar date from [`MIN_YEAR`] to [`MAX_YEAR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct BoundedDate(NaiveDate);

impl BoundedDate {
    pub fn new(date: NaiveDate) -> Result<Self, FieldProblem> {
        if (MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
            Ok(Self(date))
        } else {
            Err(out_of_range())
        }
    }

    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl<'de> Deserialize<'de> for BoundedDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let date = NaiveDate::deserialize(deserializer)?;
        Self::new(date).map_err(|problem| serde::de::Error::custom(problem.message))
    }
}

impl utoipa::PartialSchema for BoundedDate {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .description(Some("A date (YYYY-MM-DD) from 2000-01-01 to 9999-12-31."))
            .into()
    }
}

impl utoipa::ToSchema for BoundedDate {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Date")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> Result<BoundedTime, String> {
        serde_json::from_value(serde_json::json!(text)).map_err(|e| e.to_string())
    }

    #[test]
    fn times_from_2000_to_9999_pass() {
        assert_eq!(time("2000-01-01T00:00:00Z").unwrap().get(), EARLIEST);
        assert_eq!(time("9999-12-31T23:59:59.999999Z").unwrap().get(), LATEST);
        assert!(time("2026-11-20T10:00:00+02:00").is_ok());
        for outside in [
            "1999-12-31T23:59:59.999999Z",
            "2000-01-01T01:00:00+02:00",
            "-200000-01-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
        ] {
            assert!(time(outside).is_err(), "{outside}");
        }
        assert_eq!(
            time("1999-12-31T00:00:00Z").unwrap_err(),
            OUT_OF_RANGE,
            "the message is the one the HTTP layer recognises"
        );
    }

    #[test]
    fn dates_from_2000_to_9999_pass() {
        let date = |text: &str| serde_json::from_value::<BoundedDate>(serde_json::json!(text));
        assert!(date("2000-01-01").is_ok());
        assert!(date("9999-12-31").is_ok());
        for outside in ["1999-12-31", "-5000-01-01", "+10000-01-01"] {
            assert!(date(outside).is_err(), "{outside}");
        }
    }

    #[test]
    fn clamping_keeps_times_in_range() {
        let ancient = DateTime::<Utc>::MIN_UTC;
        assert_eq!(BoundedTime::clamped(ancient).get(), EARLIEST);
        assert_eq!(BoundedTime::clamped(DateTime::<Utc>::MAX_UTC).get(), LATEST);
        let now = Utc::now();
        assert_eq!(BoundedTime::clamped(now).get(), now);
    }
}
