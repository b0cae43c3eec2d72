//! The clinic hub upstream (issue 11): a clinic admin registers a hub; to the group server it
//! is a member of that one clinic with the role `hub`. It reads the whole clinic, writes
//! nothing as itself, relays only work its authors signed (applied as them), is no person
//! (no password, no other role, no second clinic), and a revoked hub stops at once. Each
//! claim here is an attack that would succeed if the claim were false.

use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_shared::authorship::{encode_public_key, DeviceSigner};
use vaidya_shared::sync::{EntityKind, Mutation, Operation};
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

fn patient_create(name: &str) -> Mutation {
    Mutation {
        mutation_id: Uuid::now_v7(),
        entity: EntityKind::Patient,
        entity_id: Uuid::now_v7(),
        op: Operation::Create,
        base_version: None,
        parent_id: None,
        data: Some(json!({"name": name, "sex": "female"})),
        changes: serde_json::Map::new(),
        made_at: Utc::now(),
        author: None,
        device: None,
    }
}

fn note_create(patient: &str) -> Mutation {
    Mutation {
        entity: EntityKind::Encounter,
        data: Some(
            json!({"patient_id": patient, "chief_complaint": "fever", "notes": "", "diagnosis": ""}),
        ),
        ..patient_create("")
    }
}

async fn register_key(api: &Api, signer: &DeviceSigner) -> Result<StatusCode> {
    Ok(api
        .post(
            "/v1/me/device-keys",
            json!({"id": signer.key_id, "public_key": encode_public_key(&signer.public_key())}),
        )
        .await?
        .0)
}

/// The element of a JSON list whose `path` (keys, outermost first) is `id`.
fn find_in<'a>(list: &'a Value, path: &[&str], id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|item| {
        path.iter()
            .try_fold(*item, |v, key| v.get(*key))
            .is_some_and(|v| v == id)
    })
}

/// How many clinics `user` is an active member of.
async fn active_memberships(su: &tokio_postgres::Client, user: &str) -> Result<i64> {
    Ok(su
        .query_one(
            "SELECT count(*) FROM vaidya.memberships
             WHERE user_id = $1::text::uuid AND revoked_at IS NULL",
            &[&user],
        )
        .await?
        .get(0))
}

/// The first result of a push: its outcome and code.
fn first(body: &Value) -> (String, String) {
    let r = &body["results"][0];
    (
        r["outcome"].as_str().unwrap_or_default().to_owned(),
        r["code"].as_str().unwrap_or_default().to_owned(),
    )
}

