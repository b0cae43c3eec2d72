//! The device half of the entity registry: how each kind is cached in the partition, and
//! the cache operations every kind shares (write a row, remove it, fetch it again).
//!
//! Each entity's module implements [`CachedRow`] for its record type and [`Cached`] for its
//! marker in `vaidya_shared::entity::kinds`. Pull, the outbox and the Unsent changes screen
//! reach them through `vaidya_shared::for_each_kind!` and the kind's `EntitySpec`, so none of
//! them holds a per-entity list.

use rusqlite::{params, Connection};
use uuid::Uuid;
use vaidya_shared::entity::{Entity, Stored};
use vaidya_shared::sync::EntityKind;

use super::local_reads::ReadAction;
use super::{ClinicPartition, PartitionError};

/// A record the cache can write (with its children: addenda, items, lines, payments).
pub trait CachedRow: Stored {
    /// Writes the record into its table, replacing what was there. The file is one
    /// clinic's and its rows do not keep a clinic id: the callers (a pulled row, a local
    /// change) have checked that the record is this clinic's before writing it.
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()>;

    /// Recomputes what the record derives from its own values after a local correction
    /// (an invoice's paid amount from its payments). Nothing, for most records.
    fn recompute(&mut self) {}
}

/// How one kind is read back from the cache.
pub(crate) trait Cached: Entity<Record: CachedRow> {
    /// The cached record without recording a read (for edits of a row the user has open,
    /// and for the Unsent changes screen). `None` when it is not cached.
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Self::Record>, PartitionError>;
}

/// The cache table of a kind's whole rows (from the registry); `None` for children and for
/// conflicts, which have no row of their own here.
pub(crate) fn table(entity: EntityKind) -> Option<&'static str> {
    entity.spec().device_table
}

pub(crate) fn remove_row(
    conn: &Connection,
    entity: EntityKind,
    id: Uuid,
) -> rusqlite::Result<usize> {
    match table(entity) {
        // Table names come from the registry, never from input.
        Some(t) => conn
            .prepare_cached(&format!("DELETE FROM {t} WHERE id = ?1"))?
            .execute([super::sql::id_blob(&id)]),
        None => Ok(0),
    }
}

/// Marks an entity to be fetched again from the server once nothing is pending.
pub(crate) fn add_refetch(conn: &Connection, entity: EntityKind, id: Uuid) -> rusqlite::Result<()> {
    if table(entity).is_some() {
        conn.execute(
            "INSERT INTO refetch (entity, id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![entity.as_str(), id.to_string()],
        )?;
    }
    Ok(())
}

pub(crate) fn clear_refetch(
    conn: &Connection,
    entity: EntityKind,
    id: Uuid,
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM refetch WHERE entity = ?1 AND id = ?2")?
        .execute(params![entity.as_str(), id.to_string()])?;
    Ok(())
}

pub(crate) fn any_refetch(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM refetch)")?
        .query_row([], |row| row.get(0))
}

impl ClinicPartition {
    /// The cached record of kind `E` without recording a read.
    pub(crate) fn peek<E: Cached>(&self, id: Uuid) -> Result<Option<E::Record>, PartitionError> {
        E::peek(&self.conn, id)
    }

    /// The cached record of kind `E`, recorded as a read of patient data (uploaded to the
    /// audit trail with the next push).
    pub(crate) fn read<E: Cached>(&self, id: Uuid) -> Result<Option<E::Record>, PartitionError> {
        let record = E::peek(&self.conn, id)?;
        if let Some(r) = &record {
            let patients: Vec<Uuid> = r.patient_id().into_iter().collect();
            self.record_access(ReadAction::Read, E::KIND, &[r.id()], &patients)?;
        }
        Ok(record)
    }
}
