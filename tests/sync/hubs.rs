//! A clinic hub's registration on its own machine (issue 11), on the real OS keyring and a
//! real server: `vaidya-server hub register` keeps only the hub's credential (never the
//! admin's), `hub status` connects and keeps the rotated token, and a revoked hub forgets a
//! credential that can never work again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine;
use chrono::Utc;
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;
use vaidya_client::ServerApi;
use vaidya_server::hub::follow::{follow, Upstream};
use vaidya_server::hub::replica::Replica;
use vaidya_server::hub::{self, SignIn};
use vaidya_shared::sync::{EntityKind, Mutation, MutationResult, PushRequest};
use vaidya_tests::hub::{device_key, signed_create, until_hub_knows_key, RunningHub};
use vaidya_tests::proxy::Proxy;
use vaidya_tests::{Harness, TestServer, World};

use vaidya_client::sync::SyncPath;
use vaidya_shared::api::{NewAppointment, NewEncounter, NewPatient, Sex};

use crate::check;
use crate::support::{sync_until, Device};

/// How many sessions the hub commands opened for these people are still open on the server.
async fn open_sessions(su: &tokio_postgres::Client, people: &[uuid::Uuid]) -> Result<i64> {
    Ok(su
        .query_one(
            "SELECT count(*) FROM vaidya.sessions
             WHERE user_id = ANY ($1) AND revoked_at IS NULL AND device = $2",
            &[&people, &hub::DEVICE],
        )
        .await?
        .get(0))
}

fn sign_in(p: &vaidya_tests::Person) -> SignIn<'_> {
    SignIn {
        email: &p.email,
        password: &p.password,
    }
}
use crate::support::keyring;

pub async fn a_hub_registers_into_the_keyring_and_connects_until_revoked(
    h: Arc<Harness>,
) -> Result<()> {
    let Some(store) = keyring("a_hub_registers_into_the_keyring_and_connects_until_revoked")?
    else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let k = world.a.id;

    // A wrong password and a doctor: refused, nothing kept.
    let wrong = SignIn {
        email: &world.a.admin.email,
        password: "not the password",
    };
    let err = hub::register(&store, &server.base, k, "Reception hub", wrong, false)
        .await
        .err()
        .context("a wrong password registers nothing")?;
    check!(err.code() == "invalid_credentials", "{err}");
    let err = hub::register(
        &store,
        &server.base,
        k,
        "Reception hub",
        sign_in(&world.a.doctor),
        false,
    )
    .await
    .err()
    .context("a doctor registers no hub")?;
    check!(err.code() == "forbidden", "{err}");
    check!(
        store.hub_credential(k)?.is_none(),
        "a refused registration kept a credential"
    );

    // The admin registers it: the hub's credential is kept, the admin's session is not.
    let registered = hub::register(
        &store,
        &server.base,
        k,
        "Reception hub",
        sign_in(&world.a.admin),
        false,
    )
    .await?;
    check!(
        store.hub_credential(k)?.as_ref() == Some(&registered),
        "the keyring holds the hub's credential"
    );
    let su = world.db.superuser().await?;
    let open = open_sessions(&su, &[world.a.admin.id, world.a.doctor.id]).await?;
    check!(
        open == 0,
        "{open} people's sessions left open by the registration"
    );

    // Registering again on the same machine is refused, unless replacing: then the old hub
    // is revoked and the new one kept.
    let err = hub::register(
        &store,
        &server.base,
        k,
        "Again",
        sign_in(&world.a.admin),
        false,
    )
    .await
    .err()
    .context("a second registration over the first")?;
    check!(err.code() == "hub_already_registered", "{err}");
    let stale = registered.clone();
    let registered = hub::register(
        &store,
        &server.base,
        k,
        "Reception hub",
        sign_in(&world.a.admin),
        true,
    )
    .await?;
    let admin = server.login_as(&world.a.admin).await?;
    let (_, listed) = admin.get(&format!("/v1/clinics/{k}/hubs")).await?;
    let replaced = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["id"] == stale.hub_id.to_string());
    check!(
        registered.hub_id != stale.hub_id && replaced.is_some_and(|h| h["revoked_at"].is_string()),
        "the replaced hub is not revoked: {listed}"
    );
    // The list names the certificate the hub machine keeps: what `hub status` prints there
    // (in groups of four) is what the Admin screen shows the start of.
    let kept = registered
        .tls
        .as_ref()
        .and_then(hub::certificate_fingerprint)
        .context("no certificate kept with the registration")?;
    let listed_pin = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["id"] == registered.hub_id.to_string())
        .and_then(|h| h["certificate_sha256"].as_str())
        .unwrap_or_default()
        .to_owned();
    check!(
        listed_pin.len() == 64 && kept.replace(' ', "") == listed_pin,
        "the listed certificate {listed_pin:?} is not the kept one {kept:?}"
    );
    check!(
        registered.refresh_token.is_none(),
        "a registration alone holds a credential"
    );

    // It is no member until a doctor approves it (not the admin).
    let err = hub::connect(&store, k)
        .await
        .err()
        .context("a hub no doctor approved connects")?;
    check!(err.code() == "hub_awaiting_approval", "{err}");
    let err = hub::approve(&store, k, sign_in(&world.a.admin))
        .await
        .err()
        .context("the admin approves")?;
    check!(err.code() == "forbidden", "{err}");
    let approved = hub::approve(&store, k, sign_in(&world.a.doctor)).await?;
    check!(approved.approved_at.is_some(), "{approved:?}");
    let from_approval = store.hub_credential(k)?.context("kept")?.refresh_token;
    check!(from_approval.is_some(), "the approval's credential is kept");
    let open = open_sessions(&su, &[world.a.admin.id, world.a.doctor.id]).await?;
    check!(
        open == 0,
        "{open} people's sessions left open by the approval"
    );

    // It connects as the hub of that clinic, and keeps the rotated token each time.
    let first = hub::connect(&store, k).await?;
    check!(
        first.clinic_name == world.a.name && first.credential.hub_id == registered.hub_id,
        "connected as {:?} of {}",
        first.credential,
        first.clinic_name
    );
    let kept = store.hub_credential(k)?.context("kept")?;
    check!(
        kept.refresh_token != from_approval && kept.refresh_token == first.credential.refresh_token,
        "the rotated token is kept"
    );
    // (Each connection is a new session: the previous access token has been replaced.)
    let second = hub::connect(&store, k).await?;
    check!(second.api.me().await.is_ok(), "the hub's session answers");

    // Revoked by the admin: the next connection fails and the credential is gone.
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/hubs/{}", registered.hub_id))
        .await?;
    check!(status == 204, "revoking: {status}");
    let err = hub::connect(&store, k)
        .await
        .err()
        .context("a revoked hub connects")?;
    check!(err.code() == "hub_revoked", "{err}");
    check!(
        store.hub_credential(k)?.is_none(),
        "the revoked hub's credential is kept"
    );
    let err = hub::connect(&store, k)
        .await
        .err()
        .context("no credential")?;
    check!(err.code() == "hub_not_registered", "{err}");
    Ok(())
}

