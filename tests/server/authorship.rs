//! Proven authorship: a colleague's session may carry a doctor's offline work, and the
//! server applies it as the doctor — because the doctor's device key signed it — never as
//! the pusher, and never on an unsigned or forged claim.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_shared::authorship::{encode_public_key, DeviceSigner};
use vaidya_shared::sync::{EntityKind, Mutation, Operation};
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

fn mutation(entity: EntityKind, op: Operation, id: Uuid, data: Option<Value>) -> Mutation {
    Mutation {
        mutation_id: Uuid::now_v7(),
        entity,
        entity_id: id,
        op,
        base_version: None,
        parent_id: None,
        data,
        changes: serde_json::Map::new(),
        made_at: chrono::Utc::now(),
        author: None,
        device: None,
    }
}

async fn register(api: &Api, signer: &DeviceSigner) -> Result<()> {
    let (status, body) = api
        .post(
            "/v1/me/device-keys",
            json!({"id": signer.key_id, "public_key": encode_public_key(&signer.public_key())}),
        )
        .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "register key: {status} {body}"
    );
    Ok(())
}

pub async fn a_colleagues_sync_applies_signed_work_as_its_author(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (doctor, desk, admin) = (
        server.login_as(&w.a.doctor).await?,
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.admin).await?,
    );
    let k = w.a.id;
    let signer = DeviceSigner::from_secret(w.a.doctor.id, Uuid::now_v7(), [11; 32]);
    register(&doctor, &signer).await?;
    // Registering is idempotent (a device re-registers its key at every online start).
    register(&doctor, &signer).await?;
    // A key id is one key: another key, or another user, under it is refused.
    let (status, _) = desk
        .post(
            "/v1/me/device-keys",
            json!({"id": signer.key_id, "public_key": encode_public_key(&signer.public_key())}),
        )
        .await?;
    check!(
        status == StatusCode::CONFLICT,
        "another user's key id: {status}"
    );
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Sunita Deshmukh", "sex": "female"}),
        )
        .await?;
    let patient = p["id"].as_str().unwrap_or_default().to_owned();

    // The doctor's offline note, its signing, and a prescription — pushed by the desk.
    let note = Uuid::now_v7();
    let mut create_note = mutation(
        EntityKind::Encounter,
        Operation::Create,
        note,
        Some(
            json!({"patient_id": patient, "chief_complaint": "fever", "notes": "", "diagnosis": ""}),
        ),
    );
    signer.sign(k, &mut create_note);
    let mut sign_note = mutation(EntityKind::Encounter, Operation::Update, note, None);
    sign_note.base_version = Some(1);
    sign_note
        .changes
        .insert("sign".into(), json!({"value": true, "base": false}));
    signer.sign(k, &mut sign_note);
    let rx = Uuid::now_v7();
    let prescription = |id: Uuid| {
        json!({"patient_id": patient, "encounter_id": note, "notes": "",
               "items": [{"drug": "Paracetamol", "strength": "650 mg", "dose": "1 tab",
                          "frequency": "TDS", "duration": "3 days", "instructions": ""}],
               "id": id})
    };
    let mut create_rx = mutation(
        EntityKind::Prescription,
        Operation::Create,
        rx,
        Some(prescription(rx)),
    );
    signer.sign(k, &mut create_rx);
    let push = format!("/v1/clinics/{k}/sync/push");
    let (status, body) = desk
        .post(
            &push,
            json!({"mutations": [create_note, sign_note, create_rx]}),
        )
        .await?;
    let outcomes: Vec<&Value> = body["results"]
        .as_array()
        .map(|r| r.iter().map(|x| &x["outcome"]).collect())
        .unwrap_or_default();
    check!(
        status == StatusCode::OK && outcomes.iter().all(|o| *o == "applied"),
        "the desk's push of the doctor's signed work: {status} {body}"
    );
    let (_, e) = doctor
        .get(&format!("/v1/clinics/{k}/encounters/{note}"))
        .await?;
    check!(
        e["doctor_id"] == w.a.doctor.id.to_string() && e["signed_by"] == w.a.doctor.id.to_string(),
        "the note is the doctor's, signed by the doctor: {e}"
    );
    let (_, p) = doctor
        .get(&format!("/v1/clinics/{k}/prescriptions/{rx}"))
        .await?;
    check!(
        p["doctor_id"] == w.a.doctor.id.to_string(),
        "the prescription is the doctor's: {p}"
    );
    let su = w.db.superuser().await?;
    let actor: Option<Uuid> = su
        .query_one(
            "SELECT actor_id FROM vaidya.audit_log
             WHERE clinic_id = $1 AND action = 'create' AND entity_type = 'prescription' AND $2 = ANY (entity_ids)",
            &[&k, &rx],
        )
        .await?
        .get(0);
    check!(
        actor == Some(w.a.doctor.id),
        "the audit trail names the doctor: {actor:?}"
    );

    // Refused, nothing written, denial audited: each way a claim can fail.
    let stranger = DeviceSigner::from_secret(w.a.doctor.id, Uuid::now_v7(), [12; 32]);
    let mut unregistered = mutation(
        EntityKind::Prescription,
        Operation::Create,
        Uuid::now_v7(),
        None,
    );
    unregistered.data = Some(prescription(unregistered.entity_id));
    stranger.sign(k, &mut unregistered);
    let mut altered = mutation(
        EntityKind::Prescription,
        Operation::Create,
        Uuid::now_v7(),
        None,
    );
    altered.data = Some(prescription(altered.entity_id));
    signer.sign(k, &mut altered);
    if let Some(data) = altered.data.as_mut() {
        data["notes"] = json!("and morphine");
    }
    let mut borrowed = mutation(
        EntityKind::Prescription,
        Operation::Create,
        Uuid::now_v7(),
        None,
    );
    borrowed.data = Some(prescription(borrowed.entity_id));
    signer.sign(k, &mut borrowed);
    if let Some(a) = borrowed.author.as_mut() {
        a.user_id = w.a.nurse.id; // the doctor's key, claimed for the nurse
    }
    for (what, m) in [
        ("a key never registered", &unregistered),
        ("a body altered after signing", &altered),
        ("another user's key", &borrowed),
    ] {
        let (status, body) = desk.post(&push, json!({"mutations": [m]})).await?;
        check!(
            status == StatusCode::OK
                && body["results"][0]["outcome"] == "rejected"
                && body["results"][0]["code"] == "invalid_signature",
            "{what}: {status} {body}"
        );
        let (status, _) = doctor
            .get(&format!("/v1/clinics/{k}/prescriptions/{}", m.entity_id))
            .await?;
        check!(status == StatusCode::NOT_FOUND, "{what}: nothing written");
        let denied: i64 = su
            .query_one(
                "SELECT count(*) FROM vaidya.audit_log WHERE clinic_id = $1 AND action = 'denied'
                   AND actor_id = $2 AND $3 = ANY (entity_ids)",
                &[&k, &w.a.desk.id, &m.entity_id],
            )
            .await?
            .get(0);
        check!(denied == 1, "{what}: the refusal is audited");
    }

    // A clinic admin revokes the doctor's key (a lost PC): its signatures stop counting.
    let (status, body) = admin
        .delete(&format!("/v1/clinics/{k}/device-keys/{}", signer.key_id))
        .await?;
    check!(status == StatusCode::NO_CONTENT, "revoke: {status} {body}");
    let mut after = mutation(
        EntityKind::Prescription,
        Operation::Create,
        Uuid::now_v7(),
        None,
    );
    after.data = Some(prescription(after.entity_id));
    signer.sign(k, &mut after);
    let (_, body) = desk.post(&push, json!({"mutations": [after]})).await?;
    check!(
        body["results"][0]["code"] == "invalid_signature",
        "a revoked key's signature: {body}"
    );
    let (status, body) = doctor
        .post(
            "/v1/me/device-keys",
            json!({"id": signer.key_id, "public_key": encode_public_key(&signer.public_key())}),
        )
        .await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "invalid_state",
        "a revoked key cannot be registered again (the device makes a new one): {status} {body}"
    );
    // The admin sees which devices hold each member's data, the revoked key included; a
    // doctor may not look, and clinic B's admin sees none of clinic A's devices.
    let (status, devices) = admin.get(&format!("/v1/clinics/{k}/device-keys")).await?;
    let listed = devices
        .as_array()
        .and_then(|d| d.iter().find(|x| x["key_id"] == signer.key_id.to_string()))
        .cloned()
        .unwrap_or_default();
    check!(
        status == StatusCode::OK
            && listed["user_id"] == w.a.doctor.id.to_string()
            && listed["revoked_at"].is_string()
            && listed["member_revoked_at"].is_null(),
        "the admin's device list: {status} {devices}"
    );
    let (status, _) = doctor.get(&format!("/v1/clinics/{k}/device-keys")).await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "a doctor listing devices: {status}"
    );
    let other_admin = server.login_as(&w.b.admin).await?;
    let (status, body) = other_admin
        .get(&format!("/v1/clinics/{k}/device-keys"))
        .await?;
    check!(
        !status.is_success() && !body.to_string().contains(&signer.key_id.to_string()),
        "another clinic's admin: {status} {body}"
    );
    // A doctor cannot revoke keys; nor register a key as someone else (the key is always
    // the caller's own).
    let (status, _) = doctor
        .delete(&format!("/v1/clinics/{k}/device-keys/{}", signer.key_id))
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "a doctor revoking: {status}"
    );
    Ok(())
}

