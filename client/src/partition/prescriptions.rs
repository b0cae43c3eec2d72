//! Cached prescriptions and their items (issued prescriptions are immutable on the server;
//! the cache simply mirrors what it is given).

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vaidya_shared::api::{Prescription, PrescriptionItem};

use super::cache::{Cached, CachedRow};
use super::local_reads::ReadAction;
use super::outbox::EntityKind;
use super::sql::{id_blob, json_at, micros, opt_uuid_at, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};
use vaidya_shared::entity::kinds;

const COLUMNS: &str =
    "id, vaidya_clinic_id(), patient_id, doctor_id, encounter_id, notes, issued_at, \
                       version, acknowledged_allergies";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Prescription> {
    Ok(Prescription {
        id: uuid_at(row, 0)?,
        clinic_id: uuid_at(row, 1)?,
        patient_id: uuid_at(row, 2)?,
        doctor_id: uuid_at(row, 3)?,
        encounter_id: opt_uuid_at(row, 4)?,
        notes: row.get(5)?,
        items: Vec::new(),
        acknowledged_allergies: json_at(row, 8)?,
        issued_at: ts_at(row, 6)?,
        version: row.get(7)?,
    })
}

/// Writes the prescription and replaces its items with the ones it carries.
pub(crate) fn upsert(conn: &Connection, p: &Prescription) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO prescriptions (id, patient_id, doctor_id, encounter_id, notes,
                                    issued_at, version, acknowledged_allergies)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET
             patient_id = excluded.patient_id,
             doctor_id = excluded.doctor_id, encounter_id = excluded.encounter_id,
             notes = excluded.notes, issued_at = excluded.issued_at, version = excluded.version,
             acknowledged_allergies = excluded.acknowledged_allergies",
    )?
    .execute(params![
        id_blob(&p.id),
        id_blob(&p.patient_id),
        id_blob(&p.doctor_id),
        p.encounter_id.as_ref().map(id_blob),
        p.notes,
        micros(&p.issued_at),
        p.version,
        serde_json::to_string(&p.acknowledged_allergies).unwrap_or_else(|_| "[]".to_owned()),
    ])?;
    conn.prepare_cached("DELETE FROM prescription_items WHERE prescription_id = ?1")?
        .execute([id_blob(&p.id)])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO prescription_items (id, prescription_id, position, drug, strength, dose,
                                         frequency, duration, instructions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for item in &p.items {
        insert.execute(params![
            id_blob(&item.id),
            id_blob(&p.id),
            item.position,
            item.drug,
            item.strength,
            item.dose,
            item.frequency,
            item.duration,
            item.instructions,
        ])?;
    }
    Ok(())
}

fn load_items(conn: &Connection, prescription: &mut Prescription) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, position, drug, strength, dose, frequency, duration, instructions
         FROM prescription_items WHERE prescription_id = ?1 ORDER BY position, id",
    )?;
    prescription.items = stmt
        .query_map([id_blob(&prescription.id)], |row| {
            Ok(PrescriptionItem {
                id: uuid_at(row, 0)?,
                position: row.get(1)?,
                drug: row.get(2)?,
                strength: row.get(3)?,
                dose: row.get(4)?,
                frequency: row.get(5)?,
                duration: row.get(6)?,
                instructions: row.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

impl ClinicPartition {
    pub fn get_prescription(&self, id: Uuid) -> Result<Option<Prescription>, PartitionError> {
        self.read::<kinds::Prescription>(id)
    }

    /// A patient's prescriptions, latest first, with their items.
    pub fn prescriptions_for_patient(
        &self,
        patient_id: Uuid,
    ) -> Result<Vec<Prescription>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM prescriptions WHERE patient_id = ?1 ORDER BY issued_at DESC, id"
        ))?;
        let mut prescriptions: Vec<Prescription> = stmt
            .query_map([id_blob(&patient_id)], from_row)?
            .collect::<Result<_, _>>()?;
        for p in &mut prescriptions {
            load_items(&self.conn, p)?;
        }
        let ids: Vec<Uuid> = prescriptions.iter().map(|p| p.id).collect();
        self.record_access(
            ReadAction::List,
            EntityKind::Prescription,
            &ids,
            &[patient_id],
        )?;
        Ok(prescriptions)
    }
}

impl CachedRow for Prescription {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert(conn, self)
    }
}

impl Cached for kinds::Prescription {
    /// The cached row without recording a read: for changes to a prescription on screen.
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Prescription>, PartitionError> {
        let mut prescription = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM prescriptions WHERE id = ?1"),
                [id_blob(&id)],
                from_row,
            )
            .optional()?;
        if let Some(p) = prescription.as_mut() {
            load_items(conn, p)?;
        }
        Ok(prescription)
    }
}
