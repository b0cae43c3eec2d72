//! The conflict inbox: what sync could not merge by itself, kept for a person to decide.
//! Nothing is silently dropped: the losing value of a same-field edit is stored here.
//!
//! Conflicts found by the server are pulled like other entities (entity `conflict`) and
//! stored here under the server's id, so every device of the clinic shows the same inbox.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde_json::Value;
use uuid::Uuid;
use vaidya_shared::sync::{ConflictKind as WireConflictKind, ConflictRecord};

use super::cache::{Cached, CachedRow};
use super::outbox::EntityKind;
use super::sql::{enum_at, now, opt_ts_at, to_json, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};
use vaidya_shared::entity::kinds;

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

impl From<WireConflictKind> for ConflictKind {
    fn from(kind: WireConflictKind) -> ConflictKind {
        match kind {
            WireConflictKind::SameField => ConflictKind::SameField,
            WireConflictKind::Deleted => ConflictKind::Deleted,
            WireConflictKind::DoubleBooking => ConflictKind::DoubleBooking,
            WireConflictKind::Immutable => ConflictKind::Immutable,
        }
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
    /// Who made the losing change, when the server knows.
    pub user_id: Option<Uuid>,
    /// The device it came from, when the server knows.
    pub device: Option<String>,
}

const COLUMNS: &str = "id, entity, entity_id, field, local_value, server_value, kind, \
                       created_at, resolved_at, user_id, device";

/// Stores (or updates) a conflict of the server's inbox under the server's id.
pub(crate) fn upsert_record(conn: &Connection, record: &ConflictRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO conflicts (id, entity, entity_id, field, local_value, server_value, kind,
                                created_at, resolved_at, user_id, device)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET
             entity = excluded.entity, entity_id = excluded.entity_id, field = excluded.field,
             local_value = excluded.local_value, server_value = excluded.server_value,
             kind = excluded.kind, created_at = excluded.created_at,
             resolved_at = excluded.resolved_at, user_id = excluded.user_id,
             device = excluded.device",
        params![
            record.id.to_string(),
            record.entity.as_str(),
            record.entity_id.to_string(),
            record.field,
            to_json(&record.client_value)?,
            to_json(&record.server_value)?,
            ConflictKind::from(record.kind).as_str(),
            super::sql::ts(&record.created_at),
            record.resolved_at.as_ref().map(super::sql::ts),
            record.user_id.map(|u| u.to_string()),
            record.device,
        ],
    )?;
    Ok(())
}

/// Records a conflict the push answered with, under the server's id, unless the pulled
/// inbox already has it. The pulled record later fills in the rest.
pub(crate) fn note_push_conflict(
    conn: &Connection,
    id: Uuid,
    conflict: &NewConflict,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO conflicts (id, entity, entity_id, field, local_value, server_value, kind,
                                created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO NOTHING",
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
    Ok(())
}

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
        user_id: super::sql::opt_uuid_at(row, 9)?,
        device: row.get(10)?,
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

    /// Every conflict, open or resolved, oldest first.
    pub fn all_conflicts(&self) -> Result<Vec<Conflict>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM conflicts ORDER BY created_at, id"
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

impl CachedRow for ConflictRecord {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert_record(conn, self)
    }
}

/// Conflicts live in the device's own inbox tables, not as a cached entity row: a change
/// about a conflict (its resolution) has no row to read back.
impl Cached for kinds::Conflict {
    fn peek(_conn: &Connection, _id: Uuid) -> Result<Option<ConflictRecord>, PartitionError> {
        Ok(None)
    }
}
