//! The one rule set: who may do what ([`permissions`]), what a valid record is
//! ([`validation`]), how a clinician reads vitals ([`vitals`]) and how far a device's clock
//! is believed ([`clock`]). Every tier calls these functions; none restates a rule. What the device
//! accepts, the server accepts.

pub mod clock;
pub mod duplicates;
pub mod permissions;
pub mod validation;
pub mod vitals;

pub use permissions::{authorize, may, roles_for, Action, Resource};
pub use validation::{Valid, Validate};

/// The rule set as data for the web UI (`ui/src/generated/rules.json`, written by
/// `cargo test -p vaidya-shared --test ui_rules` with `VAIDYA_UPDATE_GENERATED=1`; the same
/// test fails when the committed file is stale). The UI's checks read their numbers and its
/// screens their permissions from it, never from a hand-written copy.
pub fn rules_for_ui() -> serde_json::Value {
    use validation::limits as l;
    let grants: Vec<serde_json::Value> = permissions::GRANTS
        .iter()
        .map(|g| {
            serde_json::json!({
                "resource": g.resource,
                "action": g.action,
                "roles": g.roles,
            })
        })
        .collect();
    // In the order the rules check them: the first vital out of range is the one reported.
    let vital_ranges: Vec<serde_json::Value> = validation::VITAL_RANGES
        .iter()
        .map(|(name, lo, hi)| {
            serde_json::json!({
                "field": name,
                "label": validation::vital_label(name),
                "min": lo,
                "max": hi,
            })
        })
        .collect();
    serde_json::json!({
        "generated_from": "shared/src/rules (do not edit by hand)",
        "grants": grants,
        // The roles a person may be given (the clinic hub's is not one of them).
        "staff_roles": crate::api::Role::STAFF,
        "vital_ranges": vital_ranges,
        // How a clinician reads vitals (`vitals`): an adult's usual ranges, BMI bands.
        "vital_reference": {
            "adult_from_years": vitals::ADULT_FROM_YEARS,
            "adult_ranges": vitals::ADULT_RANGES
                .iter()
                .map(|(field, lo, hi)| serde_json::json!({"field": field, "low": lo, "high": hi}))
                .collect::<Vec<_>>(),
            "bmi_bands_tenths": vitals::BMI_BANDS_TENTHS,
        },
        "limits": {
            "patient_name": l::PATIENT_NAME,
            "address": l::ADDRESS,
            "appointment_reason": l::APPOINTMENT_REASON,
            "appointment_hours": l::APPOINTMENT_HOURS,
            "chief_complaint": l::CHIEF_COMPLAINT,
            "notes": l::NOTES,
            "diagnosis": l::DIAGNOSIS,
            "addendum": l::ADDENDUM,
            "prescription_notes": l::PRESCRIPTION_NOTES,
            "prescription_items": l::PRESCRIPTION_ITEMS,
            "drug": l::DRUG,
            "dosing": l::DOSING,
            "instructions": l::INSTRUCTIONS,
            "invoice_lines": l::INVOICE_LINES,
            "line_description": l::LINE_DESCRIPTION,
            "recipient_name": l::RECIPIENT_NAME,
            "max_quantity": l::MAX_QUANTITY,
            "max_unit_price_paise": l::MAX_UNIT_PRICE_PAISE,
            "payment_reference": l::PAYMENT_REFERENCE,
            "cancel_reason": l::CANCEL_REASON,
            "series": l::SERIES,
            "allergy_substance": l::ALLERGY_SUBSTANCE,
            "allergy_reaction": l::ALLERGY_REACTION,
            "earliest_birth": format!("{:04}-{:02}-{:02}", l::EARLIEST_BIRTH.0, l::EARLIEST_BIRTH.1, l::EARLIEST_BIRTH.2),
        },
        "gst_rates_bp": crate::gst::ALLOWED_RATES_BP,
        // Each schedule in force from its date (India time): the picker offers today's.
        "gst_rate_schedules": crate::gst::RATE_SCHEDULES
            .iter()
            .map(|(from, rates)| serde_json::json!({"from": from, "rates_bp": rates}))
            .collect::<Vec<_>>(),
        // States whose state-level tax is UTGST (`gst::StateTax::of_state`).
        "utgst_states": crate::gst::UTGST_STATES,
        "main_series_code": crate::numbering::MAIN_CODE,
        // GSTN's unit quantity codes a line may be counted in (`gst::UNITS`).
        "units": crate::gst::UNITS,
        // The day's queue only moves forward: for each status, where it may go next
        // (`AppointmentStatus::can_move_to`, staying put excluded).
        "appointment_transitions": crate::api::AppointmentStatus::ALL
            .iter()
            .map(|from| {
                let next: Vec<&str> = crate::api::AppointmentStatus::ALL
                    .iter()
                    .filter(|to| *to != from && from.can_move_to(**to))
                    .map(|to| to.as_str())
                    .collect();
                (from.as_str().to_owned(), serde_json::json!(next))
            })
            .collect::<serde_json::Map<_, _>>(),
    })
}
