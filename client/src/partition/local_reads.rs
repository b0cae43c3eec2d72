//! Reads of patient data made from the local cache, kept until they are uploaded to the
//! server's audit trail. Like the server's audit rows they hold ids only, never values.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use uuid::Uuid;

use super::outbox::EntityKind;
use super::sql::{enum_at, json_at, now, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadAction {
    /// One record opened.
    Read,
    /// A list or search result shown.
    List,
    /// A record printed (prescription, invoice, receipt).
    Print,
    /// A change the server rejected was discarded by a person on this device.
    Discard,
}

impl ReadAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadAction::Read => "read",
            ReadAction::List => "list",
            ReadAction::Print => "print",
            ReadAction::Discard => "discard",
        }
    }

    pub fn parse(s: &str) -> Option<ReadAction> {
        [
            ReadAction::Read,
            ReadAction::List,
            ReadAction::Print,
            ReadAction::Discard,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// One recorded access.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRead {
    /// Position in the log; uploads go in this order.
    pub seq: i64,
    /// Sent with the upload so a retried upload is recorded once.
    pub read_id: Uuid,
    pub action: ReadAction,
    pub entity: EntityKind,
    pub entity_ids: Vec<Uuid>,
    pub patient_ids: Vec<Uuid>,
    pub at: DateTime<Utc>,
}

/// Records one access. Called by every read of patient data in this module tree; a read
/// whose record cannot be written fails, so no access goes unlogged.
pub(crate) fn record(
    conn: &Connection,
    action: ReadAction,
    entity: EntityKind,
    entity_ids: &[Uuid],
    patient_ids: &[Uuid],
) -> rusqlite::Result<()> {
    if entity_ids.is_empty() {
        // Nothing was shown, so no patient data was accessed.
        return Ok(());
    }
    let mut patients: Vec<Uuid> = patient_ids.to_vec();
    patients.sort();
    patients.dedup();
    conn.execute(
        "INSERT INTO local_reads (read_id, action, entity, entity_ids, patient_ids, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            Uuid::now_v7().to_string(),
            action.as_str(),
            entity.as_str(),
            super::sql::to_json(&entity_ids)?,
            super::sql::to_json(&patients)?,
            now(),
        ],
    )?;
    Ok(())
}

impl ClinicPartition {
    /// Records that a cached record was printed (a prescription, an invoice or receipt, an
    /// encounter note); uploaded with the next push as a `print` access. The record must be
    /// in the cache: its patient is named in the audit row.
    pub fn record_print(&mut self, entity: EntityKind, id: Uuid) -> Result<(), PartitionError> {
        let table = match entity {
            EntityKind::Prescription => "prescriptions",
            EntityKind::Invoice => "invoices",
            EntityKind::Encounter => "encounters",
            other => {
                return Err(PartitionError::InvalidMutation(format!(
                    "a {} is not printed",
                    other.as_str()
                )))
            }
        };
        let patient: Option<String> = rusqlite::OptionalExtension::optional(self.conn.query_row(
            &format!("SELECT patient_id FROM {table} WHERE id = ?1"),
            [id.to_string()],
            |row| row.get(0),
        ))?;
        let patient = patient.ok_or(PartitionError::NotFound {
            entity: entity.as_str(),
            id,
        })?;
        let patient = Uuid::parse_str(&patient)
            .map_err(|e| PartitionError::InvalidRow(format!("{table}.patient_id: {e}")))?;
        record(&self.conn, ReadAction::Print, entity, &[id], &[patient])?;
        Ok(())
    }

    /// The oldest recorded reads, up to `limit`, for upload.
    pub fn local_reads(&self, limit: i64) -> Result<Vec<LocalRead>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, read_id, action, entity, entity_ids, patient_ids, at
             FROM local_reads ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit.max(0)], |row| {
            Ok(LocalRead {
                seq: row.get(0)?,
                read_id: uuid_at(row, 1)?,
                action: enum_at(row, 2, ReadAction::parse)?,
                entity: enum_at(row, 3, EntityKind::parse)?,
                entity_ids: json_at(row, 4)?,
                patient_ids: json_at(row, 5)?,
                at: ts_at(row, 6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The server stored every read up to and including `seq`: forget them here.
    pub fn forget_local_reads_through(&mut self, seq: i64) -> Result<usize, PartitionError> {
        Ok(self
            .conn
            .execute("DELETE FROM local_reads WHERE seq <= ?1", [seq])?)
    }
}
