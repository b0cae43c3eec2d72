//! The audit trail: reads, lists and denials leave rows; tampering is caught by the chain
//! verifier; the app role can only append.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use vaidya_server::audit_chain;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn reads_and_denials_are_audited(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let s = crate::isolation::seed(&w.db.superuser().await?, &w.a).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let anon = server.client();
    let (doctor, _) = anon.login(&w.a.doctor.email, &w.a.doctor.password).await?;
    let (desk, _) = anon.login(&w.a.desk.email, &w.a.desk.password).await?;
    let (nurse, _) = anon.login(&w.a.nurse.email, &w.a.nurse.password).await?;
    let (admin, _) = anon.login(&w.a.admin.email, &w.a.admin.password).await?;
    let (other, _) = anon.login(&w.b.admin.email, &w.b.admin.password).await?;
    let k = w.a.id;
    let p = s.patient;

    // Every endpoint that reads patient data, and what it must leave.
    let reads = [
        (
            &desk,
            format!("/v1/clinics/{k}/patients/{p}"),
            "read",
            "patient",
            w.a.desk.id,
        ),
        (
            &desk,
            format!("/v1/clinics/{k}/patients?q=seed"),
            "list",
            "patient",
            w.a.desk.id,
        ),
        (
            &desk,
            format!("/v1/clinics/{k}/appointments/{}", s.appointment),
            "read",
            "appointment",
            w.a.desk.id,
        ),
        (
            &desk,
            format!("/v1/clinics/{k}/appointments?patient_id={p}"),
            "list",
            "appointment",
            w.a.desk.id,
        ),
        (
            &doctor,
            format!("/v1/clinics/{k}/encounters/{}", s.encounter),
            "read",
            "encounter",
            w.a.doctor.id,
        ),
        (
            &doctor,
            format!("/v1/clinics/{k}/encounters?patient_id={p}"),
            "list",
            "encounter",
            w.a.doctor.id,
        ),
        (
            &doctor,
            format!("/v1/clinics/{k}/prescriptions/{}", s.prescription),
            "read",
            "prescription",
            w.a.doctor.id,
        ),
        (
            &doctor,
            format!("/v1/clinics/{k}/prescriptions?patient_id={p}"),
            "list",
            "prescription",
            w.a.doctor.id,
        ),
        (
            &desk,
            format!("/v1/clinics/{k}/invoices/{}", s.invoice),
            "read",
            "invoice",
            w.a.desk.id,
        ),
        (
            &desk,
            format!("/v1/clinics/{k}/invoices?patient_id={p}"),
            "list",
            "invoice",
            w.a.desk.id,
        ),
    ];
    for (client, path, _, _, _) in &reads {
        let (status, body) = client.get(path).await?;
        check!(status == StatusCode::OK, "GET {path}: {status} {body}");
    }
    // Denied: a nurse opening an invoice (wrong role), and another clinic's admin.
    let (status, _) = nurse
        .get(&format!("/v1/clinics/{k}/invoices/{}", s.invoice))
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "nurse reading invoice: {status}"
    );
    let (status, _) = other.get(&format!("/v1/clinics/{k}/patients/{p}")).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "other clinic reading patient: {status}"
    );

    // "Who viewed this patient": the admin's filtered view.
    let (status, body) = admin
        .get(&format!("/v1/clinics/{k}/audit?patient_id={p}&limit=200"))
        .await?;
    check!(status == StatusCode::OK, "audit list: {status} {body}");
    let entries = body["items"].as_array().cloned().unwrap_or_default();
    for (_, path, action, entity, actor) in &reads {
        let found = entries.iter().any(|e| {
            e["action"] == *action
                && e["entity_type"] == *entity
                && e["actor_id"] == actor.to_string()
                && e["patient_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i == &json!(p)))
        });
        check!(found, "no {action} {entity} audit row for GET {path}");
    }
    // Audit rows carry ids only, never patient data values.
    check!(
        !body.to_string().contains("Seed Patient"),
        "audit rows contain patient data"
    );

    let (_, denied) = admin
        .get(&format!("/v1/clinics/{k}/audit?action=denied"))
        .await?;
    let denied = denied["items"].as_array().cloned().unwrap_or_default();
    check!(
        denied
            .iter()
            .any(|e| e["actor_id"] == w.a.nurse.id.to_string() && e["entity_type"] == "invoice"),
        "nurse's denial not audited: {denied:?}"
    );
    check!(
        denied
            .iter()
            .any(|e| e["actor_id"] == w.b.admin.id.to_string() && e["entity_type"] == "patient"),
        "other clinic's denial not audited: {denied:?}"
    );
    // Filters by user and time range work.
    let (_, mine) = admin
        .get(&format!("/v1/clinics/{k}/audit?user_id={}", w.a.doctor.id))
        .await?;
    check!(
        mine["items"].as_array().is_some_and(
            |v| !v.is_empty() && v.iter().all(|e| e["actor_id"] == w.a.doctor.id.to_string())
        ),
        "user filter: {mine}"
    );
    let (_, none) = admin
        .get(&format!("/v1/clinics/{k}/audit?to=2000-01-01T00:00:00Z"))
        .await?;
    check!(
        none["items"].as_array().is_some_and(|v| v.is_empty()),
        "time filter: {none}"
    );

    // The chain of all this is intact.
    let su = w.db.superuser().await?;
    let report = audit_chain::verify(&su).await?;
    check!(
        report.broken.is_empty() && report.rows > 20,
        "chain: {report:?}"
    );
    Ok(())
}

