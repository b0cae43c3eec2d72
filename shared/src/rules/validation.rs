//! What a valid record is: every field rule of every clinical entity, written once and used
//! by the server (REST and push), the client core (before a change is stored on the device)
//! and, through `shared/fixtures/validation.json`, checked against the UI's helper.
//!
//! Parse, don't validate: `validate` turns an input into a [`Valid`] value, normalised
//! (trimmed text, `+91…` phones, 14-digit ABHA numbers, blank prescription rows dropped).
//! Functions that write take `Valid<T>`, so a write path that forgot to validate does not
//! compile. Rules that depend on a record's current state (a signed note, an appointment's
//! status, the balance due) are plain functions here too, called by both tiers with the
//! state each has.

use std::ops::Deref;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::api::{
    Allergy, AllergyPatch, AllergyStatus, AppointmentPatch, AppointmentStatus,
    CancelledInvoiceNumber, EncounterPatch, NewAddendum, NewAllergy, NewAppointment, NewEncounter,
    NewInvoice, NewPatient, NewPayment, NewPrescription, PatientPatch, Vitals,
};
use crate::gst::{self, SupplyKind};
use crate::numbering::is_main_series;
use crate::validate::{clean_text, is_state_code, normalize_abha, normalize_phone};
use crate::{ApiError, ErrorCode};

/// A value that passed its rules. Only `validate` makes one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Valid<T>(T);

impl<T> Valid<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Inputs with field rules. `today` is the UTC date of the tier that checks (the device's
/// or the server's); rules that use it allow a day's slack for time zones.
pub trait Validate: Sized {
    fn validate(self, today: NaiveDate) -> Result<Valid<Self>, ApiError>;
}

// ------------------------------------------------------------------ limits

/// Longest texts, in characters.
pub mod limits {
    pub const PATIENT_NAME: usize = 200;
    /// Most branches one request may name (a group's catalogue, its reports).
    pub const GROUP_BRANCHES: usize = 200;
    pub const ADDRESS: usize = 500;
    pub const APPOINTMENT_REASON: usize = 1000;
    /// Longest appointment, in hours.
    pub const APPOINTMENT_HOURS: i64 = 12;
    pub const CHIEF_COMPLAINT: usize = 2000;
    pub const NOTES: usize = 100_000;
    pub const DIAGNOSIS: usize = 2000;
    pub const ADDENDUM: usize = 20_000;
    pub const PRESCRIPTION_NOTES: usize = 5000;
    pub const PRESCRIPTION_ITEMS: usize = 50;
    pub const DRUG: usize = 200;
    pub const DOSING: usize = 100;
    pub const INSTRUCTIONS: usize = 1000;
    pub const INVOICE_LINES: usize = 100;
    pub const LINE_DESCRIPTION: usize = 500;
    /// A business customer's legal name on a B2B invoice (as the server's column allows).
    pub const RECIPIENT_NAME: usize = 200;
    pub const MAX_QUANTITY: i64 = 100_000;
    /// ₹1,00,00,000 in paise.
    pub const MAX_UNIT_PRICE_PAISE: i64 = 1_000_000_000;
    pub const PAYMENT_REFERENCE: usize = 200;
    pub const ALLERGY_SUBSTANCE: usize = 200;
    pub const ALLERGY_REACTION: usize = 1000;
    pub const SERIES: usize = crate::numbering::MAX_SERIES_LEN;
    /// The reason kept with a cancelled invoice or a cancelled device invoice number.
    pub const CANCEL_REASON: usize = 1000;
    /// The earliest plausible date of birth.
    pub const EARLIEST_BIRTH: (i32, u32, u32) = (1880, 1, 1);
}

/// Plausible vital-sign ranges (inclusive), so a typo such as pulse 720 or a temperature
/// of 386 (for 38.6 °C) is caught where it is typed.
pub const VITAL_RANGES: [(&str, i32, i32); 8] = [
    ("pulse_bpm", 20, 300),
    ("systolic_mmhg", 40, 300),
    ("diastolic_mmhg", 20, 200),
    ("temperature_dc", 300, 450),
    ("spo2_percent", 30, 100),
    ("respiratory_rate", 4, 80),
    ("weight_g", 300, 400_000),
    ("height_mm", 200, 2_600),
];

// ------------------------------------------------------------------ errors

/// `invalid_field` for `field`, with a sentence a person can act on.
pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
    ApiError {
        code: ErrorCode::InvalidField,
        message: message.into(),
        field: Some(field.into()),
    }
}

/// `invalid_state`: the record's state does not allow the change.
pub fn invalid_state(message: impl Into<String>) -> ApiError {
    ApiError {
        code: ErrorCode::InvalidState,
        message: message.into(),
        field: None,
    }
}

// ------------------------------------------------------------------ text

/// Text that may be empty: no control characters, at most `max` characters, trimmed.
pub fn free_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    clean_text(value, max).map_err(|m| invalid(field, m))
}

/// Text that must not be empty.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = free_text(field, value, max)?;
    if v.is_empty() {
        return Err(invalid(field, "This field is required."));
    }
    Ok(v)
}

/// Optional text: absent stays absent; blank becomes absent.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    value
        .map(|v| free_text(field, v, max))
        .transpose()
        .map(|v| v.filter(|v| !v.is_empty()))
}

/// A patch's optional text: absent = keep, blank = clear (`Some("")`), else the clean text.
fn patch_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    value.map(|v| free_text(field, &v, max)).transpose()
}

fn phone(value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => normalize_phone(v)
            .map(Some)
            .map_err(|m| invalid("phone", m)),
    }
}

fn abha(value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => normalize_abha(v)
            .map(Some)
            .map_err(|m| invalid("abha_number", m)),
    }
}

fn birth_date(dob: Option<NaiveDate>, today: NaiveDate) -> Result<(), ApiError> {
    let (y, m, d) = limits::EARLIEST_BIRTH;
    let earliest = NaiveDate::from_ymd_opt(y, m, d).expect("a valid date");
    match dob {
        // A day of slack: a newborn registered just after midnight in India is "tomorrow"
        // in UTC.
        Some(d) if d < earliest || d > today + Duration::days(1) => Err(invalid(
            "date_of_birth",
            "The date of birth is not plausible (after 1880 and not in the future).",
        )),
        _ => Ok(()),
    }
}

