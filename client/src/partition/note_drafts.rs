//! Notes being typed, kept on the PC as the clinician types (never lost to a crash, a power
//! cut, a tab switch, a restart or a sign-out): one per clinician and patient, in the
//! clinical store (clinical text never lies in the clinic file), until the note is saved or
//! signed. Opaque to the core: the screen's own fields as JSON, checked only for size.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use uuid::Uuid;

use super::sql::{now, ts_at};
use super::{ClinicPartition, PartitionError};

/// The largest kept note, in characters of JSON (the notes field's own limit and the
/// others', with room for the form's shape).
pub const MAX_KEPT_NOTE_CHARS: usize = 200_000;

/// The store's table of kept notes (store version 3).
pub(crate) const NOTE_DRAFTS_SQL: &str = r#"
CREATE TABLE clinical.note_drafts (
    user_id    TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    data       TEXT NOT NULL CHECK (json_valid(data)),
    saved_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, patient_id)
);
"#;

/// A note being typed, as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptNote {
    pub data: Value,
    pub saved_at: DateTime<Utc>,
}

impl ClinicPartition {
    /// Keeps (replacing) what `user` is typing for `patient`. Needs the clinical store.
    pub fn keep_note_draft(
        &mut self,
        user: Uuid,
        patient: Uuid,
        data: &Value,
    ) -> Result<(), PartitionError> {
        self.require_clinical_store()?;
        let text = data.to_string();
        if !data.is_object() || text.chars().count() > MAX_KEPT_NOTE_CHARS {
            return Err(PartitionError::InvalidValue {
                field: "draft".into(),
                message: format!(
                    "A note kept on this PC is an object of at most {MAX_KEPT_NOTE_CHARS} characters."
                ),
            });
        }
        self.conn
            .prepare_cached(
                "INSERT INTO clinical.note_drafts (user_id, patient_id, data, saved_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, patient_id) DO UPDATE
                 SET data = excluded.data, saved_at = excluded.saved_at",
            )?
            .execute(params![user.to_string(), patient.to_string(), text, now()])?;
        Ok(())
    }

    /// What `user` was typing for `patient`, if anything is kept.
    pub fn note_draft(
        &self,
        user: Uuid,
        patient: Uuid,
    ) -> Result<Option<KeptNote>, PartitionError> {
        self.require_clinical_store()?;
        let row = self
            .conn
            .prepare_cached(
                "SELECT data, saved_at FROM clinical.note_drafts WHERE user_id = ?1 AND patient_id = ?2",
            )?
            .query_row(params![user.to_string(), patient.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, ts_at(r, 1)?))
            })
            .optional()?;
        row.map(|(data, saved_at)| {
            Ok(KeptNote {
                data: serde_json::from_str(&data)
                    .map_err(|e| PartitionError::InvalidRow(format!("note_drafts: {e}")))?,
                saved_at,
            })
        })
        .transpose()
    }

    /// Forgets what `user` was typing for `patient` (the note was saved or signed, or they
    /// threw it away).
    pub fn drop_note_draft(&mut self, user: Uuid, patient: Uuid) -> Result<(), PartitionError> {
        self.require_clinical_store()?;
        self.conn
            .prepare_cached(
                "DELETE FROM clinical.note_drafts WHERE user_id = ?1 AND patient_id = ?2",
            )?
            .execute(params![user.to_string(), patient.to_string()])?;
        Ok(())
    }

    fn require_clinical_store(&self) -> Result<(), PartitionError> {
        if self.clinical_store_open() {
            Ok(())
        } else {
            Err(PartitionError::ClinicalLocked)
        }
    }
}
