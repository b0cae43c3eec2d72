//! Offline work reaching other devices, clinic isolation seen from the client, revoked
//! memberships, push idempotency, live notifications, device invoice series, and what the
//! partition file holds on disk.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;
use vaidya_client::partition::new_mutation;
use vaidya_client::{ServerApi, SessionError};
use vaidya_shared::api::{
    CancelInvoice, NewAppointment, NewInvoice, NewInvoiceLine, NewPatient, NewPayment,
    PaymentMethod, Sex,
};
use vaidya_shared::sync::{EntityKind, MutationResult, Operation, PushRequest, Resolution};
use vaidya_shared::ErrorCode;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;
use crate::support::{
    keyring, server_state, sync_until, until_device_has_patient, Device, LiveListener,
};

/// One consultation line on the device's own series (the clinic's state, `27`, decides the
/// GST split).
pub fn consultation_invoice(patient_id: Uuid, gst_rate_bp: u32) -> NewInvoice {
    NewInvoice {
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
            gst_rate_bp,
            treatment: None,
            unit: None,
        }],
        recipient: None,
        doctor_id: None,
    }
}

/// A clinic admin revokes `person`'s membership of `clinic`.
pub async fn revoke_member(
    admin: &vaidya_tests::Api,
    clinic: Uuid,
    person: &vaidya_tests::Person,
) -> Result<()> {
    let (_, members) = admin.get(&format!("/v1/clinics/{clinic}/members")).await?;
    let member = members
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|m| m["user"]["id"] == serde_json::json!(person.id))
        })
        .and_then(|m| m["id"].as_str())
        .context("the member to revoke")?
        .to_owned();
    let (status, body) = admin
        .delete(&format!("/v1/clinics/{clinic}/members/{member}"))
        .await?;
    anyhow::ensure!(status.is_success(), "revoke: {status} {body}");
    Ok(())
}

pub fn new_patient(name: &str, phone: &str) -> NewPatient {
    NewPatient {
        id: None,
        name: name.to_owned(),
        sex: Sex::Female,
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 1, 2),
        phone: Some(phone.to_owned()),
        address: Some("14 Laxmi Road, Pune".to_owned()),
        abha_number: None,
    }
}

pub async fn offline_work_reaches_another_device(h: Arc<Harness>) -> Result<()> {
    if keyring("offline_work_reaches_another_device")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;

    let mut a = Device::new(&server, 1).await?;
    a.sign_in(&world.a.doctor).await?;
    // Three tries: a pooled connection the proxy cut is only found dead when used.
    let mut engine = a.engine(clinic, 3)?;
    engine.sync().await?;

    // The network goes away; the doctor keeps working.
    a.proxy.set_online(false);
    let mut c = a.clinic(&mut engine)?;
    let asha = c.register_patient(new_patient("Asha Patil", "9822000001"))?;
    let ravi = c.register_patient(new_patient("Ravi Kulkarni", "9822000002"))?;
    let meena = c.register_patient(new_patient("Meena Joshi", "9822000003"))?;
    let start = Utc.with_ymd_and_hms(2031, 5, 6, 4, 30, 0).unwrap();
    for (i, patient) in [&asha, &ravi].into_iter().enumerate() {
        c.book_appointment(NewAppointment {
            id: None,
            patient_id: patient.id,
            doctor_id: world.a.doctor.id,
            starts_at: start + chrono::Duration::minutes(30 * i as i64),
            ends_at: start + chrono::Duration::minutes(30 * i as i64 + 20),
            reason: Some("fever".to_owned()),
        })?;
    }
    let status = engine.status()?;
    check!(
        status.pending == 5 && !status.synced,
        "5 pending, not synced: {status:?}"
    );
    let err = engine
        .sync()
        .await
        .err()
        .context("sync while offline must fail")?;
    check!(
        err.code() == "network",
        "offline sync fails as network: {err:?}"
    );
    check!(
        engine.status()?.pending == 5,
        "nothing lost by a failed sync"
    );

    a.proxy.set_online(true);
    let report = engine.sync().await?;
    check!(report.applied == 5, "all five applied: {report:?}");
    let status = engine.status()?;
    check!(status.synced && status.pending == 0, "synced: {status:?}");
    sync_until(&mut engine, "the server's rows come back", |e| {
        Ok(e.partition()
            .all_patients()?
            .iter()
            .all(|p| p.patient_number > 0))
    })
    .await?;

    // Another device of the same clinic pulls all of it.
    // (Deleting a patient is an admin's job; the desk's delete is rejected by the server.)
    let mut b = Device::new(&server, 2).await?;
    b.sign_in(&world.a.admin).await?;
    let mut engine_b = b.engine(clinic, 3)?;
    sync_until(&mut engine_b, "B has all five rows", |e| {
        let p = e.partition();
        Ok(p.all_patients()?
            .iter()
            .filter(|p| p.patient_number > 0)
            .count()
            == 3
            && p.all_appointments()?.len() == 2)
    })
    .await?;
    let mut a_patients = engine.partition().all_patients()?;
    let mut b_patients = engine_b.partition().all_patients()?;
    a_patients.sort_by_key(|p| p.id);
    b_patients.sort_by_key(|p| p.id);
    check!(
        a_patients == b_patients && b_patients.len() == 3,
        "B has A's patients:\nA {a_patients:?}\nB {b_patients:?}"
    );
    check!(
        engine.partition().all_appointments()? == engine_b.partition().all_appointments()?,
        "B has A's appointments"
    );
    check!(
        engine_b.partition().search_patients("meen", 10)?[0].id == meena.id,
        "B finds Meena by prefix"
    );

    // A delete made offline on B reaches A as a tombstone.
    b.proxy.set_online(false);
    b.clinic(&mut engine_b)?.delete_patient(ravi.id)?;
    b.proxy.set_online(true);
    let report = engine_b.sync().await?;
    check!(
        report.applied == 1,
        "the delete applied: {report:?} {:?}",
        engine_b.partition().outbox()?
    );
    sync_until(&mut engine, "the tombstone removes Ravi on A", |e| {
        Ok(e.partition().get_patient(ravi.id)?.is_none())
    })
    .await?;
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let (patients, _) = server_state(&admin, clinic).await?;
    check!(
        patients.iter().all(|p| p.id != ravi.id) && patients.len() == 2,
        "deleted on the server too"
    );
    Ok(())
}

