//! One clinic PC, several people: each offline act is its author's, whoever's session
//! syncs it (the author's device key signs it; the server applies it as the author).

use std::sync::Arc;

use anyhow::{Context, Result};
use uuid::Uuid;
use vaidya_client::credentials::ActiveSession;
use vaidya_client::session::Client;
use vaidya_shared::api::{NewEncounter, NewPrescription, NewPrescriptionItem, Vitals};
use vaidya_tests::{Harness, Person, TestServer, World};

use crate::check;
use crate::round_trip::new_patient;
use crate::support::{keyring, Device};

/// The member `person` takes the PC without the network (their session, lease and key are
/// in the keyring from this morning's online sign-in).
fn take_the_pc_offline(d: &mut Device, person: &Person) -> Result<()> {
    d.config.credentials.set_active(&ActiveSession {
        server: d.config.server.clone(),
        user_id: person.id,
    })?;
    d.client = Some(Client::start_offline(d.config.clone())?);
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
    take_the_pc_offline(&mut d, doctor)?;
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
    c.sign_note(note.id)?;
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

    // The desk takes the PC back, still offline, and registers a walk-in.
    take_the_pc_offline(&mut d, desk)?;
    let mut engine = d.engine(clinic, 3)?;
    let walk_in = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Walk In", "9822000032"))?;

    // The line returns; the desk's session syncs everyone's work.
    d.proxy.set_online(true);
    let report = engine.sync().await?;
    check!(
        report.applied == 5 && report.rejected == 0,
        "the doctor's four changes and the desk's one, all applied: {report:?} {:?}",
        engine.partition().rejected_changes()?
    );

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
    Ok(())
}
