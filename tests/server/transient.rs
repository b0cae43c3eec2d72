//! Transient database errors (deadlocks, serialization failures) are the server's to retry,
//! never a mutation's stored result and never a 409: "only the rules reject".
//!
//! The deadlocks are driven, not hoped for: a third connection (the superuser) holds an
//! uncommitted patient row whose id a push is about to insert, so that push stops exactly
//! there, holding what it took before; the second push is sent once the first is seen
//! waiting in `pg_stat_activity`, and the blocker is rolled back once both wait. Each batch
//! starts with a mutation the rules reject, so the push runs in careful mode (a savepoint per
//! mutation), where a deadlock used to become a stored `version_conflict`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_tests::{Api, Harness, TestDb, TestServer, World};

use crate::check;

fn mutation(entity: &str, id: Uuid, op: &str, data: Option<Value>, changes: Value) -> Value {
    json!({"mutation_id": Uuid::new_v4(), "entity": entity, "entity_id": id, "op": op, "data": data,
           "changes": changes, "made_at": Utc::now()})
}

/// A mutation the rules reject (`invalid_parameter`): it sends the batch to careful mode.
fn refused() -> Value {
    mutation("conflict", Uuid::new_v4(), "create", None, json!({}))
}

fn create_patient(id: Uuid, name: &str) -> Value {
    mutation(
        "patient",
        id,
        "create",
        Some(json!({"name": name, "sex": "female"})),
        json!({}),
    )
}

fn edit(id: Uuid, field: &str, value: &str) -> Value {
    mutation(
        "patient",
        id,
        "update",
        None,
        json!({ field: {"value": value, "base": null} }),
    )
}

/// Push a batch; the HTTP status and the body.
async fn push(api: &Api, clinic: Uuid, body: &Value) -> Result<(StatusCode, Value)> {
    api.post(&format!("/v1/clinics/{clinic}/sync/push"), body.clone())
        .await
}

/// Start an uncommitted patient row with this id (as the superuser, outside RLS): a push
/// that inserts the same id waits on this transaction until it ends.
async fn hold_patient_id(db: &TestDb, clinic: Uuid, id: Uuid) -> Result<tokio_postgres::Client> {
    let c = db.superuser().await?;
    c.batch_execute(&format!(
        "BEGIN; INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex)
         VALUES ('{id}', '{clinic}', 999999, 'Blocker', 'other')"
    ))
    .await?;
    Ok(c)
}

