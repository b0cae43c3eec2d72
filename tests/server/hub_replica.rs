//! The clinic hub's copy of its clinic (issue 11): the group server's feed written into the
//! hub's own database (a database of this cluster, migrated like any) holds every stored
//! row of its clinic exactly as the group server has it, and nothing of another; it follows
//! later changes; only the clinic's hub gets the feed; and a page the hub cannot trust is
//! refused whole, nothing of it written.

use std::sync::Arc;

use anyhow::{Context, Result};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_client::ServerApi;
use vaidya_server::hub::replica::Replica;
use vaidya_server::hub::{HubError, DEVICE};
use vaidya_shared::api::{DeviceSignIn, Role};
use vaidya_shared::authorship::DeviceSigner;
use vaidya_shared::sync::{EntityKind, MutationResult};
use vaidya_tests::hub::device_key;
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

/// Every change-stamped table, and each one's rows of `clinic` as JSON without the change
/// stamps (each database keeps its own), in id order.
async fn stored_rows(db: &tokio_postgres::Client, clinic: Uuid) -> Result<Vec<(String, Value)>> {
    let tables: Vec<String> = db
        .query(
            "SELECT c.relname::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE n.nspname = 'vaidya' AND c.relkind = 'r' AND a.attname = 'change_xid'
             ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let rows: Value = db
            .query_one(
                &format!(
                    "SELECT coalesce(jsonb_agg(to_jsonb(t) - 'change_xid' - 'change_seq' ORDER BY id),
                                     '[]')
                     FROM vaidya.{table} t WHERE clinic_id = $1"
                ),
                &[&clinic],
            )
            .await?
            .get(0);
        out.push((table, rows));
    }
    Ok(out)
}

fn count(rows: &[(String, Value)]) -> usize {
    rows.iter()
        .map(|(_, r)| r.as_array().map_or(0, Vec::len))
        .sum()
}

/// The group server's client as a hub holds it: a session of the hub's.
fn hub_client(server: &TestServer, hub: &Api) -> Result<ServerApi> {
    let api = ServerApi::new(&server.base, DEVICE)?;
    api.set_access_token(hub.token.clone());
    Ok(api)
}

/// A day of clinic work with children of every kind: a merged duplicate, an appointment, a
/// signed note with an addendum, a prescription, an allergy, a bill with a payment and a
/// credit note.
async fn a_day_of(server: &TestServer, w: &World) -> Result<String> {
    let k = w.a.id;
    let desk = server.login_as(&w.a.desk).await?;
    let doctor = server.login_as(&w.a.doctor).await?;
    let nurse = server.login_as(&w.a.nurse).await?;
    let admin = server.login_as(&w.a.admin).await?;
    let patients = format!("/v1/clinics/{k}/patients");
    let (status, p) = desk
        .post(
            &patients,
            json!({"name": "Lata Sharma", "sex": "female", "phone": "98200 12345"}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "patient: {status} {p}");
    let patient = p["id"].as_str().context("patient id")?.to_owned();
    let (_, twin) = desk
        .post(
            &patients,
            json!({"name": "Lata Sarma", "sex": "female", "phone": "98200 12345"}),
        )
        .await?;
    let (status, merged) = admin
        .post(
            &format!("{patients}/{patient}/merge"),
            json!({"duplicate_id": twin["id"]}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "merge: {status} {merged}");
    let starts = chrono::Utc::now() + chrono::Duration::hours(1);
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/appointments"),
            json!({"patient_id": patient, "doctor_id": w.a.doctor.id, "starts_at": starts,
                   "ends_at": starts + chrono::Duration::minutes(15)}),
        )
        .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "appointment: {status} {body}"
    );
    let (status, note) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters"),
            json!({"patient_id": patient, "chief_complaint": "Fever", "notes": "Viral fever"}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "note: {status} {note}");
    let note = note["id"].as_str().context("note id")?.to_owned();
    let (status, body) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters/{note}/sign"),
            json!({}),
        )
        .await?;
    anyhow::ensure!(status.is_success(), "sign: {status} {body}");
    let (status, body) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters/{note}/addenda"),
            json!({"text": "Fever gone on day 3"}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "addendum: {status} {body}");
    let (status, body) = doctor
        .post(
            &format!("/v1/clinics/{k}/prescriptions"),
            json!({"patient_id": patient, "items": [{"drug": "Paracetamol", "strength": "500 mg"}]}),
        )
        .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "prescription: {status} {body}"
    );
    let (status, body) = nurse
        .post(
            &format!("/v1/clinics/{k}/allergies"),
            json!({"patient_id": patient, "substance": "Sulfa", "reaction": "Rash", "severity": "mild"}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "allergy: {status} {body}");
    let (status, bill) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": patient, "lines": [
                {"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 50_000, "gst_rate_bp": 0},
                {"description": "Nebuliser kit", "sac_hsn": "90192010", "quantity": 1, "unit_price_paise": 45_000, "gst_rate_bp": 500}]}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "bill: {status} {bill}");
    let bill_id = bill["id"].as_str().context("bill id")?;
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{bill_id}/payments"),
            json!({"amount_paise": 97_250, "method": "upi", "reference": "UPI-1"}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::CREATED, "payment: {status} {body}");
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{bill_id}/credit-notes"),
            json!({"reason": "Kit returned", "lines": [{"invoice_line_id": bill["lines"][1]["id"], "taxable_paise": 45_000}]}),
        )
        .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "credit note: {status} {body}"
    );
    // Another clinic's patient, which the hub must never hold.
    let other = server.login_as(&w.b.desk).await?;
    let (status, body) = other
        .post(
            &format!("/v1/clinics/{}/patients", w.b.id),
            json!({"name": "Ravi Kumar", "sex": "male"}),
        )
        .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "B's patient: {status} {body}"
    );
    Ok(patient)
}