pub async fn other_clinic_is_refused_and_audited(h: Arc<Harness>) -> Result<()> {
    if keyring("other_clinic_is_refused_and_audited")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let mut d = Device::new(&server, 3).await?;
    d.sign_in(&world.b.doctor).await?;
    let client = d.client()?;

    let err = client
        .open_partition(world.a.id)
        .err()
        .context("clinic A must be refused")?;
    check!(
        matches!(err, SessionError::NotAMember(c) if c == world.a.id)
            && err.code() == "not_a_member",
        "{err:?}"
    );
    check!(
        !client.config().data_dir.partition_file(world.a.id).exists(),
        "no file was created for clinic A"
    );

    // Asking the server directly: the same 404 as a clinic that does not exist.
    for err in [
        client.api().pull(world.a.id, None, None).await.err(),
        client
            .api()
            .push(
                world.a.id,
                &PushRequest {
                    mutations: vec![],
                    local_accesses: vec![],
                    cancelled_numbers: vec![],
                },
            )
            .await
            .err(),
    ] {
        let err = err.context("the server must refuse clinic A")?;
        check!(err.code() == "not_found", "denied as not found: {err:?}");
    }
    let db = world.db.superuser().await?;
    let denied: i64 = db
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND actor_id = $2 AND action = 'denied'",
            &[&world.a.id, &world.b.doctor.id],
        )
        .await?
        .get(0);
    check!(denied >= 2, "both denials audited in clinic A ({denied})");
    Ok(())
}

pub async fn revoked_member_partition_is_wiped(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("revoked_member_partition_is_wiped")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::with_store(&server, 4, store.clone()).await?;
    d.sign_in(&world.a.nurse).await?;
    let mut engine = d.engine(clinic, 3)?;
    d.clinic(&mut engine)?
        .register_patient(new_patient("Kept Safe", "9000000009"))?;
    engine.sync().await?;
    drop(engine);
    let file = d.config.data_dir.partition_file(clinic);
    check!(file.exists(), "partition on disk");
    check!(store.partition_key(clinic)?.is_some(), "key in the keyring");

    // An admin revokes the nurse.
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    revoke_member(&admin, clinic, &world.a.nurse).await?;

    // The nurse signs in again: the partition and its key are gone.
    d.sign_in(&world.a.nurse).await?;
    check!(!file.exists(), "partition file wiped");
    check!(store.partition_key(clinic)?.is_none(), "key deleted");
    let err = d
        .client()?
        .open_partition(clinic)
        .err()
        .context("refused")?;
    check!(err.code() == "not_a_member", "{err:?}");
    Ok(())
}