pub async fn a_hub_reads_its_clinic_and_writes_nothing(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (admin, doctor, desk) = (
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.doctor).await?,
        server.login_as(&w.a.desk).await?,
    );
    let k = w.a.id;
    let hubs = format!("/v1/clinics/{k}/hubs");

    // Only the clinic's admins register one, with a name.
    let (status, _) = doctor.post(&hubs, json!({"name": "Back office"})).await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "a doctor registers a hub: {status}"
    );
    let (status, body) = admin.post(&hubs, json!({"name": "  "})).await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "name",
        "a hub without a name: {status} {body}"
    );
    let (hub, registered) = admin.register_hub(k, "Back office", &doctor).await?;
    let hub_id = registered["hub"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Its session is of this one clinic, as a hub; no password opens it.
    let (_, me) = hub.get("/v1/me").await?;
    check!(
        me["memberships"].as_array().map(Vec::len) == Some(1)
            && me["memberships"][0]["clinic_id"] == k.to_string()
            && me["memberships"][0]["role"] == "hub",
        "the hub's memberships: {me}"
    );
    let email = me["user"]["email"].as_str().unwrap_or_default().to_owned();
    for password in ["!", "", "password-admin-a"] {
        let (status, _) = server
            .client()
            .post(
                "/v1/auth/login",
                json!({"email": email, "password": password}),
            )
            .await?;
        check!(
            status == StatusCode::UNAUTHORIZED,
            "signing in as the hub with {password:?}: {status}"
        );
    }

    // It reads everything of its clinic, clinical notes too, by pull and by REST.
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Meena Iyer", "sex": "female"}),
        )
        .await?;
    let (status, e) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters"),
            json!({"patient_id": p["id"], "chief_complaint": "Cough"}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED,
        "the doctor's note: {status} {e}"
    );
    let mut kinds = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let q = if cursor.is_empty() {
            String::new()
        } else {
            format!("?cursor={cursor}")
        };
        let (status, page) = hub.get(&format!("/v1/clinics/{k}/sync/pull{q}")).await?;
        check!(status == StatusCode::OK, "the hub's pull: {status} {page}");
        for c in page["changes"].as_array().into_iter().flatten() {
            kinds.insert(c["entity"].as_str().unwrap_or_default().to_owned());
        }
        cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        // Settling: changes after the cursor wait for an older transaction of the cluster
        // (another test's) to end; pulled again a moment later, as the engine does.
        if page["settling"] == true {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        if page["has_more"] != true {
            break;
        }
    }
    check!(
        kinds.contains("patient") && kinds.contains("encounter"),
        "the hub pulled {kinds:?}"
    );
    let (status, _) = hub
        .get(&format!(
            "/v1/clinics/{k}/encounters/{}",
            e["id"].as_str().unwrap_or_default()
        ))
        .await?;
    check!(status == StatusCode::OK, "the hub reads the note: {status}");

    // Writes nothing as itself, over REST or for its own PC's needs.
    for (what, path, body) in [
        (
            "a patient",
            format!("/v1/clinics/{k}/patients"),
            json!({"name": "Made Up", "sex": "male"}),
        ),
        (
            "a note",
            format!("/v1/clinics/{k}/encounters"),
            json!({"patient_id": p["id"], "chief_complaint": "Made up"}),
        ),
        (
            "an invoice series",
            format!("/v1/clinics/{k}/invoice-series"),
            json!({"partition_id": "0123456789abcdef0123456789abcdef"}),
        ),
        (
            "a clinical store key",
            format!("/v1/clinics/{k}/clinical-store-key"),
            json!({"partition_id": "0123456789abcdef0123456789abcdef"}),
        ),
        ("a hub", hubs.clone(), json!({"name": "Another"})),
    ] {
        let (status, body) = hub.with_device("hub")?.post(&path, body).await?;
        check!(
            status == StatusCode::FORBIDDEN,
            "the hub adds {what}: {status} {body}"
        );
    }
    // Nothing of a person's own: invitations, wipe reports.
    for (what, status) in [
        ("its invitations", hub.get("/v1/me/invitations").await?.0),
        (
            "a wipe report",
            hub.post(
                "/v1/me/device-wipes",
                json!({"id": Uuid::now_v7(), "clinic_id": k, "user_id": w.a.revoked.id,
                       "wiped_at": Utc::now(), "scope": "member"}),
            )
            .await?
            .0,
        ),
    ] {
        check!(
            status == StatusCode::FORBIDDEN,
            "the hub reaches {what}: {status}"
        );
    }
    // Nor reads what no reader of records needs: the audit trail.
    let (status, _) = hub.get(&format!("/v1/clinics/{k}/audit")).await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "the hub reads the audit trail: {status}"
    );

    // Another clinic does not exist for it.
    let b = w.b.id;
    for path in [
        format!("/v1/clinics/{b}/patients"),
        format!("/v1/clinics/{b}/sync/pull"),
        format!("/v1/clinics/{b}"),
    ] {
        let (status, _) = hub.get(&path).await?;
        check!(
            status == StatusCode::NOT_FOUND,
            "the hub of A reads {path}: {status}"
        );
    }

    // It is listed as the clinic's hub, not as a member, and no member route reaches it.
    let (_, listed) = admin.get(&hubs).await?;
    // (The test world's clinic has a hub of its own already.)
    let ours = find_in(&listed, &["id"], &hub_id);
    check!(
        ours.is_some_and(|h| h["name"] == "Back office" && h["revoked_at"].is_null()),
        "the clinic's hubs: {listed}"
    );
    let (_, members) = admin.get(&format!("/v1/clinics/{k}/members")).await?;
    check!(
        !members.to_string().contains(&hub_id),
        "the members list shows the hub: {members}"
    );
    let su = w.db.superuser().await?;
    let membership: Uuid = su
        .query_one(
            "SELECT id FROM vaidya.memberships WHERE clinic_id = $1 AND user_id = $2::text::uuid",
            &[&k, &hub_id],
        )
        .await?
        .get(0);
    let member = format!("/v1/clinics/{k}/members/{membership}");
    let (status, _) = admin.patch(&member, json!({"role": "doctor"})).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "the hub made a doctor: {status}"
    );
    let (status, _) = admin.delete(&member).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "the hub revoked as a member: {status}"
    );

    // No person is given the hub's role, and the hub's account is no one's to add.
    let nurse_membership: Uuid = su
        .query_one(
            "SELECT id FROM vaidya.memberships WHERE clinic_id = $1 AND user_id = $2",
            &[&k, &w.a.nurse.id],
        )
        .await?
        .get(0);
    let (status, body) = admin
        .patch(
            &format!("/v1/clinics/{k}/members/{nurse_membership}"),
            json!({"role": "hub"}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "role",
        "a nurse made a hub: {status} {body}"
    );
    let (status, body) = admin
        .post(
            &format!("/v1/clinics/{k}/members"),
            json!({"email": "new.hub@test.vaidya.in", "role": "hub"}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "role",
        "a member added as a hub: {status} {body}"
    );
    let (status, body) = admin
        .post(
            &format!("/v1/clinics/{k}/members"),
            json!({"email": email, "role": "doctor"}),
        )
        .await?;
    check!(
        status == StatusCode::ACCEPTED && body["outcome"] == "invited",
        "the hub's account added by email: {status} {body}"
    );
    let held: Vec<String> = su
        .query(
            "SELECT role FROM vaidya.memberships WHERE user_id = $1::text::uuid",
            &[&hub_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    check!(held == ["hub"], "the hub's memberships: {held:?}");

    // Its reads are audited under its own name.
    let audited: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND actor_id = $2::text::uuid AND action = 'list'",
            &[&k, &hub_id],
        )
        .await?
        .get(0);
    check!(audited > 0, "the hub's pulls are not audited");
    Ok(())
}

/// The database keeps hubs and people apart whatever the server does: the role `hub` only
/// for a hub's account, a hub's account only with that role and in one clinic.
pub async fn the_database_keeps_hubs_and_people_apart(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    let attempts = [
        (
            "a person given the hub role",
            format!(
                "UPDATE vaidya.memberships SET role = 'hub' WHERE clinic_id = '{}' AND user_id = '{}'",
                w.a.id, w.a.nurse.id
            ),
        ),
        (
            "the hub given a person's role",
            format!(
                "UPDATE vaidya.memberships SET role = 'doctor' WHERE clinic_id = '{}' AND user_id = '{}'",
                w.a.id, w.a.hub
            ),
        ),
        (
            "the hub in a second clinic",
            format!(
                "INSERT INTO vaidya.memberships (id, clinic_id, user_id, role)
                 VALUES (gen_random_uuid(), '{}', '{}', 'hub')",
                w.b.id, w.a.hub
            ),
        ),
    ];
    for (what, sql) in attempts {
        let outcome = su.batch_execute(&sql).await;
        let code = outcome
            .as_ref()
            .err()
            .and_then(|e| e.code())
            .map(|c| c.code().to_owned());
        check!(code.as_deref() == Some("23514"), "{what}: {outcome:?}");
    }
    Ok(())
}

pub async fn a_hub_relays_only_work_its_authors_signed(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (admin, doctor, desk) = (
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.doctor).await?,
        server.login_as(&w.a.desk).await?,
    );
    let k = w.a.id;
    let push = format!("/v1/clinics/{k}/sync/push");
    let (hub, registered) = admin.register_hub(k, "Reception", &doctor).await?;
    let hub_id: Uuid = registered["hub"]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let signer = DeviceSigner::from_secret(w.a.doctor.id, Uuid::now_v7(), [21; 32]);
    check!(
        register_key(&doctor, &signer).await? == StatusCode::CREATED,
        "the doctor's key"
    );
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Farah Khan", "sex": "female"}),
        )
        .await?;
    let patient = p["id"].as_str().unwrap_or_default().to_owned();

    // The doctor's signed note, relayed by the hub: applied as the doctor.
    let mut note = note_create(&patient);
    signer.sign(k, &mut note);
    let (status, body) = hub
        .post(&push, json!({"mutations": [note.clone()]}))
        .await?;
    check!(
        status == StatusCode::OK && first(&body).0 == "applied",
        "the hub relays the doctor's note: {status} {body}"
    );
    let (_, e) = doctor
        .get(&format!("/v1/clinics/{k}/encounters/{}", note.entity_id))
        .await?;
    check!(
        e["doctor_id"] == w.a.doctor.id.to_string(),
        "the relayed note is the doctor's: {e}"
    );
    let su = w.db.superuser().await?;
    let actors: Vec<Uuid> = su
        .query(
            "SELECT actor_id FROM vaidya.audit_log
             WHERE clinic_id = $1 AND action = 'create' AND entity_type = 'encounter' AND $2 = ANY (entity_ids)",
            &[&k, &note.entity_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    check!(
        actors == [w.a.doctor.id],
        "the audit trail names the doctor alone: {actors:?}"
    );
    // Exactly once whichever path: the hub again, then the doctor's own PC.
    for (who, api) in [("the hub", &hub), ("the doctor", &doctor)] {
        let (status, body) = api
            .post(&push, json!({"mutations": [note.clone()]}))
            .await?;
        check!(
            status == StatusCode::OK && first(&body).0 == "applied",
            "{who} pushes the note again: {status} {body}"
        );
    }
    let notes: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.encounters WHERE clinic_id = $1 AND patient_id = $2::text::uuid",
            &[&k, &patient],
        )
        .await?
        .get(0);
    check!(notes == 1, "{notes} notes after three pushes of one");

    // Unsigned work, work signed as the hub itself, and a re-attributed signature: refused,
    // nothing written.
    let unsigned = patient_create("Unsigned Walk-in");
    // (Its own key is refused too, see the directory test: this one is the database's.)
    let hub_signer = DeviceSigner::from_secret(hub_id, Uuid::now_v7(), [22; 32]);
    let su_keys = w.db.superuser().await?;
    su_keys
        .execute(
            "INSERT INTO vaidya.device_keys (id, user_id, public_key) VALUES ($1, $2, $3)",
            &[
                &hub_signer.key_id,
                &hub_id,
                &hub_signer.public_key().as_slice(),
            ],
        )
        .await?;
    let mut own = patient_create("The Hub's Own");
    hub_signer.sign(k, &mut own);
    let mut borrowed = note_create(&patient);
    signer.sign(k, &mut borrowed);
    if let Some(a) = borrowed.author.as_mut() {
        a.user_id = w.a.nurse.id; // the doctor's signature, claimed for the nurse
    }
    for (what, m) in [
        ("unsigned", &unsigned),
        ("signed by the hub", &own),
        ("re-attributed", &borrowed),
    ] {
        let (status, body) = hub.post(&push, json!({"mutations": [m]})).await?;
        check!(
            status == StatusCode::OK
                && first(&body) == ("rejected".into(), "invalid_signature".into()),
            "{what}: {status} {body}"
        );
        let kept: i64 = su
            .query_one(
                "SELECT (SELECT count(*) FROM vaidya.patients WHERE id = $1)
                      + (SELECT count(*) FROM vaidya.encounters WHERE id = $1)",
                &[&m.entity_id],
            )
            .await?
            .get(0);
        check!(kept == 0, "{what}: written");
    }
    // The refusal is the hub's, not the change's: the front desk's PC pushes its own
    // registration itself afterwards and it is applied.
    let (status, body) = desk.post(&push, json!({"mutations": [unsigned]})).await?;
    check!(
        status == StatusCode::OK && first(&body).0 == "applied",
        "the PC pushes the change the hub could not relay: {status} {body}"
    );

    // A refusal through the hub is never the change's last word: a nurse's signed
    // prescription (nurses do not prescribe) is refused and not kept, so whatever the
    // nurse's PC pushes itself is decided afresh.
    let nurse = server.login_as(&w.a.nurse).await?;
    let nurse_signer = DeviceSigner::from_secret(w.a.nurse.id, Uuid::now_v7(), [23; 32]);
    register_key(&nurse, &nurse_signer).await?;
    let mut rx = Mutation {
        entity: EntityKind::Prescription,
        data: Some(json!({"patient_id": patient, "notes": "",
               "items": [{"drug": "Paracetamol", "strength": "650 mg", "dose": "1 tab",
                          "frequency": "TDS", "duration": "3 days", "instructions": ""}]})),
        ..patient_create("")
    };
    nurse_signer.sign(k, &mut rx);
    let (status, body) = hub.post(&push, json!({"mutations": [rx.clone()]})).await?;
    check!(
        status == StatusCode::OK && first(&body) == ("rejected".into(), "forbidden".into()),
        "the nurse's prescription through the hub: {status} {body}"
    );
    let stored: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.sync_mutations WHERE clinic_id = $1 AND mutation_id = $2",
            &[&k, &rx.mutation_id],
        )
        .await?
        .get(0);
    check!(stored == 0, "a refusal through the hub was kept");

    // An offline read whose signature does not hold is the denial alone: the hub read
    // nothing, and the valid work beside it is applied.
    let mut next = note_create(&patient);
    signer.sign(k, &mut next);
    let (status, body) = hub
        .post(
            &push,
            json!({"mutations": [next], "local_accesses": [{"access_id": Uuid::now_v7(),
                   "action": "read", "entity": "patient", "entity_ids": [patient],
                   "patient_ids": [patient], "at": Utc::now()}]}),
        )
        .await?;
    check!(
        status == StatusCode::OK && first(&body).0 == "applied",
        "valid work beside an unsigned read: {status} {body}"
    );
    let hub_reads: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND actor_id = $2 AND action = 'read'",
            &[&k, &hub_id],
        )
        .await?
        .get(0);
    check!(hub_reads == 0, "an unproven read was audited as the hub's");

    // Signed work of another clinic's author, for another clinic: not the hub's to relay.
    let b = w.b.id;
    let mut elsewhere = patient_create("Other Clinic");
    signer.sign(b, &mut elsewhere);
    let (status, _) = hub
        .post(
            &format!("/v1/clinics/{b}/sync/push"),
            json!({"mutations": [elsewhere]}),
        )
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "the hub pushes to clinic B: {status}"
    );

    // Cancelled invoice numbers carry no signature: refused whole, never dropped silently.
    let (status, body) = hub
        .post(
            &push,
            json!({"mutations": [], "cancelled_numbers": [{"series": "2627-D1", "number": 1,
                   "invoice_id": Uuid::now_v7(), "reason": null, "cancelled_at": Utc::now()}]}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "cancelled_numbers",
        "the hub relays cancelled numbers: {status} {body}"
    );
    Ok(())
}

