//! The clinic's operations as one signed-in member does them on this device: register a
//! patient, book, write and sign a note, prescribe, bill. Each operation checks the shared
//! rules (`vaidya_shared::rules`: permission table, then validation, then the rules that
//! depend on the record's current state) before it writes the row and its outbox entry, so
//! what the device accepts, the server accepts. The desktop shell, the `vaidya` CLI and the
//! tests all go through this API.

use chrono::{NaiveDate, Utc};
use uuid::Uuid;
use vaidya_shared::api::{
    Allergy, AllergyPatch, Appointment, AppointmentPatch, CancelInvoice, CatalogueItem,
    CatalogueItemPatch, Encounter, EncounterPatch, Invoice, InvoiceSupplier, NewAddendum,
    NewAllergy, NewAppointment, NewCatalogueItem, NewCreditNote, NewEncounter, NewInvoice,
    NewPatient, NewPayment, NewPrescription, Patient, PatientPatch, Prescription, Role,
};
use vaidya_shared::authorship::DeviceSigner;
use vaidya_shared::gst;
use vaidya_shared::rules::validation::{
    addendum_allowed, allergies_acknowledged, allergy_warnings, appointment_change,
    credit_note_lines, invalid, invoice_cancellable, invoice_doctor_fits, note_editable,
    note_signable, payment_fits, AllergyWarning,
};
use vaidya_shared::rules::{authorize, may, Action, Resource, Validate};
use vaidya_shared::ApiError;

use crate::partition::{
    ClinicPartition, DiscardOutcome, OutboxEntry, PartitionError, UnsentChange, VoidedInvoiceNumber,
};
use vaidya_shared::sync::Resolution;

/// Why an operation did not happen: a rule refused it (the same code, field and words the
/// server would give), or the local store failed.
#[derive(Debug, thiserror::Error)]
pub enum ClinicError {
    #[error("{}", .0.message)]
    Refused(ApiError),
    #[error(transparent)]
    Store(#[from] PartitionError),
}

impl From<ApiError> for ClinicError {
    fn from(e: ApiError) -> Self {
        ClinicError::Refused(e)
    }
}

/// A patient's records as this member's role may see them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PatientChart {
    pub patient: Patient,
    /// Every member sees allergies (a safety fact); active ones first.
    pub allergies: Vec<Allergy>,
    pub appointments: Vec<Appointment>,
    /// Empty for roles that may not read clinical notes (front desk, admin).
    pub encounters: Vec<Encounter>,
    pub prescriptions: Vec<Prescription>,
    /// Empty for roles that may not see billing (nurses).
    pub invoices: Vec<Invoice>,
}

/// One member acting on one clinic's partition.
pub struct OpenClinic<'a> {
    partition: &'a mut ClinicPartition,
    user: Uuid,
    role: Role,
    today: NaiveDate,
}

fn not_found(entity: &'static str, id: Uuid) -> ClinicError {
    ClinicError::Store(PartitionError::NotFound { entity, id })
}

