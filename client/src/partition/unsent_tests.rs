//! Tests of rejected changes (list, correct and resend, discard) against real SQLCipher
//! partition files in temporary directories.

use serde_json::{json, Map, Value};
use tempfile::TempDir;
use uuid::Uuid;
use vaidya_shared::api::{NewInvoice, NewInvoiceLine, NewPatient, PatientPatch, Sex};
use vaidya_shared::sync::MutationResult;
use vaidya_shared::ErrorCode;

use super::*;
use crate::sync::status_of;
use crate::test_support::valid;
use vaidya_shared::entity::kinds;

struct Fixture {
    _dir: TempDir,
    partition: ClinicPartition,
}

fn open() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path().join("vaidya"));
    let partition =
        ClinicPartition::open(&data_dir, Uuid::new_v4(), &PartitionKey::generate()).unwrap();
    Fixture {
        _dir: dir,
        partition,
    }
}

fn new_patient(name: &str, phone: &str) -> NewPatient {
    NewPatient {
        id: None,
        name: name.to_owned(),
        sex: Sex::Female,
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 4, 7),
        phone: Some(phone.to_owned()),
        address: None,
        abha_number: None,
    }
}

/// The server's answer to a push: this entry is rejected with `code`, blaming `field`.
fn reject(p: &mut ClinicPartition, mutation_id: Uuid, code: ErrorCode, field: Option<&str>) {
    let entries = p.outbox().unwrap();
    let result = MutationResult::Rejected {
        mutation_id,
        code,
        message: "Enter a 10-digit mobile number, optionally with +91.".to_owned(),
        field: field.map(str::to_owned),
    };
    let outcome = p.apply_push_results(&entries, &[result], None).unwrap();
    assert_eq!(outcome.rejected, 1);
}

fn ids(p: &ClinicPartition) -> Vec<(i64, Uuid, OutboxState)> {
    p.outbox()
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.mutation.mutation_id, e.state))
        .collect()
}