pub async fn a_hub_keeps_a_copy_of_its_clinic(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let patient = a_day_of(&server, &w).await?;
    let admin = server.login_as(&w.a.admin).await?;
    let doctor = server.login_as(&w.a.doctor).await?;
    let (hub, approved) = admin.register_hub(k, "Front office hub", &doctor).await?;
    let hub_id: Uuid = approved["hub"]["id"].as_str().context("hub id")?.parse()?;
    let api = hub_client(&server, &hub)?;

    let upstream = w.db.superuser().await?;
    let hub_db = h.database().await?;
    let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
    let done = replica.catch_up(&api, "Group a").await?;
    let theirs = stored_rows(&upstream, k).await?;
    let ours = stored_rows(&hub_db.superuser().await?, k).await?;
    check!(
        done.rows == count(&theirs) && count(&theirs) >= 14,
        "the copy brought {done:?} for {} stored rows",
        count(&theirs)
    );
    for ((table, a), (_, b)) in theirs.iter().zip(&ours) {
        check!(
            a == b,
            "vaidya.{table} differs:\n group server {a}\n hub {b}"
        );
    }
    let hub_side = hub_db.superuser().await?;
    let foreign: i64 = hub_side
        .query_one(
            "SELECT (SELECT count(*) FROM vaidya.patients WHERE clinic_id <> $1)
                  + (SELECT count(*) FROM vaidya.memberships WHERE clinic_id <> $1)",
            &[&k],
        )
        .await?
        .get(0);
    check!(foreign == 0, "{foreign} rows of another clinic on the hub");
    let people: Vec<Uuid> = hub_side
        .query(
            "SELECT user_id FROM vaidya.memberships WHERE clinic_id = $1 ORDER BY user_id",
            &[&k],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    check!(
        people.contains(&w.a.doctor.id)
            && people.contains(&w.a.revoked.id)
            && !people.contains(&hub_id),
        "the hub's people: {people:?}"
    );
    // The group server's audit trail names the hub's reads, table by table.
    let audited: i64 = upstream
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND actor_id = $2 AND action = 'list' AND entity_type = 'encounter_addenda'",
            &[&k, &hub_id],
        )
        .await?
        .get(0);
    check!(
        audited == 1,
        "audited reads of addenda by the hub: {audited}"
    );

    // A later change comes with the next catch-up, and nothing else does.
    let desk = server.login_as(&w.a.desk).await?;
    let (status, body) = desk
        .patch(
            &format!("/v1/clinics/{k}/patients/{patient}"),
            json!({"base_version": 1, "address": "Kothrud, Pune"}),
        )
        .await?;
    check!(status == StatusCode::OK, "patient edit: {status} {body}");
    let again = replica.catch_up(&api, "Group a").await?;
    check!(again.rows == 1, "the next catch-up brought {again:?}");
    let address: Option<String> = hub_side
        .query_one(
            "SELECT address FROM vaidya.patients WHERE clinic_id = $1 AND id = $2::text::uuid",
            &[&k, &patient],
        )
        .await?
        .get(0);
    check!(
        address.as_deref() == Some("Kothrud, Pune"),
        "the hub's copy of the edit: {address:?}"
    );

    // Only the clinic's own hub gets its feed: not a doctor, not another clinic's hub.
    let as_doctor = ServerApi::new(&server.base, "PC")?;
    as_doctor.set_access_token(doctor.token.clone());
    let refused = as_doctor.hub_feed(k, None, None).await;
    check!(
        refused.as_ref().err().map(|e| e.code()) == Some("forbidden"),
        "a doctor read the hub feed: {:?}",
        refused.map(|p| p.rows.len())
    );
    let admin_b = server.login_as(&w.b.admin).await?;
    let doctor_b = server.login_as(&w.b.doctor).await?;
    let (hub_b, _) = admin_b.register_hub(w.b.id, "Hub b", &doctor_b).await?;
    let refused = hub_client(&server, &hub_b)?.hub_feed(k, None, None).await;
    check!(
        matches!(
            refused.as_ref().err().map(|e| e.code()),
            Some("forbidden" | "not_found")
        ),
        "another clinic's hub read the feed: {:?}",
        refused.map(|p| p.rows.len())
    );

    // A page the hub cannot trust is refused whole: nothing of it written, no cursor kept.
    let fresh = h.database().await?;
    let mut other = Replica::open(fresh.superuser().await?, k).await?;
    let page = api.hub_feed(k, None, None).await?;
    let mut newer = page.clone();
    newer.schema = "0099_from_the_future".to_owned();
    let e = other.apply(&newer).await.err();
    check!(
        e.as_ref().map(HubError::code) == Some("hub_schema_mismatch"),
        "a page of another schema: {e:?}"
    );
    let mut foreign_row = page.clone();
    let last = foreign_row.rows.len() - 1;
    foreign_row.rows[last].row["clinic_id"] = json!(w.b.id);
    let e = other.apply(&foreign_row).await.err();
    check!(
        e.as_ref().map(HubError::code) == Some("hub_feed_invalid"),
        "a row of another clinic: {e:?}"
    );
    let mut unknown = page.clone();
    unknown.rows[0].table = "sessions".to_owned();
    let e = other.apply(&unknown).await.err();
    check!(
        e.as_ref().map(HubError::code) == Some("hub_feed_invalid"),
        "a row of a table that is not fed: {e:?}"
    );
    let written = count(&stored_rows(&fresh.superuser().await?, k).await?);
    check!(
        written == 0 && other.cursor().await?.is_none(),
        "refused pages wrote {written} rows"
    );

    // A revoked hub's copy stops: the group server no longer answers it.
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/hubs/{hub_id}"))
        .await?;
    check!(status == StatusCode::NO_CONTENT, "revoke: {status}");
    let e = replica.catch_up(&api, "Group a").await.err();
    check!(
        e.as_ref().map(HubError::code) == Some("unauthenticated"),
        "a revoked hub's catch-up: {e:?}"
    );
    Ok(())
}