impl<'a> OpenClinic<'a> {
    /// The clinic as `user` with `role`. Changes are signed with the partition's author key
    /// when that key is `user`'s (see [`ClinicPartition::set_author`] and
    /// [`OpenClinic::signed`]); never with another user's: otherwise they go unsigned, and
    /// the pushing user vouches for them.
    pub fn new(partition: &'a mut ClinicPartition, user: Uuid, role: Role) -> OpenClinic<'a> {
        partition.keep_author_only_for(user);
        OpenClinic {
            partition,
            user,
            role,
            today: Utc::now().date_naive(),
        }
    }

    /// The clinic as the member whose device key `signer` is: every change is signed, so
    /// whoever's session later syncs it, the server applies it as this member's.
    pub fn signed(
        partition: &'a mut ClinicPartition,
        signer: &DeviceSigner,
        role: Role,
    ) -> OpenClinic<'a> {
        let user = signer.user_id;
        let clinic = OpenClinic::new(partition, user, role);
        clinic.partition.set_author(Some(signer.clone()));
        clinic
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn may(&self, resource: Resource, action: Action) -> bool {
        may(self.role, resource, action)
    }

    fn allow(&self, resource: Resource, action: Action) -> Result<(), ClinicError> {
        Ok(authorize(self.role, resource, action)?)
    }

    // ------------------------------------------------------------ patients

    pub fn register_patient(&mut self, new: NewPatient) -> Result<Patient, ClinicError> {
        self.allow(Resource::Patient, Action::Create)?;
        let new = new.validate(self.today)?;
        Ok(self.partition.create_patient(new)?)
    }

    /// Patients of the clinic on this PC who are probably the one about to be registered
    /// (`rules::duplicates`); the front desk decides (open the existing record, or register
    /// anyway: the server then raises a `duplicate_patient` conflict for a person to settle).
    pub fn likely_duplicates(
        &mut self,
        new: NewPatient,
    ) -> Result<Vec<vaidya_shared::rules::duplicates::LikelyDuplicate>, ClinicError> {
        self.allow(Resource::Patient, Action::Read)?;
        let new = new.validate(self.today)?.into_inner();
        Ok(self.partition.likely_duplicates(&new)?)
    }

    pub fn update_patient(
        &mut self,
        id: Uuid,
        patch: PatientPatch,
    ) -> Result<Patient, ClinicError> {
        self.allow(Resource::Patient, Action::Update)?;
        let patch = patch.validate(self.today)?;
        Ok(self.partition.update_patient(id, patch)?)
    }

    /// Removes a patient (a tombstone on the server: deleted stays deleted). Admins only.
    pub fn delete_patient(&mut self, id: Uuid) -> Result<(), ClinicError> {
        self.allow(Resource::Patient, Action::Delete)?;
        Ok(self.partition.delete_patient(id)?)
    }

    pub fn patient_chart(&mut self, patient_id: Uuid) -> Result<PatientChart, ClinicError> {
        self.allow(Resource::Patient, Action::Read)?;
        let p = &mut *self.partition;
        let patient = p
            .get_patient(patient_id)?
            .ok_or_else(|| not_found("patient", patient_id))?;
        let clinical = may(self.role, Resource::Encounter, Action::Read);
        Ok(PatientChart {
            patient,
            allergies: if may(self.role, Resource::Allergy, Action::Read) {
                p.allergies_for_patient(patient_id)?
            } else {
                Vec::new()
            },
            appointments: p.appointments_for_patient(patient_id)?,
            encounters: if clinical {
                p.encounters_for_patient(patient_id)?
            } else {
                Vec::new()
            },
            prescriptions: if may(self.role, Resource::Prescription, Action::Read) {
                p.prescriptions_for_patient(patient_id)?
            } else {
                Vec::new()
            },
            invoices: if may(self.role, Resource::Invoice, Action::Read) {
                p.invoices_for_patient(patient_id)?
            } else {
                Vec::new()
            },
        })
    }

    // ------------------------------------------------------------ appointments

    pub fn book_appointment(&mut self, new: NewAppointment) -> Result<Appointment, ClinicError> {
        self.allow(Resource::Appointment, Action::Create)?;
        let new = new.validate(self.today)?;
        Ok(self.partition.create_appointment(new)?)
    }

    pub fn update_appointment(
        &mut self,
        id: Uuid,
        patch: AppointmentPatch,
    ) -> Result<Appointment, ClinicError> {
        self.allow(Resource::Appointment, Action::Update)?;
        let patch = patch.validate(self.today)?;
        let current = self
            .partition
            .get_appointment(id)?
            .ok_or_else(|| not_found("appointment", id))?;
        appointment_change(current.status, current.starts_at, current.ends_at, &patch)?;
        Ok(self.partition.update_appointment(id, patch)?)
    }

    /// Removes a booking made in error (a cancelled visit is a status change instead).
    pub fn delete_appointment(&mut self, id: Uuid) -> Result<(), ClinicError> {
        self.allow(Resource::Appointment, Action::Delete)?;
        Ok(self.partition.delete_appointment(id)?)
    }

    // ------------------------------------------------------------ clinical

    /// A new note, or changes to an unsigned one (a signed note never changes).
    pub fn save_note(&mut self, new: NewEncounter) -> Result<Encounter, ClinicError> {
        let existing = match new.id {
            Some(id) => self.partition.get_encounter(id)?,
            None => None,
        };
        match existing {
            None => {
                self.allow(Resource::Encounter, Action::Create)?;
                let new = new.validate(self.today)?;
                Ok(self.partition.create_encounter(new, self.user)?)
            }
            Some(existing) => {
                self.allow(Resource::Encounter, Action::Update)?;
                note_editable(existing.signed_at)?;
                let patch = EncounterPatch {
                    base_version: None,
                    chief_complaint: Some(new.chief_complaint),
                    notes: Some(new.notes),
                    diagnosis: Some(new.diagnosis),
                    vitals: Some(new.vitals),
                }
                .validate(self.today)?;
                Ok(self.partition.update_encounter(existing.id, patch)?)
            }
        }
    }

    /// Signs a note as this doctor; the server checks the same rules when it arrives.
    pub fn sign_note(&mut self, id: Uuid) -> Result<Encounter, ClinicError> {
        self.allow(Resource::Encounter, Action::Sign)?;
        let existing = self
            .partition
            .get_encounter(id)?
            .ok_or_else(|| not_found("encounter", id))?;
        note_signable(existing.signed_at)?;
        let patch = EncounterPatch::default().validate(self.today)?;
        Ok(self.partition.sign_encounter(id, patch, self.user)?)
    }

    pub fn add_addendum(
        &mut self,
        encounter_id: Uuid,
        text: String,
    ) -> Result<Encounter, ClinicError> {
        self.allow(Resource::Addendum, Action::Create)?;
        let addendum = NewAddendum { id: None, text }.validate(self.today)?;
        let existing = self
            .partition
            .get_encounter(encounter_id)?
            .ok_or_else(|| not_found("encounter", encounter_id))?;
        addendum_allowed(existing.signed_at)?;
        Ok(self
            .partition
            .add_addendum(encounter_id, addendum, self.user)?)
    }

    /// Issues a prescription. A drug that matches one of the patient's active allergies
    /// needs the doctor's acknowledgement of the warning (stored with the prescription).
    pub fn issue_prescription(
        &mut self,
        new: NewPrescription,
    ) -> Result<Prescription, ClinicError> {
        self.allow(Resource::Prescription, Action::Create)?;
        let new = new.validate(self.today)?;
        let allergies = self.partition.allergies_for_patient(new.patient_id)?;
        allergies_acknowledged(&new, &allergies)?;
        Ok(self.partition.create_prescription(new, self.user)?)
    }

    /// The allergy warnings the prescription pad shows for the drugs entered so far.
    pub fn prescription_warnings(
        &mut self,
        draft: &NewPrescription,
    ) -> Result<Vec<AllergyWarning>, ClinicError> {
        let allergies = self.partition.allergies_for_patient(draft.patient_id)?;
        Ok(allergy_warnings(draft, &allergies))
    }

    // ------------------------------------------------------------ allergies

    pub fn allergies(&mut self, patient_id: Uuid) -> Result<Vec<Allergy>, ClinicError> {
        self.allow(Resource::Allergy, Action::Read)?;
        Ok(self.partition.allergies_for_patient(patient_id)?)
    }

    pub fn record_allergy(&mut self, new: NewAllergy) -> Result<Allergy, ClinicError> {
        self.allow(Resource::Allergy, Action::Create)?;
        let new = new.validate(self.today)?;
        Ok(self.partition.create_allergy(new, self.user)?)
    }

    pub fn update_allergy(
        &mut self,
        id: Uuid,
        patch: AllergyPatch,
    ) -> Result<Allergy, ClinicError> {
        self.allow(Resource::Allergy, Action::Update)?;
        let patch = patch.validate(self.today)?;
        Ok(self.partition.update_allergy(id, patch)?)
    }

    // ------------------------------------------------------------ billing

    /// The clinic's catalogue (every member bills from it, offline too).
    pub fn catalogue(&self) -> Result<Vec<CatalogueItem>, ClinicError> {
        self.allow(Resource::CatalogueItem, Action::Read)?;
        Ok(self.partition.catalogue()?)
    }

    /// Adds an item to the catalogue (admins; checked as a bill's line, at today's rates).
    pub fn add_catalogue_item(
        &mut self,
        new: NewCatalogueItem,
    ) -> Result<CatalogueItem, ClinicError> {
        self.allow(Resource::CatalogueItem, Action::Create)?;
        let new = new.validate(self.today)?;
        Ok(self.partition.create_catalogue_item(new)?)
    }

    /// Renames, reprices, retires or offers again an item (admins).
    pub fn update_catalogue_item(
        &mut self,
        id: Uuid,
        patch: CatalogueItemPatch,
    ) -> Result<CatalogueItem, ClinicError> {
        self.allow(Resource::CatalogueItem, Action::Update)?;
        let patch = patch.validate(self.today)?;
        Ok(self.partition.update_catalogue_item(id, patch)?)
    }

    /// Issues an invoice from this device's own series. `supplier` is the clinic (from the
    /// server or its cached copy), printed on the invoice for good: the shared GST rules
    /// decide from its state and GSTIN the document, the place of supply and the rates
    /// allowed today. A refusal names the field, as the server's would.
    pub fn issue_invoice(
        &mut self,
        new: NewInvoice,
        supplier: &InvoiceSupplier,
    ) -> Result<Invoice, ClinicError> {
        self.allow(Resource::Invoice, Action::Create)?;
        let new = new.validate(self.today)?;
        if let Some(members) = self.partition.cached_members()? {
            invoice_doctor_fits(new.doctor_id, &members)?;
        }
        let inputs = new.line_inputs();
        gst::tax_invoice(
            supplier.gst(),
            new.place_of_supply.as_deref(),
            &inputs,
            Utc::now(),
        )
        .map_err(|r| invalid(r.field, r.message))?;
        Ok(self.partition.create_invoice(new, supplier)?)
    }

    pub fn take_payment(
        &mut self,
        invoice_id: Uuid,
        payment: NewPayment,
    ) -> Result<Invoice, ClinicError> {
        self.allow(Resource::Payment, Action::Create)?;
        let payment = payment.validate(self.today)?;
        let invoice = self
            .partition
            .get_invoice(invoice_id)?
            .ok_or_else(|| not_found("invoice", invoice_id))?;
        payment_fits(payment.amount_paise, &invoice)?;
        Ok(self.partition.add_payment(invoice_id, payment)?)
    }

    /// Cancels an issued invoice (kept and marked; its number stays used), once, with
    /// nothing paid on it: a refund comes first.
    /// Issues a credit note against an invoice (offline too): the shared rules decide what
    /// each line gives back, and the note is numbered in this PC's series of the year.
    pub fn issue_credit_note(
        &mut self,
        invoice_id: Uuid,
        note: NewCreditNote,
    ) -> Result<Invoice, ClinicError> {
        self.allow(Resource::CreditNote, Action::Create)?;
        let note = note.validate(self.today)?;
        if note.series.is_some() || note.number.is_some() {
            return Err(invalid("series", "This PC numbers its credit notes itself.").into());
        }
        let invoice = self
            .partition
            .get_invoice(invoice_id)?
            .ok_or_else(|| not_found("invoice", invoice_id))?;
        credit_note_lines(&invoice, &note, Utc::now())?;
        Ok(self.partition.create_credit_note(invoice_id, note)?)
    }

    pub fn cancel_invoice(
        &mut self,
        invoice_id: Uuid,
        cancel: CancelInvoice,
    ) -> Result<Invoice, ClinicError> {
        self.allow(Resource::Invoice, Action::Cancel)?;
        let cancel = cancel.validate(self.today)?;
        let invoice = self
            .partition
            .get_invoice(invoice_id)?
            .ok_or_else(|| not_found("invoice", invoice_id))?;
        invoice_cancellable(&invoice)?;
        Ok(self
            .partition
            .cancel_invoice(invoice_id, cancel, self.user)?)
    }

    // ------------------------------------------------------------ sync: conflicts and
    // rejected changes

    /// Decides an open conflict. `KeepServer` ("Mark resolved"): the server's value stays
    /// and the device's stays on record. `UseClient` ("Use this device's value"): the server
    /// applies the device's value of the one field through the same rules as an edit, so
    /// only a field conflict qualifies, and only for a member who may edit the record.
    /// Either way the decision is a change like any other: signed, queued, synced, audited.
    pub fn resolve_conflict(
        &mut self,
        id: Uuid,
        resolution: Resolution,
    ) -> Result<(), ClinicError> {
        self.allow(Resource::Conflict, Action::Update)?;
        let conflict = self
            .partition
            .open_conflicts()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| not_found("conflict", id))?;
        if resolution == Resolution::UseClient {
            if conflict.field.is_none() || conflict.local_value.is_none() {
                return Err(ApiError {
                    code: vaidya_shared::ErrorCode::InvalidState,
                    message: "This conflict has no single value to apply; edit the record instead."
                        .to_owned(),
                    field: None,
                }
                .into());
            }
            self.allow(Resource::from(conflict.entity), Action::Update)?;
        }
        self.partition.resolve_conflict_with(id, resolution)?;
        Ok(())
    }

