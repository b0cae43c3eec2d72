//! Notes, addenda, prescriptions and allergies: one-line delegations to the client core's
//! `OpenClinic`, which authorizes with the permission table and validates with the shared rules.

use super::*;

impl Core {
    // -------------------------------------------------------------- clinical

    pub async fn save_encounter(&self, draft: EncounterDraft) -> Result<Encounter, UiError> {
        let new = NewEncounter {
            id: draft.id,
            patient_id: draft.patient_id,
            appointment_id: draft.appointment_id,
            chief_complaint: draft.chief_complaint,
            notes: draft.notes,
            diagnosis: draft.diagnosis,
            vitals: draft.vitals,
        };
        self.with_clinic(move |c| Ok(c.save_note(new)?)).await
    }

    /// Keeps what the clinician is typing for `patient_id` on this PC (the clinical store),
    /// so a crash, a restart or a sign-out loses nothing. Not a save: nothing is synced.
    pub async fn keep_note_draft(
        &self,
        patient_id: Uuid,
        data: serde_json::Value,
    ) -> Result<(), UiError> {
        self.read_partition(move |p, user, role| {
            rules::authorize(role, Resource::Encounter, Action::Create)?;
            Ok(p.keep_note_draft(user, patient_id, &data)?)
        })
        .await
    }

    /// What the clinician was typing for `patient_id`, if anything is kept.
    pub async fn note_draft(&self, patient_id: Uuid) -> Result<Option<KeptDraftView>, UiError> {
        self.read_partition(move |p, user, role| {
            rules::authorize(role, Resource::Encounter, Action::Create)?;
            Ok(p.note_draft(user, patient_id)?.map(|k| KeptDraftView {
                data: k.data,
                saved_at: k.saved_at,
            }))
        })
        .await
    }

    /// Forgets the kept note (saved, signed, or thrown away).
    pub async fn drop_note_draft(&self, patient_id: Uuid) -> Result<(), UiError> {
        self.read_partition(move |p, user, role| {
            rules::authorize(role, Resource::Encounter, Action::Create)?;
            Ok(p.drop_note_draft(user, patient_id)?)
        })
        .await
    }

    /// Signs a note as the signed-in doctor (offline too: the server signs it as the
    /// doctor who pushes the change).
    pub async fn sign_encounter(&self, id: Uuid) -> Result<Encounter, UiError> {
        self.with_clinic(move |c| Ok(c.sign_note(id)?)).await
    }

    pub async fn add_addendum(
        &self,
        encounter_id: Uuid,
        text: String,
    ) -> Result<Encounter, UiError> {
        self.with_clinic(move |c| Ok(c.add_addendum(encounter_id, text)?))
            .await
    }

    pub async fn issue_prescription(&self, new: NewPrescription) -> Result<Prescription, UiError> {
        self.with_clinic(move |c| Ok(c.issue_prescription(new)?))
            .await
    }

    /// The allergy warnings for the drugs on the pad so far (the pad asks for an
    /// acknowledgement of each before it issues).
    pub async fn prescription_warnings(
        &self,
        draft: NewPrescription,
    ) -> Result<Vec<vaidya_shared::rules::validation::AllergyWarning>, UiError> {
        self.read_partition(move |p, user, role| {
            Ok(OpenClinic::new(p, user, role).prescription_warnings(&draft)?)
        })
        .await
    }

    /// A patient's allergies (every role: the front desk's card shows a badge).
    pub async fn patient_allergies(
        &self,
        patient_id: Uuid,
    ) -> Result<Vec<vaidya_shared::api::Allergy>, UiError> {
        self.read_partition(move |p, user, role| {
            Ok(OpenClinic::new(p, user, role).allergies(patient_id)?)
        })
        .await
    }

    pub async fn record_allergy(
        &self,
        new: vaidya_shared::api::NewAllergy,
    ) -> Result<vaidya_shared::api::Allergy, UiError> {
        self.with_clinic(move |c| Ok(c.record_allergy(new)?)).await
    }

    pub async fn update_allergy(
        &self,
        id: Uuid,
        patch: vaidya_shared::api::AllergyPatch,
    ) -> Result<vaidya_shared::api::Allergy, UiError> {
        self.with_clinic(move |c| Ok(c.update_allergy(id, patch)?))
            .await
    }
}

/// A note or a form being typed, as kept on this PC: the screen's own fields and when they
/// were kept.
#[derive(Debug, Clone, Serialize)]
pub struct KeptDraftView {
    pub data: serde_json::Value,
    pub saved_at: DateTime<Utc>,
}
