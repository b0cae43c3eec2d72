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
use super::outbox::{is_sealed_entity, sealed_kinds_json, EntityKind};
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
            WireConflictKind::DuplicatePatient => ConflictKind::DuplicatePatient,
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

/// A conflict's columns, its values from the clinical store for a clinical record (see
/// [`store_values`]).
const COLUMNS: &str = "c.id, c.entity, c.entity_id, c.field, \
                       coalesce(c.local_value, v.local_value), \
                       coalesce(c.server_value, v.server_value), c.kind, \
                       c.created_at, c.resolved_at, c.user_id, c.device";

/// The conflicts with their values wherever they are kept.
const FROM: &str = "conflicts c LEFT JOIN conflict_values v ON v.id = c.id";

/// The two values of a conflict as the clinic file keeps them: a clinical record's go to
/// the clinical store (`conflict_values`, in the store, or in memory for a session without
/// it), and the file keeps NULL in their place. Returns the file's two columns.
fn store_values(
    conn: &Connection,
    id: Uuid,
    entity: EntityKind,
    local: Option<String>,
    server: Option<String>,
) -> rusqlite::Result<(Option<String>, Option<String>)> {
    if !is_sealed_entity(entity) {
        return Ok((local, server));
    }
    conn.prepare_cached(
        "INSERT INTO conflict_values (id, local_value, server_value) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET local_value = excluded.local_value,
                                        server_value = excluded.server_value",
    )?
    .execute(params![id.to_string(), local, server])?;
    Ok((None, None))
}

/// Stores (or updates) a conflict of the server's inbox under the server's id.
pub(crate) fn upsert_record(conn: &Connection, record: &ConflictRecord) -> rusqlite::Result<()> {
    let (local, server) = store_values(
        conn,
        record.id,
        record.entity,
        Some(to_json(&record.client_value)?),
        Some(to_json(&record.server_value)?),
    )?;
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
            local,
            server,
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
    let known: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM conflicts WHERE id = ?1)")?
        .query_row([id.to_string()], |r| r.get(0))?;
    if known {
        return Ok(());
    }
    let (local, server) = store_values(
        conn,
        id,
        conflict.entity,
        conflict.local_value.as_ref().map(to_json).transpose()?,
        conflict.server_value.as_ref().map(to_json).transpose()?,
    )?;
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
            local,
            server,
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
        let (local, server) = store_values(
            &self.conn,
            id,
            conflict.entity,
            conflict.local_value.as_ref().map(to_json).transpose()?,
            conflict.server_value.as_ref().map(to_json).transpose()?,
        )?;
        self.conn.execute(
            "INSERT INTO conflicts (id, entity, entity_id, field, local_value, server_value,
                                    kind, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id.to_string(),
                conflict.entity.as_str(),
                conflict.entity_id.to_string(),
                conflict.field,
                local,
                server,
                conflict.kind.as_str(),
                now(),
            ],
        )?;
        Ok(self.conn.query_row(
            &format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = ?1"),
            [id.to_string()],
            from_row,
        )?)
    }

    /// Conflicts nobody has resolved yet, oldest first (see [`all_conflicts`](Self::all_conflicts)).
    pub fn open_conflicts(&self) -> Result<Vec<Conflict>, PartitionError> {
        self.conflicts(true)
    }

    /// Every conflict, open or resolved, oldest first. A session without the clinical store
    /// is not shown conflicts about clinical records (as the server's inbox does not show
    /// them to its role).
    pub fn all_conflicts(&self) -> Result<Vec<Conflict>, PartitionError> {
        self.conflicts(false)
    }

    fn conflicts(&self, open_only: bool) -> Result<Vec<Conflict>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM}
             WHERE (NOT ?1 OR c.resolved_at IS NULL)
               AND (?2 OR c.entity NOT IN (SELECT value FROM json_each(?3)))
             ORDER BY c.created_at, c.id"
        ))?;
        let rows = stmt.query_map(
            params![open_only, self.clinical_store_open(), sealed_kinds_json()],
            from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves the values of clinical conflicts kept in the clinic file before the store
    /// held them (store version 2) into the store: first copied and committed there, then
    /// cleared here, so a crash between the two loses nothing.
    pub(crate) fn move_clinical_conflict_values(&mut self) -> Result<(), PartitionError> {
        let kinds = sealed_kinds_json();
        let moved = self.conn.execute(
            "INSERT INTO clinical.conflict_values (id, local_value, server_value)
             SELECT id, local_value, server_value FROM main.conflicts
             WHERE entity IN (SELECT value FROM json_each(?1))
               AND (local_value IS NOT NULL OR server_value IS NOT NULL)
             ON CONFLICT (id) DO NOTHING",
            [&kinds],
        )?;
        if moved > 0 {
            self.conn.execute(
                "UPDATE main.conflicts SET local_value = NULL, server_value = NULL
                 WHERE entity IN (SELECT value FROM json_each(?1))",
                [&kinds],
            )?;
        }
        Ok(())
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