    /// The changes the server rejected, as this member may see them: every change is
    /// listed, but a clinical one (a note, a prescription) shows its values and may be
    /// corrected only by a role that may read such records, as in the chart.
    pub fn unsent_changes(&mut self) -> Result<Vec<MemberUnsentChange>, ClinicError> {
        Ok(self
            .partition
            .rejected_changes()?
            .into_iter()
            .map(|mut change| {
                let may_change = may(self.role, Resource::from(change.entity), Action::Read);
                if !may_change {
                    change.editable.clear();
                }
                MemberUnsentChange { change, may_change }
            })
            .collect())
    }

    /// Device invoice numbers cancelled because their invoices were discarded.
    pub fn voided_invoice_numbers(&self) -> Result<Vec<VoidedInvoiceNumber>, ClinicError> {
        Ok(self.partition.voided_invoice_numbers()?)
    }

    /// Corrects a rejected change (through the shared rules) and queues it again.
    pub fn resend_change(
        &mut self,
        mutation_id: Uuid,
        corrections: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<OutboxEntry, ClinicError> {
        self.allow_unsent(mutation_id)?;
        Ok(self.partition.resend_change(mutation_id, corrections)?)
    }

    /// Discards a rejected change (audited as `discard` with the next push; a device
    /// invoice number it used is recorded as cancelled).
    pub fn discard_change(&mut self, mutation_id: Uuid) -> Result<DiscardOutcome, ClinicError> {
        self.allow_unsent(mutation_id)?;
        Ok(self.partition.discard_change(mutation_id)?)
    }

    /// Refuses a correction or discard of a change this member may not open.
    fn allow_unsent(&self, mutation_id: Uuid) -> Result<(), ClinicError> {
        match self.partition.rejected_entry(mutation_id)? {
            Some(entry) => self.allow(Resource::from(entry.mutation.entity), Action::Read),
            None => Err(not_found("rejected change", mutation_id)),
        }
    }
}

/// A rejected change as one member sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberUnsentChange {
    #[serde(flatten)]
    pub change: UnsentChange,
    /// False for a clinical change shown to a non-clinician: listed, not opened.
    pub may_change: bool,
}

