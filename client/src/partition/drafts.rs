//! Work being typed, kept on the PC as it is typed, so a crash, a power cut, a tab switch, a
//! restart or a sign-out loses none of it, until it is saved or thrown away:
//! - notes, one per clinician and patient, in the clinical store (clinical text never lies
//!   in the clinic file);
//! - forms (a new patient, a patient's edit, a bill), one per member and form, in the clinic
//!   file, encrypted like the records they will become.
//!
//! Opaque to the core: the screen's own fields as JSON, checked only for shape and size.
//! Each member sees only their own; forgetting a member on the PC removes theirs.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use uuid::Uuid;

use super::sql::{now, ts_at};
use super::{ClinicPartition, PartitionError};

/// The largest kept note, in characters of JSON (the notes field's own limit and the
/// others', with room for the form's shape).
pub const MAX_KEPT_NOTE_CHARS: usize = 200_000;

/// The largest kept form, in characters of JSON (a bill of many lines).
pub const MAX_KEPT_FORM_CHARS: usize = 100_000;

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

/// Work being typed, as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptDraft {
    pub data: Value,
    pub saved_at: DateTime<Utc>,
}

/// The two kinds of kept work: where each lives, what it is keyed by, how large it may be.
#[derive(Debug, Clone, Copy)]
enum Kept {
    Note,
    Form,
}

impl Kept {
    fn table(self) -> &'static str {
        match self {
            Kept::Note => "clinical.note_drafts",
            Kept::Form => "main.form_drafts",
        }
    }

    fn key_column(self) -> &'static str {
        match self {
            Kept::Note => "patient_id",
            Kept::Form => "form",
        }
    }

    fn max_chars(self) -> usize {
        match self {
            Kept::Note => MAX_KEPT_NOTE_CHARS,
            Kept::Form => MAX_KEPT_FORM_CHARS,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kept::Note => "A note",
            Kept::Form => "A form",
        }
    }
}

/// A form's name: `patient:new`, `patient:<id>` (an edit) or `invoice:<patient id>` (a bill).
fn check_form(form: &str) -> Result<(), PartitionError> {
    let known = match form.split_once(':') {
        Some(("patient", "new")) => true,
        Some(("patient" | "invoice", id)) => Uuid::parse_str(id).is_ok(),
        _ => false,
    };
    if known {
        Ok(())
    } else {
        Err(PartitionError::InvalidValue {
            field: "form".into(),
            message: "A kept form is patient:new, patient:<id> or invoice:<patient id>.".into(),
        })
    }
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
        self.keep(Kept::Note, user, &patient.to_string(), data)
    }

    /// What `user` was typing for `patient`, if anything is kept.
    pub fn note_draft(
        &self,
        user: Uuid,
        patient: Uuid,
    ) -> Result<Option<KeptDraft>, PartitionError> {
        self.require_clinical_store()?;
        self.kept(Kept::Note, user, &patient.to_string())
    }

    /// Forgets what `user` was typing for `patient` (the note was saved or signed, or they
    /// threw it away).
    pub fn drop_note_draft(&mut self, user: Uuid, patient: Uuid) -> Result<(), PartitionError> {
        self.require_clinical_store()?;
        self.drop_kept(Kept::Note, user, &patient.to_string())
    }

    /// Keeps (replacing) what `user` is typing in `form` (see [`check_form`]).
    pub fn keep_form_draft(
        &mut self,
        user: Uuid,
        form: &str,
        data: &Value,
    ) -> Result<(), PartitionError> {
        check_form(form)?;
        self.keep(Kept::Form, user, form, data)
    }

    /// What `user` was typing in `form`, if anything is kept.
    pub fn form_draft(&self, user: Uuid, form: &str) -> Result<Option<KeptDraft>, PartitionError> {
        check_form(form)?;
        self.kept(Kept::Form, user, form)
    }

    /// Forgets what `user` was typing in `form` (saved, or thrown away).
    pub fn drop_form_draft(&mut self, user: Uuid, form: &str) -> Result<(), PartitionError> {
        check_form(form)?;
        self.drop_kept(Kept::Form, user, form)
    }

    fn keep(
        &mut self,
        kind: Kept,
        user: Uuid,
        key: &str,
        data: &Value,
    ) -> Result<(), PartitionError> {
        let text = data.to_string();
        if !data.is_object() || text.chars().count() > kind.max_chars() {
            return Err(PartitionError::InvalidValue {
                field: "draft".into(),
                message: format!(
                    "{} kept on this PC is an object of at most {} characters.",
                    kind.noun(),
                    kind.max_chars()
                ),
            });
        }
        let (table, column) = (kind.table(), kind.key_column());
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO {table} (user_id, {column}, data, saved_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, {column}) DO UPDATE
                 SET data = excluded.data, saved_at = excluded.saved_at"
            ))?
            .execute(params![user.to_string(), key, text, now()])?;
        Ok(())
    }

    fn kept(&self, kind: Kept, user: Uuid, key: &str) -> Result<Option<KeptDraft>, PartitionError> {
        let (table, column) = (kind.table(), kind.key_column());
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT data, saved_at FROM {table} WHERE user_id = ?1 AND {column} = ?2"
            ))?
            .query_row(params![user.to_string(), key], |r| {
                Ok((r.get::<_, String>(0)?, ts_at(r, 1)?))
            })
            .optional()?;
        row.map(|(data, saved_at)| {
            Ok(KeptDraft {
                data: serde_json::from_str(&data)
                    .map_err(|e| PartitionError::InvalidRow(format!("{table}: {e}")))?,
                saved_at,
            })
        })
        .transpose()
    }

    fn drop_kept(&mut self, kind: Kept, user: Uuid, key: &str) -> Result<(), PartitionError> {
        let (table, column) = (kind.table(), kind.key_column());
        self.conn
            .prepare_cached(&format!(
                "DELETE FROM {table} WHERE user_id = ?1 AND {column} = ?2"
            ))?
            .execute(params![user.to_string(), key])?;
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
