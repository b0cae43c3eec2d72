//! Seeded randomized schedules: several devices of one clinic edit patients and
//! appointments, go offline, lose connections mid-request (a cutting proxy), restart
//! mid-sync, and the server restarts on the same database. At the end every device's
//! partition equals the server's state, every mutation reached the server exactly once,
//! and every conflict the server recorded is in every device's inbox.
//!
//! `VAIDYA_SYNC_SCHEDULES` (default 20) and `VAIDYA_SYNC_SEED` (default 1) choose the
//! schedules; a failure names its seed so it can be replayed alone.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;
use vaidya_client::partition::OutboxState;
use vaidya_client::{ClinicError, SyncEngine};
use vaidya_shared::api::{AppointmentPatch, NewAppointment, PatientPatch};
use vaidya_shared::ErrorCode;
use vaidya_tests::proxy::Chaos;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;
use crate::round_trip::new_patient;
use crate::support::{addr_of, keyring, server_state, Device};

#[derive(Debug, Default)]
struct Totals {
    steps: usize,
    edits: usize,
    syncs: usize,
    failed_syncs: usize,
    restarts: usize,
    server_restarts: usize,
    conflicts: usize,
    chaos_cuts: u64,
    /// Sign-ins with the password after a refresh answer was cut (see the report).
    re_sign_ins: usize,
}

pub async fn randomized_schedules_converge(h: Arc<Harness>) -> Result<()> {
    if keyring("randomized_schedules_converge")?.is_none() {
        return Ok(());
    }
    let schedules: u64 = std::env::var("VAIDYA_SYNC_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let first: u64 = std::env::var("VAIDYA_SYNC_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let world = World::create(&h).await?;
    let mut server = TestServer::spawn(&world.db, 4).await?;
    let started = Instant::now();
    let mut totals = Totals::default();
    for seed in first..first + schedules {
        run_schedule(&world, &mut server, seed, &mut totals)
            .await
            .with_context(|| {
                format!(
                    "schedule with seed {seed} (VAIDYA_SYNC_SEED={seed} VAIDYA_SYNC_SCHEDULES=1)"
                )
            })?;
    }
    println!(
        "convergence: {schedules} schedules (seeds {first}..{}) in {:?}: {totals:?}",
        first + schedules,
        started.elapsed()
    );
    Ok(())
}

fn pick<T: Clone>(rng: &mut StdRng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.gen_range(0..items.len())].clone())
}

/// One random local edit; returns the id of the mutation it queued, if any.
/// Made through `OpenClinic` as the device's member, so an edit the role may not make
/// (a doctor deleting a patient) is refused on the device, as the server would refuse it.
fn random_edit(
    rng: &mut StdRng,
    device: &Device,
    engine: &mut SyncEngine,
    doctor: Uuid,
    tag: &str,
) -> Result<Option<Uuid>> {
    let last = |e: &SyncEngine| -> Result<Option<Uuid>> {
        Ok(e.partition()
            .outbox()?
            .last()
            .map(|e| e.mutation.mutation_id))
    };
    let before = last(engine)?;
    let patients = engine.partition().all_patients()?;
    let appointments = engine.partition().all_appointments()?;
    let mut p = device.clinic(engine)?;
    let roll = rng.gen_range(0..100);
    let value = format!("{tag}-{}", rng.gen_range(0..1_000_000));
    let result = match roll {
        0..=29 => p
            .register_patient(new_patient(
                &format!("Patient {value}"),
                &format!("98{:08}", rng.gen_range(0..100_000_000u64)),
            ))
            .map(|_| ()),
        30..=54 => match pick(rng, &patients) {
            Some(patient) => {
                let patch = match rng.gen_range(0..3) {
                    0 => PatientPatch {
                        name: Some(format!("Renamed {value}")),
                        ..PatientPatch::default()
                    },
                    1 => PatientPatch {
                        phone: Some(format!("97{:08}", rng.gen_range(0..100_000_000u64))),
                        ..PatientPatch::default()
                    },
                    _ => PatientPatch {
                        address: Some(format!("House {value}")),
                        ..PatientPatch::default()
                    },
                };
                p.update_patient(patient.id, patch).map(|_| ())
            }
            None => Ok(()),
        },
        55..=59 => match pick(rng, &patients) {
            Some(patient) => p.delete_patient(patient.id),
            None => Ok(()),
        },
        60..=79 => match pick(rng, &patients) {
            Some(patient) => {
                let start = Utc.with_ymd_and_hms(2032, 1, 5, 3, 30, 0).unwrap()
                    + chrono::Duration::minutes(15 * rng.gen_range(0..400));
                p.book_appointment(NewAppointment {
                    id: None,
                    patient_id: patient.id,
                    doctor_id: doctor,
                    starts_at: start,
                    ends_at: start + chrono::Duration::minutes(10),
                    reason: Some(format!("Visit {value}")),
                })
                .map(|_| ())
            }
            None => Ok(()),
        },
        80..=94 => match pick(rng, &appointments) {
            Some(a) => {
                let patch = if rng.gen_bool(0.6) {
                    AppointmentPatch {
                        reason: Some(format!("Reason {value}")),
                        ..AppointmentPatch::default()
                    }
                } else {
                    let shift = chrono::Duration::minutes(15 * rng.gen_range(1..8));
                    AppointmentPatch {
                        starts_at: Some(a.starts_at + shift),
                        ends_at: Some(a.ends_at + shift),
                        ..AppointmentPatch::default()
                    }
                };
                p.update_appointment(a.id, patch).map(|_| ())
            }
            None => Ok(()),
        },
        _ => match pick(rng, &appointments) {
            Some(a) => p.delete_appointment(a.id),
            None => Ok(()),
        },
    };
    match result {
        Ok(()) => {}
        // The role may not: nothing was written, as the server would have refused it.
        Err(ClinicError::Refused(e)) if e.code == ErrorCode::Forbidden => {}
        Err(e) => return Err(e.into()),
    }
    let after = last(engine)?;
    Ok(if after != before { after } else { None })
}