pub async fn tampering_is_detected(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    for i in 0..6 {
        desk.post(
            &format!("/v1/clinics/{}/patients", w.a.id),
            json!({"name": format!("P{i}"), "sex": "other"}),
        )
        .await?;
    }
    let su = w.db.superuser().await?;
    check!(
        audit_chain::verify(&su).await?.broken.is_empty(),
        "chain broken before tampering"
    );

    // Even a superuser must first disable the guard trigger to edit the log.
    let guarded = su
        .execute(
            "UPDATE vaidya.audit_log SET action = 'list' WHERE clinic_id = $1 AND seq = 3",
            &[&w.a.id],
        )
        .await;
    check!(guarded.is_err(), "guard trigger let an UPDATE through");
    su.batch_execute("ALTER TABLE vaidya.audit_log DISABLE TRIGGER audit_append_only")
        .await?;

    // Rewrite who did something in row 9 (one of the desk's patient creations).
    su.execute(
        "UPDATE vaidya.audit_log SET actor_id = $2 WHERE clinic_id = $1 AND seq = 9",
        &[&w.a.id, &w.a.admin.id],
    )
    .await?;
    let report = audit_chain::verify(&su).await?;
    let broken = report.broken.iter().find(|b| b.clinic_id == w.a.id);
    check!(
        broken.is_some_and(|b| b.seq == 9),
        "edited row 9 not named: {report:?}"
    );
    check!(
        report.broken.iter().all(|b| b.clinic_id == w.a.id),
        "clinic B's chain reported broken: {report:?}"
    );

    // A deleted row is named too (restore row 4 first by recomputing nothing: use a fresh db).
    let w2 = World::create(&h).await?;
    let server2 = TestServer::spawn(&w2.db, 2).await?;
    let (desk2, _) = server2
        .client()
        .login(&w2.a.desk.email, &w2.a.desk.password)
        .await?;
    for i in 0..4 {
        desk2
            .post(
                &format!("/v1/clinics/{}/patients", w2.a.id),
                json!({"name": format!("Q{i}"), "sex": "other"}),
            )
            .await?;
    }
    let su2 = w2.db.superuser().await?;
    su2.batch_execute("ALTER TABLE vaidya.audit_log DISABLE TRIGGER audit_append_only")
        .await?;
    su2.execute(
        "DELETE FROM vaidya.audit_log WHERE clinic_id = $1 AND seq = 2",
        &[&w2.a.id],
    )
    .await?;
    let report = audit_chain::verify(&su2).await?;
    check!(
        report
            .broken
            .iter()
            .any(|b| b.clinic_id == w2.a.id && b.seq == 2),
        "deleted row 2 not named: {report:?}"
    );
    // Removing the tail is caught by the chain head.
    su2.execute(
        "DELETE FROM vaidya.audit_log WHERE clinic_id = $1 AND seq >= 2",
        &[&w2.a.id],
    )
    .await?;
    let report = audit_chain::verify(&su2).await?;
    check!(
        report.broken.iter().any(|b| b.clinic_id == w2.a.id),
        "truncated tail not detected: {report:?}"
    );
    Ok(())
}