pub async fn a_revoked_hub_stops_at_once(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (admin, doctor) = (
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.doctor).await?,
    );
    let k = w.a.id;
    let (hub, registered) = admin.register_hub(k, "Reception", &doctor).await?;
    let hub_id = registered["hub"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The hub's refresh token in force: rotated once more, as a running hub's would be.
    let (status, session) = server
        .client()
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": registered["refresh_token"]}),
        )
        .await?;
    check!(
        status == StatusCode::OK,
        "the hub refreshes: {status} {session}"
    );
    let refresh = session["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let pull = format!("/v1/clinics/{k}/sync/pull");
    let (status, _) = hub.get(&pull).await?;
    check!(status == StatusCode::OK, "the hub pulls: {status}");

    let one = format!("/v1/clinics/{k}/hubs/{hub_id}");
    let (status, _) = doctor.delete(&one).await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "a doctor revokes the hub: {status}"
    );
    let b_admin = server.login_as(&w.b.admin).await?;
    let (status, _) = b_admin
        .delete(&format!("/v1/clinics/{}/hubs/{hub_id}", w.b.id))
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "clinic B's admin revokes A's hub: {status}"
    );
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/hubs/{}", Uuid::now_v7()))
        .await?;
    check!(status == StatusCode::NOT_FOUND, "an unknown hub: {status}");

    let (status, _) = admin.delete(&one).await?;
    check!(
        status == StatusCode::NO_CONTENT,
        "the admin revokes the hub: {status}"
    );
    let (status, _) = hub.get(&pull).await?;
    check!(
        status == StatusCode::UNAUTHORIZED,
        "the revoked hub's access token: {status}"
    );
    let (status, _) = server
        .client()
        .post("/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await?;
    check!(
        status == StatusCode::UNAUTHORIZED,
        "the revoked hub's refresh token: {status}"
    );
    let (_, listed) = admin.get(&format!("/v1/clinics/{k}/hubs")).await?;
    let ours = find_in(&listed, &["id"], &hub_id);
    check!(
        ours.is_some_and(|h| h["revoked_at"].is_string()),
        "the list shows the hub revoked: {listed}"
    );
    Ok(())
}

