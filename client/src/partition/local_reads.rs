//! Reads of patient data made from the local cache, kept until they are uploaded to the
//! server's audit trail. Like the server's audit rows they hold ids only, never values.
//! Each is signed by its reader when recorded (the partition's current author), so the
//! trail names who read, whoever's session later uploads it.

use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::params;
use uuid::Uuid;
use vaidya_shared::api::AuditAction;
use vaidya_shared::authorship::Authorship;
use vaidya_shared::sync::LocalAccess;

use super::outbox::EntityKind;
use super::sql::{enum_at, json_at, opt_json_at, ts, ts_at, uuid_at};
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

    fn audit_action(self) -> AuditAction {
        match self {
            ReadAction::Read => AuditAction::Read,
            ReadAction::List => AuditAction::List,
            ReadAction::Print => AuditAction::Print,
            ReadAction::Discard => AuditAction::Discard,
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
    /// The reader, with their signature (absent: recorded before anyone was signing).
    pub author: Option<Authorship>,
}

impl LocalRead {
    /// The access as uploaded (and as signed: the same fields, so the same bytes).
    pub fn to_access(&self) -> LocalAccess {
        LocalAccess {
            access_id: self.read_id,
            action: self.action.audit_action(),
            entity: self.entity,
            entity_ids: self.entity_ids.clone(),
            patient_ids: self.patient_ids.clone(),
            at: self.at,
            author: self.author.clone(),
        }
    }
}

impl ClinicPartition {
    /// Records one access, signed by the current author. Called by every read of patient
    /// data in this module tree; a read whose record cannot be written fails, so no access
    /// goes unlogged.
    pub(crate) fn record_access(
        &self,
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
        let mut read = LocalRead {
            seq: 0,
            read_id: Uuid::now_v7(),
            action,
            entity,
            entity_ids: entity_ids.to_vec(),
            patient_ids: patients,
            // Stored with microseconds: what is signed is exactly what is stored.
            at: Utc::now().trunc_subsecs(6),
            author: None,
        };
        if let Some(signer) = &self.author {
            let mut access = read.to_access();
            signer.sign(self.clinic_id, &mut access);
            read.author = access.author;
        }
        self.conn.execute(
            "INSERT INTO local_reads (read_id, action, entity, entity_ids, patient_ids, at, author)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                read.read_id.to_string(),
                action.as_str(),
                entity.as_str(),
                super::sql::to_json(&read.entity_ids)?,
                super::sql::to_json(&read.patient_ids)?,
                ts(&read.at),
                read.author.as_ref().map(super::sql::to_json).transpose()?,
            ],
        )?;
        Ok(())
    }

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
        let patient: Option<Uuid> = rusqlite::OptionalExtension::optional(self.conn.query_row(
            &format!("SELECT patient_id FROM {table} WHERE id = ?1"),
            [super::sql::id_blob(&id)],
            |row| super::sql::uuid_at(row, 0),
        ))?;
        let patient = patient.ok_or(PartitionError::NotFound {
            entity: entity.as_str(),
            id,
        })?;
        self.record_access(ReadAction::Print, entity, &[id], &[patient])?;
        Ok(())
    }

    /// The oldest recorded reads, up to `limit`, for upload.
    pub fn local_reads(&self, limit: i64) -> Result<Vec<LocalRead>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, read_id, action, entity, entity_ids, patient_ids, at, author
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
                author: opt_json_at(row, 7)?,
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