/// What a device wiped on a member's revocation reaches the clinic's audit trail: once per
/// report id, from the former member or an active colleague, with the device's time bounded
/// by the revocation and the receipt; nobody else can write one, and a wipe of someone who
/// is still a member is refused.
pub async fn device_wipes_are_audited_once_from_who_may_report(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (former, desk, admin, stranger) = (
        server.login_as(&w.a.revoked).await?,
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.b.admin).await?,
    );
    let k = w.a.id;
    let wipe = |user: Uuid, scope: &str, at: chrono::DateTime<chrono::Utc>| json!({"id": Uuid::now_v7(), "clinic_id": k, "user_id": user, "wiped_at": at, "scope": scope});
    let wipes = async || -> Result<Vec<Value>> {
        let (status, body) = admin
            .get(&format!("/v1/clinics/{k}/audit?action=wipe"))
            .await?;
        anyhow::ensure!(status == StatusCode::OK, "audit: {status} {body}");
        Ok(body["items"].as_array().cloned().unwrap_or_default())
    };

    // The former member's own sign-in wiped the file: reported twice (a lost answer), one row.
    let now = chrono::Utc::now();
    let own = wipe(w.a.revoked.id, "file", now + chrono::TimeDelta::days(2));
    for _ in 0..2 {
        let (status, body) = former.post("/v1/me/device-wipes", own.clone()).await?;
        check!(
            status == StatusCode::NO_CONTENT,
            "own wipe: {status} {body}"
        );
    }
    let rows = wipes().await?;
    check!(rows.len() == 1, "one row per report id: {rows:?}");
    let row = &rows[0];
    check!(
        row["actor_id"] == w.a.revoked.id.to_string()
            && row["entity_type"] == "device_file"
            && row["entity_ids"] == json!([w.a.revoked.id]),
        "the wipe's row: {row}"
    );
    // A device time after the receipt is the receipt.
    let occurred: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(row["occurred_at"].clone())?;
    check!(
        occurred <= chrono::Utc::now(),
        "a future device time is bounded by the receipt: {occurred}"
    );

    // A colleague's session on the same PC reports what it removed later; a time from long
    // before the revocation is bounded by it.
    let (status, body) = desk
        .post(
            "/v1/me/device-wipes",
            wipe(
                w.a.revoked.id,
                "member",
                "2001-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>()?,
            ),
        )
        .await?;
    check!(
        status == StatusCode::NO_CONTENT,
        "colleague's report: {status} {body}"
    );
    let rows = wipes().await?;
    let by_desk = rows
        .iter()
        .find(|r| r["actor_id"] == w.a.desk.id.to_string())
        .cloned()
        .unwrap_or_default();
    check!(
        by_desk["entity_type"] == "device_member_data",
        "the colleague's row: {rows:?}"
    );
    let occurred: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(by_desk["occurred_at"].clone())?;
    check!(
        occurred > now - chrono::TimeDelta::days(1),
        "a device time before the revocation is bounded by it: {occurred}"
    );

    // The same reporter and device cannot flood the trail with fresh ids.
    for _ in 0..3 {
        let (status, _) = desk
            .post("/v1/me/device-wipes", wipe(w.a.revoked.id, "member", now))
            .await?;
        check!(
            status == StatusCode::NO_CONTENT,
            "a repeated report: {status}"
        );
    }
    check!(wipes().await?.len() == 2, "repeated reports add no rows");

    // Refused, nothing written: another group's admin; a wipe of a member still in force;
    // a report for another person by someone who is not a member.
    let (status, _) = stranger
        .post("/v1/me/device-wipes", wipe(w.a.revoked.id, "file", now))
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "a stranger's report: {status}"
    );
    let (status, _) = desk
        .post("/v1/me/device-wipes", wipe(w.a.doctor.id, "member", now))
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "a wipe of an active member: {status}"
    );
    let (status, body) = desk
        .post(
            "/v1/me/device-wipes",
            json!({"id": Uuid::now_v7(), "clinic_id": k, "user_id": w.a.revoked.id,
                   "wiped_at": now, "scope": "everything"}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
        "an unknown scope: {status} {body}"
    );
    check!(wipes().await?.len() == 2, "refused reports wrote nothing");
    let (_, denied) = admin
        .get(&format!("/v1/clinics/{k}/audit?action=denied"))
        .await?;
    let denied = denied["items"].as_array().cloned().unwrap_or_default();
    for who in [w.b.admin.id, w.a.desk.id] {
        check!(
            denied
                .iter()
                .any(|e| e["actor_id"] == who.to_string() && e["entity_type"] == "device_wipe"),
            "refusal audited for {who}: {denied:?}"
        );
    }
    // The wipes table is reached only through the functions above: under the app role even
    // the clinic's own admin neither reads nor writes it directly (the audit trail is the
    // view of it).
    let mut app = w.db.app().await?;
    for who in [w.a.admin.id, w.b.admin.id, w.a.revoked.id] {
        for sql in [
            "SELECT count(*) FROM vaidya.device_wipes",
            "INSERT INTO vaidya.device_wipes (clinic_id, id, user_id, scope, reported_by, wiped_at)
             SELECT clinic_id, gen_random_uuid(), user_id, scope, user_id, now() FROM vaidya.device_wipes",
        ] {
            let tx = app.transaction().await?;
            tx.execute("SELECT set_config('app.user_id', $1, true)", &[&who.to_string()])
                .await?;
            let outcome = tx.execute(sql, &[]).await;
            check!(outcome.is_err(), "{who} reached the wipes table directly: {sql}");
            tx.rollback().await?;
        }
    }
    Ok(())
}
