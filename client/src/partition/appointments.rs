//! Cached appointments: the day's queue and a patient's visits, read from the local cache.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;
use vaidya_shared::api::{Appointment, AppointmentStatus};

use super::cache::{Cached, CachedRow};
use super::local_reads::ReadAction;
use super::outbox::EntityKind;
use super::sql::{enum_at, id_blob, micros, ts_at, uuid_at};
use super::{ClinicPartition, PartitionError};
use vaidya_shared::entity::kinds;

const COLUMNS: &str =
    "id, vaidya_clinic_id(), patient_id, doctor_id, starts_at, ends_at, status, reason, \
                       version, created_at, updated_at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Appointment> {
    Ok(Appointment {
        id: uuid_at(row, 0)?,
        clinic_id: uuid_at(row, 1)?,
        patient_id: uuid_at(row, 2)?,
        doctor_id: uuid_at(row, 3)?,
        starts_at: ts_at(row, 4)?,
        ends_at: ts_at(row, 5)?,
        status: enum_at(row, 6, AppointmentStatus::parse)?,
        reason: row.get(7)?,
        version: row.get(8)?,
        created_at: ts_at(row, 9)?,
        updated_at: ts_at(row, 10)?,
    })
}

pub(crate) fn upsert(conn: &Connection, a: &Appointment) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO appointments (id, patient_id, doctor_id, starts_at, ends_at,
                                   status, reason, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET
             patient_id = excluded.patient_id,
             doctor_id = excluded.doctor_id, starts_at = excluded.starts_at,
             ends_at = excluded.ends_at, status = excluded.status, reason = excluded.reason,
             version = excluded.version, created_at = excluded.created_at,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        id_blob(&a.id),
        id_blob(&a.patient_id),
        id_blob(&a.doctor_id),
        micros(&a.starts_at),
        micros(&a.ends_at),
        a.status.as_str(),
        a.reason,
        a.version,
        micros(&a.created_at),
        micros(&a.updated_at),
    ])?;
    Ok(())
}

/// Appointments in a range of times, optionally one doctor's. Found by time and filtered by
/// doctor: a day holds a few hundred, so the file keeps no index by doctor (schema 26).
fn between_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM appointments
         WHERE starts_at >= ?1 AND starts_at < ?2 AND (?3 IS NULL OR doctor_id = ?3)
         ORDER BY starts_at, id"
    )
}

impl ClinicPartition {
    /// Every cached appointment by id (exports and sync checks), recorded as a list read.
    pub fn all_appointments(&self) -> Result<Vec<Appointment>, PartitionError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM appointments ORDER BY id"))?;
        let appointments: Vec<Appointment> =
            stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
        self.record_list(&appointments)?;
        Ok(appointments)
    }

    pub fn get_appointment(&self, id: Uuid) -> Result<Option<Appointment>, PartitionError> {
        self.read::<kinds::Appointment>(id)
    }

    /// Appointments starting in `[from, to)`, earliest first; optionally one doctor's only.
    pub fn appointments_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        doctor_id: Option<Uuid>,
    ) -> Result<Vec<Appointment>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&between_sql())?;
        let appointments: Vec<Appointment> = stmt
            .query_map(
                params![micros(&from), micros(&to), doctor_id.as_ref().map(id_blob)],
                from_row,
            )?
            .collect::<Result<_, _>>()?;
        self.record_list(&appointments)?;
        Ok(appointments)
    }

    /// One patient's appointments, latest first.
    pub fn appointments_for_patient(
        &self,
        patient_id: Uuid,
    ) -> Result<Vec<Appointment>, PartitionError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM appointments WHERE patient_id = ?1
             ORDER BY starts_at DESC, id"
        ))?;
        let appointments: Vec<Appointment> = stmt
            .query_map([id_blob(&patient_id)], from_row)?
            .collect::<Result<_, _>>()?;
        self.record_list(&appointments)?;
        Ok(appointments)
    }

    fn record_list(&self, appointments: &[Appointment]) -> Result<(), PartitionError> {
        let ids: Vec<Uuid> = appointments.iter().map(|a| a.id).collect();
        let patients: Vec<Uuid> = appointments.iter().map(|a| a.patient_id).collect();
        self.record_access(ReadAction::List, EntityKind::Appointment, &ids, &patients)?;
        Ok(())
    }
}

impl CachedRow for Appointment {
    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        upsert(conn, self)
    }
}

impl Cached for kinds::Appointment {
    /// The cached row without recording a read: for edits of a row the user has open.
    fn peek(conn: &Connection, id: Uuid) -> Result<Option<Appointment>, PartitionError> {
        Ok(conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM appointments WHERE id = ?1"),
                [id_blob(&id)],
                from_row,
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The day's list, a doctor's included, is read through the index by time.
    #[test]
    fn a_days_appointments_are_found_by_time() {
        let conn = super::super::schema::migrated_test_db();
        let plan = super::super::schema::query_plan(&conn, &between_sql());
        assert!(plan.contains("USING INDEX appointments_starts"), "{plan}");
    }
}