async fn run_schedule(
    world: &World,
    server: &mut TestServer,
    seed: u64,
    totals: &mut Totals,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let clinic = world.a.id;
    let people = [&world.a.doctor, &world.a.nurse, &world.a.desk];
    let mut devices = Vec::new();
    let mut engines: Vec<Option<SyncEngine>> = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let mut d = Device::new(server, seed * 100 + i as u64).await?;
        d.sign_in(person).await?;
        let mut e = d.engine(clinic, 3)?;
        e.sync().await?;
        engines.push(Some(e));
        devices.push(d);
    }
    if rng.gen_bool(0.7) {
        for d in &devices {
            d.proxy.set_chaos(Some(Chaos {
                probability: 0.15,
                max_bytes: 4000,
            }));
        }
    }
    let mut made: Vec<(usize, Uuid)> = Vec::new();
    let mut server_restarted = false;
    let steps = 40;
    for step in 0..steps {
        totals.steps += 1;
        let i = rng.gen_range(0..devices.len());
        let roll = rng.gen_range(0..100);
        match roll {
            0..=44 => {
                let engine = engines[i].as_mut().context("engine")?;
                let tag = format!("s{seed}d{i}n{step}");
                if let Some(id) =
                    random_edit(&mut rng, &devices[i], engine, world.a.doctor.id, &tag)?
                {
                    made.push((i, id));
                    totals.edits += 1;
                }
            }
            45..=69 => {
                let engine = engines[i].as_mut().context("engine")?;
                totals.syncs += 1;
                if let Err(e) = engine.sync().await {
                    check!(
                        e.is_retryable(),
                        "device {i}: non-retryable sync error {e:?}"
                    );
                    totals.failed_syncs += 1;
                }
            }
            70..=79 => {
                let d = &devices[i];
                d.proxy.set_online(!d.proxy.is_online());
            }
            80..=89 => {
                // Restart the app, perhaps in the middle of a sync.
                totals.restarts += 1;
                let mut engine = engines[i].take().context("engine")?;
                if rng.gen_bool(0.6) {
                    let ms = rng.gen_range(1..80);
                    let _ =
                        tokio::time::timeout(Duration::from_millis(ms), engine.sync_once()).await;
                }
                drop(engine);
                engines[i] = Some(devices[i].engine(clinic, 3)?);
            }
            90..=93 if !server_restarted => {
                server_restarted = true;
                totals.server_restarts += 1;
                let fresh = TestServer::spawn(&world.db, 4).await?;
                let old = std::mem::replace(server, fresh);
                drop(old);
                for d in &devices {
                    d.proxy.set_upstream(addr_of(server)?);
                }
            }
            _ => {
                // Sign-in restart: the session is resumed from the keyring.
                if devices[i].proxy.is_online() {
                    drop(engines[i].take());
                    let client = vaidya_client::Client::resume(devices[i].config.clone()).await;
                    match client {
                        Ok(c) => devices[i].client = Some(c),
                        Err(e) => check!(
                            matches!(
                                e.code(),
                                "network" | "malformed_response" | "unexpected_status"
                            ),
                            "resume failed: {e:?}"
                        ),
                    }
                    engines[i] = Some(devices[i].engine(clinic, 3)?);
                }
            }
        }
    }

    // Heal: everything online, no more faults; sync everyone until quiet.
    for d in &devices {
        d.proxy.set_chaos(None);
        d.proxy.set_online(true);
        totals.chaos_cuts += d.proxy.stats().1;
    }
    let admin = vaidya_tests::Api {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        token: None,
    }
    .login(&world.a.admin.email, &world.a.admin.password)
    .await?
    .0;
    // Rows reach a pull only once older transactions in the (shared) cluster finish, so
    // keep syncing until every device has caught up, within a bound.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for i in 0..engines.len() {
            let engine = engines[i].as_mut().context("engine")?;
            match engine.sync().await {
                Err(e) if e.code() == "unauthenticated" => {
                    totals.re_sign_ins += 1;
                    drop(engines[i].take());
                    devices[i].sign_in(people[i]).await?;
                    let mut engine = devices[i].engine(clinic, 3)?;
                    engine
                        .sync()
                        .await
                        .with_context(|| format!("final sync of device {i}"))?;
                    engines[i] = Some(engine);
                }
                other => {
                    other.with_context(|| format!("final sync of device {i}"))?;
                }
            }
        }
        let (patients, appointments) = server_state(&admin, clinic).await?;
        let mut equal = true;
        for engine in &engines {
            let p = engine.as_ref().context("engine")?.partition();
            let mut lp = p.all_patients()?;
            lp.sort_by_key(|x| x.id);
            let mut la = p.all_appointments()?;
            la.sort_by_key(|x| x.id);
            equal &= lp == patients && la == appointments;
        }
        if equal || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every device equals the server.
    let (patients, appointments) = server_state(&admin, clinic).await?;
    let db = world.db.superuser().await?;
    let server_conflicts: BTreeSet<Uuid> = db
        .query(
            "SELECT id FROM vaidya.sync_conflicts WHERE clinic_id = $1 AND deleted_at IS NULL",
            &[&clinic],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    totals.conflicts += server_conflicts.len();
    for (i, engine) in engines.iter().enumerate() {
        let p = engine.as_ref().context("engine")?.partition();
        let mut local_p = p.all_patients()?;
        local_p.sort_by_key(|x| x.id);
        let mut local_a = p.all_appointments()?;
        local_a.sort_by_key(|x| x.id);
        if local_p != patients {
            let diff: Vec<_> = local_p
                .iter()
                .filter(|x| !patients.contains(x))
                .chain(patients.iter().filter(|x| !local_p.contains(x)))
                .collect();
            anyhow::bail!("device {i}: patients differ from the server: {diff:#?}");
        }
        if local_a != appointments {
            let diff: Vec<_> = local_a
                .iter()
                .filter(|x| !appointments.contains(x))
                .chain(appointments.iter().filter(|x| !local_a.contains(x)))
                .collect();
            anyhow::bail!("device {i}: appointments differ from the server: {diff:#?}");
        }
        let (pushable, _, _) = p.outbox_counts()?;
        check!(pushable == 0, "device {i}: {pushable} changes never pushed");
        check!(p.pull_complete()?, "device {i}: pull incomplete");
        let local_conflicts: BTreeSet<Uuid> = p.all_conflicts()?.iter().map(|c| c.id).collect();
        check!(
            server_conflicts.is_subset(&local_conflicts),
            "device {i}: conflicts missing from the inbox: {:?}",
            server_conflicts
                .difference(&local_conflicts)
                .collect::<Vec<_>>()
        );
    }

    // No mutation lost: each reached the server (stored result), or waits visibly in its
    // device's outbox as a conflict or a rejection.
    let stored: HashSet<Uuid> = db
        .query(
            "SELECT mutation_id FROM vaidya.sync_mutations WHERE clinic_id = $1",
            &[&clinic],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (i, id) in &made {
        if stored.contains(id) {
            continue;
        }
        let p = engines[*i].as_ref().context("engine")?.partition();
        let waiting = p
            .outbox()?
            .into_iter()
            .find(|e| e.mutation.mutation_id == *id);
        check!(
            waiting
                .as_ref()
                .is_some_and(|e| matches!(e.state, OutboxState::Conflict | OutboxState::Rejected)),
            "device {i}: mutation {id} was lost (entry: {waiting:?})"
        );
    }
    // And none applied twice: every patient created in this schedule has one create record.
    let created: Vec<Uuid> = patients
        .iter()
        .filter(|p| p.name.contains(&format!("s{seed}d")))
        .map(|p| p.id)
        .collect();
    for id in created {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM vaidya.audit_log
                 WHERE clinic_id = $1 AND action = 'create' AND entity_type = 'patient'
                   AND $2 = ANY (entity_ids)",
                &[&clinic, &id],
            )
            .await?
            .get(0);
        check!(n == 1, "patient {id} created {n} times");
    }
    Ok(())
}
