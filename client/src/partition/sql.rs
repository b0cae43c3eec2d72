//! Conversions between wire types and SQLite column values, shared by the table modules.
//!
//! The entity tables (one row per clinic record: patients, appointments, notes, bills …)
//! store ids as their 16 bytes ([`id_blob`]) and instants as integer microseconds since the
//! Unix epoch, UTC ([`micros`]): a third of the bytes of hyphenated text and RFC 3339, in
//! the rows and again in every index. Order is kept: bytes sort as the hyphenated hex did,
//! and integers as the fixed-width timestamps did. The small bookkeeping tables (outbox,
//! conflicts, reads, drafts, sync state) keep readable text ([`ts`], `Uuid::to_string`).
//! The readers accept both forms, so a reader never depends on which table a value came
//! from. Values that fail to parse surface as [`super::PartitionError::InvalidRow`]
//! instead of a panic.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::types::{Type, ValueRef};
use rusqlite::Row;
use uuid::Uuid;

/// An id as an entity table stores it: its 16 bytes.
pub(crate) fn id_blob(id: &Uuid) -> [u8; 16] {
    *id.as_bytes()
}

/// An instant as an entity table stores it: microseconds since the Unix epoch (the
/// precision the partition keeps, see `edits::stored_now`).
pub(crate) fn micros(at: &DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// An instant as a bookkeeping table stores it: RFC 3339 UTC text with six fraction
/// digits, so that text order is time order.
pub(crate) fn ts(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn now() -> String {
    ts(&Utc::now())
}

pub(crate) fn date(day: &NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn conversion_error(
    idx: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(err))
}

/// A stored value this build cannot read (an unknown enum value, an id or time of the
/// wrong type).
#[derive(Debug)]
struct BadValue(String);

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadValue {}

/// An id from either form: 16 bytes (entity tables) or hyphenated text (bookkeeping).
fn uuid_from(value: ValueRef<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(bytes) => Uuid::from_slice(bytes)
            .map(Some)
            .map_err(|e| conversion_error(idx, e)),
        ValueRef::Text(text) => std::str::from_utf8(text)
            .map_err(|e| conversion_error(idx, e))
            .and_then(|t| Uuid::parse_str(t).map_err(|e| conversion_error(idx, e)))
            .map(Some),
        _ => Err(conversion_error(
            idx,
            BadValue("an id is neither 16 bytes nor text".into()),
        )),
    }
}

/// An instant from either form: integer microseconds (entity tables) or RFC 3339 text.
fn instant_from(value: ValueRef<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(us) => DateTime::from_timestamp_micros(us)
            .map(Some)
            .ok_or_else(|| conversion_error(idx, BadValue("an instant out of range".into()))),
        ValueRef::Text(text) => std::str::from_utf8(text)
            .map_err(|e| conversion_error(idx, e))
            .and_then(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|at| Some(at.with_timezone(&Utc)))
                    .map_err(|e| conversion_error(idx, e))
            }),
        _ => Err(conversion_error(
            idx,
            BadValue("an instant is neither an integer nor text".into()),
        )),
    }
}

fn required<T>(idx: usize, value: Option<T>) -> rusqlite::Result<T> {
    value.ok_or(rusqlite::Error::InvalidColumnType(
        idx,
        "NULL".into(),
        Type::Null,
    ))
}

pub(crate) fn uuid_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    required(idx, uuid_from(row.get_ref(idx)?, idx)?)
}

pub(crate) fn opt_uuid_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    uuid_from(row.get_ref(idx)?, idx)
}

pub(crate) fn ts_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    required(idx, instant_from(row.get_ref(idx)?, idx)?)
}

pub(crate) fn opt_ts_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    instant_from(row.get_ref(idx)?, idx)
}

pub(crate) fn opt_date_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<NaiveDate>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|e| conversion_error(idx, e)))
        .transpose()
}

/// Reads a text column through one of the wire enums' `parse` functions.
pub(crate) fn enum_at<T>(
    row: &Row<'_>,
    idx: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| conversion_error(idx, BadValue(format!("unknown value {text:?}"))))
}

/// Reads a JSON text column into a value object (vitals, tax breakdowns).
pub(crate) fn json_at<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| conversion_error(idx, e))
}

/// Reads a nullable JSON text column (a change's or a read's authorship).
pub(crate) fn opt_json_at<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| conversion_error(idx, e)))
        .transpose()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}