/// The entity kinds of a pull's changes.
fn kinds(page: &vaidya_shared::sync::PullResponse) -> Vec<EntityKind> {
    let mut kinds: Vec<EntityKind> = page.changes.iter().map(|c| c.entity).collect();
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    kinds
}

/// A PC signs in to its clinic's hub with the device key its person registered with the
/// group server (no password is ever copied to a hub), and pulls the hub's copy under the
/// hub's own RLS: the front desk gets no clinical notes, the doctor does. Each refusal is an
/// attack: a replayed answer, a key claimed by another secret, another clinic's person, a
/// key revoked upstream, and the group server, which takes no device key as a credential.
pub async fn a_pc_signs_in_to_its_hub_with_its_device_key(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let desk = server.login_as(&w.a.desk).await?;
    let doctor = server.login_as(&w.a.doctor).await?;
    let admin = server.login_as(&w.a.admin).await?;
    let desk_key = device_key(&desk, w.a.desk.id, 7).await?;
    let doctor_key = device_key(&doctor, w.a.doctor.id, 9).await?;
    let outsider = server.login_as(&w.b.doctor).await?;
    let outsider_key = device_key(&outsider, w.b.doctor.id, 11).await?;
    let patient = a_day_of(&server, &w).await?;
    let (hub, _) = admin.register_hub(k, "Reception hub", &doctor).await?;
    let upstream = hub_client(&server, &hub)?;
    let hub_db = h.database().await?;
    let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
    replica.catch_up(&upstream, "Group a").await?;
    let lan = TestServer::spawn(&hub_db, 2).await?;

    // The group server takes no device key as a credential.
    let refused = ServerApi::new(&server.base, "PC")?
        .sign_in_with_device_key(k, &desk_key)
        .await;
    check!(
        refused.as_ref().err().map(|e| e.code()) == Some("not_found"),
        "the group server signed a device key in: {:?}",
        refused.map(|s| s.user.email)
    );

    // A hub holds no passwords and has no password sign-in: nothing to time.
    let (status, body) = lan
        .client()
        .post(
            "/v1/auth/login",
            json!({"email": w.a.desk.email, "password": w.a.desk.password}),
        )
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "a password sign-in at the hub: {status} {body}"
    );

    // The front desk's PC signs in to the hub and pulls its copy: no clinical notes.
    let desk_pc = ServerApi::new(&lan.base, "Front desk PC")?;
    let session = desk_pc.sign_in_with_device_key(k, &desk_key).await?;
    check!(
        session.user.id == w.a.desk.id
            && session.memberships.len() == 1
            && session.memberships[0].clinic_id == k
            && session.memberships[0].role == Role::FrontDesk,
        "the desk's hub session: {:?}",
        session.memberships
    );
    let page = first_page_settled(&desk_pc, k).await?;
    let desk_kinds = kinds(&page);
    check!(
        page.changes.iter().any(|c| c.id.to_string() == patient)
            && !desk_kinds.contains(&EntityKind::Encounter)
            && !desk_kinds.contains(&EntityKind::Prescription),
        "the desk's pull from the hub: {desk_kinds:?}"
    );
    let doctor_pc = ServerApi::new(&lan.base, "Consulting room PC")?;
    doctor_pc.sign_in_with_device_key(k, &doctor_key).await?;
    let doctor_kinds = kinds(&first_page_settled(&doctor_pc, k).await?);
    check!(
        doctor_kinds.contains(&EntityKind::Encounter)
            && doctor_kinds.contains(&EntityKind::Prescription),
        "the doctor's pull from the hub: {doctor_kinds:?}"
    );

    // A captured answer is spent: replaying it signs no one in.
    let anon = lan.client();
    let (_, challenge) = anon
        .post(
            "/v1/auth/device-challenge",
            json!({"clinic_id": k, "key_id": desk_key.key_id}),
        )
        .await?;
    let answer = answer_to(k, &challenge, &desk_key)?;
    let (first, _) = anon
        .post("/v1/auth/device-login", serde_json::to_value(&answer)?)
        .await?;
    let (again, body) = anon
        .post("/v1/auth/device-login", serde_json::to_value(&answer)?)
        .await?;
    check!(
        first == StatusCode::OK && again == StatusCode::UNAUTHORIZED,
        "a replayed answer: {first}, then {again} {body}"
    );

    // Anyone on the LAN may ask for challenges for a key they know, but a key keeps at
    // most 5 open per asking address: the oldest are dropped, so the table stays small,
    // and the PC itself is never locked out, neither by its own retries (its newest
    // challenge still signs it in) nor by a flood from another machine (which drops only
    // that machine's challenges).
    let pc = Api {
        http: reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 7]))
            .build()?,
        ..lan.client()
    };
    let (_, before_flood) = pc
        .post(
            "/v1/auth/device-challenge",
            json!({"clinic_id": k, "key_id": desk_key.key_id}),
        )
        .await?;
    let mut flood = Vec::new();
    for _ in 0..12 {
        let (status, body) = anon
            .post(
                "/v1/auth/device-challenge",
                json!({"clinic_id": k, "key_id": desk_key.key_id}),
            )
            .await?;
        check!(status == StatusCode::OK, "a challenge: {status} {body}");
        flood.push(body);
    }
    let kept: i64 = hub_db
        .superuser()
        .await?
        .query_one(
            "SELECT count(*) FROM vaidya.device_challenges WHERE key_id = $1",
            &[&desk_key.key_id],
        )
        .await?
        .get(0);
    check!(
        kept == 6,
        "{kept} challenges kept for one key from two addresses"
    );
    let mut answers = Vec::new();
    for (who, challenge) in [
        (&anon, &flood[0]),
        (&anon, &flood[11]),
        (&pc, &before_flood),
    ] {
        let (status, body) = who
            .post(
                "/v1/auth/device-login",
                serde_json::to_value(answer_to(k, challenge, &desk_key)?)?,
            )
            .await?;
        answers.push((status, body));
    }
    check!(
        answers[0].0 == StatusCode::UNAUTHORIZED
            && answers[1].0 == StatusCode::OK
            && answers[2].0 == StatusCode::OK,
        "after a flood: the dropped challenge, the newest and the PC's own: {answers:?}"
    );

    // A hub session ends with its access token: no refresh stretches it past the next
    // check of the key.
    let (status, body) = anon
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": session.refresh_token}),
        )
        .await?;
    check!(
        status == StatusCode::UNAUTHORIZED
            && session.refresh_expires_at == session.access_expires_at,
        "a hub session refreshed: {status} {body}"
    );
    // Writes reach a hub only through sync push, which forwards them: a REST write would
    // change the hub's copy and never reach the group server.
    let desk_rest = Api {
        token: Some(session.access_token.clone()),
        ..lan.client()
    };
    let (status, body) = desk_rest
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Not through sync", "sex": "male"}),
        )
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "a REST write on the hub: {status} {body}"
    );
    // The hub checks the pusher's own signature too, as it forwards the work as theirs.
    let forged = DeviceSigner::from_secret(w.a.desk.id, desk_key.key_id, [13; 32]);
    let unproven = vaidya_tests::hub::signed_create(
        &forged,
        k,
        "Front desk PC",
        EntityKind::Patient,
        Uuid::now_v7(),
        json!({"name": "Forged Patient", "sex": "female"}),
    );
    let answer = desk_pc
        .push(
            k,
            &vaidya_shared::sync::PushRequest {
                mutations: vec![unproven],
                local_accesses: vec![],
                cancelled_numbers: vec![],
            },
        )
        .await?;
    let queued: i64 = hub_db
        .superuser()
        .await?
        .query_one("SELECT count(*) FROM vaidya.hub_relay", &[])
        .await?
        .get(0);
    check!(
        matches!(
            answer.results[0],
            vaidya_shared::sync::MutationResult::Rejected {
                code: vaidya_shared::ErrorCode::InvalidSignature,
                ..
            }
        ) && queued == 0,
        "a badly signed change at the hub: {:?}, {queued} queued",
        answer.results
    );

    // Another secret claiming the desk's key; another clinic's doctor; a member revoked
    // upstream whose key the hub holds.
    let e = ServerApi::new(&lan.base, "PC")?
        .sign_in_with_device_key(k, &forged)
        .await
        .err();
    check!(
        e.as_ref().map(|e| e.code()) == Some("invalid_credentials"),
        "a forged key: {e:?}"
    );
    let e = ServerApi::new(&lan.base, "PC")?
        .sign_in_with_device_key(k, &outsider_key)
        .await
        .err();
    check!(
        e.as_ref().map(|e| e.code()) == Some("invalid_credentials"),
        "another clinic's doctor: {e:?}"
    );

    let revoked_key = DeviceSigner::from_secret(w.a.revoked.id, Uuid::now_v7(), [17; 32]);
    hub_db
        .superuser()
        .await?
        .execute(
            "INSERT INTO vaidya.device_keys (id, user_id, public_key) VALUES ($1, $2, $3)",
            &[
                &revoked_key.key_id,
                &w.a.revoked.id,
                &revoked_key.public_key().as_slice(),
            ],
        )
        .await?;
    let e = ServerApi::new(&lan.base, "PC")?
        .sign_in_with_device_key(k, &revoked_key)
        .await
        .err();
    check!(
        e.as_ref().map(|e| e.code()) == Some("invalid_credentials"),
        "a revoked member's key: {e:?}"
    );

    // A key revoked upstream stops working at the hub once its directory has it.
    let (status, body) = admin
        .delete(&format!("/v1/clinics/{k}/device-keys/{}", desk_key.key_id))
        .await?;
    check!(
        status == StatusCode::NO_CONTENT,
        "revoking the key: {status} {body}"
    );
    let directory = upstream.directory(k).await?;
    replica.write_directory("Group a", &directory).await?;
    let e = ServerApi::new(&lan.base, "PC")?
        .sign_in_with_device_key(k, &desk_key)
        .await
        .err();
    check!(
        e.as_ref().map(|e| e.code()) == Some("invalid_credentials"),
        "a revoked key: {e:?}"
    );
    Ok(())
}