pub async fn same_push_twice_applies_once(h: Arc<Harness>) -> Result<()> {
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let api = ServerApi::new(&server.base, "test-device")?;
    api.login(&world.a.desk.email, &world.a.desk.password)
        .await?;
    let mut mutations = Vec::new();
    for i in 0..3 {
        let id = Uuid::now_v7();
        let mut m = new_mutation(EntityKind::Patient, id, Operation::Create, None);
        m.data = Some(serde_json::to_value(NewPatient {
            id: Some(id),
            ..new_patient(&format!("Twice {i}"), &format!("90000000{i:02}"))
        })?);
        mutations.push(m);
    }
    let request = PushRequest {
        mutations,
        local_accesses: vec![],
        cancelled_numbers: vec![],
    };
    let first = api.push(clinic, &request).await?;
    let second = api.push(clinic, &request).await?;
    check!(
        first
            .results
            .iter()
            .all(|r| matches!(r, MutationResult::Applied { .. })),
        "{first:?}"
    );
    check!(first == second, "the retry gets the stored results");
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let (patients, _) = server_state(&admin, clinic).await?;
    check!(
        patients.len() == 3,
        "three patients, not six: {}",
        patients.len()
    );
    // Pull the feed to its end (rows may lag while other tests' transactions run).
    let mut cursor: Option<String> = None;
    let mut pulled = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pulled < 3 && std::time::Instant::now() < deadline {
        let page = api.pull(clinic, cursor.as_deref(), Some(1000)).await?;
        pulled += page
            .changes
            .iter()
            .filter(|c| c.entity == EntityKind::Patient)
            .count();
        cursor = Some(page.cursor);
        if !page.has_more {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let page = api.pull(clinic, cursor.as_deref(), Some(1000)).await?;
    pulled += page.changes.len();
    check!(pulled == 3, "each patient pulled once ({pulled})");
    let db = world.db.superuser().await?;
    for m in &request.mutations {
        let creates: i64 = db
            .query_one(
                "SELECT count(*) FROM vaidya.audit_log
                 WHERE clinic_id = $1 AND action = 'create' AND $2 = ANY (entity_ids)",
                &[&clinic, &m.entity_id],
            )
            .await?
            .get(0);
        check!(creates == 1, "created once in the audit trail ({creates})");
    }
    Ok(())
}

pub async fn live_notification_triggers_pull(h: Arc<Harness>) -> Result<()> {
    if keyring("live_notification_triggers_pull")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut a = Device::new(&server, 5).await?;
    a.sign_in(&world.a.desk).await?;
    let mut b = Device::new(&server, 6).await?;
    b.sign_in(&world.a.doctor).await?;

    let listener = LiveListener::start(b.engine(clinic, 3)?).await?;

    let mut engine = a.engine(clinic, 3)?;
    let created = a
        .clinic(&mut engine)?
        .register_patient(new_patient("Live Wire", "9111111111"))?;
    let started = std::time::Instant::now();
    engine.sync().await?;
    until_device_has_patient(&b, clinic, created.id, Duration::from_secs(10)).await?;
    let took = started.elapsed();
    listener.stop().await?;
    println!("live propagation took {took:?}");
    Ok(())
}

/// A change the server held back (an older transaction, of any clinic, still running) raises
/// no second notification when it is released; a live device still gets it, by coming back
/// for it on its own. (Before, it waited for the clinic's next change, however long.)
pub async fn held_back_change_reaches_a_live_device(h: Arc<Harness>) -> Result<()> {
    if keyring("held_back_change_reaches_a_live_device")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut a = Device::new(&server, 21).await?;
    a.sign_in(&world.a.desk).await?;
    let mut b = Device::new(&server, 22).await?;
    b.sign_in(&world.a.doctor).await?;

    let listener = LiveListener::start(b.engine(clinic, 3)?).await?;

    // An older transaction stays open, so the next change is held back ("settling").
    let blocker = world.db.superuser().await?;
    blocker
        .batch_execute("BEGIN; SELECT pg_current_xact_id();")
        .await?;
    let mut engine = a.engine(clinic, 3)?;
    let created = a
        .clinic(&mut engine)?
        .register_patient(new_patient("Held Back", "9222222222"))?;
    engine.sync().await?;
    // Longer than a sync's own settling waits (about a second): the notified pull ends
    // with the change still held back.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // B's file, read beside the live engine. The patient itself is what must be missing:
    // B may well pull other things meanwhile (the rest of its first fill, if another test's
    // transaction on this cluster held part of it back too), and that is no failure.
    check!(
        b.engine(clinic, 3)?
            .partition()
            .get_patient(created.id)?
            .is_none(),
        "the change is held back while the older transaction runs"
    );
    blocker.batch_execute("COMMIT").await?;

    // Released, it raises no new notification: the live engine comes back for it itself.
    until_device_has_patient(&b, clinic, created.id, Duration::from_secs(15)).await?;
    listener.stop().await?;
    Ok(())
}

/// A device invoice the server refuses (its patient was refused: the ABHA number is taken)
/// is discarded on the device; its number is recorded as cancelled there AND reaches the
/// server's books, so the device series has no silent gap for the accountant.
pub async fn a_discarded_device_invoice_number_reaches_the_books(h: Arc<Harness>) -> Result<()> {
    if keyring("a_discarded_device_invoice_number_reaches_the_books")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::new(&server, 23).await?;
    d.sign_in(&world.a.desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    engine.sync().await?;
    d.proxy.set_online(false);

    // Meanwhile at the main desk, the same ABHA number is registered first.
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let (status, body) = admin
        .post(
            &format!("/v1/clinics/{clinic}/patients"),
            serde_json::json!({"name": "Asha Rao", "sex": "female", "abha_number": "12-3456-7890-1234"}),
        )
        .await?;
    check!(status.is_success(), "{status} {body}");

    let series = engine.partition_mut().invoice_series()?;
    let mut c = d.clinic(&mut engine)?;
    let patient = c.register_patient(NewPatient {
        abha_number: Some("12345678901234".to_owned()),
        ..new_patient("Asha R.", "9333333334")
    })?;
    let invoice = c.issue_invoice(consultation_invoice(patient.id, 0), &world.a.supplier())?;
    d.proxy.set_online(true);
    let report = engine.sync().await?;
    check!(
        report.rejected == 2,
        "the patient (ABHA taken) and so its invoice are refused: {report:?} {:?}",
        engine.partition().rejected_changes()?
    );

    let mut c = d.clinic(&mut engine)?;
    let unsent = c.unsent_changes()?;
    let invoice_change = unsent
        .iter()
        .find(|u| u.change.entity == EntityKind::Invoice)
        .context("the refused invoice is listed")?
        .change
        .mutation_id;
    let outcome = c.discard_change(invoice_change)?;
    let printed = format!("{series}/{:06}", invoice.number);
    check!(
        outcome.voided_invoice_number.as_deref() == Some(printed.as_str()),
        "the number is cancelled on the device: {outcome:?}"
    );
    engine.sync().await?;
    check!(
        engine
            .partition()
            .cancelled_numbers_to_upload(10)?
            .is_empty(),
        "the server has it"
    );
    let (status, books) = admin
        .get(&format!("/v1/clinics/{clinic}/cancelled-invoice-numbers"))
        .await?;
    let rows = books.as_array().cloned().unwrap_or_default();
    check!(
        status.is_success()
            && rows.len() == 1
            && rows[0]["series"] == series.as_str()
            && rows[0]["number"] == invoice.number
            && rows[0]["invoice_id"] == invoice.id.to_string()
            && rows[0]["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "the books show the cancelled number and why: {status} {books}"
    );
    Ok(())
}

pub async fn offline_invoices_use_the_device_series(h: Arc<Harness>) -> Result<()> {
    if keyring("offline_invoices_use_the_device_series")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::new(&server, 7).await?;
    d.sign_in(&world.a.desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    // Online, the PC is given its series code for this clinic file (as the desktop does
    // when it opens the clinic); offline it numbers in that series of the year.
    let file = engine.partition_mut().device_id()?;
    let code = d.client()?.api().invoice_series(clinic, &file).await?;
    engine.partition_mut().set_invoice_series_code(&code)?;
    check!(
        engine
            .partition_mut()
            .set_invoice_series_code("D9")
            .is_err(),
        "a file's code never changes"
    );
    // The clinic's catalogue reaches the PC with a sync and is there offline.
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let (status, item) = admin
        .post(
            &format!("/v1/clinics/{clinic}/catalogue"),
            serde_json::json!({"name": "Dressing", "sac_hsn": "3005", "gst_rate_bp": 500, "unit": "PAC", "price_paise": 12_000}),
        )
        .await?;
    check!(status.is_success(), "{status} {item}");
    // A pull holds back a change while an older transaction of the shared cluster (another
    // test's) may still commit before it: sync until the item has arrived.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        engine.sync().await?;
        if !engine.partition().catalogue()?.is_empty() {
            break;
        }
        check!(
            std::time::Instant::now() < deadline,
            "the catalogue item did not reach the device"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    d.proxy.set_online(false);
    let offered = d.clinic(&mut engine)?.catalogue()?;
    check!(
        offered.len() == 1 && offered[0].name == "Dressing" && offered[0].unit == "PAC",
        "the catalogue offline: {offered:?}"
    );
    let series = engine.partition_mut().invoice_series()?;
    let mut c = d.clinic(&mut engine)?;
    let patient = c.register_patient(new_patient("Bill Me", "9333333333"))?;
    check!(
        series
            == vaidya_shared::numbering::device_series(
                vaidya_shared::numbering::Document::Invoice,
                &code,
                chrono::Utc::now(),
            )
            && code == "D1",
        "device series of the year {series}"
    );
    let mut numbers = Vec::new();
    let mut issued = Vec::new();
    for _ in 0..3 {
        let inv = c.issue_invoice(consultation_invoice(patient.id, 1800), &world.a.supplier())?;
        issued.push(inv.clone());
        check!(inv.series == series, "from the device series");
        check!(
            inv.totals.cgst_paise == 4_500,
            "GST split offline: {:?}",
            inv.totals
        );
        numbers.push(inv.number);
    }
    check!(numbers == vec![1, 2, 3], "consecutive: {numbers:?}");
    // A credit note offline: half the first bill's value back, from the PC's credit-note
    // series of the year, its tax at the line's rate.
    let line = issued[0].lines[0].clone();
    let credited = c.issue_credit_note(
        issued[0].id,
        vaidya_shared::api::NewCreditNote {
            id: None,
            series: None,
            number: None,
            reason: "Half the session".to_owned(),
            lines: vec![vaidya_shared::api::NewCreditNoteLine {
                invoice_line_id: line.id,
                taxable_paise: line.tax.taxable_paise / 2,
            }],
        },
    )?;
    let note_series = vaidya_shared::numbering::device_series(
        vaidya_shared::numbering::Document::CreditNote,
        &code,
        chrono::Utc::now(),
    );
    let note = credited
        .credit_notes
        .first()
        .context("the note is on the invoice")?;
    check!(
        note.credit_note_number == format!("{note_series}/000001")
            && note.totals.cgst_paise == line.tax.cgst_paise / 2,
        "offline credit note: {note:?}"
    );
    d.proxy.set_online(true);
    let report = engine.sync().await?;
    check!(
        report.applied == 5 && report.rejected == 0,
        "patient, invoices and the credit note applied: {report:?} {:?}",
        engine.partition().rejected_changes()?
    );
    let (status, body) = admin
        .get(&format!("/v1/clinics/{clinic}/invoices?limit=50"))
        .await?;
    check!(status.is_success(), "{status} {body}");
    let mut printed: Vec<String> = body["items"]
        .as_array()
        .context("items")?
        .iter()
        .filter_map(|i| i["invoice_number"].as_str().map(str::to_owned))
        .collect();
    printed.sort();
    check!(
        printed
            == (1..=3)
                .map(|n| format!("{series}/{n:06}"))
                .collect::<Vec<_>>(),
        "server numbers {printed:?}"
    );
    let (_, first) = admin
        .get(&format!("/v1/clinics/{clinic}/invoices/{}", issued[0].id))
        .await?;
    check!(
        first["credit_notes"][0]["credit_note_number"] == note.credit_note_number.as_str()
            && first["credit_notes"][0]["totals"] == serde_json::to_value(note.totals)?,
        "the server keeps the note as the PC issued it: {first}"
    );
    Ok(())
}

pub async fn partition_file_holds_no_plaintext_after_sync(h: Arc<Harness>) -> Result<()> {
    if keyring("partition_file_holds_no_plaintext_after_sync")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    // Written through the REST API, so the rows reach the device only by a pull.
    let desk = server
        .client()
        .login(&world.a.desk.email, &world.a.desk.password)
        .await?
        .0;
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{clinic}/patients"),
            serde_json::json!({"name": "Zubeida Plaintextova", "sex": "female",
                               "phone": "+91 98765 43210", "address": "Secret Lane 42"}),
        )
        .await?;
    check!(status.is_success(), "{status} {body}");

    let mut d = Device::new(&server, 8).await?;
    d.sign_in(&world.a.doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    d.clinic(&mut engine)?
        .register_patient(new_patient("Offline Plaintextova", "9876500000"))?;
    sync_until(&mut engine, "Zubeida pulled", |e| {
        Ok(e.partition().search_patients("zubeida", 5)?.len() == 1)
    })
    .await?;
    let dir = d.config.data_dir.partitions_dir();
    let needles: [&[u8]; 5] = [
        b"Plaintextova",
        b"Zubeida",
        b"Secret Lane",
        b"9876543210",
        b"SQLite format 3",
    ];
    let mut scanned = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let bytes = std::fs::read(&path)?;
        scanned += bytes.len();
        for needle in needles {
            check!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} contains {:?}",
                path.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    check!(
        scanned > 4096,
        "the files were really there ({scanned} bytes)"
    );
    Ok(())
}

pub async fn offline_signed_note_and_prescription_reach_the_server(h: Arc<Harness>) -> Result<()> {
    use vaidya_shared::api::{
        NewEncounter, NewPrescription, NewPrescriptionItem, Prescription, Vitals,
    };
    if keyring("offline_signed_note_and_prescription_reach_the_server")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let doctor = &world.a.doctor;

    let mut a = Device::new(&server, 11).await?;
    a.sign_in(doctor).await?;
    let mut engine = a.engine(clinic, 3)?;
    engine.sync().await?;

    // The line goes down during the consultation.
    a.proxy.set_online(false);
    let mut c = a.clinic(&mut engine)?;
    let patient = c.register_patient(new_patient("Sunita Deshmukh", "9822000011"))?;
    let first = NewEncounter {
        id: None,
        patient_id: patient.id,
        appointment_id: None,
        chief_complaint: "fever, body ache".to_owned(),
        notes: "2 days".to_owned(),
        diagnosis: String::new(),
        vitals: Vitals {
            temperature_dc: Some(384),
            ..Vitals::default()
        },
    };
    let note = c.save_note(first.clone())?;
    // The note as the doctor finishes it (one edit), then signed.
    c.save_note(NewEncounter {
        id: Some(note.id),
        notes: "2 days, no rash".to_owned(),
        diagnosis: "Viral fever".to_owned(),
        ..first
    })?;
    let signed = c.sign_note(note.id)?;
    check!(
        signed.signed_at.is_some() && signed.signed_by == Some(doctor.id),
        "signed locally at once: {signed:?}"
    );
    let rx = c.issue_prescription(NewPrescription {
        acknowledged_allergies: Vec::new(),
        id: None,
        patient_id: patient.id,
        encounter_id: Some(note.id),
        notes: "Plenty of fluids".to_owned(),
        items: vec![NewPrescriptionItem {
            drug: "Paracetamol".to_owned(),
            strength: "650 mg".to_owned(),
            dose: "1 tab".to_owned(),
            frequency: "TDS".to_owned(),
            duration: "3 days".to_owned(),
            instructions: "after food".to_owned(),
        }],
    })?;
    engine
        .partition_mut()
        .record_print(EntityKind::Prescription, rx.id)?;
    check!(
        engine.status()?.pending == 5,
        "patient, note, edit, sign, prescription wait: {:?}",
        engine.partition().outbox()?
    );

    a.proxy.set_online(true);
    let report = engine.sync().await?;
    check!(
        report.applied == 5 && report.rejected == 0 && report.conflicts == 0,
        "all applied: {report:?} {:?}",
        engine.partition().outbox()?
    );
    check!(
        report.reads_uploaded >= 1,
        "the print was uploaded: {report:?}"
    );

    // The server has the signed note (signed by the doctor who pushed) and the prescription.
    let api = server
        .client()
        .login(&doctor.email, &doctor.password)
        .await?
        .0;
    let (status, body) = api
        .get(&format!("/v1/clinics/{clinic}/encounters/{}", note.id))
        .await?;
    check!(status.is_success(), "GET encounter: {status} {body}");
    let on_server: vaidya_shared::api::Encounter = serde_json::from_value(body)?;
    check!(
        on_server.signed_at.is_some()
            && on_server.signed_by == Some(doctor.id)
            && on_server.diagnosis == "Viral fever"
            && on_server.notes == "2 days, no rash"
            && on_server.vitals.temperature_dc == Some(384),
        "the server's note is the signed one: {on_server:?}"
    );
    let (status, body) = api
        .get(&format!("/v1/clinics/{clinic}/prescriptions/{}", rx.id))
        .await?;
    check!(status.is_success(), "GET prescription: {status} {body}");
    let on_server: Prescription = serde_json::from_value(body)?;
    check!(
        on_server.doctor_id == doctor.id
            && on_server.encounter_id == Some(note.id)
            && on_server.items.len() == 1
            && on_server.items[0].drug == "Paracetamol",
        "the server has the prescription: {on_server:?}"
    );

    // The print reached the audit trail as a print.
    let db = world.db.superuser().await?;
    let prints: i64 = db
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND actor_id = $2 AND action = 'print' AND $3 = ANY (entity_ids)",
            &[&clinic, &doctor.id, &rx.id],
        )
        .await?
        .get(0);
    check!(prints == 1, "the print is audited once ({prints})");

    // The REST calls the desktop makes beside sync: clinic details and members for every
    // role, the audit trail (filtered) for admins only.
    let doctor_api = a.client()?.api();
    let details = doctor_api.clinic(clinic).await?;
    check!(details.id == clinic, "clinic details: {details:?}");
    let members = doctor_api.members(clinic).await?;
    check!(
        members
            .iter()
            .any(|m| m.user.id == doctor.id && m.role == vaidya_shared::api::Role::Doctor),
        "the doctor is listed: {members:?}"
    );
    let query = vaidya_shared::api::AuditQuery {
        patient_id: Some(patient.id),
        action: Some(vaidya_shared::api::AuditAction::Print),
        from: Some(Utc::now() - chrono::Duration::hours(1)),
        limit: Some(10),
        ..Default::default()
    };
    let err = doctor_api
        .audit(clinic, &query)
        .await
        .err()
        .context("a doctor may not read the audit trail")?;
    check!(err.code() == "forbidden", "{err:?}");
    let admin = ServerApi::new(&server.base, "test-admin-desk")?;
    admin
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?;
    let page = admin.audit(clinic, &query).await?;
    check!(
        page.items.len() == 1
            && page.items[0].entity_ids == vec![rx.id]
            && page.items[0].actor_id == Some(doctor.id),
        "the admin finds the print by patient and action: {page:?}"
    );

    // And the device gets the server's signed note back.
    sync_until(&mut engine, "the signed note comes back", |e| {
        Ok(e.partition()
            .get_encounter(note.id)?
            .is_some_and(|n| n.version > 0 && n.signed_by == Some(doctor.id)))
    })
    .await?;
    Ok(())
}

/// At the desk, offline: an invoice is issued, paid, refunded and cancelled. After the sync
/// the server keeps it cancelled by the desk at the device's time, with the payment and the
/// refund; another PC pulls it cancelled.
pub async fn an_offline_refund_and_cancellation_reach_the_books(h: Arc<Harness>) -> Result<()> {
    if keyring("an_offline_refund_and_cancellation_reach_the_books")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::new(&server, 11).await?;
    d.sign_in(&world.a.desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    d.proxy.set_online(false);
    let mut c = d.clinic(&mut engine)?;
    let patient = c.register_patient(new_patient("Wrong Bill", "9444444444"))?;
    let invoice = c.issue_invoice(consultation_invoice(patient.id, 0), &world.a.supplier())?;
    let cash = |amount_paise| NewPayment {
        id: None,
        amount_paise,
        method: PaymentMethod::Cash,
        reference: None,
    };
    c.take_payment(invoice.id, cash(50_000))?;
    // Paid: the device refuses to cancel, as the server would.
    let refused = c
        .cancel_invoice(
            invoice.id,
            CancelInvoice {
                reason: "Wrong patient".to_owned(),
            },
        )
        .err()
        .and_then(|e| match e {
            vaidya_client::ClinicError::Refused(e) => Some(e.code),
            vaidya_client::ClinicError::Store(_) => None,
        });
    check!(
        refused == Some(ErrorCode::InvalidState),
        "cancelling a paid invoice offline: {refused:?}"
    );
    c.take_payment(invoice.id, cash(-50_000))?;
    let cancelled = c.cancel_invoice(
        invoice.id,
        CancelInvoice {
            reason: "Wrong patient".to_owned(),
        },
    )?;
    let at = cancelled
        .cancellation
        .as_ref()
        .map(|x| x.cancelled_at)
        .context("cancelled on the device")?;
    std::thread::sleep(std::time::Duration::from_millis(1200));
    d.proxy.set_online(true);
    let report = engine.sync().await?;
    check!(
        report.applied == 5 && report.rejected == 0,
        "patient, invoice, payment, refund and cancellation applied: {report:?} {:?}",
        engine.partition().rejected_changes()?
    );
    let su = world.db.superuser().await?;
    let row = su
        .query_one(
            "SELECT cancelled_at, cancelled_by, cancel_reason,
                    (SELECT array_agg(amount_paise ORDER BY received_at) FROM vaidya.payments WHERE invoice_id = $1)
             FROM vaidya.invoices WHERE id = $1",
            &[&invoice.id],
        )
        .await?;
    let (when, by, reason, payments): (
        Option<DateTime<Utc>>,
        Option<Uuid>,
        Option<String>,
        Vec<i64>,
    ) = (row.get(0), row.get(1), row.get(2), row.get(3));
    check!(
        when == Some(at)
            && by == Some(world.a.desk.id)
            && reason.as_deref() == Some("Wrong patient")
            && payments == vec![50_000, -50_000],
        "on the server: {when:?} {by:?} {reason:?} {payments:?} (device time {at})"
    );
    // Another PC of the clinic pulls it cancelled.
    let mut other = Device::new(&server, 12).await?;
    other.sign_in(&world.a.admin).await?;
    let mut other_engine = other.engine(clinic, 3)?;
    other_engine.sync().await?;
    let pulled = other_engine
        .partition()
        .get_invoice(invoice.id)?
        .context("pulled")?;
    check!(
        pulled.cancellation == cancelled.cancellation && pulled.paid_paise == 0,
        "pulled: {:?}",
        pulled.cancellation
    );
    Ok(())
}

/// A field edited offline on the PC while someone changed it on the server: the server keeps
/// its value and the conflict reaches the PC's inbox. A member decides there "use this
/// device's value": the decision syncs like any change, the server applies the PC's value
/// through the rules and audits it, and the PC pulls it back. A front desk may not take a
/// conflict's value for a record it may not edit, and a conflict without one field has none.
pub async fn a_conflict_decided_on_the_pc_applies_its_value(h: Arc<Harness>) -> Result<()> {
    if keyring("a_conflict_decided_on_the_pc_applies_its_value")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut pc = Device::new(&server, 1).await?;
    pc.sign_in(&world.a.desk).await?;
    let mut engine = pc.engine(clinic, 3)?;
    engine.sync().await?;
    let asha = pc
        .clinic(&mut engine)?
        .register_patient(new_patient("Asha Patil", "9822000001"))?;
    engine.sync().await?;
    let asha = engine
        .partition()
        .get_patient(asha.id)?
        .context("Asha on the PC")?;

    // Offline, the desk corrects the address; meanwhile the admin changes it on the server.
    pc.proxy.set_online(false);
    pc.clinic(&mut engine)?.update_patient(
        asha.id,
        vaidya_shared::api::PatientPatch {
            base_version: Some(asha.version),
            address: Some("7 Karve Road, Kothrud, Pune".to_owned()),
            ..Default::default()
        },
    )?;
    let admin = server.login_as(&world.a.admin).await?;
    let (status, body) = admin
        .patch(
            &format!("/v1/clinics/{clinic}/patients/{}", asha.id),
            serde_json::json!({ "address": "Aundh, Pune" }),
        )
        .await?;
    check!(status.is_success(), "the admin's edit: {status} {body}");
    pc.proxy.set_online(true);
    let conflict = sync_until(&mut engine, "the conflict in the PC's inbox", |e| {
        Ok(e.partition()
            .open_conflicts()?
            .iter()
            .any(|c| c.entity_id == asha.id && c.field.as_deref() == Some("address")))
    })
    .await
    .and_then(|_| {
        engine
            .partition()
            .open_conflicts()?
            .into_iter()
            .find(|c| c.entity_id == asha.id)
            .context("the address conflict")
    })?;

    // The decision: the PC's value.
    pc.clinic(&mut engine)?
        .resolve_conflict(conflict.id, Resolution::UseClient)?;
    check!(
        engine.partition().open_conflicts()?.is_empty(),
        "decided on the PC, the inbox is empty"
    );
    sync_until(&mut engine, "the PC's value back from the server", |e| {
        Ok(e.partition()
            .get_patient(asha.id)?
            .is_some_and(|p| p.address.as_deref() == Some("7 Karve Road, Kothrud, Pune")))
    })
    .await?;
    let (status, on_server) = admin
        .get(&format!("/v1/clinics/{clinic}/patients/{}", asha.id))
        .await?;
    check!(
        status.is_success() && on_server["address"] == "7 Karve Road, Kothrud, Pune",
        "the server applied the PC's value: {on_server}"
    );
    let (_, inbox) = admin
        .get(&format!("/v1/clinics/{clinic}/conflicts"))
        .await?;
    check!(
        inbox["items"].as_array().is_some_and(|i| i.is_empty()),
        "the server's inbox is empty: {inbox}"
    );
    let db = world.db.superuser().await?;
    let audited = db
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND entity_type = 'patient' AND $2 = ANY(entity_ids) AND action = 'update'",
            &[&clinic, &asha.id],
        )
        .await?
        .get::<_, i64>(0);
    check!(
        audited >= 2,
        "the admin's edit and the applied decision audited: {audited}"
    );
    Ok(())
}

/// A day of long offline notes goes up: 12 notes of 100,000 characters (the rules' limit)
/// are 1.2 MB of changes, over the server's 1 MiB body limit for one push. The device sends
/// them in pushes the server takes, instead of one it refuses on every sync.
pub async fn a_day_of_long_offline_notes_goes_up(h: Arc<Harness>) -> Result<()> {
    use vaidya_shared::api::{NewEncounter, Vitals};
    if keyring("a_day_of_long_offline_notes_goes_up")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut a = Device::new(&server, 12).await?;
    a.sign_in(&world.a.doctor).await?;
    let mut engine = a.engine(clinic, 3)?;
    engine.sync().await?;

    a.proxy.set_online(false);
    let mut c = a.clinic(&mut engine)?;
    let patient = c.register_patient(new_patient("Kamala Iyer", "9822000012"))?;
    let line = "Patient reports intermittent headache, worse in the evening. ";
    let long: String = line.repeat(100_000 / line.len());
    let mut notes = Vec::new();
    for day in 0..12 {
        notes.push(c.save_note(NewEncounter {
            id: None,
            patient_id: patient.id,
            appointment_id: None,
            chief_complaint: format!("Follow-up {day}"),
            notes: long.clone(),
            diagnosis: String::new(),
            vitals: Vitals::default(),
        })?);
    }
    let outbox_bytes: usize = engine
        .partition()
        .outbox()?
        .iter()
        .map(|e| serde_json::to_vec(&e.mutation).map_or(0, |j| j.len()))
        .sum();
    check!(
        outbox_bytes > vaidya_server::app::MAX_BODY_BYTES,
        "the day's changes ({outbox_bytes} bytes) are over the server's body limit"
    );

    a.proxy.set_online(true);
    let report = engine.sync().await?;
    check!(
        report.applied == 13 && report.rejected == 0 && engine.status()?.pending == 0,
        "every note went up: {report:?}"
    );
    let ids: Vec<Uuid> = notes.iter().map(|n| n.id).collect();
    let on_server: i64 = world
        .db
        .superuser()
        .await?
        .query_one(
            "SELECT count(*) FROM vaidya.encounters WHERE clinic_id = $1 AND id = ANY($2)
                 AND length(notes) = $3",
            &[&clinic, &ids, &(long.trim_end().len() as i32)],
        )
        .await?
        .get(0);
    check!(
        on_server == 12,
        "{on_server} of 12 long notes on the server"
    );
    Ok(())
}
