//! A patient registered on two PCs during an outage: each PC books a visit for "their"
//! patient; when the line returns the server puts the pair in the conflict inbox, every PC
//! sees it, an admin merges, and every PC then shows one patient with both visits.

use std::sync::Arc;

use anyhow::Result;
use chrono::{TimeZone, Utc};
use vaidya_client::partition::ConflictKind;
use vaidya_shared::api::NewAppointment;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;
use crate::round_trip::new_patient;
use crate::support::{keyring, sync_until, Device};

pub async fn a_patient_registered_on_two_pcs_is_merged_everywhere(h: Arc<Harness>) -> Result<()> {
    if keyring("a_patient_registered_on_two_pcs_is_merged_everywhere")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut desk = Device::new(&server, 61).await?;
    desk.sign_in(&world.a.desk).await?;
    let mut desk_engine = desk.engine(clinic, 3)?;
    desk_engine.sync().await?;
    let mut doctor = Device::new(&server, 62).await?;
    doctor.sign_in(&world.a.doctor).await?;
    let mut doctor_engine = doctor.engine(clinic, 3)?;
    doctor_engine.sync().await?;

    // The internet is down; the front desk and the doctor each register the same woman.
    desk.proxy.set_online(false);
    doctor.proxy.set_online(false);
    let start = Utc.with_ymd_and_hms(2031, 5, 6, 4, 30, 0).unwrap();
    let mut booked = Vec::new();
    for (device, engine, name, minutes) in [
        (&desk, &mut desk_engine, "Sunita Patil", 0),
        (&doctor, &mut doctor_engine, "Suneeta Patil", 30),
    ] {
        let mut c = device.clinic(engine)?;
        let patient = c.register_patient(new_patient(name, "98220 12345"))?;
        let visit = c.book_appointment(NewAppointment {
            id: None,
            patient_id: patient.id,
            doctor_id: world.a.doctor.id,
            starts_at: start + chrono::Duration::minutes(minutes),
            ends_at: start + chrono::Duration::minutes(minutes + 15),
            reason: Some("fever".to_owned()),
        })?;
        booked.push((patient.id, visit.id));
    }
    desk.proxy.set_online(true);
    doctor.proxy.set_online(true);
    desk_engine.sync().await?;
    doctor_engine.sync().await?;

    // Both PCs are told: the doctor's registration, later, is probably the desk's patient.
    let (first, second) = (booked[0].0, booked[1].0);
    for engine in [&mut desk_engine, &mut doctor_engine] {
        sync_until(engine, "the duplicate reaches the inbox", |e| {
            Ok(e.partition().open_conflicts()?.iter().any(|c| {
                c.kind == ConflictKind::DuplicatePatient
                    && c.entity_id == second
                    && c.server_value
                        .as_ref()
                        .is_some_and(|v| v[0]["id"] == first.to_string().as_str())
            }))
        })
        .await?;
    }

    // An admin merges the second record into the first.
    let admin = server.login_as(&world.a.admin).await?;
    let (status, body) = admin
        .post(
            &format!("/v1/clinics/{clinic}/patients/{first}/merge"),
            serde_json::json!({"duplicate_id": second}),
        )
        .await?;
    check!(status.is_success(), "merge: {status} {body}");

    // Every PC: one Sunita, both visits hers, the warning gone.
    for engine in [&mut desk_engine, &mut doctor_engine] {
        sync_until(engine, "the merge reaches the PC", |e| {
            let p = e.partition();
            let sunitas: Vec<_> = p
                .all_patients()?
                .into_iter()
                .filter(|x| x.name.contains("Patil"))
                .collect();
            let visits = p.all_appointments()?;
            Ok(sunitas.len() == 1
                && sunitas[0].id == first
                && visits.len() == 2
                && visits.iter().all(|v| v.patient_id == first)
                && !p
                    .open_conflicts()?
                    .iter()
                    .any(|c| c.kind == ConflictKind::DuplicatePatient))
        })
        .await?;
    }
    Ok(())
}
