//! Cached encounter notes and their addenda.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vaidya_shared::api::{Addendum, Encounter};

use super::cache::{Cached, CachedRow};
use super::local_reads::ReadAction;
use super::outbox::EntityKind;
use super::sql::{id_blob, json_at, micros, opt_ts_at, opt_uuid_at, to_json, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};
use vaidya_shared::entity::kinds;

const COLUMNS: &str =
    "id, vaidya_clinic_id(), patient_id, doctor_id, appointment_id, chief_complaint, \
                       notes, diagnosis, vitals, signed_at, signed_by, version, created_at, \
                       updated_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Encounter> {
    Ok(Encounter {
        id: uuid_at(row, 0)?,
        clinic_id: uuid_at(row, 1)?,
        patient_id: uuid_at(row, 2)?,
        doctor_id: uuid_at(row, 3)?,
        appointment_id: opt_uuid_at(row, 4)?,
        chief_complaint: row.get(5)?,
        notes: row.get(6)?,
        diagnosis: row.get(7)?,
        vitals: json_at(row, 8)?,
        signed_at: opt_ts_at(row, 9)?,
        signed_by: opt_uuid_at(row, 10)?,
        addenda: Vec::new(),
        version: row.get(11)?,
        created_at: ts_at(row, 12)?,
        updated_at: ts_at(row, 13)?,
    })
}

/// Writes the encounter and replaces its addenda with the ones it carries.
pub(crate) fn upsert(conn: &Connection, e: &Encounter) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO encounters (id, patient_id, doctor_id, appointment_id,
                                 chief_complaint, notes, diagnosis, vitals, signed_at, signed_by,
                                 version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO UPDATE SET
             patient_id = excluded.patient_id,
             doctor_id = excluded.doctor_id, appointment_id = excluded.appointment_id,
             chief_complaint = excluded.chief_complaint, notes = excluded.notes,
             diagnosis = excluded.diagnosis, vitals = excluded.vitals,
             signed_at = excluded.signed_at, signed_by = excluded.signed_by,
             version = excluded.version, created_at = excluded.created_at,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        id_blob(&e.id),
        id_blob(&e.patient_id),
        id_blob(&e.doctor_id),
        e.appointment_id.as_ref().map(id_blob),
        e.chief_complaint,
        e.notes,
        e.diagnosis,
        to_json(&e.vitals)?,
        e.signed_at.as_ref().map(micros),
        e.signed_by.as_ref().map(id_blob),
        e.version,
        micros(&e.created_at),
        micros(&e.updated_at),
    ])?;
    conn.prepare_cached("DELETE FROM encounter_addenda WHERE encounter_id = ?1")?
        .execute([id_blob(&e.id)])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO encounter_addenda (id, encounter_id, author_id, text, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for a in &e.addenda {
        insert.execute(params![
            id_blob(&a.id),
            id_blob(&e.id),
            id_blob(&a.author_id),
            a.text,
            micros(&a.created_at),
        ])?;
    }
    Ok(())
}

fn load_addenda(conn: &Connection, encounter: &mut Encounter) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, encounter_id, author_id, text, created_at FROM encounter_addenda
         WHERE encounter_id = ?1 ORDER BY created_at, id",
    )?;
    encounter.addenda = stmt
        .query_map([id_blob(&encounter.id)], |row| {
            Ok(Addendum {
                id: uuid_at(row, 0)?,
                encounter_id: uuid_at(row, 1)?,
                author_id: uuid_at(row, 2)?,
                text: row.get(3)?,
                created_at: ts_at(row, 4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

impl ClinicPartition {
    pub fn get_encounter(&self, id: Uuid) -> Result<Option<Encounter>, PartitionError> {
        self.read::<kinds::Encounter>(id)
    }

    /// A patient's encounters, latest first, with their addenda.
    pub fn encounters_for_patient(
        &self,
        patient_id: Uuid,
    ) -> Result<Vec<Encounter>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM encounters WHERE patient_id = ?1 ORDER BY created_at DESC, id"
        ))?;
        let mut encounters: Vec<Encounter> = stmt
            .query_map([id_blob(&patient_id)], from_row)?
            .collect::<Result<_, _>>()?;
        for e in &mut encounters {
            load_addenda(&self.conn, e)?;
        }
        let ids: Vec<Uuid> = encounters.iter().map(|e| e.id).collect();
        self.record_access(ReadAction::List, EntityKind::Encounter, &ids, &[patient_id])?;
        Ok(encounters)
    }
}

impl CachedRow for Encounter {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert(conn, self)
    }
}

impl Cached for kinds::Encounter {
    /// The cached note without recording a read: for edits of a note the user has open.
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Encounter>, PartitionError> {
        let mut encounter = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM encounters WHERE id = ?1"),
                [id_blob(&id)],
                from_row,
            )
            .optional()?;
        if let Some(e) = encounter.as_mut() {
            load_addenda(conn, e)?;
        }
        Ok(encounter)
    }
}

/// An addendum travels inside its encounter: cached and read back as the encounter.
impl Cached for kinds::Addendum {
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Encounter>, PartitionError> {
        kinds::Encounter::peek(conn, id)
    }
}
