//! Acts keep their own time: a note signed offline keeps the device time of signing, an
//! invoice and a prescription the time they were issued, a payment when it was received,
//! an offline read when it happened — bounded by the server (never after it received
//! them, never before their author could have acted, less the clock tolerance), with the
//! server's receipt time kept beside them. Offline reads are audited as their proven
//! reader, once each, however often their upload is retried.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_shared::api::AuditAction;
use vaidya_shared::authorship::{encode_public_key, DeviceSigner};
use vaidya_shared::rules::clock::CLOCK_TOLERANCE;
use vaidya_shared::sync::{EntityKind, LocalAccess, Mutation, Operation};
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

fn at(offset: TimeDelta) -> DateTime<Utc> {
    (Utc::now() + offset).trunc_subsecs(6)
}

fn create(entity: EntityKind, id: Uuid, data: Value, made_at: DateTime<Utc>) -> Mutation {
    Mutation {
        mutation_id: Uuid::now_v7(),
        entity,
        entity_id: id,
        op: Operation::Create,
        base_version: None,
        parent_id: None,
        data: Some(data),
        changes: serde_json::Map::new(),
        made_at,
        author: None,
        device: None,
    }
}

fn read(patient: Uuid, when: DateTime<Utc>) -> LocalAccess {
    LocalAccess {
        access_id: Uuid::now_v7(),
        action: AuditAction::Read,
        entity: EntityKind::Patient,
        entity_ids: vec![patient],
        patient_ids: vec![patient],
        at: when,
        author: None,
    }
}

async fn push(api: &Api, clinic: Uuid, body: Value) -> Result<Value> {
    let (status, answer) = api
        .post(&format!("/v1/clinics/{clinic}/sync/push"), body)
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "push: {status} {answer}");
    let rejected: Vec<&Value> = answer["results"]
        .as_array()
        .map(|r| r.iter().filter(|x| x["outcome"] != "applied").collect())
        .unwrap_or_default();
    anyhow::ensure!(rejected.is_empty(), "push results: {answer}");
    Ok(answer)
}