// ------------------------------------------------------------------ patients

impl Validate for NewPatient {
    fn validate(self, today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        birth_date(self.date_of_birth, today)?;
        Ok(Valid(NewPatient {
            id: self.id,
            name: required_text("name", &self.name, limits::PATIENT_NAME)?,
            sex: self.sex,
            date_of_birth: self.date_of_birth,
            phone: phone(self.phone.as_deref())?,
            address: optional_text("address", self.address.as_deref(), limits::ADDRESS)?,
            abha_number: abha(self.abha_number.as_deref())?,
        }))
    }
}

impl Validate for PatientPatch {
    /// Optional fields: absent = keep, `""` = clear, a value = set (normalised).
    fn validate(self, today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        birth_date(self.date_of_birth, today)?;
        let cleared_or =
            |v: Option<String>, f: fn(Option<&str>) -> Result<Option<String>, ApiError>| {
                v.map(|v| f(Some(&v)).map(Option::unwrap_or_default))
                    .transpose()
            };
        Ok(Valid(PatientPatch {
            base_version: self.base_version,
            name: self
                .name
                .map(|n| required_text("name", &n, limits::PATIENT_NAME))
                .transpose()?,
            sex: self.sex,
            date_of_birth: self.date_of_birth,
            phone: cleared_or(self.phone, phone)?,
            address: patch_text("address", self.address, limits::ADDRESS)?,
            abha_number: cleared_or(self.abha_number, abha)?,
        }))
    }
}

// ------------------------------------------------------------------ appointments

/// An appointment ends after it starts and lasts at most 12 hours.
pub fn appointment_times(starts: DateTime<Utc>, ends: DateTime<Utc>) -> Result<(), ApiError> {
    if ends <= starts {
        return Err(invalid(
            "ends_at",
            "An appointment must end after it starts.",
        ));
    }
    if ends - starts > Duration::hours(limits::APPOINTMENT_HOURS) {
        return Err(invalid(
            "ends_at",
            "An appointment may last at most 12 hours.",
        ));
    }
    Ok(())
}

impl Validate for NewAppointment {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        appointment_times(self.starts_at, self.ends_at)?;
        Ok(Valid(NewAppointment {
            reason: optional_text("reason", self.reason.as_deref(), limits::APPOINTMENT_REASON)?,
            ..self
        }))
    }
}

impl Validate for AppointmentPatch {
    /// Field rules only; [`appointment_change`] checks the patch against the booking.
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(AppointmentPatch {
            reason: patch_text("reason", self.reason, limits::APPOINTMENT_REASON)?,
            ..self
        }))
    }
}

/// The booking after `patch`: the day's queue only moves forward (see
/// [`AppointmentStatus::can_move_to`]) and the times stay sane.
pub fn appointment_change(
    status: AppointmentStatus,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    patch: &AppointmentPatch,
) -> Result<(AppointmentStatus, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let next = patch.status.unwrap_or(status);
    if !status.can_move_to(next) {
        return Err(invalid_state(format!(
            "An appointment that is {} cannot become {}.",
            status.as_str().replace('_', " "),
            next.as_str().replace('_', " ")
        )));
    }
    let (starts, ends) = (
        patch.starts_at.unwrap_or(starts),
        patch.ends_at.unwrap_or(ends),
    );
    appointment_times(starts, ends)?;
    Ok((next, starts, ends))
}

// ------------------------------------------------------------------ encounters

impl Validate for Vitals {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        let values = [
            self.pulse_bpm,
            self.systolic_mmhg,
            self.diastolic_mmhg,
            self.temperature_dc,
            self.spo2_percent,
            self.respiratory_rate,
            self.weight_g,
            self.height_mm,
        ];
        for ((name, lo, hi), value) in VITAL_RANGES.iter().zip(values) {
            if let Some(x) = value {
                if !(*lo..=*hi).contains(&x) {
                    return Err(invalid(
                        format!("vitals.{name}"),
                        format!("{} must be between {lo} and {hi}.", vital_label(name)),
                    ));
                }
            }
        }
        Ok(Valid(self))
    }
}

/// The vital's name as a clinician reads it, with its unit.
pub fn vital_label(name: &str) -> &'static str {
    match name {
        "pulse_bpm" => "Pulse (beats/min)",
        "systolic_mmhg" => "Systolic BP (mmHg)",
        "diastolic_mmhg" => "Diastolic BP (mmHg)",
        "temperature_dc" => "Temperature (tenths of °C, 386 = 38.6 °C)",
        "spo2_percent" => "SpO₂ (%)",
        "respiratory_rate" => "Respiratory rate (/min)",
        "weight_g" => "Weight (g)",
        _ => "Height (mm)",
    }
}

impl Validate for NewEncounter {
    fn validate(self, today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(NewEncounter {
            chief_complaint: free_text(
                "chief_complaint",
                &self.chief_complaint,
                limits::CHIEF_COMPLAINT,
            )?,
            notes: free_text("notes", &self.notes, limits::NOTES)?,
            diagnosis: free_text("diagnosis", &self.diagnosis, limits::DIAGNOSIS)?,
            vitals: self.vitals.validate(today)?.into_inner(),
            ..self
        }))
    }
}

impl Validate for EncounterPatch {
    fn validate(self, today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        let text = |field: &str, v: Option<String>, max: usize| {
            v.map(|t| free_text(field, &t, max)).transpose()
        };
        Ok(Valid(EncounterPatch {
            base_version: self.base_version,
            chief_complaint: text(
                "chief_complaint",
                self.chief_complaint,
                limits::CHIEF_COMPLAINT,
            )?,
            notes: text("notes", self.notes, limits::NOTES)?,
            diagnosis: text("diagnosis", self.diagnosis, limits::DIAGNOSIS)?,
            vitals: self
                .vitals
                .map(|v| v.validate(today).map(Valid::into_inner))
                .transpose()?,
        }))
    }
}

