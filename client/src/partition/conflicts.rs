//! The conflict inbox: what sync could not merge by itself, kept for a person to decide.
//! Nothing is silently dropped: the losing value of a same-field edit is stored here.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde_json::Value;
use uuid::Uuid;

use super::outbox::EntityKind;
use super::sql::{enum_at, now, opt_ts_at, to_json, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictKind {
    /// Both sides changed the same field; the deterministic winner was kept, this is the loser.
    SameField,
    /// Two appointments overlap for the same doctor.
    DoubleBooking,
    /// A new patient looks like one who already exists.
    DuplicatePatient,
    /// A change to a signed note or issued prescription, which only an addendum can amend.
    Immutable,
    /// A change to a record that was deleted meanwhile; deleted stays deleted.
    Deleted,
    /// The server rejected the change for another reason.
    Rejected,
}

impl ConflictKind {
    pub const ALL: [ConflictKind; 6] = [
        ConflictKind::SameField,
        ConflictKind::DoubleBooking,
        ConflictKind::DuplicatePatient,
        ConflictKind::Immutable,
        ConflictKind::Deleted,
        ConflictKind::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::SameField => "same_field",
            ConflictKind::DoubleBooking => "double_booking",
            ConflictKind::DuplicatePatient => "duplicate_patient",
            ConflictKind::Immutable => "immutable",
            ConflictKind::Deleted => "deleted",
            ConflictKind::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ConflictKind> {
        ConflictKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A conflict to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConflict {
    pub entity: EntityKind,
    pub entity_id: Uuid,
    /// The field concerned, when the conflict is about one field.
    pub field: Option<String>,
    pub local_value: Option<Value>,
    pub server_value: Option<Value>,
    pub kind: ConflictKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub id: Uuid,
    pub entity: EntityKind,
    pub entity_id: Uuid,
    pub field: Option<String>,
    pub local_value: Option<Value>,
    pub server_value: Option<Value>,
    pub kind: ConflictKind,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, entity, entity_id, field, local_value, server_value, kind, created_at, resolved_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Conflict> {
    let json = |idx: usize| -> rusqlite::Result<Option<Value>> {
        let text: Option<String> = row.get(idx)?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    idx,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        })
        .transpose()
    };
    Ok(Conflict {
        id: uuid_at(row, 0)?,
        entity: enum_at(row, 1, EntityKind::parse)?,
        entity_id: uuid_at(row, 2)?,
        field: row.get(3)?,
        local_value: json(4)?,
        server_value: json(5)?,
        kind: enum_at(row, 6, ConflictKind::parse)?,
        created_at: ts_at(row, 7)?,
        resolved_at: opt_ts_at(row, 8)?,
    })
}

impl ClinicPartition {
    pub fn record_conflict(&mut self, conflict: &NewConflict) -> Result<Conflict, PartitionError> {
        let id = Uuid::now_v7();
        self.conn.execute(
            "INSERT INTO conflicts (id, entity, entity_id, field, local_value, server_value,
                                    kind, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id.to_string(),
                conflict.entity.as_str(),
                conflict.entity_id.to_string(),
                conflict.field,
                conflict.local_value.as_ref().map(to_json).transpose()?,
                conflict.server_value.as_ref().map(to_json).transpose()?,
                conflict.kind.as_str(),
                now(),
            ],
        )?;
        Ok(self.conn.query_row(
            &format!("SELECT {COLUMNS} FROM conflicts WHERE id = ?1"),
            [id.to_string()],
            from_row,
        )?)
    }

    /// Conflicts nobody has resolved yet, oldest first.
    pub fn open_conflicts(&self) -> Result<Vec<Conflict>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM conflicts WHERE resolved_at IS NULL ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a conflict resolved (kept for the record). Returns whether it was open.
    pub fn resolve_conflict(&mut self, id: Uuid) -> Result<bool, PartitionError> {
        let changed = self.conn.execute(
            "UPDATE conflicts SET resolved_at = ?2 WHERE id = ?1 AND resolved_at IS NULL",
            params![id.to_string(), now()],
        )?;
        Ok(changed > 0)
    }
}