pub async fn audit_log_is_append_only_for_app_role(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    crate::isolation::seed(&w.db.superuser().await?, &w.a).await?;
    let app = w.db.app().await?;
    app.batch_execute(&format!(
        "BEGIN; SELECT set_config('app.user_id', '{}', true)",
        w.a.admin.id
    ))
    .await?;
    let n: i64 = app
        .query_one("SELECT count(*) FROM vaidya.audit_log", &[])
        .await?
        .get(0);
    check!(n > 0, "admin should read the log");
    app.batch_execute("ROLLBACK").await?;
    for sql in [
        "UPDATE vaidya.audit_log SET action = 'read'",
        "DELETE FROM vaidya.audit_log",
        "TRUNCATE vaidya.audit_log",
        "UPDATE vaidya.audit_chain_heads SET seq = 0",
        "ALTER TABLE vaidya.audit_log DISABLE TRIGGER audit_append_only",
        "ALTER TABLE vaidya.patients NO FORCE ROW LEVEL SECURITY",
        "CREATE TABLE vaidya.x (id int)",
        "CREATE TEMP TABLE x (id int)",
    ] {
        app.batch_execute(&format!(
            "BEGIN; SELECT set_config('app.user_id', '{}', true)",
            w.a.admin.id
        ))
        .await?;
        let r = app.batch_execute(sql).await;
        app.batch_execute("ROLLBACK").await?;
        check!(r.is_err(), "the app role could run `{sql}`");
    }
    Ok(())
}

/// A device may upload only the accesses it makes itself (reads, lists, prints, discards);
/// a forged "login" or "denied" record is refused and nothing of the push is written.
pub async fn devices_cannot_upload_server_records(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    let k = w.a.id;
    let patient = uuid::Uuid::now_v7();
    for action in ["login", "denied", "create", "export"] {
        let (status, body) = desk
            .post(
                &format!("/v1/clinics/{k}/sync/push"),
                json!({
                    "mutations": [{"mutation_id": uuid::Uuid::now_v7(), "entity": "patient", "entity_id": patient,
                                   "op": "create", "data": {"name": "Forged Day", "sex": "female"},
                                   "made_at": "2026-06-15T05:00:00Z"}],
                    "local_accesses": [{"access_id": uuid::Uuid::now_v7(), "action": action, "entity": "patient", "entity_ids": [patient],
                                        "patient_ids": [patient], "at": "2026-06-15T05:00:00Z"}],
                }),
            )
            .await?;
        check!(
            status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "local_accesses",
            "a device's {action} record: {status} {body}"
        );
    }
    let (_, found) = admin
        .get(&format!("/v1/clinics/{k}/patients?q=Forged"))
        .await?;
    check!(
        found["items"].as_array().map(Vec::len) == Some(0),
        "the refused push wrote its patient: {found}"
    );
    let (_, audit) = admin
        .get(&format!("/v1/clinics/{k}/audit?patient_id={patient}"))
        .await?;
    check!(
        audit["items"].as_array().map(Vec::len) == Some(0),
        "the forged records reached the audit trail: {audit}"
    );
    Ok(())
}