/// A signed note never changes; corrections are addenda.
pub fn note_editable(signed_at: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    match signed_at {
        Some(_) => Err(invalid_state(
            "This note is signed and cannot change; add an addendum instead.",
        )),
        None => Ok(()),
    }
}

/// Signing is once.
pub fn note_signable(signed_at: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    match signed_at {
        Some(_) => Err(invalid_state("This note is already signed.")),
        None => Ok(()),
    }
}

/// Addenda correct signed notes; an unsigned note is edited directly.
pub fn addendum_allowed(signed_at: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    match signed_at {
        Some(_) => Ok(()),
        None => Err(invalid_state(
            "The note is not signed yet; edit it directly.",
        )),
    }
}

impl Validate for NewAddendum {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(NewAddendum {
            id: self.id,
            text: required_text("text", &self.text, limits::ADDENDUM)?,
        }))
    }
}

// ------------------------------------------------------------------ conflicts

/// Either resolution is valid; whether the conflict is still open is a state rule.
impl Validate for crate::sync::ResolveConflict {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(self))
    }
}

// ------------------------------------------------------------------ allergies

impl Validate for NewAllergy {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(NewAllergy {
            substance: required_text("substance", &self.substance, limits::ALLERGY_SUBSTANCE)?,
            reaction: free_text("reaction", &self.reaction, limits::ALLERGY_REACTION)?,
            ..self
        }))
    }
}

impl Validate for AllergyPatch {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(AllergyPatch {
            substance: self
                .substance
                .map(|v| required_text("substance", &v, limits::ALLERGY_SUBSTANCE))
                .transpose()?,
            reaction: self
                .reaction
                .map(|v| free_text("reaction", &v, limits::ALLERGY_REACTION))
                .transpose()?,
            ..self
        }))
    }
}

// ------------------------------------------------------------------ catalogue

impl Validate for crate::api::NewCatalogueItem {
    /// As an invoice line is checked, and the rate must be in force today (an item is
    /// offered on today's bills).
    fn validate(self, today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        let name = required_text("name", &self.name, limits::LINE_DESCRIPTION)?;
        let line = crate::api::NewInvoiceLine {
            description: name.clone(),
            sac_hsn: self.sac_hsn.clone(),
            quantity: 1,
            unit_price_paise: self.price_paise,
            discount_paise: 0,
            gst_rate_bp: self.gst_rate_bp,
            treatment: self.treatment,
            unit: self.unit.clone(),
        };
        let line = checked_line(line).map_err(|e| ApiError {
            field: e.field.map(|f| {
                match f.as_str() {
                    "unit_price_paise" => "price_paise",
                    other => other,
                }
                .to_owned()
            }),
            ..e
        })?;
        if !gst::rates_in_force(today).contains(&self.gst_rate_bp) {
            return Err(invalid(
                "gst_rate_bp",
                format!(
                    "GST at {} is not a rate in force on {today}.",
                    gst::format_rate(self.gst_rate_bp)
                ),
            ));
        }
        Ok(Valid(crate::api::NewCatalogueItem {
            name,
            treatment: line.treatment,
            unit: line.unit,
            ..self
        }))
    }
}

impl Validate for crate::api::CatalogueItemPatch {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        if let Some(p) = self.price_paise {
            if !(0..=limits::MAX_UNIT_PRICE_PAISE).contains(&p) {
                return Err(invalid(
                    "price_paise",
                    "Unit price must be between ₹0 and ₹1,00,00,000.",
                ));
            }
        }
        Ok(Valid(crate::api::CatalogueItemPatch {
            name: self
                .name
                .map(|v| required_text("name", &v, limits::LINE_DESCRIPTION))
                .transpose()?,
            ..self
        }))
    }
}

impl Validate for crate::api::NewGroupCatalogueItem {
    /// The item as a branch's own; the branches named at most once each, and not too many
    /// (a group's branches, not a list to fill a request with).
    fn validate(self, today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        let item = self.item.validate(today)?.into_inner();
        let clinics = match self.clinics {
            None => None,
            Some(clinics) => {
                if clinics.is_empty() || clinics.len() > limits::GROUP_BRANCHES {
                    return Err(invalid(
                        "clinics",
                        format!(
                            "Name between 1 and {} branches, or none for all of yours.",
                            limits::GROUP_BRANCHES
                        ),
                    ));
                }
                let mut unique = clinics.clone();
                unique.sort();
                unique.dedup();
                if unique.len() != clinics.len() {
                    return Err(invalid("clinics", "A branch is named twice."));
                }
                Some(clinics)
            }
        };
        Ok(Valid(crate::api::NewGroupCatalogueItem { item, clinics }))
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether a prescribed drug is the allergy's substance: every word of the substance is a
/// word of the drug, case-insensitively ("Amoxicillin" matches "Amoxicillin + Clavulanic
/// acid"). Generic names only: drug classes (penicillins) are not expanded.
pub fn drug_matches(substance: &str, drug: &str) -> bool {
    let (substance, drug) = (words(substance), words(drug));
    !substance.is_empty() && substance.iter().all(|w| drug.contains(w))
}

/// One active allergy that a prescribed drug matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AllergyWarning {
    pub allergy_id: uuid::Uuid,
    pub item: usize,
    pub drug: String,
    pub substance: String,
    pub severity: crate::api::AllergySeverity,
    pub reaction: String,
}

/// The warnings a prescription pad shows: each (item, active allergy) pair that matches.
pub fn allergy_warnings(
    prescription: &NewPrescription,
    allergies: &[Allergy],
) -> Vec<AllergyWarning> {
    let mut out = Vec::new();
    for (item, i) in prescription.items.iter().enumerate() {
        for a in allergies.iter().filter(|a| {
            a.status == AllergyStatus::Active && a.patient_id == prescription.patient_id
        }) {
            if drug_matches(&a.substance, &i.drug) {
                out.push(AllergyWarning {
                    allergy_id: a.id,
                    item,
                    drug: i.drug.clone(),
                    substance: a.substance.clone(),
                    severity: a.severity,
                    reaction: a.reaction.clone(),
                });
            }
        }
    }
    out
}

/// A drug that matches an active allergy is prescribed only once the doctor acknowledged
/// the warning (the acknowledgement is stored with the prescription). Checked where the
/// prescription is written, against the allergies known there.
pub fn allergies_acknowledged(
    prescription: &NewPrescription,
    allergies: &[Allergy],
) -> Result<(), ApiError> {
    match allergy_warnings(prescription, allergies)
        .into_iter()
        .find(|w| !prescription.acknowledged_allergies.contains(&w.allergy_id))
    {
        None => Ok(()),
        Some(w) => Err(invalid(
            format!("items[{}].drug", w.item),
            format!(
                "The patient has a recorded {} allergy to {}{}. Acknowledge the warning to prescribe {}.",
                w.severity.as_str().replace('_', "-"),
                w.substance,
                if w.reaction.is_empty() { String::new() } else { format!(" ({})", w.reaction) },
                w.drug
            ),
        )),
    }
}

// ------------------------------------------------------------------ prescriptions

impl Validate for NewPrescription {
    /// Rows without a medicine are dropped (the pad always shows an empty row); at least
    /// one medicine remains.
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        let mut items = self.items;
        items.retain(|i| !i.drug.trim().is_empty());
        if items.is_empty() {
            return Err(invalid("items", "Add at least one medicine."));
        }
        if items.len() > limits::PRESCRIPTION_ITEMS {
            return Err(invalid(
                "items",
                format!(
                    "A prescription holds at most {} medicines.",
                    limits::PRESCRIPTION_ITEMS
                ),
            ));
        }
        for (i, item) in items.iter_mut().enumerate() {
            let f = |name: &str| format!("items[{i}].{name}");
            item.drug = required_text(&f("drug"), &item.drug, limits::DRUG)?;
            item.strength = free_text(&f("strength"), &item.strength, limits::DOSING)?;
            item.dose = free_text(&f("dose"), &item.dose, limits::DOSING)?;
            item.frequency = free_text(&f("frequency"), &item.frequency, limits::DOSING)?;
            item.duration = free_text(&f("duration"), &item.duration, limits::DOSING)?;
            item.instructions =
                free_text(&f("instructions"), &item.instructions, limits::INSTRUCTIONS)?;
        }
        Ok(Valid(NewPrescription {
            notes: free_text("notes", &self.notes, limits::PRESCRIPTION_NOTES)?,
            items,
            ..self
        }))
    }
}