/// Wait until `n` backends of this database wait for a lock.
async fn until_waiting(su: &tokio_postgres::Client, n: i64) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = su
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await?
            .get(0);
        if waiting >= n {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "only {waiting} of {n} transactions reached their lock wait"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every result is `applied`, except the first (the rules' rejection).
fn check_results(what: &str, status: StatusCode, body: &Value, n: usize) -> Result<()> {
    check!(status == StatusCode::OK, "{what}: HTTP {status} {body}");
    let results = body["results"].as_array().context("results")?;
    check!(results.len() == n, "{what}: {body}");
    check!(
        results[0]["outcome"] == "rejected" && results[0]["code"] == "invalid_parameter",
        "{what}: the rules' rejection: {}",
        results[0]
    );
    for r in &results[1..] {
        check!(
            r["outcome"] == "applied",
            "{what}: stranded by a transient error: {r}"
        );
    }
    Ok(())
}

/// No stored result is a transient error (they must never be answered to a retry).
async fn nothing_transient_stored(su: &tokio_postgres::Client, clinic: Uuid) -> Result<()> {
    let rows = su
        .query(
            "SELECT result::text FROM vaidya.sync_mutations
             WHERE clinic_id = $1 AND result->>'code' IN ('version_conflict', 'retry_later', 'internal')",
            &[&clinic],
        )
        .await?;
    let stored: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    check!(
        stored.is_empty(),
        "transient errors stored as results: {stored:?}"
    );
    Ok(())
}

/// The lock order: a push that uploads offline reads takes the audit chain head last, like
/// every other push, so two pushes with crossing reads and creates cannot deadlock.
///
/// Push B creates patient X: it takes the patient counter, then waits on the blocker's X.
/// Push A uploads a read and creates patient Y: it used to take the audit chain head first,
/// then waited on B's counter; B, released, waited on A's chain head: a deadlock.
pub async fn crossing_reads_and_creates_do_not_deadlock(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let k = w.a.id;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    let read = Uuid::new_v4();
    let batch_b = json!({"mutations": [refused(), create_patient(x, "Crossing X")]});
    let batch_a = json!({
        "mutations": [refused(), create_patient(y, "Crossing Y")],
        "local_accesses": [{"access_id": Uuid::now_v7(), "action": "read", "entity": "patient", "entity_ids": [read],
                            "patient_ids": [read], "at": Utc::now()}],
    });

    let su = w.db.superuser().await?;
    let blocker = hold_patient_id(&w.db, k, x).await?;
    let b = tokio::spawn({
        let (api, body) = (desk.clone(), batch_b.clone());
        async move { push(&api, k, &body).await }
    });
    until_waiting(&su, 1).await?;
    let a = tokio::spawn({
        let (api, body) = (doctor.clone(), batch_a.clone());
        async move { push(&api, k, &body).await }
    });
    until_waiting(&su, 2).await?;
    blocker.batch_execute("ROLLBACK").await?;
    let (status_b, body_b) = b.await??;
    let (status_a, body_a) = a.await??;
    check_results("push B", status_b, &body_b, 2)?;
    check_results("push A", status_a, &body_a, 2)?;
    let uploaded: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log r WHERE r.clinic_id = $1 AND $2 = ANY (r.entity_ids)
               AND r.action = 'read' AND r.occurred_at IS NOT NULL
               AND r.seq > (SELECT max(c.seq) FROM vaidya.audit_log c
                            WHERE c.clinic_id = $1 AND c.action = 'create' AND c.request_id = r.request_id)",
            &[&k, &read],
        )
        .await?
        .get(0);
    check!(
        uploaded == 1,
        "the offline read is audited once, after the mutations: {uploaded}"
    );

    // A retry of either batch gets the stored results back, unchanged.
    let (status, again) = push(&desk, k, &batch_b).await?;
    check!(
        status == StatusCode::OK && again["results"] == body_b["results"],
        "retry of B: {status} {again} vs {body_b}"
    );
    let (status, again) = push(&doctor, k, &batch_a).await?;
    check!(
        status == StatusCode::OK && again["results"] == body_a["results"],
        "retry of A: {status} {again} vs {body_a}"
    );
    nothing_transient_stored(&su, k).await?;
    Ok(())
}

/// A deadlock between the mutations of two pushes (crossing row locks, which no lock order
/// can rule out) is retried by the server as a whole transaction; nothing is stored from the
/// failed attempt and every edit applies.
///
/// Push A edits P1, creates Z (waiting on the blocker's Z) and then edits P2; push B edits P2
/// and then P1 (waiting on A). Once the blocker ends, A waits on B's P2: a deadlock.
pub async fn deadlock_between_pushes_is_retried_not_stored(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let k = w.a.id;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (nurse, _) = server
        .client()
        .login(&w.a.nurse.email, &w.a.nurse.password)
        .await?;
    let mut ids = Vec::new();
    for name in ["Row One", "Row Two"] {
        let (status, p) = desk
            .post(
                &format!("/v1/clinics/{k}/patients"),
                json!({"name": name, "sex": "male"}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "{status} {p}");
        ids.push(p["id"].as_str().context("id")?.parse::<Uuid>()?);
    }
    let (p1, p2, z) = (ids[0], ids[1], Uuid::new_v4());
    let batch_a = json!({"mutations": [
        refused(),
        edit(p1, "address", "1 Station Road"),
        create_patient(z, "Between Locks"),
        edit(p2, "address", "2 Station Road"),
    ]});
    let batch_b = json!({"mutations": [
        refused(),
        edit(p2, "phone", "9876543210"),
        edit(p1, "phone", "9876543211"),
    ]});

    let su = w.db.superuser().await?;
    let blocker = hold_patient_id(&w.db, k, z).await?;
    let a = tokio::spawn({
        let (api, body) = (desk.clone(), batch_a.clone());
        async move { push(&api, k, &body).await }
    });
    until_waiting(&su, 1).await?;
    let b = tokio::spawn({
        let (api, body) = (nurse.clone(), batch_b.clone());
        async move { push(&api, k, &body).await }
    });
    until_waiting(&su, 2).await?;
    blocker.batch_execute("ROLLBACK").await?;
    let (status_a, body_a) = a.await??;
    let (status_b, body_b) = b.await??;
    check_results("push A", status_a, &body_a, 4)?;
    check_results("push B", status_b, &body_b, 3)?;

    let (status, again) = push(&nurse, k, &batch_b).await?;
    check!(
        status == StatusCode::OK && again["results"] == body_b["results"],
        "retry of B: {status} {again} vs {body_b}"
    );
    nothing_transient_stored(&su, k).await?;
    for (id, address, phone) in [
        (p1, "1 Station Road", "+919876543211"),
        (p2, "2 Station Road", "+919876543210"),
    ] {
        let (_, p) = desk.get(&format!("/v1/clinics/{k}/patients/{id}")).await?;
        check!(
            p["address"] == address && p["phone"] == phone,
            "both edits of {id} applied: {p}"
        );
    }
    Ok(())
}

/// Serialization failures are injected by a test-only trigger on patients: "Flaky" names
/// fail the first two times (the server's own retries absorb them), "Doomed" names always
/// (the server answers 503 with Retry-After and stores nothing). REST gets the same answer,
/// never a 409.
pub async fn serialization_failure_is_retried_or_503_never_stored(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let su = w.db.superuser().await?;
    su.batch_execute(
        "CREATE SEQUENCE vaidya.test_flaky;
         CREATE FUNCTION vaidya.test_serialization_failure() RETURNS trigger
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
         BEGIN
             IF NEW.name LIKE 'Doomed%'
                OR (NEW.name LIKE 'Flaky%' AND nextval('vaidya.test_flaky') <= 2) THEN
                 RAISE EXCEPTION 'injected' USING ERRCODE = 'serialization_failure';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER test_serialization_failure BEFORE INSERT ON vaidya.patients
             FOR EACH ROW EXECUTE FUNCTION vaidya.test_serialization_failure();",
    )
    .await?;

    // Twice a serialization failure, then it goes through: the server retried by itself.
    let flaky = json!({"mutations": [refused(), create_patient(Uuid::new_v4(), "Flaky Fatima")]});
    let (status, body) = push(&desk, k, &flaky).await?;
    check_results("flaky push", status, &body, 2)?;

    // Always failing: 503 with Retry-After and a stable code; nothing stored.
    let doomed_id = Uuid::new_v4();
    let doomed = create_patient(doomed_id, "Doomed Devi");
    let mutation_id: Uuid = doomed["mutation_id"]
        .as_str()
        .context("mutation id")?
        .parse()?;
    let doomed_batch = json!({"mutations": [refused(), doomed]});
    for path in [
        format!("/v1/clinics/{k}/sync/push"),
        format!("/v1/clinics/{k}/patients"),
    ] {
        let body = if path.ends_with("push") {
            doomed_batch.clone()
        } else {
            json!({"name": "Doomed Rest", "sex": "female"})
        };
        let resp = desk
            .http
            .post(format!("{}{path}", desk.base))
            .bearer_auth(desk.token.as_deref().context("token")?)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        check!(
            status == StatusCode::SERVICE_UNAVAILABLE && answer["code"] == "retry_later",
            "{path}: a transient failure is 503 retry_later, got {status} {answer}"
        );
        check!(
            matches!(retry_after, Some(1..=60)),
            "{path}: Retry-After in seconds: {retry_after:?}"
        );
    }
    let stored: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.sync_mutations WHERE clinic_id = $1 AND mutation_id = $2",
            &[&k, &mutation_id],
        )
        .await?
        .get(0);
    check!(stored == 0, "a transient failure was stored as the result");
    nothing_transient_stored(&su, k).await?;

    // Once the cause is gone, the same batch applies.
    su.batch_execute("DROP TRIGGER test_serialization_failure ON vaidya.patients")
        .await?;
    let (status, body) = push(&desk, k, &doomed_batch).await?;
    check_results("retried push", status, &body, 2)?;
    let (status, p) = desk
        .get(&format!("/v1/clinics/{k}/patients/{doomed_id}"))
        .await?;
    check!(status == StatusCode::OK, "the patient exists: {status} {p}");
    Ok(())
}
