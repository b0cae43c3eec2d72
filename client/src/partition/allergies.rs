//! Cached allergies: one home for the entity on the device — its rows, reads (audited like
//! every read of patient data) and offline edits. Every member reads them; clinicians
//! write them (checked by `OpenClinic` against the shared permission table).

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vaidya_shared::api::{Allergy, AllergyPatch, AllergySeverity, AllergyStatus, NewAllergy};
use vaidya_shared::rules::Valid;
use vaidya_shared::sync::Operation;

use super::cache::{Cached, CachedRow};
use super::edits::{field_changes, stored_now, to_object};
use super::local_reads::ReadAction;
use super::outbox::{new_mutation, EntityKind};
use super::sql::{enum_at, id_blob, micros, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};
use vaidya_shared::entity::kinds;

const COLUMNS: &str = "id, vaidya_clinic_id(), patient_id, substance, reaction, severity, status, \
                       noted_by, version, created_at, updated_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Allergy> {
    Ok(Allergy {
        id: uuid_at(row, 0)?,
        clinic_id: uuid_at(row, 1)?,
        patient_id: uuid_at(row, 2)?,
        substance: row.get(3)?,
        reaction: row.get(4)?,
        severity: enum_at(row, 5, AllergySeverity::parse)?,
        status: enum_at(row, 6, AllergyStatus::parse)?,
        noted_by: uuid_at(row, 7)?,
        version: row.get(8)?,
        created_at: ts_at(row, 9)?,
        updated_at: ts_at(row, 10)?,
    })
}

pub(crate) fn upsert(conn: &Connection, a: &Allergy) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO allergies (id, patient_id, substance, reaction, severity, status,
                                noted_by, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET
             patient_id = excluded.patient_id,
             substance = excluded.substance, reaction = excluded.reaction,
             severity = excluded.severity, status = excluded.status,
             noted_by = excluded.noted_by, version = excluded.version,
             created_at = excluded.created_at, updated_at = excluded.updated_at",
    )?
    .execute(params![
        id_blob(&a.id),
        id_blob(&a.patient_id),
        a.substance,
        a.reaction,
        a.severity.as_str(),
        a.status.as_str(),
        id_blob(&a.noted_by),
        a.version,
        micros(&a.created_at),
        micros(&a.updated_at),
    ])?;
    Ok(())
}

impl ClinicPartition {
    /// A patient's allergies, active first, then as noted. Recorded as a list read.
    pub fn allergies_for_patient(&self, patient_id: Uuid) -> Result<Vec<Allergy>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM allergies WHERE patient_id = ?1
             ORDER BY status = 'inactive', created_at, id"
        ))?;
        let allergies: Vec<Allergy> = stmt
            .query_map([id_blob(&patient_id)], from_row)?
            .collect::<Result<_, _>>()?;
        let ids: Vec<Uuid> = allergies.iter().map(|a| a.id).collect();
        self.record_access(ReadAction::List, EntityKind::Allergy, &ids, &[patient_id])?;
        Ok(allergies)
    }

    /// Notes an allergy offline, by `noted_by` (the signed-in clinician).
    pub fn create_allergy(
        &mut self,
        new: Valid<NewAllergy>,
        noted_by: Uuid,
    ) -> Result<Allergy, PartitionError> {
        let new = new.into_inner();
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let now = stored_now();
        let allergy = Allergy {
            id,
            clinic_id: self.clinic_id,
            patient_id: new.patient_id,
            substance: new.substance.clone(),
            reaction: new.reaction.clone(),
            severity: new.severity,
            status: AllergyStatus::Active,
            noted_by,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let mut m = new_mutation(EntityKind::Allergy, id, Operation::Create, None);
        m.data = Some(serde_json::Value::Object(to_object(&NewAllergy {
            id: Some(id),
            ..new
        })?));
        self.commit_local(Some(&allergy), None, &m)?;
        Ok(allergy)
    }

    /// Changes what is known of an allergy offline (or marks it inactive).
    pub fn update_allergy(
        &mut self,
        id: Uuid,
        patch: Valid<AllergyPatch>,
    ) -> Result<Allergy, PartitionError> {
        let patch = patch.into_inner();
        let before = self
            .peek::<kinds::Allergy>(id)?
            .ok_or(PartitionError::NotFound {
                entity: "allergy",
                id,
            })?;
        let mut after = before.clone();
        if let Some(v) = patch.substance {
            after.substance = v;
        }
        if let Some(v) = patch.reaction {
            after.reaction = v;
        }
        if let Some(v) = patch.severity {
            after.severity = v;
        }
        if let Some(v) = patch.status {
            after.status = v;
        }
        let changes = field_changes::<kinds::Allergy>(&before, &after)?;
        if changes.is_empty() {
            return Ok(before);
        }
        after.updated_at = stored_now();
        let mut m = new_mutation(
            EntityKind::Allergy,
            id,
            Operation::Update,
            Some(before.version),
        );
        m.changes = changes;
        self.commit_local(Some(&after), None, &m)?;
        Ok(after)
    }
}

impl CachedRow for Allergy {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert(conn, self)
    }
}

impl Cached for kinds::Allergy {
    /// The cached row without recording a read: for edits of a row the user has open.
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Allergy>, PartitionError> {
        Ok(conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM allergies WHERE id = ?1"),
                [id_blob(&id)],
                from_row,
            )
            .optional()?)
    }
}
