//! Local edits as the UI makes them: build the cached row, and the wire mutation that
//! carries the change to the server, and store both in one transaction.
//!
//! Updates record, for every changed field, the value the user saw (`base`) next to the new
//! value, so the server can merge field by field and tell a real conflict from an edit of
//! an untouched field. Rows created offline carry client-chosen ids; what only the server
//! can assign (the patient number) stays 0 until the created row is pulled back.

use chrono::Utc;
use rusqlite::TransactionBehavior;
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;
use vaidya_shared::api::{
    Addendum, Appointment, AppointmentPatch, AppointmentStatus, CreditNote, Encounter,
    EncounterPatch, Invoice, InvoiceLine, InvoiceSupplier, NewAddendum, NewAppointment,
    NewCreditNote, NewEncounter, NewInvoice, NewPatient, NewPayment, NewPrescription, Patient,
    PatientPatch, Payment, Prescription, PrescriptionItem,
};
use vaidya_shared::entity::{kinds, Entity};
use vaidya_shared::gst;
use vaidya_shared::numbering;
use vaidya_shared::rules::validation::credit_note_lines;
use vaidya_shared::rules::Valid;
use vaidya_shared::sync::{EntityKind, Operation, Resolution};

use super::cache::{self, CachedRow};
use super::outbox::{append, new_mutation, OutboxEntry};
use super::{ClinicPartition, PartitionError};

pub(super) fn to_object(value: &impl Serialize) -> Result<Map<String, Value>, PartitionError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(PartitionError::InvalidMutation(format!(
            "expected a JSON object, not {other}"
        ))),
        Err(e) => Err(PartitionError::InvalidMutation(e.to_string())),
    }
}

/// `{field: {value, base}}` for every field an update of `E` may set (`E::EDITABLE`, which
/// the compiler holds to the kind's patch type) whose JSON differs between the record the
/// user saw and the edited record.
pub fn field_changes<E: Entity>(
    before: &E::Record,
    after: &E::Record,
) -> Result<Map<String, Value>, PartitionError> {
    let (before, after) = (to_object(before)?, to_object(after)?);
    let mut changes = Map::new();
    for field in E::EDITABLE {
        let old = before.get(*field).cloned().unwrap_or(Value::Null);
        let new = after.get(*field).cloned().unwrap_or(Value::Null);
        if old != new {
            changes.insert((*field).to_owned(), json!({ "value": new, "base": old }));
        }
    }
    Ok(changes)
}

/// Now, at the precision the partition stores (microseconds), so a returned row equals
/// the row read back.
pub(super) fn stored_now() -> chrono::DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 6)
}

/// An empty string clears an optional text field (as in the REST patch).
fn patch_text(current: &mut Option<String>, patch: Option<String>) {
    if let Some(text) = patch {
        *current = if text.trim().is_empty() {
            None
        } else {
            Some(text)
        };
    }
}