/// The directory a hub checks LAN sign-ins and signatures against: every person of its
/// clinic (revoked too) and their keys' public halves; no one else may read it, and it names
/// no one of another clinic and no hub.
pub async fn a_hub_reads_its_clinics_directory_and_no_one_else_does(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (admin, doctor) = (
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.doctor).await?,
    );
    let k = w.a.id;
    let signer = DeviceSigner::from_secret(w.a.doctor.id, Uuid::now_v7(), [31; 32]);
    register_key(&doctor, &signer).await?;
    let old = DeviceSigner::from_secret(w.a.doctor.id, Uuid::now_v7(), [32; 32]);
    register_key(&doctor, &old).await?;
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/device-keys/{}", old.key_id))
        .await?;
    check!(
        status == StatusCode::NO_CONTENT,
        "revoking the old key: {status}"
    );
    // B's doctor has a key too, which A's hub must never see.
    let b_doctor = server.login_as(&w.b.doctor).await?;
    let elsewhere = DeviceSigner::from_secret(w.b.doctor.id, Uuid::now_v7(), [33; 32]);
    register_key(&b_doctor, &elsewhere).await?;
    let (hub, registered) = admin.register_hub(k, "Reception", &doctor).await?;
    let hub_id: Uuid = registered["hub"]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    // A key the hub registered for itself is no person's: it is not in the directory.
    let hub_signer = DeviceSigner::from_secret(hub_id, Uuid::now_v7(), [34; 32]);
    check!(
        register_key(&hub, &hub_signer).await? == StatusCode::FORBIDDEN,
        "a hub registers a device key of its own"
    );

    let path = format!("/v1/clinics/{k}/directory");
    let (status, dir) = hub.get(&path).await?;
    check!(
        status == StatusCode::OK,
        "the hub's directory: {status} {dir}"
    );
    let text = dir.to_string();
    let key = |s: &DeviceSigner| encode_public_key(&s.public_key());
    let entry = find_in(&dir["device_keys"], &["key_id"], &signer.key_id.to_string());
    check!(
        entry.is_some_and(|d| d["public_key"] == key(&signer).as_str()
            && d["user_id"] == w.a.doctor.id.to_string()
            && d["revoked_at"].is_null()),
        "the doctor's key: {dir}"
    );
    let revoked = find_in(&dir["device_keys"], &["key_id"], &old.key_id.to_string());
    check!(
        revoked.is_some_and(|d| d["revoked_at"].is_string()),
        "the revoked key is listed as revoked: {dir}"
    );
    check!(
        !text.contains(&key(&elsewhere)) && !text.contains(&w.b.doctor.id.to_string()),
        "clinic B's doctor is in A's directory"
    );
    check!(
        !text.contains(&key(&hub_signer))
            && !text.contains(&hub_id.to_string())
            && !text.contains(&w.a.hub.to_string()),
        "a hub is in the directory"
    );
    let revoked_member = find_in(
        &dir["members"],
        &["user", "id"],
        &w.a.revoked.id.to_string(),
    );
    check!(
        revoked_member.is_some_and(|m| m["revoked_at"].is_string() && m["role"] == "doctor"),
        "the revoked member is listed as revoked: {dir}"
    );

    // No person reads it, not even the admin; another clinic's hub gets nothing.
    for (who, api) in [("the admin", &admin), ("the doctor", &doctor)] {
        let (status, _) = api.get(&path).await?;
        check!(
            status == StatusCode::FORBIDDEN,
            "{who} reads the directory: {status}"
        );
    }
    let b_admin = server.login_as(&w.b.admin).await?;
    let (hub_b, _) = b_admin
        .register_hub(w.b.id, "B's hub", &server.login_as(&w.b.doctor).await?)
        .await?;
    let (status, _) = hub_b.get(&path).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "B's hub reads A's directory: {status}"
    );
    Ok(())
}