pub async fn acts_keep_their_device_time_and_reads_their_reader_once(
    h: Arc<Harness>,
) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let signer = DeviceSigner::from_secret(w.a.doctor.id, Uuid::now_v7(), [21; 32]);
    let (status, body) = doctor
        .post(
            "/v1/me/device-keys",
            json!({"id": signer.key_id, "public_key": encode_public_key(&signer.public_key())}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "register: {status} {body}");
    let su = w.db.superuser().await?;
    let (key_registered, desk_joined): (DateTime<Utc>, DateTime<Utc>) = (
        su.query_one(
            "SELECT created_at FROM vaidya.device_keys WHERE id = $1",
            &[&signer.key_id],
        )
        .await?
        .get(0),
        su.query_one(
            "SELECT created_at FROM vaidya.memberships WHERE clinic_id = $1 AND user_id = $2",
            &[&k, &w.a.desk.id],
        )
        .await?
        .get(0),
    );
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Meera Kulkarni", "sex": "female"}),
        )
        .await?;
    let patient: Uuid = p["id"].as_str().unwrap_or_default().parse()?;

    // The doctor's offline morning, carried by the desk's session: a note signed 30 minutes
    // ago (kept exactly), and a prescription whose clock said 5 hours before the key existed
    // (held to the tolerance before the key's registration).
    let signed_at = at(-TimeDelta::minutes(30));
    let note = Uuid::now_v7();
    let mut write_note = create(
        EntityKind::Encounter,
        note,
        json!({"patient_id": patient, "chief_complaint": "cough", "notes": "", "diagnosis": ""}),
        at(-TimeDelta::minutes(40)),
    );
    signer.sign(k, &mut write_note);
    let mut sign_note = Mutation {
        mutation_id: Uuid::now_v7(),
        op: Operation::Update,
        base_version: Some(1),
        data: None,
        made_at: signed_at,
        ..write_note.clone()
    };
    sign_note
        .changes
        .insert("sign".into(), json!({"value": true, "base": false}));
    signer.sign(k, &mut sign_note);
    let rx = Uuid::now_v7();
    let mut prescribe = create(
        EntityKind::Prescription,
        rx,
        json!({"id": rx, "patient_id": patient, "encounter_id": note, "notes": "",
               "items": [{"drug": "Azithromycin", "strength": "500 mg", "dose": "1 tab",
                          "frequency": "OD", "duration": "3 days", "instructions": ""}]}),
        key_registered - TimeDelta::hours(5),
    );
    signer.sign(k, &mut prescribe);
    // The desk's own: an invoice from a PC whose clock runs 3 hours ahead, and a payment
    // whose clock says ten days before the desk joined the clinic.
    let invoice = Uuid::now_v7();
    let bill = create(
        EntityKind::Invoice,
        invoice,
        json!({"patient_id": patient, "series": "D000007", "number": 1, "lines": [
            {"description": "Consultation", "sac_hsn": "999312", "quantity": 1,
             "unit_price_paise": 50000, "gst_rate_bp": 0}]}),
        at(TimeDelta::hours(3)),
    );
    let payment = Uuid::now_v7();
    let mut pay = create(
        EntityKind::Payment,
        payment,
        json!({"id": payment, "amount_paise": 50000, "method": "cash"}),
        desk_joined - TimeDelta::days(10),
    );
    pay.parent_id = Some(invoice);
    // Offline reads: the doctor's (signed), the desk's own (unsigned, from an hour ago).
    let mut doctors_read = read(patient, at(-TimeDelta::minutes(35)));
    signer.sign(k, &mut doctors_read);
    let desks_read = read(patient, at(-TimeDelta::hours(1)));
    let before = Utc::now();
    let body = json!({
        "mutations": [write_note, sign_note, prescribe, bill, pay],
        "local_accesses": [doctors_read, desks_read],
    });
    push(&desk, k, body.clone()).await?;
    // The answer was lost: the device sends the same push again.
    push(&desk, k, body).await?;
    let after = Utc::now();

    let row = su
        .query_one(
            "SELECT signed_at, signed_by, sign_recorded_at FROM vaidya.encounters WHERE id = $1",
            &[&note],
        )
        .await?;
    let (got, by, recorded): (Option<DateTime<Utc>>, Option<Uuid>, Option<DateTime<Utc>>) =
        (row.get(0), row.get(1), row.get(2));
    check!(
        got == Some(signed_at) && by == Some(w.a.doctor.id),
        "the note keeps its signer and its device time: {got:?} by {by:?}, want {signed_at}"
    );
    check!(
        recorded.is_some_and(|r| r >= before - TimeDelta::seconds(5) && r <= after),
        "the server's receipt is kept beside it: {recorded:?}"
    );
    let issued: DateTime<Utc> = su
        .query_one(
            "SELECT issued_at FROM vaidya.prescriptions WHERE id = $1",
            &[&rx],
        )
        .await?
        .get(0);
    check!(
        issued == key_registered - CLOCK_TOLERANCE,
        "a clock set back is held to the tolerance before the key existed: {issued}"
    );
    let row = su
        .query_one(
            "SELECT issued_at, recorded_at FROM vaidya.invoices WHERE id = $1",
            &[&invoice],
        )
        .await?;
    let (issued, recorded): (DateTime<Utc>, DateTime<Utc>) = (row.get(0), row.get(1));
    check!(
        issued >= before - TimeDelta::seconds(5) && issued <= after && issued <= recorded,
        "a clock set ahead never post-dates a bill beyond its receipt: {issued} (recorded {recorded})"
    );
    let received: DateTime<Utc> = su
        .query_one(
            "SELECT received_at FROM vaidya.payments WHERE id = $1",
            &[&payment],
        )
        .await?
        .get(0);
    check!(
        received == desk_joined - CLOCK_TOLERANCE,
        "an unsigned act is held to its pusher's joining, less the tolerance: {received}"
    );

    // Each offline read once, as its reader, at its device time.
    let reads = su
        .query(
            "SELECT actor_id, occurred_at FROM vaidya.audit_log
             WHERE clinic_id = $1 AND action = 'read' AND $2 = ANY (entity_ids)
             ORDER BY occurred_at",
            &[&k, &patient],
        )
        .await?;
    let reads: Vec<(Option<Uuid>, Option<DateTime<Utc>>)> =
        reads.iter().map(|r| (r.get(0), r.get(1))).collect();
    check!(
        reads
            == vec![
                (Some(w.a.desk.id), Some(desks_read.at)),
                (Some(w.a.doctor.id), Some(doctors_read.at)),
            ],
        "each read once, by its reader, at its time, after a retried upload: {reads:?}"
    );

    // A read whose signature does not hold (its ids changed after signing) is still
    // audited — under the uploading desk — beside a denial; never as the claimed doctor.
    let mut forged = read(patient, at(-TimeDelta::minutes(5)));
    signer.sign(k, &mut forged);
    let other = Uuid::now_v7();
    forged.entity_ids = vec![other];
    push(
        &desk,
        k,
        json!({"mutations": [], "local_accesses": [forged]}),
    )
    .await?;
    let rows = su
        .query(
            "SELECT actor_id, action FROM vaidya.audit_log
             WHERE clinic_id = $1 AND $2 = ANY (entity_ids) ORDER BY seq",
            &[&k, &other],
        )
        .await?;
    let rows: Vec<(Option<Uuid>, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    check!(
        rows == vec![
            (Some(w.a.desk.id), "denied".to_owned()),
            (Some(w.a.desk.id), "read".to_owned()),
        ],
        "a forged reader: audited under the pusher, with a denial: {rows:?}"
    );
    check!(
        vaidya_server::audit_chain::verify(&su)
            .await?
            .broken
            .is_empty(),
        "the audit chain still verifies"
    );
    Ok(())
}