// ------------------------------------------------------------------ invoices

/// A series name: 1–9 capital letters, digits or dashes, so that a printed number
/// (`<series>/<six digits>`) stays within Rule 46(b)'s sixteen characters
/// (`crate::numbering`).
fn check_series(field: &str, series: &str) -> Result<(), ApiError> {
    if !(1..=limits::SERIES).contains(&series.len())
        || !series
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid(
            field,
            "A series is 1–9 capital letters, digits or dashes.",
        ));
    }
    Ok(())
}

/// Only a device series has numbers a device can cancel; the main series is numbered by
/// the server, which never hands out a number it then loses.
impl Validate for CancelledInvoiceNumber {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        check_series("series", &self.series)?;
        if is_main_series(&self.series) {
            return Err(invalid(
                "series",
                "Numbers of the main series are never cancelled by a device.",
            ));
        }
        if self.number <= 0 {
            return Err(invalid("number", "An invoice number must be positive."));
        }
        Ok(Valid(CancelledInvoiceNumber {
            reason: optional_text("reason", self.reason.as_deref(), limits::CANCEL_REASON)?,
            ..self
        }))
    }
}

/// One invoice line (or catalogue item) as the rules take it: text cleaned, code, quantity,
/// price and rate checked, treatment and unit filled in. Fields are named bare
/// (`sac_hsn`); an invoice prefixes them with the line (`lines[2].sac_hsn`).
fn checked_line(mut l: crate::api::NewInvoiceLine) -> Result<crate::api::NewInvoiceLine, ApiError> {
    l.description = required_text("description", &l.description, limits::LINE_DESCRIPTION)?;
    if !(4..=8).contains(&l.sac_hsn.len()) || !l.sac_hsn.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("sac_hsn", "A SAC/HSN code has 4 to 8 digits."));
    }
    if !(1..=limits::MAX_QUANTITY).contains(&l.quantity) {
        return Err(invalid(
            "quantity",
            "Quantity must be between 1 and 100000.",
        ));
    }
    if !(0..=limits::MAX_UNIT_PRICE_PAISE).contains(&l.unit_price_paise) {
        return Err(invalid(
            "unit_price_paise",
            "Unit price must be between ₹0 and ₹1,00,00,000.",
        ));
    }
    // The arithmetic (allowed rate, discount within the amount) does not depend on
    // the place of supply, so one split checks it for both.
    gst::tax_line(
        l.quantity,
        l.unit_price_paise,
        l.discount_paise,
        l.gst_rate_bp,
        SupplyKind::IntraState,
    )
    .map_err(|e| match e {
        gst::GstError::RateNotAllowed(_) => invalid("gst_rate_bp", e.to_string()),
        _ => invalid("discount_paise", e.to_string()),
    })?;
    let treatment = l
        .treatment
        .unwrap_or_else(|| gst::TaxTreatment::default_for(l.gst_rate_bp));
    if !treatment.fits_rate(l.gst_rate_bp) {
        return Err(invalid(
            "treatment",
            if treatment == gst::TaxTreatment::Taxable {
                "A taxable line needs its GST rate."
            } else {
                "An exempt, nil-rated or non-GST line carries no GST: bill it at 0 %."
            },
        ));
    }
    l.treatment = Some(treatment);
    let service = gst::is_service_code(&l.sac_hsn);
    let unit = match l.unit.as_deref().map(str::trim) {
        None | Some("") => gst::default_unit(&l.sac_hsn).to_owned(),
        Some(u) => u.to_ascii_uppercase(),
    };
    if !gst::UNITS.contains(&unit.as_str()) || (unit == "NA") != service {
        return Err(invalid(
            "unit",
            if service {
                "A service (SAC 99…) is counted without a unit (NA)."
            } else {
                "Count goods in one of GSTN's units (NOS, BOX, BTL, PAC, TBS, MLT, …)."
            },
        ));
    }
    l.unit = Some(unit);
    Ok(l)
}