/// A PC's signed answer to a hub's sign-in challenge (the body `device-challenge` gave).
fn answer_to(clinic: Uuid, challenge: &Value, key: &DeviceSigner) -> Result<DeviceSignIn> {
    let mut answer = DeviceSignIn {
        clinic_id: clinic,
        challenge_id: challenge["id"].as_str().context("id")?.parse()?,
        challenge: challenge["challenge"]
            .as_str()
            .context("challenge")?
            .to_owned(),
        hub_certificate_sha256: None,
        author: None,
    };
    key.sign(clinic, &mut answer);
    Ok(answer)
}

/// The relay queue goes on, whatever it holds: queued reads that together pass the group
/// server's body limit are sent in batches under it, and an item the group server refuses
/// outright is set aside with its answer instead of stopping the hub for good (each
/// restart would send it first again). The change behind it still goes up.
pub async fn a_hub_relays_past_what_the_group_server_refuses(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let desk = server.login_as(&w.a.desk).await?;
    let doctor = server.login_as(&w.a.doctor).await?;
    let admin = server.login_as(&w.a.admin).await?;
    let desk_key = device_key(&desk, w.a.desk.id, 7).await?;
    let (hub, _) = admin.register_hub(k, "Reception hub", &doctor).await?;
    let upstream = hub_client(&server, &hub)?;
    let hub_db = h.database().await?;
    let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
    replica.catch_up(&upstream, "Group a").await?;

    // 30 signed list reads of 1,000 records each (about 1.2 MB together), one read the
    // group server refuses whole (it names 1,001), then a walk-in.
    let read = |n: usize| {
        let mut a = vaidya_shared::sync::LocalAccess {
            access_id: Uuid::now_v7(),
            action: vaidya_shared::api::AuditAction::List,
            entity: EntityKind::Patient,
            entity_ids: (0..n).map(|_| Uuid::now_v7()).collect(),
            patient_ids: vec![],
            at: chrono::Utc::now(),
            author: None,
        };
        desk_key.sign(k, &mut a);
        a
    };
    let mut queue: Vec<(&str, Uuid, Value)> = Vec::new();
    for _ in 0..30 {
        let a = read(1000);
        queue.push(("access", a.access_id, serde_json::to_value(&a)?));
    }
    let refused = read(1001);
    queue.push(("access", refused.access_id, serde_json::to_value(&refused)?));
    let walk_in = Uuid::now_v7();
    let create = vaidya_tests::hub::signed_create(
        &desk_key,
        k,
        "Front desk PC",
        EntityKind::Patient,
        walk_in,
        json!({"name": "Sunita Jadhav", "sex": "female"}),
    );
    queue.push((
        "mutation",
        create.mutation_id,
        serde_json::to_value(&create)?,
    ));
    // A change the group server refuses after the hub took it in: the front desk writes
    // no clinical note.
    let note = vaidya_tests::hub::signed_create(
        &desk_key,
        k,
        "Front desk PC",
        EntityKind::Encounter,
        Uuid::now_v7(),
        json!({"patient_id": walk_in, "doctor_id": w.a.doctor.id, "chief_complaint": "Fever",
               "notes": "", "diagnosis": "", "vitals": {}}),
    );
    queue.push(("mutation", note.mutation_id, serde_json::to_value(&note)?));
    let copy = hub_db.superuser().await?;
    let mut bytes = 0;
    for (kind, id, item) in &queue {
        bytes += item.to_string().len();
        copy.execute(
            "INSERT INTO vaidya.hub_relay (clinic_id, kind, item_id, item) VALUES ($1, $2, $3, $4)",
            &[&k, kind, id, item],
        )
        .await?;
    }
    check!(
        bytes > vaidya_server::app::MAX_BODY_BYTES,
        "the queue ({bytes} bytes) is over the group server's body limit"
    );

    // Before the hub forwards, the desk's PC asks the hub about its changes: both wait; an
    // id the hub never took in is in neither list (the PC sends that one again itself).
    let lan = TestServer::spawn(&hub_db, 2).await?;
    let desk_pc = ServerApi::new(&lan.base, "Front desk PC")?;
    desk_pc.sign_in_with_device_key(k, &desk_key).await?;
    let never = Uuid::now_v7();
    let ask = vaidya_shared::sync::RelayAnswersRequest {
        mutation_ids: vec![create.mutation_id, note.mutation_id, never],
    };
    let before = desk_pc.relay_answers(k, &ask).await?;
    check!(
        before.answers.is_empty()
            && before.waiting.len() == 2
            && before.waiting.contains(&create.mutation_id)
            && before.waiting.contains(&note.mutation_id),
        "before forwarding: {before:?}"
    );

    let forwarded = replica.forward(&upstream).await?;
    let waiting = replica.waiting().await?;
    check!(
        waiting == 0 && forwarded.accesses == 30 && forwarded.mutations == 2,
        "forwarded {forwarded:?}, {waiting} waiting"
    );
    // After: the walk-in applied, the note refused, as the group server answered the hub.
    let after = desk_pc.relay_answers(k, &ask).await?;
    let answer = |id: Uuid| after.answers.iter().find(|a| a.mutation_id() == id);
    check!(
        after.waiting.is_empty()
            && after.answers.len() == 2
            && matches!(
                answer(create.mutation_id),
                Some(MutationResult::Applied { .. })
            )
            && matches!(
                answer(note.mutation_id),
                Some(MutationResult::Rejected { .. })
            ),
        "after forwarding: {after:?}"
    );
    // Only a hub keeps a relay queue; and a question has its limit.
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/sync/relay-answers"),
            serde_json::to_value(&ask)?,
        )
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "the group server answered relay answers: {status} {body}"
    );
    let too_many = vaidya_shared::sync::RelayAnswersRequest {
        mutation_ids: (0..=vaidya_shared::sync::MAX_PUSH_BATCH)
            .map(|_| Uuid::now_v7())
            .collect(),
    };
    let refused_ask = desk_pc.relay_answers(k, &too_many).await;
    check!(
        refused_ask.as_ref().err().map(|e| e.code()) == Some("invalid_field"),
        "501 ids: {refused_ask:?}"
    );
    let upstream_db = w.db.superuser().await?;
    let created: i64 = upstream_db
        .query_one(
            "SELECT count(*) FROM vaidya.patients WHERE clinic_id = $1 AND id = $2",
            &[&k, &walk_in],
        )
        .await?
        .get(0);
    let audited: i64 = upstream_db
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND action = 'list' AND actor_id = $2",
            &[&k, &w.a.desk.id],
        )
        .await?
        .get(0);
    check!(
        created == 1 && audited >= 30,
        "upstream: the walk-in {created}, the desk's list reads {audited}"
    );
    Ok(())
}

/// A PC's first pull page from `api`, pulled again while it settles: its changes wait for
/// an older transaction of the cluster (another test's) to end, as the engine would wait.
async fn first_page_settled(
    api: &ServerApi,
    clinic: uuid::Uuid,
) -> Result<vaidya_shared::sync::PullResponse> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = api.pull(clinic, None, Some(1000)).await?;
        if !page.settling || std::time::Instant::now() > deadline {
            return Ok(page);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