fn corrections(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn local_invoice(p: &mut ClinicPartition, patient_id: Uuid) -> vaidya_shared::api::Invoice {
    p.create_invoice(
        valid(NewInvoice {
            id: None,
            patient_id,
            series: None,
            number: None,
            place_of_supply: None,
            lines: vec![NewInvoiceLine {
                description: "Consultation".to_owned(),
                sac_hsn: "999312".to_owned(),
                quantity: 1,
                unit_price_paise: 50_000,
                discount_paise: 0,
                gst_rate_bp: 1800,
                treatment: None,
                unit: None,
            }],
            recipient: None,
            doctor_id: None,
        }),
        &crate::clinic::test_supplier(),
    )
    .unwrap()
}

#[test]
fn a_rejected_create_is_listed_in_words_and_stays_on_this_pc() {
    let mut f = open();
    let p = &mut f.partition;
    let asha = p
        .create_patient(valid(new_patient("Asha Rao", "9845012345")))
        .unwrap();
    let id = p.outbox().unwrap()[0].mutation.mutation_id;
    reject(p, id, ErrorCode::InvalidField, Some("phone"));

    let status = status_of(p).unwrap();
    assert_eq!((status.pending, status.rejected), (0, 1));
    assert!(!status.synced, "a rejected change is not synced");

    let changes = p.rejected_changes().unwrap();
    assert_eq!(changes.len(), 1);
    let c = &changes[0];
    assert_eq!(
        (c.mutation_id, c.entity, c.op, c.patient_id),
        (id, EntityKind::Patient, Operation::Create, Some(asha.id))
    );
    assert_eq!(c.patient_name.as_deref(), Some("Asha Rao"));
    assert_eq!(c.code.as_deref(), Some("invalid_field"));
    assert_eq!(c.field.as_deref(), Some("phone"));
    assert!(c.message.as_deref().unwrap().contains("10-digit"));
    let editable: Vec<&str> = c.editable.iter().map(|e| e.name.as_str()).collect();
    assert!(editable.contains(&"phone") && editable.contains(&"name"));
    assert!(!editable.contains(&"id"), "identities are not editable");

    // The server never had it: no refetch would bring it back, so it is not fetched (which
    // would delete the person's work before they could correct it).
    assert!(p.refetch_targets().unwrap().is_empty());
    assert!(p.peek::<kinds::Patient>(asha.id).unwrap().is_some());
    // Showing the list names the patient: recorded as a list read.
    let reads = p.local_reads(100).unwrap();
    assert!(reads
        .iter()
        .any(|r| r.action == ReadAction::List && r.patient_ids == vec![asha.id]));
}

#[test]
fn a_correction_gets_a_new_id_keeps_its_place_and_updates_the_row() {
    let mut f = open();
    let p = &mut f.partition;
    let asha = p
        .create_patient(valid(new_patient("Asha Rao", "9845012345")))
        .unwrap();
    p.create_patient(valid(new_patient("Ravi Kumar", "9822000001")))
        .unwrap();
    let before = ids(p);
    let old = before[0].1;
    reject(p, old, ErrorCode::InvalidField, Some("phone"));

    let stored = p
        .resend_change(old, &corrections(&[("phone", json!("98450 99999"))]))
        .unwrap();
    let new = stored.mutation.mutation_id;
    assert_ne!(new, old, "the server keeps the old id's rejection");
    assert_eq!(stored.seq, before[0].0, "same place in the outbox");
    assert_eq!(stored.state, OutboxState::Pending);
    assert_eq!(
        (
            stored.attempts,
            stored.error_code.as_ref(),
            stored.error_field.as_ref()
        ),
        (0, None, None)
    );
    // Normalised by the same rule the server applies.
    assert_eq!(
        stored.mutation.data.as_ref().unwrap()["phone"],
        "+919845099999"
    );
    let after = ids(p);
    assert_eq!(
        after,
        vec![
            (before[0].0, new, OutboxState::Pending),
            (before[1].0, before[1].1, OutboxState::Pending)
        ],
        "the corrected entry is still first"
    );
    assert_eq!(p.pushable_outbox(10).unwrap()[0].mutation.mutation_id, new);
    assert_eq!(
        p.peek::<kinds::Patient>(asha.id)
            .unwrap()
            .unwrap()
            .phone
            .as_deref(),
        Some("+919845099999"),
        "the cached row matches the corrected change"
    );
    assert!(p.rejected_changes().unwrap().is_empty());
    // The old id is gone: resending it again finds nothing.
    assert_eq!(
        p.resend_change(old, &Map::new()).unwrap_err().code(),
        "partition_not_found"
    );
}

#[test]
fn a_bad_correction_changes_nothing() {
    let mut f = open();
    let p = &mut f.partition;
    let asha = p
        .create_patient(valid(new_patient("Asha Rao", "9845012345")))
        .unwrap();
    let old = p.outbox().unwrap()[0].mutation.mutation_id;
    reject(p, old, ErrorCode::InvalidField, Some("phone"));
    let before = p.outbox().unwrap();

    let err = p
        .resend_change(old, &corrections(&[("phone", json!("12"))]))
        .unwrap_err();
    assert!(
        matches!(&err, PartitionError::InvalidValue { field, .. } if field == "phone"),
        "{err:?}"
    );
    assert_eq!(err.code(), "invalid_field");
    for (field, value) in [
        ("id", json!(Uuid::new_v4())),
        ("name", json!("")),
        ("sex", json!("robot")),
        ("date_of_birth", json!("07/04/1990")),
        ("name", json!(42)),
    ] {
        let err = p
            .resend_change(old, &corrections(&[(field, value.clone())]))
            .unwrap_err();
        assert!(
            matches!(&err, PartitionError::InvalidValue { field: f, .. } if f == field),
            "{field} = {value}: {err:?}"
        );
    }
    assert_eq!(p.outbox().unwrap(), before);
    assert_eq!(
        p.peek::<kinds::Patient>(asha.id).unwrap().unwrap().phone,
        asha.phone,
        "the cached row is unchanged"
    );
}

#[test]
fn a_resend_is_one_transaction() {
    let mut f = open();
    let p = &mut f.partition;
    let asha = p
        .create_patient(valid(new_patient("Asha Rao", "9845012345")))
        .unwrap();
    let old = p.outbox().unwrap()[0].mutation.mutation_id;
    reject(p, old, ErrorCode::InvalidField, Some("phone"));
    let before = p.outbox().unwrap();
    // The outbox update fails AFTER the cached row was rewritten: both must roll back.
    p.conn
        .execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE UPDATE ON outbox
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
        )
        .unwrap();
    assert!(p
        .resend_change(old, &corrections(&[("name", json!("Asha R. Rao"))]))
        .is_err());
    p.conn.execute_batch("DROP TRIGGER refuse").unwrap();
    assert_eq!(p.outbox().unwrap(), before);
    assert_eq!(
        p.peek::<kinds::Patient>(asha.id).unwrap().unwrap().name,
        "Asha Rao"
    );
    // And the connection is usable again (no transaction left open).
    p.resend_change(old, &corrections(&[("name", json!("Asha R. Rao"))]))
        .unwrap();
    assert_eq!(
        p.peek::<kinds::Patient>(asha.id).unwrap().unwrap().name,
        "Asha R. Rao"
    );
}

#[test]
fn a_rejected_update_is_resent_with_its_new_values() {
    let mut f = open();
    let p = &mut f.partition;
    let asha = p
        .create_patient(valid(new_patient("Asha Rao", "9845012345")))
        .unwrap();
    let create = p.outbox().unwrap()[0].mutation.mutation_id;
    p.acknowledge_mutation(create).unwrap();
    p.update_patient(
        asha.id,
        valid(PatientPatch {
            address: Some("12 MG Road".to_owned()),
            ..PatientPatch::default()
        }),
    )
    .unwrap();
    let old = p.outbox().unwrap()[0].mutation.mutation_id;
    reject(p, old, ErrorCode::Forbidden, None);
    let listed = &p.rejected_changes().unwrap()[0];
    assert_eq!(listed.op, Operation::Update);
    assert_eq!(listed.editable.len(), 1);
    assert_eq!(listed.editable[0].name, "address");

    // Nothing to correct (the role was given back): sent again as it was, under a new id.
    let stored = p.resend_change(old, &Map::new()).unwrap();
    assert_ne!(stored.mutation.mutation_id, old);
    assert_eq!(
        stored.mutation.changes["address"],
        json!({ "value": "12 MG Road", "base": null })
    );
    // Or corrected: the new value, with the base the user saw.
    let again = stored.mutation.mutation_id;
    reject(p, again, ErrorCode::InvalidField, Some("address"));
    let stored = p
        .resend_change(again, &corrections(&[("address", json!(" 14 MG Road "))]))
        .unwrap();
    assert_eq!(
        stored.mutation.changes["address"],
        json!({ "value": "14 MG Road", "base": null })
    );
    assert_eq!(
        p.peek::<kinds::Patient>(asha.id)
            .unwrap()
            .unwrap()
            .address
            .as_deref(),
        Some("14 MG Road")
    );
}