impl Validate for NewInvoice {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        if self.lines.is_empty() || self.lines.len() > limits::INVOICE_LINES {
            return Err(invalid(
                "lines",
                format!("An invoice needs 1 to {} lines.", limits::INVOICE_LINES),
            ));
        }
        if let Some(series) = &self.series {
            check_series("series", series)?;
        }
        // No series is the main series of the year; the server numbers it.
        let main = self.series.as_deref().is_none_or(is_main_series);
        match self.number {
            Some(_) if main => {
                return Err(invalid(
                    "number",
                    "Numbers of the main series are assigned by the server.",
                ))
            }
            Some(n) if n <= 0 => {
                return Err(invalid("number", "An invoice number must be positive."))
            }
            _ => {}
        }
        if let Some(pos) = &self.place_of_supply {
            if !is_state_code(pos) {
                return Err(invalid(
                    "place_of_supply",
                    "The place of supply is a two-digit GST state code.",
                ));
            }
        }
        let lines = self
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                checked_line(l).map_err(|e| ApiError {
                    field: e.field.map(|f| format!("lines[{i}].{f}")),
                    ..e
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let recipient = match self.recipient {
            None => None,
            Some(r) => {
                let gstin = r.gstin.trim().to_ascii_uppercase();
                gst::check_gstin(&gstin, None).map_err(|m| invalid("recipient.gstin", m))?;
                let name = required_text("recipient.name", &r.name, limits::RECIPIENT_NAME)?;
                Some(crate::api::InvoiceRecipient { gstin, name })
            }
        };
        Ok(Valid(NewInvoice {
            lines,
            recipient,
            ..self
        }))
    }
}

impl Validate for crate::api::MedicalRegistration {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(crate::api::MedicalRegistration {
            number: required_text("number", &self.number, 100)?,
            qualifications: free_text("qualifications", &self.qualifications, 200)?,
        }))
    }
}

impl Validate for crate::api::NewMember {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        let email = self.email.trim().to_lowercase();
        let well_formed = email.len() <= 320
            && email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(char::is_whitespace);
        if !well_formed {
            return Err(invalid(
                "email",
                "Enter an email address such as asha@clinic.in.",
            ));
        }
        staff_role(self.role)?;
        Ok(Valid(crate::api::NewMember { email, ..self }))
    }
}

impl Validate for crate::api::NewHub {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        if let Some(pin) = &self.certificate_sha256 {
            if pin.len() != 64 || !pin.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(invalid(
                    "certificate_sha256",
                    "The certificate's SHA-256 is 64 lowercase hex digits.",
                ));
            }
        }
        Ok(Valid(crate::api::NewHub {
            name: required_text("name", &self.name, 200)?,
            certificate_sha256: self.certificate_sha256,
        }))
    }
}

impl Validate for crate::api::HubAddresses {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        if self.addresses.is_empty() || self.addresses.len() > 8 {
            return Err(invalid("addresses", "Give 1 to 8 addresses."));
        }
        for (i, a) in self.addresses.iter().enumerate() {
            let ok = a.len() <= 200
                && a.strip_prefix("https://").is_some_and(|rest| {
                    !rest.is_empty()
                        && rest.chars().all(|c| c.is_ascii_graphic())
                        && !rest.contains(['/', '?', '#', '@'])
                });
            if !ok {
                return Err(invalid(
                    format!("addresses[{i}]"),
                    "An address is https://host:port, nothing after it.",
                ));
            }
        }
        Ok(Valid(self))
    }
}

impl Validate for crate::api::MemberPatch {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        staff_role(self.role)?;
        Ok(Valid(self))
    }
}

/// A person's role: the clinic hub's is registered under `/hubs`, never given to a person.
fn staff_role(role: crate::api::Role) -> Result<(), ApiError> {
    if role.is_person() {
        Ok(())
    } else {
        Err(invalid(
            "role",
            "A clinic hub is registered as a hub, not given to a person as a role.",
        ))
    }
}

impl Validate for crate::api::CollectionsQuery {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        if self.to < self.from {
            return Err(invalid("to", "The last day must not be before the first."));
        }
        if (self.to - self.from).num_days() >= crate::api::MAX_REPORT_DAYS {
            return Err(invalid(
                "to",
                format!(
                    "A report covers at most {} days.",
                    crate::api::MAX_REPORT_DAYS
                ),
            ));
        }
        Ok(Valid(self))
    }
}

impl Validate for crate::gstr1::Gstr1Query {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        if !(2017..=9999).contains(&self.year) {
            return Err(invalid("year", "GST began in 2017; give a year from 2017."));
        }
        if !(1..=12).contains(&self.month) {
            return Err(invalid("month", "A month is 1 to 12."));
        }
        match self.months.unwrap_or(1) {
            1 => {}
            3 if self.month % 3 == 1 => {}
            3 => {
                return Err(invalid(
                    "month",
                    "A quarter starts in April, July, October or January.",
                ))
            }
            _ => {
                return Err(invalid(
                    "months",
                    "A return covers one month, or three for quarterly filers.",
                ))
            }
        }
        Ok(Valid(self))
    }
}

impl Validate for NewPayment {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        // Positive: money received; negative: a refund of money received (never ₹0).
        if self.amount_paise == 0 {
            return Err(invalid(
                "amount_paise",
                "A payment or a refund must not be ₹0.",
            ));
        }
        Ok(Valid(NewPayment {
            reference: optional_text(
                "reference",
                self.reference.as_deref(),
                limits::PAYMENT_REFERENCE,
            )?,
            ..self
        }))
    }
}

/// A device reports only what it did on its own: reads, lists and prints of patient data,
/// and discards of its unsent changes. Sign-ins, denials and writes are the server's to
/// record; an uploaded claim of one would put words in the audit trail's mouth.
pub fn device_access(action: crate::api::AuditAction) -> Result<(), ApiError> {
    use crate::api::AuditAction as A;
    match action {
        A::Read | A::List | A::Print | A::Discard => Ok(()),
        other => Err(invalid(
            "local_accesses",
            format!(
                "A device does not report {} records; the server writes those itself.",
                other.as_str()
            ),
        )),
    }
}