impl ClinicPartition {
    /// Writes the cached row (or removes one) and appends the change's outbox entry in ONE
    /// SQLite transaction: both or neither. Every local edit ends here.
    pub(super) fn commit_local(
        &mut self,
        record: Option<&dyn CachedRow>,
        remove: Option<(EntityKind, Uuid)>,
        mutation: &vaidya_shared::sync::Mutation,
    ) -> Result<OutboxEntry, PartitionError> {
        if let Some(r) = &record {
            self.check_clinic(r.clinic_id())?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(r) = record {
            r.upsert(&tx)?;
        }
        if let Some((entity, id)) = remove {
            if !entity.spec().deletable {
                return Err(PartitionError::InvalidMutation("not deletable".to_owned()));
            }
            cache::remove_row(&tx, entity, id)?;
        }
        let mut mutation = mutation.clone();
        // Field by field: the transaction holds `self.conn`.
        super::outbox::sign_with(
            self.author.as_ref(),
            self.device.as_deref(),
            self.clinic_id,
            &mut mutation,
        );
        append(&tx, &mutation, self.clinical.as_ref())?;
        let entry = super::outbox::entry(&tx, mutation.mutation_id, self.clinical.as_ref())?;
        tx.commit()?;
        Ok(entry)
    }

    fn cached_patient(&self, id: Uuid) -> Result<Patient, PartitionError> {
        self.peek::<kinds::Patient>(id)?
            .ok_or(PartitionError::NotFound {
                entity: "patient",
                id,
            })
    }

    fn cached_appointment(&self, id: Uuid) -> Result<Appointment, PartitionError> {
        self.peek::<kinds::Appointment>(id)?
            .ok_or(PartitionError::NotFound {
                entity: "appointment",
                id,
            })
    }

    /// Registers a patient offline.
    pub fn create_patient(&mut self, new: Valid<NewPatient>) -> Result<Patient, PartitionError> {
        let new = new.into_inner();
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let now = Utc::now();
        let patient = Patient {
            id,
            clinic_id: self.clinic_id,
            patient_number: 0,
            name: new.name.trim().to_owned(),
            sex: new.sex,
            date_of_birth: new.date_of_birth,
            phone: new.phone.clone().filter(|p| !p.trim().is_empty()),
            address: new.address.clone().filter(|p| !p.trim().is_empty()),
            abha_number: new.abha_number.clone().filter(|p| !p.trim().is_empty()),
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let mut m = new_mutation(EntityKind::Patient, id, Operation::Create, None);
        m.data = Some(Value::Object(to_object(&NewPatient {
            id: Some(id),
            ..new
        })?));
        self.commit_local(Some(&patient), None, &m)?;
        Ok(patient)
    }

    /// Edits a cached patient; only fields that really change are sent, each with its base.
    pub fn update_patient(
        &mut self,
        id: Uuid,
        patch: Valid<PatientPatch>,
    ) -> Result<Patient, PartitionError> {
        let patch = patch.into_inner();
        let before = self.cached_patient(id)?;
        let mut after = before.clone();
        if let Some(name) = patch.name {
            after.name = name.trim().to_owned();
        }
        if let Some(sex) = patch.sex {
            after.sex = sex;
        }
        if patch.date_of_birth.is_some() {
            after.date_of_birth = patch.date_of_birth;
        }
        patch_text(&mut after.phone, patch.phone);
        patch_text(&mut after.address, patch.address);
        patch_text(&mut after.abha_number, patch.abha_number);
        let changes = field_changes::<kinds::Patient>(&before, &after)?;
        if changes.is_empty() {
            return Ok(before);
        }
        after.updated_at = Utc::now();
        let mut m = new_mutation(
            EntityKind::Patient,
            id,
            Operation::Update,
            Some(before.version),
        );
        m.changes = changes;
        self.commit_local(Some(&after), None, &m)?;
        Ok(after)
    }

    /// Deletes a patient offline (a tombstone on the server: deleted stays deleted).
    pub fn delete_patient(&mut self, id: Uuid) -> Result<(), PartitionError> {
        let before = self.cached_patient(id)?;
        let m = new_mutation(
            EntityKind::Patient,
            id,
            Operation::Delete,
            Some(before.version),
        );
        self.commit_local(None, Some((EntityKind::Patient, id)), &m)?;
        Ok(())
    }

    /// Books an appointment offline.
    pub fn create_appointment(
        &mut self,
        new: Valid<NewAppointment>,
    ) -> Result<Appointment, PartitionError> {
        let new = new.into_inner();
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let now = Utc::now();
        let appointment = Appointment {
            id,
            clinic_id: self.clinic_id,
            patient_id: new.patient_id,
            doctor_id: new.doctor_id,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            status: AppointmentStatus::Booked,
            reason: new.reason.clone(),
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let mut m = new_mutation(EntityKind::Appointment, id, Operation::Create, None);
        m.data = Some(Value::Object(to_object(&NewAppointment {
            id: Some(id),
            ..new
        })?));
        self.commit_local(Some(&appointment), None, &m)?;
        Ok(appointment)
    }

    /// Moves, re-describes or advances an appointment offline.
    pub fn update_appointment(
        &mut self,
        id: Uuid,
        patch: Valid<AppointmentPatch>,
    ) -> Result<Appointment, PartitionError> {
        let patch = patch.into_inner();
        let before = self.cached_appointment(id)?;
        let mut after = before.clone();
        if let Some(s) = patch.starts_at {
            after.starts_at = s;
        }
        if let Some(e) = patch.ends_at {
            after.ends_at = e;
        }
        if let Some(status) = patch.status {
            if !before.status.can_move_to(status) {
                return Err(PartitionError::InvalidMutation(format!(
                    "an appointment cannot move from {} to {}",
                    before.status.as_str(),
                    status.as_str()
                )));
            }
            after.status = status;
        }
        patch_text(&mut after.reason, patch.reason);
        let changes = field_changes::<kinds::Appointment>(&before, &after)?;
        if changes.is_empty() {
            return Ok(before);
        }
        after.updated_at = Utc::now();
        let mut m = new_mutation(
            EntityKind::Appointment,
            id,
            Operation::Update,
            Some(before.version),
        );
        m.changes = changes;
        self.commit_local(Some(&after), None, &m)?;
        Ok(after)
    }

    pub fn delete_appointment(&mut self, id: Uuid) -> Result<(), PartitionError> {
        let before = self.cached_appointment(id)?;
        let m = new_mutation(
            EntityKind::Appointment,
            id,
            Operation::Delete,
            Some(before.version),
        );
        self.commit_local(None, Some((EntityKind::Appointment, id)), &m)?;
        Ok(())
    }

    /// Starts an encounter note offline, written by `doctor_id` (the signed-in clinician).
    pub fn create_encounter(
        &mut self,
        new: Valid<NewEncounter>,
        doctor_id: Uuid,
    ) -> Result<Encounter, PartitionError> {
        let new = new.into_inner();
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let now = Utc::now();
        let encounter = Encounter {
            id,
            clinic_id: self.clinic_id,
            patient_id: new.patient_id,
            doctor_id,
            appointment_id: new.appointment_id,
            chief_complaint: new.chief_complaint.clone(),
            notes: new.notes.clone(),
            diagnosis: new.diagnosis.clone(),
            vitals: new.vitals.clone(),
            signed_at: None,
            signed_by: None,
            addenda: Vec::new(),
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let mut m = new_mutation(EntityKind::Encounter, id, Operation::Create, None);
        m.data = Some(Value::Object(to_object(&NewEncounter {
            id: Some(id),
            ..new
        })?));
        self.commit_local(Some(&encounter), None, &m)?;
        Ok(encounter)
    }

    fn cached_encounter(&self, id: Uuid) -> Result<Encounter, PartitionError> {
        self.peek::<kinds::Encounter>(id)?
            .ok_or(PartitionError::NotFound {
                entity: "encounter",
                id,
            })
    }

    /// The edited note and the `{value, base}` changes of a patch (only real changes).
    fn edit_encounter(
        before: &Encounter,
        patch: EncounterPatch,
    ) -> Result<(Encounter, Map<String, Value>), PartitionError> {
        if before.signed_at.is_some() {
            return Err(PartitionError::InvalidMutation(
                "a signed note cannot change; add an addendum".to_owned(),
            ));
        }
        let mut after = before.clone();
        if let Some(text) = patch.chief_complaint {
            after.chief_complaint = text;
        }
        if let Some(text) = patch.notes {
            after.notes = text;
        }
        if let Some(text) = patch.diagnosis {
            after.diagnosis = text;
        }
        if let Some(vitals) = patch.vitals {
            after.vitals = vitals;
        }
        let changes = field_changes::<kinds::Encounter>(before, &after)?;
        Ok((after, changes))
    }

    /// Edits an unsigned note offline; only fields that really change are sent, each with
    /// its base (vitals travel as one value object).
    pub fn update_encounter(
        &mut self,
        id: Uuid,
        patch: Valid<EncounterPatch>,
    ) -> Result<Encounter, PartitionError> {
        let patch = patch.into_inner();
        let before = self.cached_encounter(id)?;
        let (mut after, changes) = ClinicPartition::edit_encounter(&before, patch)?;
        if changes.is_empty() {
            return Ok(before);
        }
        after.updated_at = stored_now();
        let mut m = new_mutation(
            EntityKind::Encounter,
            id,
            Operation::Update,
            Some(before.version),
        );
        m.changes = changes;
        self.commit_local(Some(&after), None, &m)?;
        Ok(after)
    }

    /// Signs a note offline as `signer` (the signed-in doctor), with any last edits in
    /// `patch` in the same mutation: the server applies the edits, then signs as the doctor
    /// who pushes. Locally the note shows as signed at once.
    pub fn sign_encounter(
        &mut self,
        id: Uuid,
        patch: Valid<EncounterPatch>,
        signer: Uuid,
    ) -> Result<Encounter, PartitionError> {
        let patch = patch.into_inner();
        let before = self.cached_encounter(id)?;
        let (mut after, mut changes) = ClinicPartition::edit_encounter(&before, patch)?;
        changes.insert("sign".to_owned(), json!({ "value": true, "base": false }));
        let now = stored_now();
        after.signed_at = Some(now);
        after.signed_by = Some(signer);
        after.updated_at = now;
        let mut m = new_mutation(
            EntityKind::Encounter,
            id,
            Operation::Update,
            Some(before.version),
        );
        m.changes = changes;
        // The server dates the signature with the change's time: the same instant.
        m.made_at = now;
        self.commit_local(Some(&after), None, &m)?;
        Ok(after)
    }

    /// Issues a prescription offline, by `doctor_id` (the signed-in doctor). Issued
    /// prescriptions are immutable; item ids here are local until the row is pulled back.
    pub fn create_prescription(
        &mut self,
        new: Valid<NewPrescription>,
        doctor_id: Uuid,
    ) -> Result<Prescription, PartitionError> {
        let new = new.into_inner();
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let prescription = Prescription {
            id,
            clinic_id: self.clinic_id,
            patient_id: new.patient_id,
            doctor_id,
            encounter_id: new.encounter_id,
            notes: new.notes.clone(),
            items: new
                .items
                .iter()
                .enumerate()
                .map(|(i, item)| PrescriptionItem {
                    id: Uuid::now_v7(),
                    position: i as i32 + 1,
                    drug: item.drug.clone(),
                    strength: item.strength.clone(),
                    dose: item.dose.clone(),
                    frequency: item.frequency.clone(),
                    duration: item.duration.clone(),
                    instructions: item.instructions.clone(),
                })
                .collect(),
            acknowledged_allergies: new.acknowledged_allergies.clone(),
            issued_at: stored_now(),
            version: 0,
        };
        let mut m = new_mutation(EntityKind::Prescription, id, Operation::Create, None);
        // Issued when it was printed: the server dates it with the change's time.
        m.made_at = prescription.issued_at;
        m.data = Some(Value::Object(to_object(&NewPrescription {
            id: Some(id),
            ..new
        })?));
        self.commit_local(Some(&prescription), None, &m)?;
        Ok(prescription)
    }

    /// Records a payment against a cached invoice offline: the invoice shows it (and the
    /// amount paid) at once; a `payment` mutation with the invoice as parent carries it.
    pub fn add_payment(
        &mut self,
        invoice_id: Uuid,
        new: Valid<NewPayment>,
    ) -> Result<Invoice, PartitionError> {
        let new = new.into_inner();
        let mut invoice =
            self.peek::<kinds::Invoice>(invoice_id)?
                .ok_or(PartitionError::NotFound {
                    entity: "invoice",
                    id: invoice_id,
                })?;
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let reference = new.reference.clone().filter(|r| !r.trim().is_empty());
        let received_at = stored_now();
        invoice.payments.push(Payment {
            id,
            invoice_id,
            amount_paise: new.amount_paise,
            method: new.method,
            reference: reference.clone(),
            received_at,
        });
        invoice.paid_paise = invoice
            .paid_paise
            .checked_add(new.amount_paise)
            .ok_or_else(|| PartitionError::InvalidMutation("amount too large".to_owned()))?;
        let mut m = new_mutation(EntityKind::Payment, id, Operation::Create, None);
        // Received when the desk took it: the server dates it with the change's time.
        m.made_at = received_at;
        m.parent_id = Some(invoice_id);
        m.data = Some(Value::Object(to_object(&NewPayment {
            id: Some(id),
            reference,
            ..new
        })?));
        self.commit_local(Some(&invoice), None, &m)?;
        Ok(invoice)
    }

    /// Issues a credit note offline against a cached invoice, from this PC's credit-note
    /// series of the year (`2526-C3`), taking the next number in the same transaction as
    /// the note. The shared rule (`credit_note_lines`) decides what each line gives back,
    /// as the server will. A PC the server has not yet given a series code issues none.
    pub fn create_credit_note(
        &mut self,
        invoice_id: Uuid,
        new: Valid<NewCreditNote>,
    ) -> Result<Invoice, PartitionError> {
        let new = new.into_inner();
        let mut invoice =
            self.peek::<kinds::Invoice>(invoice_id)?
                .ok_or(PartitionError::NotFound {
                    entity: "invoice",
                    id: invoice_id,
                })?;
        let code = self.invoice_series_code()?.ok_or_else(|| PartitionError::InvalidValue {
            field: "series".to_owned(),
            message: "This PC has no credit-note series yet; connect to the server once, then issue it."
                .to_owned(),
        })?;
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let issued_at = stored_now();
        let (lines, totals) = credit_note_lines(&invoice, &new, issued_at).map_err(|e| {
            PartitionError::InvalidValue {
                field: e.field.clone().unwrap_or_else(|| "lines".to_owned()),
                message: e.message,
            }
        })?;
        let series = numbering::device_series(numbering::Document::CreditNote, &code, issued_at);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let number = ClinicPartition::take_invoice_number(&tx, &series)?;
        invoice.credit_notes.push(CreditNote {
            id,
            invoice_id,
            credit_note_number: vaidya_shared::gst::invoice_number(&series, number),
            series: series.clone(),
            number,
            issued_at,
            reason: new.reason.clone(),
            lines,
            totals,
        });
        let mut m = new_mutation(EntityKind::CreditNote, id, Operation::Create, None);
        // The date printed on the note is the one the server keeps.
        m.made_at = issued_at;
        m.parent_id = Some(invoice_id);
        m.data = Some(Value::Object(to_object(&NewCreditNote {
            id: Some(id),
            series: Some(series),
            number: Some(number),
            ..new
        })?));
        invoice.upsert(&tx)?;
        super::outbox::sign_with(
            self.author.as_ref(),
            self.device.as_deref(),
            self.clinic_id,
            &mut m,
        );
        append(&tx, &m, self.clinical.as_ref())?;
        tx.commit()?;
        Ok(invoice)
    }

    /// Cancels an issued invoice offline, by `by` (the signed-in member): the invoice is
    /// kept and marked, and the `cancel` act goes to the server with the act's own time.
    /// The caller has checked the rules (`rules::validation::invoice_cancellable`).
    pub fn cancel_invoice(
        &mut self,
        invoice_id: Uuid,
        cancel: Valid<vaidya_shared::api::CancelInvoice>,
        by: Uuid,
    ) -> Result<Invoice, PartitionError> {
        let reason = cancel.into_inner().reason;
        let mut invoice =
            self.peek::<kinds::Invoice>(invoice_id)?
                .ok_or(PartitionError::NotFound {
                    entity: "invoice",
                    id: invoice_id,
                })?;
        let now = stored_now();
        invoice.cancellation = Some(vaidya_shared::api::InvoiceCancellation {
            cancelled_at: now,
            cancelled_by: by,
            reason: reason.clone(),
        });
        let mut m = new_mutation(
            EntityKind::Invoice,
            invoice_id,
            Operation::Update,
            Some(invoice.version),
        );
        m.changes.insert(
            "cancel".to_owned(),
            json!({ "value": { "reason": reason }, "base": null }),
        );
        // The server dates the cancellation with the change's time: the same instant.
        m.made_at = now;
        self.commit_local(Some(&invoice), None, &m)?;
        Ok(invoice)
    }

    /// Adds an addendum to an encounter (the way a signed note is amended).
    pub fn add_addendum(
        &mut self,
        encounter_id: Uuid,
        addendum: Valid<NewAddendum>,
        author_id: Uuid,
    ) -> Result<Encounter, PartitionError> {
        let text = addendum.text.as_str();
        let mut encounter =
            self.peek::<kinds::Encounter>(encounter_id)?
                .ok_or(PartitionError::NotFound {
                    entity: "encounter",
                    id: encounter_id,
                })?;
        let id = Uuid::now_v7();
        encounter.addenda.push(Addendum {
            id,
            encounter_id,
            author_id,
            text: text.to_owned(),
            created_at: Utc::now(),
        });
        let mut m = new_mutation(EntityKind::Addendum, id, Operation::Create, None);
        m.parent_id = Some(encounter_id);
        m.data = Some(Value::Object(to_object(&NewAddendum {
            id: Some(id),
            text: text.to_owned(),
        })?));
        self.commit_local(Some(&encounter), None, &m)?;
        Ok(encounter)
    }

    /// Issues a GST invoice offline from this device's own series, taking the next number
    /// in the same transaction as the invoice, so numbers are consecutive and never reused.
    /// `supplier` is the clinic as this PC knows it, kept with the invoice for its
    /// reprints; the shared GST rules tax it as the server will (place of supply, the rates
    /// in force today, no GST without a GSTIN).
    pub fn create_invoice(
        &mut self,
        new: Valid<NewInvoice>,
        supplier: &InvoiceSupplier,
    ) -> Result<Invoice, PartitionError> {
        let new = new.into_inner();
        let id = new.id.unwrap_or_else(Uuid::now_v7);
        let issued_at = stored_now();
        // The series of the year the invoice is dated in (`numbering`).
        let series = self.invoice_series_at(issued_at)?;
        let inputs = new.line_inputs();
        let taxed = gst::tax_invoice(
            supplier.gst(),
            new.place_of_supply.as_deref(),
            &inputs,
            issued_at,
        )
        .map_err(|r| PartitionError::InvalidMutation(r.to_string()))?;
        let lines: Vec<InvoiceLine> = new
            .lines
            .iter()
            .zip(&taxed.lines)
            .enumerate()
            .map(|(i, (l, tax))| InvoiceLine {
                // The id the server will give the line (`gst::invoice_line_id`).
                id: gst::invoice_line_id(id, i),
                position: i as i32 + 1,
                description: l.description.clone(),
                sac_hsn: l.sac_hsn.clone(),
                quantity: l.quantity,
                unit_price_paise: l.unit_price_paise,
                discount_paise: l.discount_paise,
                gst_rate_bp: l.gst_rate_bp,
                tax: *tax,
                // Set by validation (`Validate for NewInvoice`).
                treatment: l.treatment,
                unit: l.unit.clone(),
            })
            .collect();
        let (place, kind, totals) = (taxed.place_of_supply, taxed.supply_kind, taxed.totals);
        let clinic_id = self.clinic_id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let number = ClinicPartition::take_invoice_number(&tx, &series)?;
        let invoice = Invoice {
            id,
            clinic_id,
            patient_id: new.patient_id,
            series: series.clone(),
            number,
            // One printed form in both tiers (`gst::invoice_number`).
            invoice_number: vaidya_shared::gst::invoice_number(&series, number),
            issued_at,
            place_of_supply: place.clone(),
            supply_kind: kind,
            lines,
            totals,
            payments: Vec::new(),
            paid_paise: 0,
            version: 0,
            supplier: Some(supplier.clone()),
            recipient: new.recipient.clone(),
            cancellation: None,
            credit_notes: Vec::new(),
            doctor_id: new.doctor_id,
        };
        let mut m = new_mutation(EntityKind::Invoice, id, Operation::Create, None);
        // The date printed on the invoice is the one the server keeps.
        m.made_at = invoice.issued_at;
        m.data = Some(Value::Object(to_object(&NewInvoice {
            id: Some(id),
            series: Some(series),
            number: Some(number),
            place_of_supply: Some(place),
            ..new
        })?));
        invoice.upsert(&tx)?;
        super::outbox::sign_with(
            self.author.as_ref(),
            self.device.as_deref(),
            self.clinic_id,
            &mut m,
        );
        append(&tx, &m, self.clinical.as_ref())?;
        tx.commit()?;
        Ok(invoice)
    }

    /// Resolves a conflict of the inbox: marked resolved here at once, and the decision
    /// goes to the server with the next push (any device may resolve; the first wins).
    pub fn resolve_conflict_with(
        &mut self,
        conflict_id: Uuid,
        resolution: Resolution,
    ) -> Result<OutboxEntry, PartitionError> {
        let mut m = new_mutation(EntityKind::Conflict, conflict_id, Operation::Update, None);
        m.changes.insert(
            "resolution".to_owned(),
            json!({ "value": resolution, "base": null }),
        );
        self.sign(&mut m);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE conflicts SET resolved_at = ?2 WHERE id = ?1 AND resolved_at IS NULL",
            rusqlite::params![conflict_id.to_string(), super::sql::now()],
        )?;
        // The change that waited on this conflict is settled either way.
        tx.execute(
            "DELETE FROM outbox WHERE state = 'conflict' AND conflict_id = ?1",
            [conflict_id.to_string()],
        )?;
        append(&tx, &m, self.clinical.as_ref())?;
        let entry = super::outbox::entry(&tx, m.mutation_id, self.clinical.as_ref())?;
        tx.commit()?;
        Ok(entry)
    }
}