/// An admin's registration alone makes no member: the hub reads clinical records, which an
/// admin may not, so a doctor of the clinic approves it; no one else can.
pub async fn a_hub_reads_nothing_until_a_doctor_approves_it(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (admin, doctor, nurse) = (
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.doctor).await?,
        server.login_as(&w.a.nurse).await?,
    );
    let k = w.a.id;
    let (status, registered) = admin
        .post(
            &format!("/v1/clinics/{k}/hubs"),
            json!({"name": "Back office"}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED,
        "registering: {status} {registered}"
    );
    check!(
        registered["approved_at"].is_null() && registered["registered_by"] == "admin a",
        "a fresh hub is waiting: {registered}"
    );
    // The admin holds no credential of it, and it is no member: nothing reads as it.
    check!(
        registered.get("refresh_token").is_none(),
        "the registering admin got the hub's token: {registered}"
    );
    let hub_id = registered["id"].as_str().unwrap_or_default().to_owned();
    let su = w.db.superuser().await?;
    check!(
        active_memberships(&su, &hub_id).await? == 0,
        "a waiting hub is a member"
    );
    // Neither the admin, nor a nurse, nor another clinic's doctor approves it.
    let approve = format!("/v1/clinics/{k}/hubs/{hub_id}/approve");
    for (who, api, want) in [
        ("the admin", &admin, StatusCode::FORBIDDEN),
        ("a nurse", &nurse, StatusCode::FORBIDDEN),
        (
            "B's doctor",
            &server.login_as(&w.b.doctor).await?,
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, _) = api.post(&approve, Value::Null).await?;
        check!(status == want, "{who} approves: {status}");
    }
    // The doctor does, and the approval hands out the hub's credential, once.
    let (status, approved) = doctor.post(&approve, Value::Null).await?;
    check!(
        status == StatusCode::OK
            && approved["hub"]["approved_by"] == "doctor a"
            && approved["hub"]["approved_at"].is_string()
            && approved["refresh_token"].is_string(),
        "the doctor approves: {status} {approved}"
    );
    let (status, again) = doctor.post(&approve, Value::Null).await?;
    check!(
        status == StatusCode::CONFLICT && again.get("refresh_token").is_none(),
        "approving again hands out another credential: {status} {again}"
    );
    let (status, session) = server
        .client()
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": approved["refresh_token"]}),
        )
        .await?;
    check!(status == StatusCode::OK, "the hub's token: {status}");
    let hub = Api {
        token: session["access_token"].as_str().map(str::to_owned),
        ..server.client()
    };
    let (status, _) = hub.get(&format!("/v1/clinics/{k}/encounters")).await?;
    check!(
        status == StatusCode::OK,
        "the approved hub reads notes: {status}"
    );
    // The doctor sees the clinic's hubs (to approve them), and cannot revoke one.
    let (status, listed) = doctor.get(&format!("/v1/clinics/{k}/hubs")).await?;
    check!(
        status == StatusCode::OK && listed.to_string().contains(&hub_id),
        "the doctor's list: {status} {listed}"
    );
    let (status, _) = doctor
        .delete(&format!("/v1/clinics/{k}/hubs/{hub_id}"))
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "the doctor revokes: {status}"
    );
    // A revoked hub is not approved again.
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/hubs/{hub_id}"))
        .await?;
    check!(status == StatusCode::NO_CONTENT, "revoking: {status}");
    let (status, answer) = doctor.post(&approve, Value::Null).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "approving a revoked hub again: {status} {answer}"
    );
    check!(
        active_memberships(&su, &hub_id).await? == 0,
        "the revoked hub is a member again"
    );
    Ok(())
}