/// A payment never takes more than is due, and none is taken on a cancelled invoice; a
/// refund (a negative payment) never returns more than was paid.
pub fn payment_fits(amount_paise: i64, invoice: &crate::api::Invoice) -> Result<(), ApiError> {
    if amount_paise > 0 && invoice.cancellation.is_some() {
        return Err(invalid_state(
            "This invoice is cancelled; it takes no more payments.",
        ));
    }
    // In i128: no amount a request can carry overflows (-i64::MIN does in i64). What
    // credit notes gave back is no longer due.
    let (amount, total, paid) = (
        i128::from(amount_paise),
        i128::from(invoice.totals.total_paise) - i128::from(invoice.credited_paise()),
        i128::from(invoice.paid_paise),
    );
    if amount > total - paid {
        return Err(invalid(
            "amount_paise",
            "The payment is more than the amount due.",
        ));
    }
    if -amount > paid {
        return Err(invalid(
            "amount_paise",
            "The refund is more than was paid on this invoice.",
        ));
    }
    Ok(())
}

/// The doctor an invoice bills for is a doctor of the clinic (one revoked since still was):
/// the server asks its memberships; a PC asks the member list it keeps (when it has none
/// yet, the server decides at sync).
pub fn invoice_doctor_fits(
    doctor_id: Option<uuid::Uuid>,
    members: &[crate::api::Member],
) -> Result<(), ApiError> {
    match doctor_id {
        Some(id)
            if !members
                .iter()
                .any(|m| m.user.id == id && m.role == crate::api::Role::Doctor) =>
        {
            Err(invalid(
                "doctor_id",
                "The doctor billed for is not a doctor of this clinic.",
            ))
        }
        _ => Ok(()),
    }
}

// ------------------------------------------------------------------ credit notes

impl Validate for crate::api::NewCreditNote {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        use crate::numbering::{Document, Series};
        match (&self.series, self.number) {
            (None, None) => {}
            (Some(series), Some(number)) => {
                check_series("series", series)?;
                if !matches!(
                    Series::parse(series),
                    Series::Device(Document::CreditNote, ..)
                ) {
                    return Err(invalid(
                        "series",
                        "A device numbers credit notes only in its own credit-note series of the year.",
                    ));
                }
                if number <= 0 {
                    return Err(invalid("number", "A credit note number must be positive."));
                }
            }
            (Some(_), None) => {
                return Err(invalid(
                    "number",
                    "A device's credit note brings its number.",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "number",
                    "Numbers of the main series are assigned by the server.",
                ))
            }
        }
        if self.lines.is_empty() || self.lines.len() > limits::INVOICE_LINES {
            return Err(invalid(
                "lines",
                format!(
                    "A credit note credits 1 to {} lines.",
                    limits::INVOICE_LINES
                ),
            ));
        }
        for (i, line) in self.lines.iter().enumerate() {
            if self.lines[..i]
                .iter()
                .any(|l| l.invoice_line_id == line.invoice_line_id)
            {
                return Err(invalid(
                    format!("lines[{i}].invoice_line_id"),
                    "Each invoice line is credited once per credit note.",
                ));
            }
            if line.taxable_paise <= 0 {
                return Err(invalid(
                    format!("lines[{i}].taxable_paise"),
                    "The amount credited must be more than zero.",
                ));
            }
        }
        Ok(Valid(crate::api::NewCreditNote {
            reason: required_text("reason", &self.reason, limits::CANCEL_REASON)?,
            ..self
        }))
    }
}

/// What a credit note against `invoice` gives back, line by line, or why it may not be
/// issued (CGST Act s. 34): not on a cancelled invoice; not dated before the invoice, nor
/// after 30 November following the end of the invoice's financial year (s. 34(2)); on each
/// line at most the taxable value not yet credited, taxed at the line's own rate. The part
/// that credits what is left of a line takes what is left of its tax, so a line credited in
/// several notes gives back exactly its tax, never a paisa more or less.
pub fn credit_note_lines(
    invoice: &crate::api::Invoice,
    new: &crate::api::NewCreditNote,
    issued_at: DateTime<Utc>,
) -> Result<(Vec<crate::api::CreditNoteLine>, gst::LineTax), ApiError> {
    use crate::numbering::FinancialYear;
    if invoice.cancellation.is_some() {
        return Err(invalid_state(
            "This invoice is cancelled; nothing on it is left to credit.",
        ));
    }
    if issued_at < invoice.issued_at {
        return Err(invalid_state(
            "A credit note cannot be dated before its invoice.",
        ));
    }
    let year = FinancialYear::of(invoice.issued_at);
    let last = year.last_credit_note_day();
    if crate::rules::clock::india_date(issued_at) > last {
        return Err(invalid_state(format!(
            "Credit notes for invoices of {}–{:02} could be issued until {} (CGST Act s. 34(2)).",
            year.0,
            (year.0 + 1) % 100,
            last.format("%d %B %Y")
        )));
    }
    let mut lines = Vec::with_capacity(new.lines.len());
    for (i, wanted) in new.lines.iter().enumerate() {
        let Some(line) = invoice
            .lines
            .iter()
            .find(|l| l.id == wanted.invoice_line_id)
        else {
            return Err(invalid(
                format!("lines[{i}].invoice_line_id"),
                "This line is not on the invoice.",
            ));
        };
        let credited = invoice
            .credit_notes
            .iter()
            .flat_map(|c| &c.lines)
            .filter(|c| c.invoice_line_id == line.id)
            .map(|c| c.tax)
            .collect::<Vec<_>>();
        let credited = gst::sum_lines(&credited).map_err(|e| invalid("lines", e.to_string()))?;
        let left = line.tax.taxable_paise - credited.taxable_paise;
        if wanted.taxable_paise > left {
            return Err(invalid(
                format!("lines[{i}].taxable_paise"),
                format!(
                    "At most {} paise of this line's value is left to credit.",
                    left.max(0)
                ),
            ));
        }
        let tax = if wanted.taxable_paise == left {
            gst::LineTax {
                taxable_paise: left,
                cgst_paise: line.tax.cgst_paise - credited.cgst_paise,
                sgst_paise: line.tax.sgst_paise - credited.sgst_paise,
                igst_paise: line.tax.igst_paise - credited.igst_paise,
                total_paise: line.tax.total_paise - credited.total_paise,
            }
        } else {
            gst::tax_line(
                1,
                wanted.taxable_paise,
                0,
                line.gst_rate_bp,
                invoice.supply_kind,
            )
            .map_err(|e| invalid(format!("lines[{i}].taxable_paise"), e.to_string()))?
        };
        lines.push(crate::api::CreditNoteLine {
            invoice_line_id: line.id,
            position: i as i32 + 1,
            description: line.description.clone(),
            sac_hsn: line.sac_hsn.clone(),
            gst_rate_bp: line.gst_rate_bp,
            tax,
        });
    }
    let taxes: Vec<gst::LineTax> = lines.iter().map(|l| l.tax).collect();
    let totals = gst::sum_lines(&taxes).map_err(|e| invalid("lines", e.to_string()))?;
    Ok((lines, totals))
}