/// A Maharashtra clinic with a well-formed GSTIN, for tests that issue invoices.
#[cfg(test)]
pub(crate) fn test_supplier() -> InvoiceSupplier {
    InvoiceSupplier {
        name: "Test Clinic".to_owned(),
        address: "Pune".to_owned(),
        gstin: Some("27AAPFA1234C1ZV".to_owned()),
        state_code: "27".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    //! Against a real SQLCipher partition file: a refused operation writes nothing.
    use vaidya_shared::api::{NewInvoiceLine, Sex, Vitals};
    use vaidya_shared::ErrorCode;

    use super::*;
    use crate::partition::{DataDir, PartitionKey};

    /// A clinic file as a clinician's session has it: with its clinical store.
    fn partition() -> (tempfile::TempDir, ClinicPartition) {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path().join("vaidya"));
        let mut p =
            ClinicPartition::open(&data_dir, Uuid::new_v4(), &PartitionKey::generate()).unwrap();
        p.open_clinical_store(&crate::partition::ClinicalKey::generate())
            .unwrap();
        (dir, p)
    }

    fn patient(name: &str) -> NewPatient {
        NewPatient {
            id: None,
            name: name.to_owned(),
            sex: Sex::Female,
            date_of_birth: None,
            phone: Some("98220 00001".to_owned()),
            address: None,
            abha_number: None,
        }
    }

    fn refused(e: ClinicError) -> ApiError {
        match e {
            ClinicError::Refused(e) => e,
            other => panic!("expected a rule refusal, got {other}"),
        }
    }

    /// "Use this device's value" needs one field and the right to edit the record; a refused
    /// decision queues nothing and leaves the conflict open.
    #[test]
    fn a_conflicts_value_is_taken_only_by_who_may_edit_the_record() {
        use crate::partition::{ConflictKind, NewConflict};
        use vaidya_shared::sync::EntityKind;
        let (_dir, mut p) = partition();
        let note = p
            .record_conflict(&NewConflict {
                entity: EntityKind::Encounter,
                entity_id: Uuid::new_v4(),
                field: Some("notes".to_owned()),
                local_value: Some(serde_json::json!("Cough better")),
                server_value: Some(serde_json::json!("Cough worse")),
                kind: ConflictKind::SameField,
            })
            .unwrap();
        let booking = p
            .record_conflict(&NewConflict {
                entity: EntityKind::Appointment,
                entity_id: Uuid::new_v4(),
                field: None,
                local_value: Some(serde_json::json!(Uuid::new_v4())),
                server_value: Some(serde_json::json!([Uuid::new_v4()])),
                kind: ConflictKind::DoubleBooking,
            })
            .unwrap();
        let before = p.outbox_len().unwrap();
        let mut desk = OpenClinic::new(&mut p, Uuid::new_v4(), Role::FrontDesk);
        let e = refused(
            desk.resolve_conflict(note.id, Resolution::UseClient)
                .unwrap_err(),
        );
        assert_eq!(e.code, ErrorCode::Forbidden);
        let e = refused(
            desk.resolve_conflict(booking.id, Resolution::UseClient)
                .unwrap_err(),
        );
        assert_eq!(e.code, ErrorCode::InvalidState);
        assert_eq!(
            p.outbox_len().unwrap(),
            before,
            "a refused decision queues nothing"
        );
        assert_eq!(p.open_conflicts().unwrap().len(), 2, "both stay open");

        // The doctor may take the note's value; the desk may close the double booking.
        OpenClinic::new(&mut p, Uuid::new_v4(), Role::Doctor)
            .resolve_conflict(note.id, Resolution::UseClient)
            .unwrap();
        OpenClinic::new(&mut p, Uuid::new_v4(), Role::FrontDesk)
            .resolve_conflict(booking.id, Resolution::KeepServer)
            .unwrap();
        assert!(p.open_conflicts().unwrap().is_empty());
        assert_eq!(p.outbox_len().unwrap(), before + 2);
    }

    #[test]
    fn a_nurse_cannot_issue_an_invoice_and_no_number_is_used() {
        let (_dir, mut p) = partition();
        let user = Uuid::new_v4();
        let asha = OpenClinic::new(&mut p, user, Role::FrontDesk)
            .register_patient(patient("Asha Rao"))
            .unwrap();
        let before = p.outbox_len().unwrap();
        let invoice = NewInvoice {
            id: None,
            patient_id: asha.id,
            series: None,
            number: None,
            place_of_supply: None,
            lines: vec![NewInvoiceLine {
                description: "Dressing".to_owned(),
                sac_hsn: "999312".to_owned(),
                quantity: 1,
                unit_price_paise: 20_000,
                discount_paise: 0,
                gst_rate_bp: 0,
                treatment: None,
                unit: None,
            }],
            recipient: None,
            doctor_id: None,
        };
        let e = refused(
            OpenClinic::new(&mut p, user, Role::Nurse)
                .issue_invoice(invoice.clone(), &test_supplier())
                .unwrap_err(),
        );
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(e.message, "A nurse may not add invoices in this clinic.");
        assert_eq!(p.outbox_len().unwrap(), before, "nothing was written");
        // The first invoice the front desk issues takes number 1: none was burnt.
        let issued = OpenClinic::new(&mut p, user, Role::FrontDesk)
            .issue_invoice(invoice, &test_supplier())
            .unwrap();
        assert_eq!(issued.number, 1);
    }

    #[test]
    fn a_rejected_clinical_change_is_listed_for_the_desk_but_only_a_clinician_may_touch_it() {
        let (_dir, mut p) = partition();
        let doctor = Uuid::new_v4();
        let mut clinic = OpenClinic::new(&mut p, doctor, Role::Doctor);
        let asha = clinic.register_patient(patient("Asha Rao")).unwrap();
        let note = clinic
            .save_note(NewEncounter {
                id: None,
                patient_id: asha.id,
                appointment_id: None,
                chief_complaint: "Fever".to_owned(),
                notes: String::new(),
                diagnosis: String::new(),
                vitals: Vitals::default(),
            })
            .unwrap();
        let entries = p.outbox().unwrap();
        let note_change = entries
            .iter()
            .find(|e| e.mutation.entity_id == note.id)
            .unwrap()
            .mutation
            .mutation_id;
        let rejection = vaidya_shared::sync::MutationResult::Rejected {
            mutation_id: note_change,
            code: ErrorCode::InvalidState,
            message: "The appointment was cancelled.".to_owned(),
            field: None,
        };
        p.apply_push_results(&entries, &[rejection], None).unwrap();

        let mut desk = OpenClinic::new(&mut p, Uuid::new_v4(), Role::FrontDesk);
        let listed = desk.unsent_changes().unwrap();
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].may_change && listed[0].change.editable.is_empty());
        let e = refused(desk.discard_change(note_change).unwrap_err());
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(p.rejected_changes().unwrap().len(), 1, "still there");

        let mut clinician = OpenClinic::new(&mut p, doctor, Role::Doctor);
        assert!(clinician.unsent_changes().unwrap()[0].may_change);
        assert!(clinician.discard_change(note_change).unwrap().discarded);
        assert!(p.rejected_changes().unwrap().is_empty());
    }

    #[test]
    fn an_out_of_range_vital_is_refused_on_the_device_with_the_servers_field() {
        let (_dir, mut p) = partition();
        let doctor = Uuid::new_v4();
        let mut clinic = OpenClinic::new(&mut p, doctor, Role::Doctor);
        let asha = clinic.register_patient(patient("Asha Rao")).unwrap();
        let note = NewEncounter {
            id: None,
            patient_id: asha.id,
            appointment_id: None,
            chief_complaint: "Fever".to_owned(),
            notes: String::new(),
            diagnosis: String::new(),
            vitals: Vitals {
                temperature_dc: Some(3860),
                ..Vitals::default()
            },
        };
        let e = refused(clinic.save_note(note).unwrap_err());
        assert_eq!(e.code, ErrorCode::InvalidField);
        assert_eq!(e.field.as_deref(), Some("vitals.temperature_dc"));
        assert_eq!(p.outbox_len().unwrap(), 1, "only the patient waits to sync");
    }

    #[test]
    fn the_front_desk_sees_no_clinical_records_and_cannot_sign() {
        let (_dir, mut p) = partition();
        let doctor = Uuid::new_v4();
        let mut clinic = OpenClinic::new(&mut p, doctor, Role::Doctor);
        let asha = clinic.register_patient(patient("Asha Rao")).unwrap();
        let note = clinic
            .save_note(NewEncounter {
                id: None,
                patient_id: asha.id,
                appointment_id: None,
                chief_complaint: "Cough".to_owned(),
                notes: String::new(),
                diagnosis: String::new(),
                vitals: Vitals::default(),
            })
            .unwrap();
        let mut desk = OpenClinic::new(&mut p, Uuid::new_v4(), Role::FrontDesk);
        assert!(desk.patient_chart(asha.id).unwrap().encounters.is_empty());
        let e = refused(desk.sign_note(note.id).unwrap_err());
        assert_eq!(e.code, ErrorCode::Forbidden);
        let mut nurse = OpenClinic::new(&mut p, Uuid::new_v4(), Role::Nurse);
        assert_eq!(nurse.patient_chart(asha.id).unwrap().encounters.len(), 1);
        assert!(nurse.patient_chart(asha.id).unwrap().invoices.is_empty());
        // A signed note refuses edits on the device, as the server does.
        let mut doc = OpenClinic::new(&mut p, doctor, Role::Doctor);
        doc.sign_note(note.id).unwrap();
        let e = refused(
            doc.save_note(NewEncounter {
                id: Some(note.id),
                patient_id: asha.id,
                appointment_id: None,
                chief_complaint: "Changed".to_owned(),
                notes: String::new(),
                diagnosis: String::new(),
                vitals: Vitals::default(),
            })
            .unwrap_err(),
        );
        assert_eq!(e.code, ErrorCode::InvalidState);
    }

    #[test]
    fn a_matching_allergy_needs_the_prescribers_acknowledgement() {
        use vaidya_shared::api::{AllergySeverity, NewPrescriptionItem};
        let (_dir, mut p) = partition();
        let asha = OpenClinic::new(&mut p, Uuid::new_v4(), Role::FrontDesk)
            .register_patient(patient("Asha Rao"))
            .unwrap();
        let new_allergy = NewAllergy {
            id: None,
            patient_id: asha.id,
            substance: "Amoxicillin".to_owned(),
            reaction: "Hives".to_owned(),
            severity: AllergySeverity::Severe,
        };
        let e = refused(
            OpenClinic::new(&mut p, Uuid::new_v4(), Role::FrontDesk)
                .record_allergy(new_allergy.clone())
                .unwrap_err(),
        );
        assert_eq!(e.code, ErrorCode::Forbidden);
        let allergy = OpenClinic::new(&mut p, Uuid::new_v4(), Role::Nurse)
            .record_allergy(new_allergy)
            .unwrap();
        // The front desk's card shows it.
        let chart = OpenClinic::new(&mut p, Uuid::new_v4(), Role::FrontDesk)
            .patient_chart(asha.id)
            .unwrap();
        assert_eq!(chart.allergies.len(), 1);

        let mut doctor = OpenClinic::new(&mut p, Uuid::new_v4(), Role::Doctor);
        let mut rx = NewPrescription {
            id: None,
            patient_id: asha.id,
            encounter_id: None,
            notes: String::new(),
            items: vec![NewPrescriptionItem {
                drug: "Amoxicillin (capsule)".to_owned(),
                strength: "500 mg".to_owned(),
                dose: "1".to_owned(),
                frequency: "1-0-1".to_owned(),
                duration: "5 days".to_owned(),
                instructions: String::new(),
            }],
            acknowledged_allergies: Vec::new(),
        };
        let warnings = doctor.prescription_warnings(&rx).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].allergy_id, allergy.id);
        let before = p_len(&mut doctor);
        let e = refused(doctor.issue_prescription(rx.clone()).unwrap_err());
        assert_eq!(e.field.as_deref(), Some("items[0].drug"));
        assert_eq!(p_len(&mut doctor), before, "nothing was written");
        rx.acknowledged_allergies.push(allergy.id);
        let issued = doctor.issue_prescription(rx).unwrap();
        assert_eq!(issued.acknowledged_allergies, vec![allergy.id]);
    }

    fn p_len(clinic: &mut OpenClinic<'_>) -> i64 {
        clinic.partition.outbox_len().unwrap()
    }
}
