//! One clinic PC, several people: each offline act is its author's, whoever's session
//! syncs it (the author's device key signs it; the server applies it as the author), and
//! keeps its own time; each offline read is audited as its reader's, once.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;
use vaidya_client::credentials::StoredSession;
use vaidya_client::partition::{ClinicPartition, ClinicalKey, PasswordKey};
use vaidya_client::session::Client;
use vaidya_shared::api::{
    NewEncounter, NewPayment, NewPrescription, NewPrescriptionItem, PaymentMethod, Vitals,
};
use vaidya_tests::{Harness, Person, TestServer, World};

use crate::check;
use crate::round_trip::{consultation_invoice, new_patient, revoke_member};
use crate::support::{keyring, Device};

/// The member `person` takes the PC without the network: they sign in with their password
/// (their lease and password verifier are in the keyring from this morning's online
/// sign-in), which also opens the clinical store for a clinician.
async fn take_the_pc_offline(d: &mut Device, person: &Person) -> Result<()> {
    d.client =
        Some(Client::sign_in_offline(d.config.clone(), &person.email, &person.password).await?);
    Ok(())
}

pub async fn a_shared_pcs_offline_day_keeps_each_authors_work(h: Arc<Harness>) -> Result<()> {
    if keyring("a_shared_pcs_offline_day_keeps_each_authors_work")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let (doctor, desk) = (&world.a.doctor, &world.a.desk);

    // Morning: both sign in on the front desk's PC while the line works.
    let mut d = Device::new(&server, 31).await?;
    d.sign_in(doctor).await?;
    d.engine(clinic, 3)?.sync().await?;
    d.sign_in(desk).await?;
    // The line drops. The doctor sees a patient at the desk's PC.
    d.proxy.set_online(false);
    take_the_pc_offline(&mut d, doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    let mut c = d.clinic(&mut engine)?;
    let patient = c.register_patient(new_patient("Sunita Deshmukh", "9822000031"))?;
    let note = c.save_note(NewEncounter {
        id: None,
        patient_id: patient.id,
        appointment_id: None,
        chief_complaint: "fever".to_owned(),
        notes: "2 days".to_owned(),
        diagnosis: "Viral fever".to_owned(),
        vitals: Vitals::default(),
    })?;
    let signed = c.sign_note(note.id)?;
    // The doctor reads the chart back (an offline read, to be audited as the doctor's).
    c.patient_chart(patient.id)?;
    let rx = c.issue_prescription(NewPrescription {
        acknowledged_allergies: Vec::new(),
        id: None,
        patient_id: patient.id,
        encounter_id: Some(note.id),
        notes: String::new(),
        items: vec![NewPrescriptionItem {
            drug: "Paracetamol".to_owned(),
            strength: "650 mg".to_owned(),
            dose: "1 tab".to_owned(),
            frequency: "TDS".to_owned(),
            duration: "3 days".to_owned(),
            instructions: "after food".to_owned(),
        }],
    })?;
    drop(engine);

    // The desk takes the PC back, still offline, registers a walk-in and bills the
    // doctor's patient.
    take_the_pc_offline(&mut d, desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    let mut c = d.clinic(&mut engine)?;
    let walk_in = c.register_patient(new_patient("Walk In", "9822000032"))?;
    let invoice = c.issue_invoice(consultation_invoice(patient.id, 0), &world.a.supplier())?;
    let paid = c.take_payment(
        invoice.id,
        NewPayment {
            id: None,
            amount_paise: 50_000,
            method: PaymentMethod::Cash,
            reference: None,
        },
    )?;
    // Time passes before the line returns: the server must keep the device's times.
    std::thread::sleep(std::time::Duration::from_millis(1500));

    // The status bar tells whose work is waiting on this PC.
    let waiting: Vec<(Option<Uuid>, i64)> = engine
        .status()?
        .waiting
        .iter()
        .map(|w| (w.author_id, w.pending))
        .collect();
    check!(
        waiting == vec![(Some(doctor.id), 4), (Some(desk.id), 3)],
        "whose work is waiting: {waiting:?}"
    );

    // The line returns; the desk's session syncs everyone's work it may carry: the
    // doctor's registration and its own three. The doctor's note, its signature and the
    // prescription are sealed under the clinical store's key, which the desk's session
    // does not hold: they wait for a clinician's sync.
    d.proxy.set_online(true);
    drop(engine);
    // A session opened offline with a password has no server session: with the line back,
    // the desk signs in again (the status bar asks), and its sync carries the work.
    d.sign_in(desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    let report = engine.sync().await?;
    check!(
        report.applied == 4 && report.rejected == 0,
        "the doctor's registration and the desk's three applied: {report:?} {:?}",
        engine.partition().rejected_changes()?
    );
    check!(
        engine
            .partition()
            .outbox()?
            .iter()
            .filter(|e| e.is_sealed())
            .count()
            == 3,
        "the doctor's three clinical changes wait, sealed from the desk"
    );
    // A second sync uploads nothing again (each read was recorded once).
    engine.sync().await?;
    drop(engine);
    // The doctor comes back to the PC and syncs the rest.
    d.sign_in(doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    let report = engine.sync().await?;
    check!(
        report.applied == 3 && report.rejected == 0,
        "the doctor's note, signature and prescription applied: {report:?}"
    );
    drop(engine);

    let api = server
        .client()
        .login(&doctor.email, &doctor.password)
        .await?
        .0;
    let (_, e) = api
        .get(&format!("/v1/clinics/{clinic}/encounters/{}", note.id))
        .await?;
    check!(
        e["doctor_id"] == doctor.id.to_string() && e["signed_by"] == doctor.id.to_string(),
        "the note is the doctor's and signed by the doctor, though the desk synced it: {e}"
    );
    let (_, p) = api
        .get(&format!("/v1/clinics/{clinic}/prescriptions/{}", rx.id))
        .await?;
    check!(
        p["doctor_id"] == doctor.id.to_string(),
        "the prescription is the doctor's: {p}"
    );
    let su = world.db.superuser().await?;
    let author_of = |id: Uuid| {
        let su = &su;
        async move {
            let actor: Option<Uuid> = su
                .query_one(
                    "SELECT actor_id FROM vaidya.audit_log
                     WHERE clinic_id = $1 AND action = 'create' AND $2 = ANY (entity_ids)",
                    &[&clinic, &id],
                )
                .await
                .context("the create's audit row")?
                .get(0);
            Ok::<_, anyhow::Error>(actor)
        }
    };
    check!(
        author_of(patient.id).await? == Some(doctor.id),
        "the doctor's registration is audited as the doctor's"
    );
    check!(
        author_of(walk_in.id).await? == Some(desk.id),
        "the desk's registration is audited as the desk's"
    );

    // Each act keeps the device's time, not the sync's.
    let times = su
        .query_one(
            "SELECT (SELECT signed_at FROM vaidya.encounters WHERE id = $1),
                    (SELECT issued_at FROM vaidya.prescriptions WHERE id = $2),
                    (SELECT issued_at FROM vaidya.invoices WHERE id = $3),
                    (SELECT received_at FROM vaidya.payments WHERE invoice_id = $3)",
            &[&note.id, &rx.id, &invoice.id],
        )
        .await?;
    let got: [Option<DateTime<Utc>>; 4] = [times.get(0), times.get(1), times.get(2), times.get(3)];
    let want = [
        signed.signed_at,
        Some(rx.issued_at),
        Some(invoice.issued_at),
        paid.payments.first().map(|p| p.received_at),
    ];
    check!(
        got == want,
        "signing, issue and receipt keep their device times: {got:?}, want {want:?}"
    );
    // The doctor's offline reads of the chart: the doctor's, each once.
    let readers = su
        .query(
            "SELECT actor_id, count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND action = 'list' AND occurred_at IS NOT NULL
               AND $2 = ANY (patient_ids) AND entity_type = 'encounter'
             GROUP BY actor_id",
            &[&clinic, &patient.id],
        )
        .await?;
    let readers: Vec<(Option<Uuid>, i64)> = readers.iter().map(|r| (r.get(0), r.get(1))).collect();
    check!(
        readers == vec![(Some(doctor.id), 1)],
        "the chart's notes were listed offline by the doctor, once: {readers:?}"
    );
    Ok(())
}

/// Revoking one member of a shared PC forgets only them: the clinic's file, its key and the
/// other members' pending work stay, and the colleague's sync delivers that work.
pub async fn revoking_one_member_keeps_the_others_work(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("revoking_one_member_keeps_the_others_work")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let (doctor, nurse) = (&world.a.doctor, &world.a.nurse);
    let mut d = Device::with_store(&server, 33, store.clone()).await?;
    // Both use the PC this morning, online.
    d.sign_in(nurse).await?;
    d.engine(clinic, 3)?.sync().await?;
    d.sign_in(doctor).await?;
    d.engine(clinic, 3)?.sync().await?;

    // Offline: the nurse registers a patient, the doctor writes a note for another.
    d.proxy.set_online(false);
    take_the_pc_offline(&mut d, nurse).await?;
    let mut engine = d.engine(clinic, 3)?;
    let nurses = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Nurse Entered", "9822000033"))?;
    drop(engine);
    take_the_pc_offline(&mut d, doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    let mut c = d.clinic(&mut engine)?;
    let patient = c.register_patient(new_patient("Doctor Seen", "9822000034"))?;
    let note = c.save_note(NewEncounter {
        id: None,
        patient_id: patient.id,
        appointment_id: None,
        chief_complaint: "headache".to_owned(),
        notes: String::new(),
        diagnosis: "Tension headache".to_owned(),
        vitals: Vitals::default(),
    })?;
    drop(engine);

    // An admin revokes the nurse meanwhile.
    d.proxy.set_online(true);
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    revoke_member(&admin, clinic, nurse).await?;

    // The nurse signs in online: she is forgotten here, the file and its key stay.
    let file = d.config.data_dir.partition_file(clinic);
    d.sign_in(nurse).await?;
    check!(file.exists(), "the shared file stays: the doctor uses it");
    check!(
        store.partition_key(clinic)?.is_some(),
        "the key stays with the file"
    );
    let refused = d
        .client()?
        .open_partition(clinic)
        .err()
        .context("refused")?;
    check!(
        refused.code() == "not_a_member",
        "the nurse no longer opens it: {refused:?}"
    );
    // A member of no clinic now: her signing key left the keyring; the doctor's stays. The
    // PC reported what it removed to the clinic's audit trail.
    check!(
        store.signing_key(&d.config.server, nurse.id)?.is_none(),
        "the nurse's signing key is gone"
    );
    check!(
        store.signing_key(&d.config.server, doctor.id)?.is_some(),
        "the doctor's signing key stays"
    );
    let wipes = audited_wipes(&admin, clinic).await?;
    check!(
        wipes == [(nurse.id, "device_member_data".to_owned())],
        "the nurse's wipe is audited once, as hers: {wipes:?}"
    );

    // The doctor signs in and syncs: the doctor's work arrives; the nurse's change is
    // refused (its author is no longer a member) and waits, visible, for a person.
    d.sign_in(doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    let report = engine.sync().await?;
    let rejected = engine.partition().rejected_changes()?;
    check!(
        report.applied == 2 && report.rejected == 1,
        "the doctor's two changes applied, the revoked nurse's one refused: {report:?} {rejected:?}"
    );
    check!(
        rejected.len() == 1 && rejected[0].entity_id == nurses.id,
        "the nurse's change waits on the Unsent changes screen: {rejected:?}"
    );
    let api = server
        .client()
        .login(&doctor.email, &doctor.password)
        .await?
        .0;
    let (status, e) = api
        .get(&format!("/v1/clinics/{clinic}/encounters/{}", note.id))
        .await?;
    check!(
        status.is_success() && e["doctor_id"] == doctor.id.to_string(),
        "the doctor's note reached the server: {status} {e}"
    );
    Ok(())
}

/// A doctor revoked while away never signs in on the shared PC again: the front desk's next
/// online sign-in forgets them there (the note only a clinician could read leaves the file,
/// the wipe is audited as the front desk's report) and the doctor can no longer sign in
/// there offline.
pub async fn a_colleagues_sign_in_forgets_a_revoked_member_who_never_returns(
    h: Arc<Harness>,
) -> Result<()> {
    let Some(store) = keyring("a_colleagues_sign_in_forgets_a_revoked_member_who_never_returns")?
    else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let (doctor, desk) = (&world.a.doctor, &world.a.desk);
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let mut d = Device::with_store(&server, 37, store.clone()).await?;
    // The doctor writes a note here and signs out; the front desk uses the PC too.
    d.sign_in(doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    let mut c = d.clinic(&mut engine)?;
    let patient = c.register_patient(new_patient("Seen Once", "9822000037"))?;
    let note = c.save_note(NewEncounter {
        id: None,
        patient_id: patient.id,
        appointment_id: None,
        chief_complaint: "cough".to_owned(),
        notes: String::new(),
        diagnosis: "Bronchitis".to_owned(),
        vitals: Vitals::default(),
    })?;
    engine.sync().await?;
    drop(engine);
    d.client.take().context("signed in")?.sign_out().await?;
    d.sign_in(desk).await?;
    d.engine(clinic, 3)?.sync().await?;
    d.client.take().context("signed in")?.sign_out().await?;

    // The doctor is revoked and never comes back; the front desk signs in the next day.
    revoke_member(&admin, clinic, doctor).await?;
    d.sign_in(desk).await?;
    let key = store
        .partition_key(clinic)?
        .context("the file's key stays")?;
    let partition = ClinicPartition::open(&d.config.data_dir, clinic, &key)?;
    check!(
        partition.get_encounter(note.id)?.is_none() && partition.get_patient(patient.id)?.is_some(),
        "the note left the file, the patient stays"
    );
    check!(
        !partition.members()?.contains(&doctor.id),
        "the doctor is forgotten on this PC"
    );
    drop(partition);
    let refused = Client::sign_in_offline(d.config.clone(), &doctor.email, &doctor.password)
        .await
        .err()
        .context("the revoked doctor's offline sign-in is refused")?;
    check!(
        refused.code() == "no_offline_session",
        "offline sign-in of the revoked doctor: {refused:?}"
    );
    let (_, audit) = admin
        .get(&format!("/v1/clinics/{clinic}/audit?action=wipe"))
        .await?;
    let rows = audit["items"].as_array().cloned().unwrap_or_default();
    check!(
        rows.len() == 1
            && rows[0]["actor_id"] == desk.id.to_string()
            && rows[0]["entity_ids"] == serde_json::json!([doctor.id]),
        "the wipe is audited, reported by the front desk's session: {rows:?}"
    );
    Ok(())
}

/// In an outage the front desk and a doctor take turns on one PC: each signs out and the
/// other signs in again, offline, with their password. A wrong password, or a colleague who
/// never signed in online here, is refused; each one's work reaches the server as theirs.
pub async fn staff_take_turns_on_a_pc_offline_with_their_passwords(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("staff_take_turns_on_a_pc_offline_with_their_passwords")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let (doctor, desk, nurse) = (&world.a.doctor, &world.a.desk, &world.a.nurse);
    let mut d = Device::with_store(&server, 36, store.clone()).await?;
    // This morning, online: both sign in once, sync and sign out.
    for person in [desk, doctor] {
        d.sign_in(person).await?;
        d.engine(clinic, 3)?.sync().await?;
        d.client.take().context("signed in")?.sign_out().await?;
    }
    check!(
        store.active()?.is_none(),
        "after sign-out the app resumes nobody"
    );

    // The line goes down.
    d.proxy.set_online(false);
    let config = d.config.clone();
    let offline = move |email: &str, password: &str| {
        let (config, email, password) = (config.clone(), email.to_owned(), password.to_owned());
        async move { Client::sign_in_offline(config, &email, &password).await }
    };
    let wrong = offline(&desk.email, "not the password")
        .await
        .err()
        .context("a wrong password is refused")?;
    check!(
        wrong.code() == "invalid_credentials",
        "wrong password: {wrong:?}"
    );
    let stranger = offline(&nurse.email, &nurse.password)
        .await
        .err()
        .context("a stranger to this PC is refused")?;
    check!(
        stranger.code() == "no_offline_session",
        "never signed in here: {stranger:?}"
    );

    // The front desk registers a walk-in, and hands over.
    d.client = Some(offline(&desk.email.to_uppercase(), &desk.password).await?);
    check!(
        d.client()?.mode() == vaidya_client::Mode::Offline && d.client()?.user_id() == desk.id,
        "the front desk is signed in offline"
    );
    // The app restarts meanwhile, and the server answers for a moment: it resumes her
    // offline sign-in (there is no server session to refresh, and her lease and offline
    // pass are not thrown away); the password is asked for when sync needs the server.
    d.proxy.set_online(true);
    let resumed = Client::resume(d.config.clone()).await;
    d.proxy.set_online(false);
    let resumed = resumed?;
    check!(
        resumed.mode() == vaidya_client::Mode::Offline && resumed.user_id() == desk.id,
        "the restart resumes the front desk offline"
    );
    let mut engine = d.engine(clinic, 3)?;
    let walk_in = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Outage Walk In", "9822000036"))?;
    drop(engine);
    d.client.take().context("signed in")?.sign_out().await?;

    // The doctor signs in with their password and writes the walk-in's note.
    d.client = Some(offline(&doctor.email, &doctor.password).await?);
    let mut engine = d.engine(clinic, 3)?;
    let note = d.clinic(&mut engine)?.save_note(NewEncounter {
        id: None,
        patient_id: walk_in.id,
        appointment_id: None,
        chief_complaint: "fever".to_owned(),
        notes: String::new(),
        diagnosis: "Viral fever".to_owned(),
        vitals: Vitals::default(),
    })?;

    drop(engine);

    // The line comes back. An offline sign-in holds no server session (sign-out ended it),
    // so the server asks for the password again before anything syncs; then the doctor's
    // session sends both changes, each as its author.
    d.proxy.set_online(true);
    let refused = d
        .engine(clinic, 1)?
        .sync()
        .await
        .err()
        .context("no server session after an offline sign-in")?;
    check!(
        refused.to_string().contains("sign in again"),
        "the server wants the password: {refused}"
    );
    d.sign_in(doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    let report = engine.sync().await?;
    check!(
        report.applied == 2 && report.rejected == 0,
        "both changes applied: {report:?}"
    );
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let (_, created) = admin
        .get(&format!(
            "/v1/clinics/{clinic}/audit?action=create&limit=200"
        ))
        .await?;
    let rows = created["items"].as_array().cloned().unwrap_or_default();
    let by = |entity: &str, id: Uuid| {
        rows.iter()
            .find(|r| r["entity_type"] == entity && r["entity_ids"] == serde_json::json!([id]))
            .and_then(|r| r["actor_id"].as_str())
            .map(str::to_owned)
    };
    check!(
        by("patient", walk_in.id) == Some(desk.id.to_string())
            && by("encounter", note.id) == Some(doctor.id.to_string()),
        "each act is its author's: {rows:?}"
    );

    // Guessing offline is bounded: after five wrong passwords even the right one is refused
    // here until the front desk signs in online (where the server's throttle applies).
    d.proxy.set_online(false);
    for _ in 0..5 {
        let e = offline(&desk.email, "a wrong guess")
            .await
            .err()
            .context("refused")?;
        check!(e.code() == "invalid_credentials", "a wrong guess: {e:?}");
    }
    let locked = offline(&desk.email, &desk.password)
        .await
        .err()
        .context("locked after five wrong passwords")?;
    check!(locked.code() == "too_many_attempts", "locked: {locked:?}");
    d.proxy.set_online(true);
    d.sign_in(desk).await?;
    d.client.take().context("signed in")?.sign_out().await?;
    d.proxy.set_online(false);
    check!(
        offline(&desk.email, &desk.password).await.is_ok(),
        "an online sign-in opens the offline sign-in again"
    );
    Ok(())
}

/// The wipes in `clinic`'s audit trail: (actor, what was wiped), oldest first.
async fn audited_wipes(admin: &vaidya_tests::Api, clinic: Uuid) -> Result<Vec<(Uuid, String)>> {
    let (status, body) = admin
        .get(&format!("/v1/clinics/{clinic}/audit?action=wipe"))
        .await?;
    anyhow::ensure!(status.is_success(), "audit: {status} {body}");
    let mut rows: Vec<(String, Uuid, String)> = body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            Ok((
                r["at"].as_str().unwrap_or_default().to_owned(),
                r["actor_id"].as_str().unwrap_or_default().parse()?,
                r["entity_type"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect::<Result<_>>()?;
    rows.sort();
    Ok(rows.into_iter().map(|(_, who, what)| (who, what)).collect())
}

/// A doctor revoked on a PC the front desk keeps using: what only a clinician could read
/// leaves the file, while the front desk's unsent work stays and syncs; when the last
/// member goes too, the whole file and its key go. Both wipes reach the audit trail.
pub async fn revoking_a_doctor_removes_what_only_clinicians_could_read(
    h: Arc<Harness>,
) -> Result<()> {
    let Some(store) = keyring("revoking_a_doctor_removes_what_only_clinicians_could_read")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let (doctor, desk) = (&world.a.doctor, &world.a.desk);
    let admin = server.login_as(&world.a.admin).await?;
    // Yesterday, on another computer, the doctor wrote a note.
    let api = server.login_as(doctor).await?;
    let (_, p) = api
        .post(
            &format!("/v1/clinics/{clinic}/patients"),
            serde_json::json!({"name": "Clinical Only", "sex": "male"}),
        )
        .await?;
    let (status, e) = api
        .post(
            &format!("/v1/clinics/{clinic}/encounters"),
            serde_json::json!({"patient_id": p["id"], "chief_complaint": "cough",
                               "notes": "", "diagnosis": "Bronchitis"}),
        )
        .await?;
    check!(status.is_success(), "note: {status} {e}");
    let note: Uuid = e["id"].as_str().unwrap_or_default().parse()?;

    // This morning both sync the shared PC; the doctor's pull brings the note down.
    let mut d = Device::with_store(&server, 35, store.clone()).await?;
    d.sign_in(doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    engine.sync().await?;
    check!(
        engine.partition().get_encounter(note)?.is_some(),
        "the doctor's pull brought the note"
    );
    drop(engine);
    d.sign_in(desk).await?;
    d.engine(clinic, 3)?.sync().await?;
    // Offline, the front desk registers a walk-in.
    d.proxy.set_online(false);
    take_the_pc_offline(&mut d, desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    let walk_in = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Walk In", "9822000035"))?;
    drop(engine);

    // The doctor is revoked and signs in: the note leaves the file, the rest stays.
    d.proxy.set_online(true);
    revoke_member(&admin, clinic, doctor).await?;
    d.sign_in(doctor).await?;
    let file = d.config.data_dir.partition_file(clinic);
    let key = store.partition_key(clinic)?.context("the key stays")?;
    let mut partition = ClinicPartition::open(&d.config.data_dir, clinic, &key)?;
    check!(
        partition.get_encounter(note)?.is_none(),
        "the note only a clinician could read left the file"
    );
    check!(
        !d.config.data_dir.clinical_store_file(clinic).exists(),
        "the clinical store left with the only clinician who could open it"
    );
    // The clinicians' pull cursor went with the rows it vouched for (a doctor who signs in
    // here later pulls the notes afresh); the front desk's stays.
    partition.set_reader(vaidya_shared::api::Role::Doctor);
    check!(
        partition.pull_cursor()?.is_none(),
        "the clinicians' cursor was forgotten"
    );
    partition.set_reader(vaidya_shared::api::Role::FrontDesk);
    check!(
        partition.pull_cursor()?.is_some(),
        "the front desk's cursor stays"
    );
    check!(
        partition.get_patient(walk_in.id)?.is_some() && partition.outbox_len()? == 1,
        "the front desk's walk-in and its unsent change stay"
    );
    drop(partition);

    // The front desk syncs: the walk-in reaches the server, and the note does not come back.
    d.sign_in(desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    let report = engine.sync().await?;
    check!(
        report.applied == 1 && report.rejected == 0,
        "the front desk's work synced: {report:?}"
    );
    check!(
        engine.partition().get_encounter(note)?.is_none(),
        "the front desk's pull does not bring the note back"
    );
    drop(engine);

    // The front desk leaves the clinic too: nobody is left here, so the file and its key go.
    revoke_member(&admin, clinic, desk).await?;
    d.sign_in(desk).await?;
    check!(
        !file.exists() && store.partition_key(clinic)?.is_none(),
        "the last member's revocation wipes the file and its key"
    );
    let wipes = audited_wipes(&admin, clinic).await?;
    check!(
        wipes
            == [
                (doctor.id, "device_member_data".to_owned()),
                (desk.id, "device_file".to_owned())
            ],
        "both wipes audited, each as its member's: {wipes:?}"
    );
    Ok(())
}

/// The front desk syncs first on a shared PC; a doctor who signs in later still receives
/// every older note (each visibility class pulls with a cursor of its own), while the front
/// desk's pull never brought a note down.
pub async fn a_doctor_after_the_front_desk_receives_the_older_notes(h: Arc<Harness>) -> Result<()> {
    if keyring("a_doctor_after_the_front_desk_receives_the_older_notes")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let (doctor, desk) = (&world.a.doctor, &world.a.desk);
    // Yesterday, on another computer: a patient and the doctor's signed note.
    let api = server
        .client()
        .login(&doctor.email, &doctor.password)
        .await?
        .0;
    let (_, p) = api
        .post(
            &format!("/v1/clinics/{clinic}/patients"),
            serde_json::json!({"name": "Older Note", "sex": "male"}),
        )
        .await?;
    let (status, e) = api
        .post(
            &format!("/v1/clinics/{clinic}/encounters"),
            serde_json::json!({"patient_id": p["id"], "chief_complaint": "follow-up",
                               "notes": "", "diagnosis": "Hypertension"}),
        )
        .await?;
    check!(status.is_success(), "note: {status} {e}");
    let note: Uuid = e["id"].as_str().unwrap_or_default().parse()?;
    // Then a registration, which the front desk does see: its pull ends past the note.
    let (status, later) = api
        .post(
            &format!("/v1/clinics/{clinic}/patients"),
            serde_json::json!({"name": "Later Registration", "sex": "female"}),
        )
        .await?;
    check!(status.is_success(), "later patient: {status} {later}");

    // This morning the front desk syncs the PC first.
    let mut d = Device::new(&server, 34).await?;
    d.sign_in(desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    engine.sync().await?;
    check!(
        engine.partition().get_encounter(note)?.is_none(),
        "the front desk's pull brought no clinical note"
    );
    drop(engine);

    // The doctor signs in on the same PC later.
    d.sign_in(doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    engine.sync().await?;
    let got = engine.partition().get_encounter(note)?;
    check!(
        got.as_ref().is_some_and(|e| e.diagnosis == "Hypertension"),
        "the doctor receives the older note: {got:?}"
    );
    Ok(())
}

/// Issue 9, item 3: clinical notes on a shared PC are on disk only for clinicians. After a
/// doctor's day, the front desk signs in on the same PC and OS account and tries every key
/// its session can reach in the keyring on the clinic's files: none opens a clinical row.
/// The doctor, back with their password (offline), reads their notes again.
pub async fn the_front_desks_keys_open_no_clinical_rows(h: Arc<Harness>) -> Result<()> {
    if keyring("the_front_desks_keys_open_no_clinical_rows")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let (doctor, desk) = (&world.a.doctor, &world.a.desk);
    let mut d = Device::new(&server, 35).await?;

    // The doctor writes and syncs a note on this PC.
    d.sign_in(doctor).await?;
    let mut engine = d.engine(clinic, 3)?;
    check!(
        engine.partition().clinical_store_open(),
        "the doctor's session opens the clinical store"
    );
    let patient = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Kamala Devi", "98450 12345"))?;
    let note = d.clinic(&mut engine)?.save_note(NewEncounter {
        id: None,
        patient_id: patient.id,
        appointment_id: None,
        chief_complaint: "Night sweats".to_owned(),
        notes: "Suspected tuberculosis; sputum sent".to_owned(),
        diagnosis: "Pulmonary TB, under evaluation".to_owned(),
        vitals: Vitals::default(),
    })?;
    engine.sync().await?;
    drop(engine);
    d.client.take().context("signed in")?.sign_out().await?;

    // The front desk takes the PC.
    d.sign_in(desk).await?;
    let creds = &d.config.credentials;
    let server_url = d.config.server.clone();
    let mut desk_file = d.client()?.open_partition(clinic)?;
    check!(
        !desk_file.clinical_store_open() && desk_file.get_encounter(note.id)?.is_none(),
        "the front desk's session reads no note"
    );
    // Every key in this OS account's keyring that could be tried on the store.
    let mut keys: Vec<(String, String)> = Vec::new();
    if let Some(k) = creds.partition_key(clinic)? {
        keys.push(("the clinic file's key".into(), k.to_hex()));
    }
    check!(
        creds.password_key(&server_url, doctor.id)?.is_none(),
        "the doctor's password key left the keyring at their sign-out"
    );
    for person in [doctor, desk] {
        if let Some(k) = creds.password_key(&server_url, person.id)? {
            keys.push((format!("{}'s password key", person.email), k.to_hex()));
        }
        if let Some(signer) = creds.signing_key(&server_url, person.id)? {
            keys.push((
                format!("{}'s signing key", person.email),
                signer
                    .secret()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            ));
        }
    }
    check!(keys.len() >= 3, "keys tried: {keys:?}");
    for (what, key) in &keys {
        let key = ClinicalKey::from_hex(key).context("32-byte key")?;
        let err = desk_file.open_clinical_store(&key).unwrap_err();
        check!(
            err.code() == "partition_wrong_key" && !desk_file.clinical_store_open(),
            "{what} does not open the clinical store: {err}"
        );
    }
    // The doctor's wrap is in the file, but only the doctor's password opens it.
    let wrapped = desk_file
        .clinical_key_wrap(doctor.id)?
        .context("the doctor's wrap is kept for their offline sign-in")?;
    check!(
        PasswordKey::derive(&desk.password, doctor.id)
            .unwrap(&wrapped, clinic)
            .is_none(),
        "a colleague's password does not unwrap the doctor's key"
    );
    drop(desk_file);
    d.client.take().context("signed in")?.sign_out().await?;

    // The doctor comes back without the network and gives their password.
    let back = Client::sign_in_offline(d.config.clone(), &doctor.email, &doctor.password).await?;
    let file = back.open_partition(clinic)?;
    let got = file.get_encounter(note.id)?;
    check!(
        file.clinical_store_open()
            && got
                .as_ref()
                .is_some_and(|n| n.notes == "Suspected tuberculosis; sputum sent"),
        "the doctor reads their note again: {got:?}"
    );
    Ok(())
}

/// A member's access token expires mid-day (here: replaced by one the server never issued):
/// the next call refreshes it with the keyring's refresh token and keeps the rotated one,
/// and the member can still sign in offline with their password afterwards (the refresh
/// used to drop the password verifier from the keyring).
pub async fn a_mid_day_token_refresh_keeps_the_offline_sign_in(h: Arc<Harness>) -> Result<()> {
    if keyring("a_mid_day_token_refresh_keeps_the_offline_sign_in")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let (clinic, doctor) = (world.a.id, &world.a.doctor);
    let mut d = Device::new(&server, 33).await?;
    let user = d.sign_in(doctor).await?.user_id();
    let stored = |d: &Device| -> Result<StoredSession> {
        d.config
            .credentials
            .session(&d.config.server, user)?
            .context("a stored session")
    };
    let before = stored(&d)?;
    check!(
        before.password_verifier.is_some(),
        "a sign-in with the password keeps a verifier"
    );

    d.client()?
        .api()
        .set_access_token(Some("expired-or-unknown".to_owned()));
    d.engine(clinic, 1)?.sync().await?;
    let after = stored(&d)?;
    check!(
        after.refresh_token != before.refresh_token,
        "the rotated refresh token is kept"
    );
    check!(
        after.password_verifier == before.password_verifier,
        "the refresh kept the password verifier"
    );

    // The line drops: the doctor signs in again with the password, offline.
    d.proxy.set_online(false);
    take_the_pc_offline(&mut d, doctor).await?;
    check!(
        d.client()?.mode() == vaidya_client::session::Mode::Offline,
        "signed in offline"
    );
    Ok(())
}