/// A bill issued offline in a PC's own invoice series, relayed by the hub: the series is
/// checked against the device signed into the change, not the hub's, so the bill is booked;
/// one whose device was not signed in is refused through the hub, not kept, and booked when
/// the PC pushes it itself.
pub async fn a_hub_relays_a_bill_of_a_pcs_own_series(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (admin, doctor) = (
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.doctor).await?,
    );
    let k = w.a.id;
    let pc = doctor.with_device("vaidya-pc-a")?;
    let (status, series) = pc
        .post(
            &format!("/v1/clinics/{k}/invoice-series"),
            json!({"partition_id": "a".repeat(32)}),
        )
        .await?;
    check!(status == StatusCode::OK, "allocating: {status} {series}");
    let year = vaidya_shared::numbering::FinancialYear::of(Utc::now()).label();
    let series = format!("{year}-{}", series["code"].as_str().unwrap_or_default());
    let (_, p) = doctor
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Kavya Menon", "sex": "female"}),
        )
        .await?;
    let signer = DeviceSigner::from_secret(w.a.doctor.id, Uuid::now_v7(), [41; 32]);
    register_key(&doctor, &signer).await?;
    let bill = |number: i64, device: Option<&str>| {
        let id = Uuid::now_v7();
        let mut m = Mutation {
            entity: EntityKind::Invoice,
            entity_id: id,
            data: Some(
                json!({"id": id, "patient_id": p["id"], "series": series, "number": number,
                "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1,
                           "unit_price_paise": 50000, "discount_paise": 0, "gst_rate_bp": 0}]}),
            ),
            device: device.map(str::to_owned),
            ..patient_create("")
        };
        signer.sign(k, &mut m);
        m
    };
    let (hub, _) = admin.register_hub(k, "Reception", &doctor).await?;
    let push = format!("/v1/clinics/{k}/sync/push");

    let named = bill(1, Some("vaidya-pc-a"));
    let (status, body) = hub.post(&push, json!({"mutations": [named]})).await?;
    check!(
        status == StatusCode::OK && first(&body).0 == "applied",
        "the PC's bill through the hub: {status} {body}"
    );
    // Another PC's name signed in: refused (the series is pc-a's).
    let other = bill(2, Some("vaidya-pc-b"));
    let (_, body) = hub.post(&push, json!({"mutations": [other]})).await?;
    check!(
        first(&body) == ("rejected".into(), "invalid_field".into()),
        "a bill claimed for another PC: {body}"
    );
    // No device signed in (made before PCs named themselves): refused through the hub, not
    // kept; the PC's own push books it.
    let unnamed = bill(3, None);
    let (_, body) = hub
        .post(&push, json!({"mutations": [unnamed.clone()]}))
        .await?;
    check!(
        first(&body).0 == "rejected",
        "an unnamed bill through the hub: {body}"
    );
    let (_, body) = pc.post(&push, json!({"mutations": [unnamed]})).await?;
    check!(
        first(&body).0 == "applied",
        "the PC pushes its unnamed bill itself: {body}"
    );
    Ok(())
}