#[test]
fn discarding_is_audited_and_cancels_a_device_invoice_number() {
    let mut f = open();
    let p = &mut f.partition;
    let asha = p
        .create_patient(valid(new_patient("Asha Rao", "9845012345")))
        .unwrap();
    let create = p.outbox().unwrap()[0].mutation.mutation_id;
    p.acknowledge_mutation(create).unwrap();
    p.forget_local_reads_through(i64::MAX).unwrap();
    let invoice = local_invoice(p, asha.id);
    assert!(invoice.series.starts_with('D'));
    let id = p.outbox().unwrap()[0].mutation.mutation_id;
    reject(p, id, ErrorCode::Forbidden, None);
    let listed = &p.rejected_changes().unwrap()[0];
    assert_eq!(
        listed.invoice_number.as_deref(),
        Some(invoice.invoice_number.as_str())
    );
    assert_eq!(listed.patient_name.as_deref(), Some("Asha Rao"));
    p.forget_local_reads_through(i64::MAX).unwrap();

    // Only rejected changes are discarded here: a pending one stays.
    let pending = p
        .create_patient(valid(new_patient("Ravi", "9822000001")))
        .unwrap();
    let pending_id = p.outbox().unwrap()[1].mutation.mutation_id;
    assert!(!p.discard_change(pending_id).unwrap().discarded);
    assert!(p.peek::<kinds::Patient>(pending.id).unwrap().is_some());

    let outcome = p.discard_change(id).unwrap();
    assert!(outcome.discarded);
    assert_eq!(
        outcome.voided_invoice_number.as_deref(),
        Some(invoice.invoice_number.as_str())
    );
    assert_eq!(ids(p).len(), 1, "only the pending change is left");
    assert!(
        p.peek::<kinds::Invoice>(invoice.id).unwrap().is_none(),
        "gone from this PC"
    );
    assert_eq!(
        p.refetch_targets().unwrap(),
        vec![(EntityKind::Invoice, invoice.id)],
        "the server's state is fetched again"
    );
    // Audited: a `discard` access naming the invoice and its patient, for the next push.
    let reads = p.local_reads(100).unwrap();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(
        (
            reads[0].action,
            reads[0].entity,
            &reads[0].entity_ids,
            &reads[0].patient_ids
        ),
        (
            ReadAction::Discard,
            EntityKind::Invoice,
            &vec![invoice.id],
            &vec![asha.id]
        )
    );
    // The number is recorded as cancelled and never reused.
    let voided = p.voided_invoice_numbers().unwrap();
    assert_eq!(voided.len(), 1);
    assert_eq!(
        (&voided[0].series, voided[0].number, voided[0].invoice_id),
        (&invoice.series, invoice.number, invoice.id)
    );
    assert!(voided[0]
        .reason
        .as_deref()
        .unwrap()
        .starts_with("forbidden"));
    let next = local_invoice(p, asha.id);
    assert_eq!(next.number, invoice.number + 1);
    // Discarding twice is a no-op.
    assert!(!p.discard_change(id).unwrap().discarded);
}

#[test]
fn a_discarded_update_restores_the_server_state_through_a_refetch() {
    let mut f = open();
    let p = &mut f.partition;
    let asha = p
        .create_patient(valid(new_patient("Asha Rao", "9845012345")))
        .unwrap();
    let create = p.outbox().unwrap()[0].mutation.mutation_id;
    p.acknowledge_mutation(create).unwrap();
    p.update_patient(
        asha.id,
        valid(PatientPatch {
            name: Some("Asha Typo".to_owned()),
            ..PatientPatch::default()
        }),
    )
    .unwrap();
    let id = p.outbox().unwrap()[0].mutation.mutation_id;
    reject(p, id, ErrorCode::NotFound, None);
    assert!(p.discard_change(id).unwrap().discarded);
    // An update's row stays until the server's version arrives (it was never the server's
    // to remove); the refetch brings that version.
    assert!(p.peek::<kinds::Patient>(asha.id).unwrap().is_some());
    assert_eq!(
        p.refetch_targets().unwrap(),
        vec![(EntityKind::Patient, asha.id)]
    );
    let status = status_of(p).unwrap();
    assert_eq!((status.pending, status.rejected), (0, 0));
}