/// An issued invoice is cancelled once (kept and marked, never deleted, never undone), and
/// only with nothing paid on it: the payments are refunded first, so the books never keep
/// money against a cancelled bill.
pub fn invoice_cancellable(invoice: &crate::api::Invoice) -> Result<(), ApiError> {
    if invoice.cancellation.is_some() {
        return Err(invalid_state("This invoice is already cancelled."));
    }
    if !invoice.credit_notes.is_empty() {
        return Err(invalid_state(
            "This invoice has credit notes; credit what is left instead of cancelling it.",
        ));
    }
    if invoice.paid_paise != 0 {
        return Err(invalid_state(
            "Refund what was paid on this invoice before cancelling it.",
        ));
    }
    Ok(())
}

impl Validate for crate::api::CancelInvoice {
    fn validate(self, _today: NaiveDate) -> Result<Valid<Self>, ApiError> {
        Ok(Valid(crate::api::CancelInvoice {
            reason: required_text("reason", &self.reason, limits::CANCEL_REASON)?,
        }))
    }
}

#[cfg(test)]
mod payment_tests {
    use super::*;

    #[test]
    fn no_amount_overflows_the_payment_rule() {
        let invoice: crate::api::Invoice = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::nil(), "clinic_id": uuid::Uuid::nil(), "patient_id": uuid::Uuid::nil(),
            "series": "INV", "number": 1, "invoice_number": "INV/000001",
            "issued_at": "2026-04-01T10:00:00Z", "place_of_supply": "27", "supply_kind": "intra_state",
            "lines": [], "payments": [], "paid_paise": 10_000, "version": 1,
            "totals": {"taxable_paise": 50_000, "cgst_paise": 0, "sgst_paise": 0, "igst_paise": 0, "total_paise": 50_000},
        }))
        .unwrap();
        for amount in [i64::MIN, i64::MIN + 1, -10_001, 40_001, i64::MAX] {
            assert_eq!(
                payment_fits(amount, &invoice).unwrap_err().field.as_deref(),
                Some("amount_paise"),
                "{amount}"
            );
        }
        for amount in [-10_000, -1, 1, 40_000] {
            assert!(payment_fits(amount, &invoice).is_ok(), "{amount}");
        }
    }
}

#[cfg(test)]
mod credit_note_tests {
    use super::*;
    use crate::api::{Invoice, NewCreditNote, NewCreditNoteLine};
    use chrono::TimeZone;
    use uuid::Uuid;

