//! What the fixture tests share: one dispatcher from an entity name to its rules.

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use vaidya_shared::api::{
    AllergyPatch, AppointmentPatch, EncounterPatch, NewAddendum, NewAllergy, NewAppointment,
    NewEncounter, NewInvoice, NewPatient, NewPayment, NewPrescription, PatientPatch, Vitals,
};
use vaidya_shared::rules::Validate;
use vaidya_shared::ApiError;

fn check<T: DeserializeOwned + Serialize + Validate>(
    input: Value,
    today: NaiveDate,
) -> Result<Value, ApiError> {
    let parsed: T = serde_json::from_value(input).expect("fixture input has the entity's shape");
    parsed
        .validate(today)
        .map(|v| serde_json::to_value(&*v).unwrap())
}

/// Runs `input` through the rules of `entity`: the normalised value (as serialised) or the
/// refusal.
pub fn validate_fixture(entity: &str, input: Value, today: NaiveDate) -> Result<Value, ApiError> {
    match entity {
        "patient" => check::<NewPatient>(input, today),
        "patient_patch" => check::<PatientPatch>(input, today),
        "appointment" => check::<NewAppointment>(input, today),
        "appointment_patch" => check::<AppointmentPatch>(input, today),
        "vitals" => check::<Vitals>(input, today),
        "encounter" => check::<NewEncounter>(input, today),
        "encounter_patch" => check::<EncounterPatch>(input, today),
        "addendum" => check::<NewAddendum>(input, today),
        "prescription" => check::<NewPrescription>(input, today),
        "invoice" => check::<NewInvoice>(input, today),
        "payment" => check::<NewPayment>(input, today),
        "allergy" => check::<NewAllergy>(input, today),
        "allergy_patch" => check::<AllergyPatch>(input, today),
        other => panic!("the fixture names an entity the rules do not know: {other}"),
    }
}