/// Whether the hub's database holds patient `id` of `clinic`.
async fn hub_has(db: &tokio_postgres::Client, clinic: uuid::Uuid, id: &str) -> Result<bool> {
    Ok(db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM vaidya.patients WHERE clinic_id = $1 AND id = $2::text::uuid)",
            &[&clinic, &id],
        )
        .await?
        .get(0))
}

/// Waits up to `within` for `cond`, checking every 50 ms; how long it took.
async fn until<F, Fut>(within: Duration, mut cond: F) -> Result<Option<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if cond().await? {
            return Ok(Some(start.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(None)
}

/// The hub process's copy (`hub run`, issue 11) follows the group server: a patient
/// registered upstream is in the hub's database within seconds; while the line is cut the
/// hub says since when the group server is unreachable and loses nothing; when the line
/// returns it resumes from its kept cursor; a revoked hub stops with `hub_revoked`.
pub async fn a_hub_follows_the_group_server_through_an_outage(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("a_hub_follows_the_group_server_through_an_outage")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let line = Proxy::start(server.base.trim_start_matches("http://").parse()?, 11).await?;
    let k = world.a.id;
    let registered = hub::register(
        &store,
        &line.base(),
        k,
        "Reception hub",
        sign_in(&world.a.admin),
        false,
    )
    .await?;
    hub::approve(&store, k, sign_in(&world.a.doctor)).await?;

    let hub_db = h.database().await?;
    let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
    let (status, watching) = watch::channel(Upstream::default());
    let (stop, stopped) = watch::channel(false);
    let following = tokio::spawn({
        let store = store.clone();
        async move { follow(&store, k, &mut replica, &[], &status, stopped).await }
    });
    let copy = hub_db.superuser().await?;

    // A walk-in registered upstream reaches the hub's copy by the live stream.
    let desk = server.login_as(&world.a.desk).await?;
    let patients = format!("/v1/clinics/{k}/patients");
    let (_, walk_in) = desk
        .post(&patients, json!({"name": "Meena Iyer", "sex": "female"}))
        .await?;
    let walk_in = walk_in["id"].as_str().context("patient id")?.to_owned();
    let took = until(Duration::from_secs(10), || hub_has(&copy, k, &walk_in)).await?;
    check!(took.is_some(), "the walk-in never reached the hub's copy");
    println!("group server → hub copy: {:?}", took.unwrap_or_default());

    // The line is cut: the hub says so, and what is registered meanwhile waits upstream.
    line.set_online(false);
    let (_, during) = desk
        .post(&patients, json!({"name": "Imran Shaikh", "sex": "male"}))
        .await?;
    let during = during["id"].as_str().context("patient id")?.to_owned();
    let said = until(Duration::from_secs(10), || {
        let w = watching.clone();
        async move { Ok(w.borrow().unreachable_since.is_some()) }
    })
    .await?;
    check!(
        said.is_some(),
        "the hub never said the group server is unreachable"
    );
    // Long enough for a live event or a catch-up to have brought it, had the line been up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    check!(
        !hub_has(&copy, k, &during).await?,
        "a patient crossed a cut line"
    );

    // The line returns: the copy resumes where it stopped, and says so.
    line.set_online(true);
    let took = until(Duration::from_secs(40), || hub_has(&copy, k, &during)).await?;
    check!(took.is_some(), "the copy did not resume after the outage");
    let cleared = until(Duration::from_secs(5), || {
        let w = watching.clone();
        async move { Ok(w.borrow().unreachable_since.is_none()) }
    })
    .await?;
    check!(
        cleared.is_some(),
        "the hub still says the group server is unreachable"
    );

    // Revoked: the hub stops following, with the reason.
    let admin = server.login_as(&world.a.admin).await?;
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/hubs/{}", registered.hub_id))
        .await?;
    check!(status == 204, "revoking: {status}");
    let ended = tokio::time::timeout(Duration::from_secs(20), following).await;
    let code = match ended {
        Ok(Ok(Err(e))) => e.code(),
        Ok(Ok(Ok(()))) => "stopped without error",
        Ok(Err(_)) => "panicked",
        Err(_) => "still following",
    };
    check!(code == "hub_revoked", "a revoked hub's copy: {code}");
    drop(stop);
    Ok(())
}

/// How many rows of `table` with these ids the database holds for `clinic`.
async fn rows_of(
    db: &tokio_postgres::Client,
    table: &str,
    clinic: Uuid,
    ids: &[Uuid],
) -> Result<i64> {
    Ok(db
        .query_one(
            &format!("SELECT count(*) FROM vaidya.{table} WHERE clinic_id = $1 AND id = ANY($2)"),
            &[&clinic, &ids],
        )
        .await?
        .get(0))
}

/// Who the group server's audit trail says created `id` of `entity`.
async fn creator(
    db: &tokio_postgres::Client,
    clinic: Uuid,
    entity: &str,
    id: Uuid,
) -> Result<Vec<Uuid>> {
    Ok(db
        .query(
            "SELECT actor_id FROM vaidya.audit_log
             WHERE clinic_id = $1 AND action = 'create' AND entity_type = $2 AND $3 = ANY(entity_ids)",
            &[&clinic, &entity, &id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// An outage day through the clinic hub (issue 11), at the API the desktop syncs through:
/// the clinic's line to the group server cut, the hub and two PCs on loopback. The front
/// desk registers and checks in a walk-in through the hub; the doctor's PC hears of it on
/// the hub's live stream and has pulled it within 2 s, then writes a note and a
/// prescription; the front desk bills in its PC's own series. The line returns: the hub
/// forwards it all, each act applied upstream once and as its real author; the walk-in's
/// provisional number becomes the group server's in the hub's copy; a PC that knows only
/// the group server sees everything; and the desk's PC pushing the same changes itself
/// changes nothing.
pub async fn an_outage_day_through_the_hub(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("an_outage_day_through_the_hub")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let (a, k) = (&world.a, world.a.id);
    let server = TestServer::spawn(&world.db, 4).await?;
    let line = Proxy::start(server.base.trim_start_matches("http://").parse()?, 12).await?;
    let upstream_db = world.db.superuser().await?;

    // Before the day: each PC's person registered a device key, the desk's PC has its own
    // invoice series, the hub is registered, approved and has its copy.
    const DESK_PC: &str = "Front desk PC";
    const DOCTOR_PC: &str = "Consulting room PC";
    let desk_up = server.login_as(&a.desk).await?.with_device(DESK_PC)?;
    let doctor_up = server.login_as(&a.doctor).await?.with_device(DOCTOR_PC)?;
    let desk_key = device_key(&desk_up, a.desk.id, 21).await?;
    let doctor_key = device_key(&doctor_up, a.doctor.id, 22).await?;
    let (_, series) = desk_up
        .post(
            &format!("/v1/clinics/{k}/invoice-series"),
            json!({"partition_id": "b".repeat(32)}),
        )
        .await?;
    let year = vaidya_shared::numbering::FinancialYear::of(Utc::now()).label();
    let series = format!("{year}-{}", series["code"].as_str().context("series code")?);
    hub::register(
        &store,
        &line.base(),
        k,
        "Reception hub",
        sign_in(&a.admin),
        false,
    )
    .await?;
    hub::approve(&store, k, sign_in(&a.doctor)).await?;
    let hub_db = h.database().await?;
    let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
    let (status, watching) = watch::channel(Upstream::default());
    let (stop, stopped) = watch::channel(false);
    let following = tokio::spawn({
        let store = store.clone();
        async move { follow(&store, k, &mut replica, &[], &status, stopped).await }
    });
    let lan = TestServer::spawn(&hub_db, 4).await?;
    let copy = hub_db.superuser().await?;
    until_hub_knows_key(&hub_db, doctor_key.key_id).await?;

    // The line goes down at 10:42.
    line.set_online(false);
    let desk_pc = ServerApi::new(&lan.base, DESK_PC)?;
    desk_pc.sign_in_with_device_key(k, &desk_key).await?;
    let doctor_pc = ServerApi::new(&lan.base, DOCTOR_PC)?;
    doctor_pc.sign_in_with_device_key(k, &doctor_key).await?;
    let mut doctor_hears = doctor_pc.live(k).await?;
    doctor_hears.next().await; // the stream's greeting: pull once at connect
    let doctor_cursor = doctor_pc.pull(k, None, Some(1000)).await?.cursor;

    // The front desk registers and checks in a walk-in.
    let (patient, visit, note, rx, bill) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let starts = Utc::now();
    let walk_in = [
        signed_create(
            &desk_key,
            k,
            DESK_PC,
            EntityKind::Patient,
            patient,
            json!({"id": patient, "name": "Sunita Patil", "sex": "female", "phone": "98220 45678"}),
        ),
        signed_create(
            &desk_key,
            k,
            DESK_PC,
            EntityKind::Appointment,
            visit,
            json!({"id": visit, "patient_id": patient, "doctor_id": a.doctor.id, "starts_at": starts,
                   "ends_at": starts + chrono::Duration::minutes(15), "reason": "Walk-in"}),
        ),
        // Checked in: in the doctor's queue.
        {
            let mut m = Mutation {
                op: vaidya_shared::sync::Operation::Update,
                base_version: Some(1),
                data: None,
                changes: serde_json::Map::from_iter([(
                    "status".to_owned(),
                    json!({"value": "checked_in", "base": "booked"}),
                )]),
                ..signed_create(
                    &desk_key,
                    k,
                    DESK_PC,
                    EntityKind::Appointment,
                    visit,
                    json!({}),
                )
            };
            m.author = None;
            desk_key.sign(k, &mut m);
            m
        },
    ];
    let registered_at = Instant::now();
    let answer = desk_pc
        .push(
            k,
            &PushRequest {
                mutations: walk_in.to_vec(),
                local_accesses: vec![],
                cancelled_numbers: vec![],
            },
        )
        .await?;
    check!(
        answer
            .results
            .iter()
            .all(|r| matches!(r, MutationResult::Applied { .. })),
        "the walk-in through the hub: {:?}",
        answer.results
    );

    // The doctor's PC hears of it from the hub and pulls it.
    let heard = tokio::time::timeout(Duration::from_secs(2), doctor_hears.next()).await;
    check!(
        matches!(heard, Ok(Some(Ok(_)))),
        "the doctor's PC heard nothing: {heard:?}"
    );
    let page = doctor_pc.pull(k, Some(&doctor_cursor), Some(1000)).await?;
    let seen_after = registered_at.elapsed();
    let seen = page.changes.iter().find(|c| c.id == patient);
    check!(
        seen.is_some() && page.changes.iter().any(|c| c.id == visit),
        "the doctor's pull from the hub: {:?}",
        page.changes
            .iter()
            .map(|c| (c.entity, c.id))
            .collect::<Vec<_>>()
    );
    let provisional = seen
        .and_then(|c| c.data["patient_number"].as_i64())
        .unwrap_or(0);
    check!(
        provisional < 0,
        "a number given during the outage is provisional: {provisional}"
    );
    check!(
        seen_after < Duration::from_secs(2),
        "the doctor saw the walk-in after {seen_after:?}"
    );
    println!("front desk → doctor through the hub: {seen_after:?}");

    // The doctor writes a note and a prescription; the front desk bills.
    let answer = doctor_pc
        .push(
            k,
            &PushRequest {
                mutations: vec![
                    signed_create(
                        &doctor_key,
                        k,
                        DOCTOR_PC,
                        EntityKind::Encounter,
                        note,
                        json!({"id": note, "patient_id": patient, "chief_complaint": "Fever",
                           "notes": "Viral fever, day 2", "diagnosis": "J06.9"}),
                    ),
                    signed_create(
                        &doctor_key,
                        k,
                        DOCTOR_PC,
                        EntityKind::Prescription,
                        rx,
                        json!({"id": rx, "patient_id": patient, "encounter_id": note,
                           "items": [{"drug": "Paracetamol", "strength": "500 mg"}]}),
                    ),
                ],
                local_accesses: vec![],
                cancelled_numbers: vec![],
            },
        )
        .await?;
    check!(
        answer
            .results
            .iter()
            .all(|r| matches!(r, MutationResult::Applied { .. })),
        "the note and prescription through the hub: {:?}",
        answer.results
    );
    let billed = signed_create(
        &desk_key,
        k,
        DESK_PC,
        EntityKind::Invoice,
        bill,
        json!({"id": bill, "patient_id": patient, "series": series, "number": 1,
               "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1,
                          "unit_price_paise": 50000, "discount_paise": 0, "gst_rate_bp": 0}]}),
    );
    let answer = desk_pc
        .push(
            k,
            &PushRequest {
                mutations: vec![billed.clone()],
                local_accesses: vec![],
                cancelled_numbers: vec![],
            },
        )
        .await?;
    check!(
        matches!(answer.results[0], MutationResult::Applied { .. }),
        "the bill through the hub: {:?}",
        answer.results
    );
    check!(
        rows_of(&upstream_db, "patients", k, &[patient]).await? == 0,
        "something crossed the cut line"
    );
    check!(
        watching.borrow().unreachable_since.is_some(),
        "the hub does not say the group server is unreachable"
    );

    // The line returns: everything arrives upstream, once, as its author.
    line.set_online(true);
    let arrived = until(Duration::from_secs(60), || {
        let db = &upstream_db;
        async move { Ok(rows_of(db, "invoices", k, &[bill]).await? == 1) }
    })
    .await?;
    check!(
        arrived.is_some(),
        "the day's work never reached the group server"
    );
    for (table, id) in [
        ("patients", patient),
        ("appointments", visit),
        ("encounters", note),
        ("prescriptions", rx),
        ("invoices", bill),
    ] {
        check!(
            rows_of(&upstream_db, table, k, &[id]).await? == 1,
            "{table} {id} upstream"
        );
    }
    let status: String = upstream_db
        .query_one(
            "SELECT status FROM vaidya.appointments WHERE clinic_id = $1 AND id = $2",
            &[&k, &visit],
        )
        .await?
        .get(0);
    check!(
        status == "checked_in",
        "the walk-in's visit upstream is {status}"
    );
    for (entity, id, who) in [
        ("patient", patient, a.desk.id),
        ("appointment", visit, a.desk.id),
        ("encounter", note, a.doctor.id),
        ("prescription", rx, a.doctor.id),
        ("invoice", bill, a.desk.id),
    ] {
        let by = creator(&upstream_db, k, entity, id).await?;
        check!(
            by == vec![who],
            "the group server's trail says {entity} was created by {by:?}"
        );
    }
    // The hub's copy takes the group server's number for the walk-in.
    let numbered = until(Duration::from_secs(20), || {
        let copy = &copy;
        async move {
            Ok(copy
                .query_one(
                    "SELECT patient_number FROM vaidya.patients WHERE clinic_id = $1 AND id = $2",
                    &[&k, &patient],
                )
                .await?
                .get::<_, i64>(0)
                > 0)
        }
    })
    .await?;
    if numbered.is_none() {
        let state = watching.borrow().clone();
        let outcome = if following.is_finished() {
            format!("{:?}", following.await)
        } else {
            "still following".to_owned()
        };
        anyhow::bail!("the hub's copy kept the provisional number: {state:?}, {outcome}");
    }

    // A PC that knows only the group server sees the whole visit.
    let third = ServerApi::new(&server.base, "Branch manager's PC")?;
    third.login(&a.doctor.email, &a.doctor.password).await?;
    let everything = third.pull(k, None, Some(5000)).await?;
    for id in [patient, visit, note, rx, bill] {
        check!(
            everything.changes.iter().any(|c| c.id == id),
            "the third PC does not see {id}"
        );
    }
    // The desk's PC pushing the same changes itself (the hub's answer lost) changes nothing.
    let direct = ServerApi::new(&server.base, DESK_PC)?;
    direct.login(&a.desk.email, &a.desk.password).await?;
    let mut again = walk_in.to_vec();
    again.push(billed);
    let answer = direct
        .push(
            k,
            &PushRequest {
                mutations: again,
                local_accesses: vec![],
                cancelled_numbers: vec![],
            },
        )
        .await?;
    check!(
        answer
            .results
            .iter()
            .all(|r| matches!(r, MutationResult::Applied { .. })),
        "the same changes pushed directly: {:?}",
        answer.results
    );
    check!(
        rows_of(&upstream_db, "patients", k, &[patient]).await? == 1
            && creator(&upstream_db, k, "patient", patient).await?.len() == 1,
        "a change was applied twice"
    );
    let _ = stop.send(true);
    let ended = tokio::time::timeout(Duration::from_secs(10), following).await;
    check!(
        matches!(ended, Ok(Ok(Ok(())))),
        "the hub did not stop cleanly: {ended:?}"
    );
    Ok(())
}

/// The hub on the clinic's network (issue 11): the certificate made at registration is
/// pinned with the group server, the hub announces where it answers, a PC finds it through
/// the group server and reaches it over TLS accepting that certificate alone. Attacks: an
/// impostor with a certificate of its own at an address the PC was given, plaintext, an
/// announcement by a person or for another hub.
pub async fn the_clinics_pcs_reach_the_hub_over_tls_with_its_pinned_certificate(
    h: Arc<Harness>,
) -> Result<()> {
    let Some(store) =
        keyring("the_clinics_pcs_reach_the_hub_over_tls_with_its_pinned_certificate")?
    else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let (a, k) = (&world.a, world.a.id);
    let server = TestServer::spawn(&world.db, 4).await?;
    let desk_up = server.login_as(&a.desk).await?;
    let desk_key = device_key(&desk_up, a.desk.id, 23).await?;
    // The hub: registered (its certificate pinned), approved, its copy, its API over TLS,
    // its address announced.
    let hub = RunningHub::start(
        &h,
        &store,
        &server.base,
        k,
        &a.admin,
        &a.doctor,
        Duration::from_secs(60),
    )
    .await?;
    let (registered, pin, address, hub_db) = (
        &hub.credential,
        hub.pin.clone(),
        hub.address.clone(),
        &hub.db,
    );
    let tls = registered.tls.clone().context("no TLS identity kept")?;
    let der = base64::engine::general_purpose::STANDARD.decode(&tls.certificate)?;
    check!(
        vaidya_client::pinned_tls::certificate_sha256(&der) == pin,
        "the pin is not the kept certificate's"
    );

    // A PC finds the hub through the group server: the address, and the pinned certificate.
    let desk = ServerApi::new(&server.base, "Front desk PC")?;
    desk.login(&a.desk.email, &a.desk.password).await?;
    let mut found = None;
    let started = Instant::now();
    while found.is_none() && started.elapsed() < Duration::from_secs(10) {
        found = desk
            .hub_endpoints(k)
            .await?
            .into_iter()
            .find(|e| e.hub_id == registered.hub_id && !e.addresses.is_empty());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let endpoint = found.context("the hub never announced itself")?;
    check!(
        endpoint.certificate_sha256 == pin && endpoint.addresses == vec![address.clone()],
        "the hub as the group server gives it: {endpoint:?}"
    );
    // Over TLS, that certificate: the PC signs in and pulls.
    let pc = ServerApi::new_pinned(
        &endpoint.addresses[0],
        "Front desk PC",
        &endpoint.certificate_sha256,
    )?;
    let mut signed_in = None;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        // The hub has the desk's key once its copy has the directory.
        match pc.sign_in_with_device_key(k, &desk_key).await {
            Ok(session) => {
                signed_in = Some(session);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    check!(
        signed_in.is_some(),
        "the desk's PC never signed in to the hub over TLS"
    );
    pc.pull(k, None, Some(100)).await?;

    // A sign-in answer names the certificate it was made for. Whoever holds another
    // certificate a PC trusts (a second hub, a retired one) could pass this hub's challenge
    // to that PC; the PC's answer then names the other certificate, and this hub refuses
    // it, as it refuses an answer naming none.
    let lan = reqwest::Client::builder()
        .use_preconfigured_tls(vaidya_client::pinned_tls::client_config(&pin)?)
        .build()?;
    let mut refusals = Vec::new();
    for named in [Some("ab".repeat(32)), None] {
        let challenge: serde_json::Value = lan
            .post(format!("{address}/v1/auth/device-challenge"))
            .json(&json!({"clinic_id": k, "key_id": desk_key.key_id}))
            .send()
            .await?
            .json()
            .await?;
        let mut answer = vaidya_shared::api::DeviceSignIn {
            clinic_id: k,
            challenge_id: challenge["id"].as_str().context("id")?.parse()?,
            challenge: challenge["challenge"]
                .as_str()
                .context("challenge")?
                .to_owned(),
            hub_certificate_sha256: named,
            author: None,
        };
        desk_key.sign(k, &mut answer);
        let status = lan
            .post(format!("{address}/v1/auth/device-login"))
            .json(&answer)
            .send()
            .await?
            .status();
        refusals.push(status);
    }
    check!(
        refusals
            .iter()
            .all(|s| *s == reqwest::StatusCode::UNAUTHORIZED),
        "answers made for another certificate, or none: {refusals:?}"
    );

    // An impostor at an address the PC was given: a certificate of its own, refused.
    let (impostor_tls, _) = {
        let key = rcgen::KeyPair::generate()?;
        let cert = rcgen::CertificateParams::new(vec!["vaidya-hub.local".to_owned()])?
            .self_signed(&key)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        (
            vaidya_client::credentials::HubTls {
                certificate: b64.encode(cert.der()),
                private_key: b64.encode(key.serialize_der()),
            },
            (),
        )
    };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let impostor_address = format!("https://127.0.0.1:{}", tcp.local_addr()?.port());
    let impostor = tokio::spawn(vaidya_server::launch(
        hub_db.server_settings(2)?,
        hub::lan::TlsListener::new(tcp, &impostor_tls)?,
        std::future::pending(),
    ));
    let fooled = ServerApi::new_pinned(&impostor_address, "Front desk PC", &pin)?
        .sign_in_with_device_key(k, &desk_key)
        .await;
    check!(
        matches!(&fooled, Err(e) if e.code() == "network"),
        "the PC talked to an impostor: {:?}",
        fooled.map(|s| s.user.email)
    );
    impostor.abort();
    // No plaintext: a pinned client takes https only, and the hub speaks nothing else.
    check!(
        ServerApi::new_pinned(&address.replace("https", "http"), "PC", &pin).is_err(),
        "a pinned client took an http address"
    );
    let plain = ServerApi::new(&address.replace("https", "http"), "PC")?
        .sign_in_with_device_key(k, &desk_key)
        .await;
    check!(plain.is_err(), "the hub answered in plaintext");

    // Only the hub announces, and only for itself.
    let doctor = ServerApi::new(&server.base, "PC")?;
    doctor.login(&a.doctor.email, &a.doctor.password).await?;
    let e = doctor
        .announce_hub(k, registered.hub_id, &["https://10.0.0.66:8443".to_owned()])
        .await
        .err();
    check!(
        e.as_ref().map(|e| e.code()) == Some("forbidden"),
        "a doctor announced the hub: {e:?}"
    );

    let hub_id = registered.hub_id;
    let ended = hub.stop().await;
    check!(
        ended.is_ok(),
        "the hub {hub_id} did not stop cleanly: {ended:?}"
    );
    Ok(())
}

/// The hub killed mid-day (issue 11): what it took in is in its database, queued in the
/// push's own transaction, so a hub that dies before forwarding loses nothing. Meanwhile
/// the PCs fall back to the group server directly, including a change the hub took in
/// whose answer the PC never got; when the hub comes back it forwards its queue, and every
/// change is applied upstream exactly once, as its author.
pub async fn a_hub_killed_mid_day_loses_and_doubles_nothing(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("a_hub_killed_mid_day_loses_and_doubles_nothing")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let (a, k) = (&world.a, world.a.id);
    let server = TestServer::spawn(&world.db, 4).await?;
    let upstream_db = world.db.superuser().await?;
    const DESK_PC: &str = "Front desk PC";
    let desk_up = server.login_as(&a.desk).await?.with_device(DESK_PC)?;
    let desk_key = device_key(&desk_up, a.desk.id, 24).await?;
    // The line to the group server is cut while the hub takes the morning's work in.
    let line = Proxy::start(server.base.trim_start_matches("http://").parse()?, 13).await?;
    hub::register(
        &store,
        &line.base(),
        k,
        "Reception hub",
        sign_in(&a.admin),
        false,
    )
    .await?;
    hub::approve(&store, k, sign_in(&a.doctor)).await?;
    let hub_db = h.database().await?;
    let run_hub = |stopped: watch::Receiver<bool>| {
        let store = store.clone();
        let hub_db = &hub_db;
        async move {
            let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
            let (status, watching) = watch::channel(Upstream::default());
            let following = tokio::spawn(async move {
                follow(&store, k, &mut replica, &[], &status, stopped).await
            });
            anyhow::Ok((following, watching))
        }
    };
    let (stop, stopped) = watch::channel(false);
    let (following, _) = run_hub(stopped).await?;
    let lan = TestServer::spawn(&hub_db, 4).await?;
    until_hub_knows_key(&hub_db, desk_key.key_id).await?;
    line.set_online(false);
    let desk_pc = ServerApi::new(&lan.base, DESK_PC)?;
    desk_pc.sign_in_with_device_key(k, &desk_key).await?;
    let morning: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let taken_in: Vec<Mutation> = morning
        .iter()
        .enumerate()
        .map(|(i, id)| {
            signed_create(
                &desk_key,
                k,
                DESK_PC,
                EntityKind::Patient,
                *id,
                json!({"id": id, "name": format!("Morning patient {i}"), "sex": "male"}),
            )
        })
        .collect();
    let answer = desk_pc
        .push(
            k,
            &PushRequest {
                mutations: taken_in.clone(),
                local_accesses: vec![],
                cancelled_numbers: vec![],
            },
        )
        .await?;
    check!(
        answer
            .results
            .iter()
            .all(|r| matches!(r, MutationResult::Applied { .. })),
        "the hub took the morning in: {:?}",
        answer.results
    );

    // The hub dies before it could forward anything.
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), following).await;
    lan.kill();
    line.set_online(true);
    // The PCs work with the group server directly: new work, and the last morning change
    // again (its answer from the hub was lost).
    let direct = ServerApi::new(&server.base, DESK_PC)?;
    direct.login(&a.desk.email, &a.desk.password).await?;
    let afternoon = Uuid::now_v7();
    let answer = direct
        .push(
            k,
            &PushRequest {
                mutations: vec![
                    taken_in[2].clone(),
                    signed_create(
                        &desk_key,
                        k,
                        DESK_PC,
                        EntityKind::Patient,
                        afternoon,
                        json!({"id": afternoon, "name": "Afternoon patient", "sex": "female"}),
                    ),
                ],
                local_accesses: vec![],
                cancelled_numbers: vec![],
            },
        )
        .await?;
    check!(
        answer
            .results
            .iter()
            .all(|r| matches!(r, MutationResult::Applied { .. })),
        "the PC's own push: {:?}",
        answer.results
    );
    check!(
        rows_of(&upstream_db, "patients", k, &morning[..2]).await? == 0,
        "the dead hub forwarded something"
    );

    // The hub comes back and forwards its queue: everything once, as the desk.
    let (stop, stopped) = watch::channel(false);
    let (following, watching) = run_hub(stopped).await?;
    let forwarded = until(Duration::from_secs(20), || {
        let db = &upstream_db;
        let morning = &morning;
        async move { Ok(rows_of(db, "patients", k, morning).await? == 3) }
    })
    .await?;
    check!(forwarded.is_some(), "the hub lost what it had taken in");
    for id in morning.iter().chain([&afternoon]) {
        let by = creator(&upstream_db, k, "patient", *id).await?;
        check!(
            by == vec![a.desk.id],
            "patient {id} was created upstream by {by:?}"
        );
    }
    let settled = until(Duration::from_secs(10), || {
        let w = watching.clone();
        async move { Ok(w.borrow().waiting == 0 && w.borrow().forwarded == 3) }
    })
    .await?;
    check!(
        settled.is_some(),
        "the hub's relay after its return: {:?}",
        watching.borrow().clone()
    );
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), following).await;
    Ok(())
}

/// The desktops' own sync engines use the clinic's hub (issue 11): each PC learns the hub's
/// address and pinned certificate from the group server while it is reachable and keeps
/// them in its clinic file; when the group server cannot be reached, it signs in to the hub
/// with its member's device key and syncs there, saying since when the group server is
/// unreachable. A walk-in the front desk registers reaches the doctor's PC that way, with
/// a provisional number; the doctor's note goes back the same way; when the line returns
/// every PC syncs with the group server again, the patient gets its number, and everything
/// is upstream once, as its author.
pub async fn desktops_sync_through_the_hub_while_the_group_server_is_unreachable(
    h: Arc<Harness>,
) -> Result<()> {
    let Some(store) =
        keyring("desktops_sync_through_the_hub_while_the_group_server_is_unreachable")?
    else {
        return Ok(());
    };
    // The hub: registered, approved, serving TLS on loopback, announced.
    let ClinicWithHub {
        world,
        server,
        upstream_db,
        line,
        hub,
    } = ClinicWithHub::start(&h, &store, 33).await?;
    let (a, k) = (&world.a, world.a.id);
    let mut desk = Device::new(&server, 31).await?;
    desk.sign_in(&a.desk).await?;
    let mut doctor = Device::new(&server, 32).await?;
    doctor.sign_in(&a.doctor).await?;

    // Each PC syncs with the group server and learns where the hub is.
    let mut desk_engine = desk.engine(k, 2)?;
    let mut doctor_engine = doctor.engine(k, 2)?;
    for engine in [&mut desk_engine, &mut doctor_engine] {
        let report = engine.sync().await?;
        check!(report.path == SyncPath::GroupServer, "{report:?}");
        check!(
            engine.partition().hub_endpoints()?.len() == 1,
            "the PC did not keep the hub's address"
        );
    }
    // The hub's copy must know the PCs' device keys before the outage.
    until_hub_knows_keys(&hub, 2).await?;

    // The internet line goes down: every PC and the hub lose the group server.
    desk.proxy.set_online(false);
    doctor.proxy.set_online(false);
    line.set_online(false);
    let walk_in = desk
        .clinic(&mut desk_engine)?
        .register_patient(NewPatient {
            id: None,
            name: "Rekha Kulkarni".to_owned(),
            sex: Sex::Female,
            date_of_birth: None,
            phone: Some("98231 55555".to_owned()),
            address: None,
            abha_number: None,
        })?;
    // A second walk-in whose ABHA number a doctor on mobile data registers for someone
    // else on the group server meanwhile: the hub takes it in, the group server will not.
    let abha = "91-2345-6789-0123";
    let clash = desk
        .clinic(&mut desk_engine)?
        .register_patient(NewPatient {
            id: None,
            name: "Geeta Pawar".to_owned(),
            sex: Sex::Female,
            date_of_birth: None,
            phone: None,
            address: None,
            abha_number: Some(abha.to_owned()),
        })?;
    let report = desk_engine.sync().await?;
    check!(
        report.path == SyncPath::ClinicHub
            && report.pushed == 2
            && report.group_server_unreachable_since.is_some(),
        "the desk's sync during the outage: {report:?}"
    );
    // Taken in by the hub: kept on the desk's PC for the group server's answer, sent again
    // to no one, and nobody's waiting work.
    check!(
        desk_engine.partition().outbox_counts()? == (0, 0, 0)
            && desk_engine.partition().relayed_count()? == 2,
        "the hub's answer on the desk's PC"
    );
    let (status, body) = server
        .login_as(&a.doctor)
        .await?
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Someone Else", "sex": "male", "abha_number": abha}),
        )
        .await?;
    check!(
        status.is_success(),
        "the ABHA number taken upstream: {status} {body}"
    );
    let report = doctor_engine.sync().await?;
    let seen = doctor_engine.partition().get_patient(walk_in.id)?;
    check!(
        report.path == SyncPath::ClinicHub && seen.as_ref().is_some_and(|p| p.patient_number < 0),
        "the doctor's PC through the hub: {report:?}, {seen:?}"
    );
    let note = doctor.clinic(&mut doctor_engine)?.save_note(NewEncounter {
        id: None,
        patient_id: walk_in.id,
        appointment_id: None,
        chief_complaint: "Headache".to_owned(),
        notes: "Since morning".to_owned(),
        diagnosis: String::new(),
        vitals: Default::default(),
    })?;
    let report = doctor_engine.sync().await?;
    check!(
        report.path == SyncPath::ClinicHub && report.pushed == 1,
        "the doctor's note through the hub: {report:?}"
    );
    check!(
        rows_of(&upstream_db, "patients", k, &[walk_in.id]).await? == 0,
        "something crossed the cut line"
    );

    // The PCs reach the group server again (mobile data) before the hub's own line is back:
    // the desk books the walk-in, whom only the hub holds. Sent straight to the group server,
    // the booking would get there before the walk-in and be refused; it goes to the hub,
    // behind the walk-in, and waits there with it.
    desk.proxy.set_online(true);
    doctor.proxy.set_online(true);
    // Past `group_server_retry`: the desk's next round tries the group server first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let booking = desk
        .clinic(&mut desk_engine)?
        .book_appointment(NewAppointment {
            id: None,
            patient_id: walk_in.id,
            doctor_id: a.doctor.id,
            starts_at: Utc::now() + chrono::Duration::hours(1),
            ends_at: Utc::now() + chrono::Duration::minutes(80),
            reason: Some("Headache".to_owned()),
        })?;
    let report = desk_engine.sync().await?;
    check!(
        report.path == SyncPath::GroupServer
            && report.pushed == 1
            && report.rejected == 0
            && desk_engine.partition().relayed_count()? == 3
            && desk_engine.partition().outbox_counts()? == (0, 0, 0),
        "the booking made before the hub forwarded the walk-in: {report:?}"
    );
    check!(
        rows_of(&upstream_db, "appointments", k, &[booking.id]).await? == 0,
        "the booking overtook the walk-in"
    );

    // The hub's line returns too: the walk-in gets the group server's number on every PC.
    line.set_online(true);
    tokio::time::sleep(Duration::from_millis(250)).await;
    sync_until(
        &mut desk_engine,
        "the desk's PC has the group server's number",
        |e| {
            Ok(e.partition()
                .get_patient(walk_in.id)?
                .is_some_and(|p| p.patient_number > 0))
        },
    )
    .await?;
    let report = desk_engine.sync().await?;
    check!(
        report.path == SyncPath::GroupServer,
        "back with the group server: {report:?}"
    );
    check!(
        rows_of(&upstream_db, "patients", k, &[walk_in.id]).await? == 1
            && rows_of(&upstream_db, "encounters", k, &[note.id]).await? == 1
            && rows_of(&upstream_db, "appointments", k, &[booking.id]).await? == 1,
        "the outage's work upstream"
    );
    check!(
        creator(&upstream_db, k, "patient", walk_in.id).await? == vec![a.desk.id]
            && creator(&upstream_db, k, "encounter", note.id).await? == vec![a.doctor.id]
            && creator(&upstream_db, k, "appointment", booking.id).await? == vec![a.desk.id],
        "the outage's work is not its authors'"
    );
    // The change the group server refused after the hub took it in comes back to the desk
    // through the hub, to be corrected or discarded, instead of vanishing; the applied one
    // leaves the outbox. The desk never sent either to the group server itself.
    sync_until(
        &mut desk_engine,
        "the group server's answers reach the desk's PC",
        |e| Ok(e.partition().relayed_count()? == 0),
    )
    .await?;
    let rejected = desk_engine.partition().rejected_changes()?;
    check!(
        rejected.len() == 1
            && rejected[0].entity_id == clash.id
            && rejected[0].code.as_deref() == Some("already_exists")
            && desk_engine.partition().outbox_counts()? == (0, 1, 0)
            && desk_engine.partition().outbox_len()? == 1
            && rows_of(&upstream_db, "patients", k, &[clash.id]).await? == 0,
        "the refused walk-in on the desk's PC: {rejected:?}"
    );
    let pushed_by_desk: i64 = upstream_db
        .query_one(
            "SELECT count(*) FROM vaidya.sync_mutations WHERE clinic_id = $1 AND user_id = $2",
            &[&k, &a.desk.id],
        )
        .await?
        .get(0);
    // A refusal of the hub's relay is not stored upstream, so the desk's own push of the
    // refused walk-in would have been decided afresh and recorded as the desk's.
    check!(
        pushed_by_desk == 0,
        "the desk pushed {pushed_by_desk} of the hub's changes to the group server itself"
    );
    hub.stop().await
}

/// A fresh world's clinic A with its group server, and its hub (registered by the admin,
/// approved by the doctor, serving TLS on loopback, its directory read every second)
/// reaching the group server through the clinic's own line, announced: what a PC needs to
/// find the hub.
struct ClinicWithHub {
    world: World,
    server: TestServer,
    /// The group server's database, as its superuser.
    upstream_db: tokio_postgres::Client,
    /// The hub's line to the group server (cut it for an outage at the hub).
    line: Proxy,
    hub: RunningHub,
}

impl ClinicWithHub {
    async fn start(
        h: &Arc<Harness>,
        store: &vaidya_client::CredentialStore,
        line_seed: u64,
    ) -> Result<ClinicWithHub> {
        let world = World::create(h).await?;
        let server = TestServer::spawn(&world.db, 6).await?;
        let upstream_db = world.db.superuser().await?;
        let line = Proxy::start(
            server.base.trim_start_matches("http://").parse()?,
            line_seed,
        )
        .await?;
        let a = &world.a;
        let hub = RunningHub::start(
            h,
            store,
            &line.base(),
            a.id,
            &a.admin,
            &a.doctor,
            // Every second: the PCs' device keys, registered after it started, reach it.
            Duration::from_secs(1),
        )
        .await?;
        until_announced(&upstream_db, &hub).await?;
        Ok(ClinicWithHub {
            world,
            server,
            upstream_db,
            line,
            hub,
        })
    }
}

/// Waits (at most ten seconds) until the group server has the addresses `hub` announced:
/// only then does a PC that syncs learn where the hub is.
async fn until_announced(upstream: &tokio_postgres::Client, hub: &RunningHub) -> Result<()> {
    let announced = until(Duration::from_secs(10), || async move {
        Ok(upstream
            .query_one(
                "SELECT cardinality(addresses) FROM vaidya.hub_registrations WHERE hub_id = $1",
                &[&hub.credential.hub_id],
            )
            .await?
            .get::<_, i32>(0)
            > 0)
    })
    .await?;
    check!(announced.is_some(), "the hub never announced itself");
    Ok(())
}

/// Waits (at most ten seconds) until the hub's copy knows `keys` device keys: a PC signs
/// in to the hub with its key only once the hub has read it from the group server.
async fn until_hub_knows_keys(hub: &RunningHub, keys: i64) -> Result<()> {
    let copy = hub.db.superuser().await?;
    let known = until(Duration::from_secs(10), || {
        let copy = &copy;
        async move {
            Ok(copy
                .query_one("SELECT count(*) FROM vaidya.device_keys", &[])
                .await?
                .get::<_, i64>(0)
                >= keys)
        }
    })
    .await?;
    check!(known.is_some(), "the hub's copy lacks the PCs' device keys");
    Ok(())
}

/// A hub revoked for good (a dead machine replaced) never forwards what it took in nor
/// answers for it: once the PC hears from the group server that the hub is gone, it sends
/// those changes again itself, and one the hub had not forwarded is applied now; nothing
/// waits forever. (Whether the PC learned the hub's answer for the walk-in it did forward
/// depends on timing; either way there is one patient, not two.)
pub async fn a_revoked_hub_gives_back_what_it_took_in(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("a_revoked_hub_gives_back_what_it_took_in")? else {
        return Ok(());
    };
    let ClinicWithHub {
        world,
        server,
        upstream_db,
        line,
        hub,
    } = ClinicWithHub::start(&h, &store, 43).await?;
    let (a, k) = (&world.a, world.a.id);
    let mut desk = Device::new(&server, 41).await?;
    desk.sign_in(&a.desk).await?;
    let hub_id = hub.credential.hub_id;
    let mut desk_engine = desk.engine(k, 2)?;
    desk_engine.sync().await?;
    check!(
        desk_engine.partition().hub_endpoints()?.len() == 1,
        "the desk did not keep the hub's address"
    );
    until_hub_knows_keys(&hub, 1).await?;

    let walk_in = |name: &str| NewPatient {
        id: None,
        name: name.to_owned(),
        sex: Sex::Female,
        date_of_birth: None,
        phone: None,
        address: None,
        abha_number: None,
    };
    // The desk's line goes; the hub's stays: the hub takes one walk-in in and forwards it.
    desk.proxy.set_online(false);
    let forwarded = desk
        .clinic(&mut desk_engine)?
        .register_patient(walk_in("Sunita Deshmukh"))?;
    let report = desk_engine.sync().await?;
    check!(
        report.path == SyncPath::ClinicHub && report.pushed == 1,
        "the first walk-in through the hub: {report:?}"
    );
    let upstream = until(Duration::from_secs(10), || {
        let db = &upstream_db;
        async move { Ok(rows_of(db, "patients", k, &[forwarded.id]).await? == 1) }
    })
    .await?;
    check!(
        upstream.is_some(),
        "the hub did not forward the first walk-in"
    );
    // Then the hub's line goes too, and it takes in a second one it cannot forward.
    line.set_online(false);
    let held = desk
        .clinic(&mut desk_engine)?
        .register_patient(walk_in("Kavita Jadhav"))?;
    let report = desk_engine.sync().await?;
    check!(
        report.path == SyncPath::ClinicHub
            && report.pushed == 1
            && desk_engine.partition().relayed_count()? >= 1,
        "the second walk-in through the hub: {report:?}"
    );

    // The hub's machine dies; the clinic's admin revokes it upstream.
    hub.stop().await?;
    let (status, body) = server
        .login_as(&a.admin)
        .await?
        .delete(&format!("/v1/clinics/{k}/hubs/{hub_id}"))
        .await?;
    check!(status.is_success(), "revoking the hub: {status} {body}");

    // The desk's line returns: both walk-ins are the group server's, once each, and the
    // desk holds nothing "at the clinic hub".
    desk.proxy.set_online(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    sync_until(
        &mut desk_engine,
        "the desk takes back what the revoked hub held",
        |e| Ok(e.partition().relayed_count()? == 0 && e.partition().outbox_counts()? == (0, 0, 0)),
    )
    .await?;
    check!(
        rows_of(&upstream_db, "patients", k, &[forwarded.id, held.id]).await? == 2
            && desk_engine.partition().rejected_changes()?.is_empty(),
        "the revoked hub's walk-ins upstream"
    );
    check!(
        creator(&upstream_db, k, "patient", forwarded.id).await? == vec![a.desk.id]
            && creator(&upstream_db, k, "patient", held.id).await? == vec![a.desk.id],
        "the walk-ins are not the desk's"
    );
    let status = desk_engine.status()?;
    check!(
        status.synced && status.relayed == 0,
        "the desk's status: {status:?}"
    );
    Ok(())
}