    /// A bill of 31 March 2026 (India): a consultation (exempt) and a procedure at 18 %.
    fn invoice() -> Invoice {
        let line = |id: u128, pos: i32, rate: u32, taxable: i64, half: i64| {
            serde_json::json!({"id": Uuid::from_u128(id), "position": pos, "description": "x",
                "sac_hsn": "999312", "quantity": 1, "unit_price_paise": taxable, "discount_paise": 0,
                "gst_rate_bp": rate, "tax": {"taxable_paise": taxable, "cgst_paise": half,
                "sgst_paise": half, "igst_paise": 0, "total_paise": taxable + 2 * half}})
        };
        serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(), "clinic_id": Uuid::nil(), "patient_id": Uuid::nil(),
            "series": "2526-INV", "number": 1, "invoice_number": "2526-INV/000001",
            "issued_at": "2026-03-31T12:00:00Z", "place_of_supply": "27", "supply_kind": "intra_state",
            "lines": [line(1, 1, 0, 50_000, 0), line(2, 2, 1800, 10_001, 900)],
            "payments": [], "paid_paise": 0, "version": 1,
            "totals": {"taxable_paise": 60_001, "cgst_paise": 900, "sgst_paise": 900, "igst_paise": 0, "total_paise": 61_801},
        }))
        .unwrap()
    }

    fn note(lines: &[(u128, i64)]) -> NewCreditNote {
        NewCreditNote {
            id: None,
            series: None,
            number: None,
            reason: "Procedure not done".into(),
            lines: lines
                .iter()
                .map(|(id, paise)| NewCreditNoteLine {
                    invoice_line_id: Uuid::from_u128(*id),
                    taxable_paise: *paise,
                })
                .collect(),
        }
    }

    fn in_april() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, 2, 6, 0, 0).unwrap()
    }

    #[test]
    fn a_line_credited_in_parts_gives_back_exactly_its_tax() {
        let mut inv = invoice();
        let (first, totals) = credit_note_lines(&inv, &note(&[(2, 5_000)]), in_april()).unwrap();
        // 18 % of ₹50.00: ₹4.50 each half.
        assert_eq!((first[0].tax.cgst_paise, totals.total_paise), (450, 5_900));
        inv.credit_notes.push(crate::api::CreditNote {
            id: Uuid::new_v4(),
            invoice_id: inv.id,
            series: "2627-CN".into(),
            number: 1,
            credit_note_number: "2627-CN/000001".into(),
            issued_at: in_april(),
            reason: "x".into(),
            lines: first,
            totals,
        });
        let too_much = credit_note_lines(&inv, &note(&[(2, 5_002)]), in_april()).unwrap_err();
        assert_eq!(too_much.field.as_deref(), Some("lines[0].taxable_paise"));
        let (rest, _) = credit_note_lines(&inv, &note(&[(2, 5_001)]), in_april()).unwrap();
        // What is left of the tax (₹9.00 − ₹4.50), not 18 % of ₹50.01 rounded.
        assert_eq!((rest[0].tax.cgst_paise, rest[0].tax.sgst_paise), (450, 450));
        // The credit no longer counts as due.
        assert!(payment_fits(61_801 - 5_900, &inv).is_ok());
        assert!(payment_fits(61_801 - 5_899, &inv).is_err());
        assert!(
            invoice_cancellable(&inv).is_err(),
            "credit the rest instead"
        );
    }

    #[test]
    fn a_credit_note_keeps_to_its_invoice_and_the_time_limit() {
        let inv = invoice();
        let unknown = credit_note_lines(&inv, &note(&[(9, 1)]), in_april()).unwrap_err();
        assert_eq!(unknown.field.as_deref(), Some("lines[0].invoice_line_id"));
        let before = Utc.with_ymd_and_hms(2026, 3, 30, 6, 0, 0).unwrap();
        assert_eq!(
            credit_note_lines(&inv, &note(&[(1, 1)]), before)
                .unwrap_err()
                .code,
            ErrorCode::InvalidState
        );
        // s. 34(2): until 30 November after the year (2025–26) ends, India time.
        let last = Utc.with_ymd_and_hms(2026, 11, 30, 18, 0, 0).unwrap();
        assert!(credit_note_lines(&inv, &note(&[(1, 1)]), last).is_ok());
        let late = Utc.with_ymd_and_hms(2026, 11, 30, 18, 31, 0).unwrap();
        let refused = credit_note_lines(&inv, &note(&[(1, 1)]), late).unwrap_err();
        assert!(refused.message.contains("2025–26"), "{}", refused.message);
        let mut cancelled = inv.clone();
        cancelled.cancellation = Some(crate::api::InvoiceCancellation {
            cancelled_at: in_april(),
            cancelled_by: Uuid::nil(),
            reason: "x".into(),
        });
        assert!(credit_note_lines(&cancelled, &note(&[(1, 1)]), in_april()).is_err());
    }

    #[test]
    fn a_new_credit_note_is_checked_before_any_invoice_is_read() {
        let today = Utc::now().date_naive();
        let field = |n: NewCreditNote| n.validate(today).unwrap_err().field;
        assert_eq!(field(note(&[])), Some("lines".into()));
        assert_eq!(
            field(note(&[(1, 0)])),
            Some("lines[0].taxable_paise".into())
        );
        assert_eq!(
            field(note(&[(1, 5), (1, 6)])),
            Some("lines[1].invoice_line_id".into())
        );
        let mut blank = note(&[(1, 5)]);
        blank.reason = "  ".into();
        assert_eq!(field(blank), Some("reason".into()));
        let numbered = |series: Option<&str>, number: Option<i64>| NewCreditNote {
            series: series.map(str::to_owned),
            number,
            ..note(&[(1, 5)])
        };
        assert_eq!(field(numbered(None, Some(3))), Some("number".into()));
        assert_eq!(
            field(numbered(Some("2627-C3"), None)),
            Some("number".into())
        );
        for wrong in ["2627-CN", "2627-D3", "C3"] {
            assert_eq!(
                field(numbered(Some(wrong), Some(1))),
                Some("series".into()),
                "{wrong}"
            );
        }
        assert!(numbered(Some("2627-C3"), Some(1)).validate(today).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AllergySeverity, NewPrescriptionItem};
    use uuid::Uuid;

    fn allergy(patient: Uuid, substance: &str, status: AllergyStatus) -> Allergy {
        let now = Utc::now();
        Allergy {
            id: Uuid::new_v4(),
            clinic_id: Uuid::nil(),
            patient_id: patient,
            substance: substance.to_owned(),
            reaction: "Rash".to_owned(),
            severity: AllergySeverity::Severe,
            status,
            noted_by: Uuid::nil(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    fn rx(patient: Uuid, drugs: &[&str]) -> NewPrescription {
        NewPrescription {
            id: None,
            patient_id: patient,
            encounter_id: None,
            notes: String::new(),
            items: drugs
                .iter()
                .map(|d| NewPrescriptionItem {
                    drug: d.to_string(),
                    strength: String::new(),
                    dose: String::new(),
                    frequency: String::new(),
                    duration: String::new(),
                    instructions: String::new(),
                })
                .collect(),
            acknowledged_allergies: Vec::new(),
        }
    }

    #[test]
    fn drug_names_match_by_words() {
        assert!(drug_matches("Amoxicillin", "amoxicillin + Clavulanic acid"));
        assert!(drug_matches(
            "clavulanic acid",
            "Amoxicillin + Clavulanic Acid"
        ));
        assert!(!drug_matches("Penicillin", "Amoxicillin"));
        assert!(!drug_matches("", "Amoxicillin"));
        assert!(!drug_matches("Sulfa", "Sulfasalazine"));
    }

    #[test]
    fn an_active_matching_allergy_must_be_acknowledged() {
        let patient = Uuid::new_v4();
        let amox = allergy(patient, "Amoxicillin", AllergyStatus::Active);
        let old = allergy(patient, "Paracetamol", AllergyStatus::Inactive);
        let other = allergy(Uuid::new_v4(), "Cetirizine", AllergyStatus::Active);
        let allergies = [amox.clone(), old, other];
        let mut new = rx(patient, &["Paracetamol", "Amoxicillin", "Cetirizine"]);
        let warnings = allergy_warnings(&new, &allergies);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].item, 1);
        let e = allergies_acknowledged(&new, &allergies).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("items[1].drug"));
        new.acknowledged_allergies.push(amox.id);
        allergies_acknowledged(&new, &allergies).unwrap();
    }
}