/// The audit trail belongs to real clinics and their members: a user of clinic A cannot
/// append to clinic B's chain (nor learn its length), may leave only a bare `denied` row
/// there, and a request naming a clinic that does not exist opens no chain at all. An
/// offline access a device uploads never names another clinic's patient.
pub async fn audit_chains_belong_to_real_clinics_and_their_members(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    crate::isolation::seed(&su, &w.a).await?;
    crate::isolation::seed(&su, &w.b).await?;
    let b_patient: Uuid = su
        .query_one(
            "SELECT id FROM vaidya.patients WHERE clinic_id = $1 LIMIT 1",
            &[&w.b.id],
        )
        .await?
        .get(0);
    let heads = |clinic: Uuid| {
        let su = &su;
        async move {
            let row = su
                .query_opt(
                    "SELECT seq FROM vaidya.audit_chain_heads WHERE clinic_id = $1",
                    &[&clinic],
                )
                .await?;
            Ok::<_, anyhow::Error>(row.map(|r| r.get::<_, i64>(0)))
        }
    };
    let b_before = heads(w.b.id).await?;

    // As the app role, identified as clinic A's doctor.
    let app = w.db.app().await?;
    let as_a_doctor = format!(
        "BEGIN; SELECT set_config('app.user_id', '{}', true)",
        w.a.doctor.id
    );
    app.batch_execute(&as_a_doctor).await?;
    let forged = app
        .query_one(
            "SELECT vaidya.audit_append($1, 'read', 'patient', ARRAY[$2::uuid], ARRAY[$2::uuid])",
            &[&w.b.id, &b_patient],
        )
        .await;
    app.batch_execute("ROLLBACK").await?;
    check!(
        forged.is_err(),
        "a member of A appended a read to B's chain"
    );
    app.batch_execute(&as_a_doctor).await?;
    let answer: Option<i64> = app
        .query_one(
            "SELECT vaidya.audit_append($1, 'denied', 'patient', ARRAY[$2::uuid], ARRAY[$2::uuid])",
            &[&w.b.id, &b_patient],
        )
        .await?
        .get(0);
    app.batch_execute("COMMIT").await?;
    check!(
        answer.is_none(),
        "a non-member learnt B's chain length: {answer:?}"
    );
    let denied = su
        .query_one(
            "SELECT actor_id, cardinality(entity_ids), cardinality(patient_ids)
             FROM vaidya.audit_log WHERE clinic_id = $1 ORDER BY seq DESC LIMIT 1",
            &[&w.b.id],
        )
        .await?;
    check!(
        denied.get::<_, Option<Uuid>>(0) == Some(w.a.doctor.id)
            && denied.get::<_, i32>(1) == 0
            && denied.get::<_, i32>(2) == 0,
        "the denial in B's trail is bare (no ids a stranger chose)"
    );
    check!(
        heads(w.b.id).await? == b_before.map(|s| s + 1).or(Some(1)),
        "exactly one row was added to B's chain"
    );

    // A clinic that does not exist: nothing recorded, over SQL and over HTTP.
    let ghost = Uuid::new_v4();
    app.batch_execute(&as_a_doctor).await?;
    let answer: Option<i64> = app
        .query_one(
            "SELECT vaidya.audit_append($1, 'denied', 'patient', '{}', '{}')",
            &[&ghost],
        )
        .await?
        .get(0);
    app.batch_execute("COMMIT").await?;
    check!(answer.is_none(), "a made-up clinic answered {answer:?}");
    let server = TestServer::spawn(&w.db, 2).await?;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    for _ in 0..3 {
        let (status, _) = doctor
            .get(&format!("/v1/clinics/{}/patients", Uuid::new_v4()))
            .await?;
        check!(
            status == StatusCode::NOT_FOUND,
            "a made-up clinic: {status}"
        );
    }
    let orphans: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.audit_chain_heads h
             WHERE NOT EXISTS (SELECT 1 FROM vaidya.clinics c WHERE c.id = h.clinic_id)",
            &[],
        )
        .await?
        .get(0);
    check!(
        orphans == 0,
        "{orphans} audit chains of clinics that do not exist"
    );

    // An uploaded offline read naming B's patient: A's trail keeps only A's patients.
    let a_patient: Uuid = su
        .query_one(
            "SELECT id FROM vaidya.patients WHERE clinic_id = $1 LIMIT 1",
            &[&w.a.id],
        )
        .await?
        .get(0);
    let (status, body) = doctor
        .post(
            &format!("/v1/clinics/{}/sync/push", w.a.id),
            json!({"mutations": [], "local_accesses": [{"access_id": Uuid::now_v7(), "action": "read", "entity": "patient",
                "entity_ids": [a_patient, b_patient], "patient_ids": [a_patient, b_patient],
                "at": "2026-06-15T05:00:00Z"}]}),
        )
        .await?;
    check!(status == StatusCode::OK, "push: {status} {body}");
    let named: Vec<Uuid> = su
        .query_one(
            "SELECT patient_ids FROM vaidya.audit_log
             WHERE clinic_id = $1 AND action = 'read' ORDER BY seq DESC LIMIT 1",
            &[&w.a.id],
        )
        .await?
        .get(0);
    check!(
        named == vec![a_patient],
        "A's trail names only A's patient: {named:?}"
    );
    check!(
        audit_chain::verify(&su).await?.broken.is_empty(),
        "every chain still verifies"
    );
    Ok(())
}
