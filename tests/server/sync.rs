//! The sync protocol on the server: idempotent push, per-mutation results, clinical merge
//! rules, commit-safe pull (including the out-of-order commit race), live notifications, and
//! the same isolation and audit as REST.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_shared::compact_pull::{CompactPullResponse, PullFormat};
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

pub(crate) fn mutation(
    entity: &str,
    id: Uuid,
    op: &str,
    data: Option<Value>,
    changes: Value,
) -> Value {
    json!({"mutation_id": Uuid::new_v4(), "entity": entity, "entity_id": id, "op": op, "data": data,
           "changes": changes, "made_at": Utc::now()})
}

pub(crate) async fn push(api: &Api, clinic: Uuid, mutations: Vec<Value>) -> Result<Vec<Value>> {
    let (status, body) = api
        .post(
            &format!("/v1/clinics/{clinic}/sync/push"),
            json!({"mutations": mutations}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "push: {status} {body}");
    Ok(body["results"].as_array().cloned().unwrap_or_default())
}

/// Pulls everything after `cursor` (returns the changes and the new cursor), to the end of
/// what the feed hands out now (`settling` changes are not waited for).
async fn pull_all(api: &Api, clinic: Uuid, cursor: Option<String>) -> Result<(Vec<Value>, String)> {
    pull(api, clinic, cursor, false).await
}

/// Pulls to the end of the feed as a client does: while the server says changes are
/// `settling` (held back by an older transaction — the suite's other tests share the
/// cluster), it pulls again shortly.
async fn pull_settled(
    api: &Api,
    clinic: Uuid,
    cursor: Option<String>,
) -> Result<(Vec<Value>, String)> {
    pull(api, clinic, cursor, true).await
}

/// The whole feed in the compact layout, pages of 2 as `pull` takes them, expanded into
/// the verbose changes (as JSON values, to compare with `pull`'s).
async fn pull_compact(api: &Api, clinic: Uuid) -> Result<Vec<Value>> {
    Ok(pull_as(api, clinic, None, true, PullFormat::Compact)
        .await?
        .0)
}

async fn pull(
    api: &Api,
    clinic: Uuid,
    cursor: Option<String>,
    until_settled: bool,
) -> Result<(Vec<Value>, String)> {
    pull_as(api, clinic, cursor, until_settled, PullFormat::Changes).await
}

async fn pull_as(
    api: &Api,
    clinic: Uuid,
    mut cursor: Option<String>,
    until_settled: bool,
    format: PullFormat,
) -> Result<(Vec<Value>, String)> {
    let layout = match format {
        PullFormat::Changes => "",
        PullFormat::Compact => "&format=compact",
    };
    let mut all = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("?cursor={c}&limit=2{layout}"))
            .unwrap_or_else(|| format!("?limit=2{layout}"));
        let (status, body) = api
            .get(&format!("/v1/clinics/{clinic}/sync/pull{q}"))
            .await?;
        anyhow::ensure!(status == StatusCode::OK, "pull: {status} {body}");
        let body = match format {
            PullFormat::Changes => body,
            PullFormat::Compact => serde_json::to_value(
                serde_json::from_value::<CompactPullResponse>(body)?.into_page(clinic)?,
            )?,
        };
        all.extend(body["changes"].as_array().cloned().unwrap_or_default());
        cursor = body["cursor"].as_str().map(str::to_string);
        if until_settled && body["settling"] == true && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        if body["has_more"] != true {
            return Ok((all, cursor.unwrap_or_default()));
        }
    }
}

pub async fn push_is_idempotent_with_per_mutation_results(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let k = w.a.id;
    let (p1, p2) = (Uuid::new_v4(), Uuid::new_v4());
    let batch = vec![
        mutation(
            "patient",
            p1,
            "create",
            Some(json!({"name": "Offline One", "sex": "female"})),
            json!({}),
        ),
        mutation(
            "patient",
            Uuid::new_v4(),
            "create",
            Some(json!({"name": "", "sex": "female"})),
            json!({}),
        ),
        mutation(
            "encounter",
            Uuid::new_v4(),
            "create",
            Some(json!({"patient_id": p1})),
            json!({}),
        ),
        mutation(
            "patient",
            p2,
            "create",
            Some(json!({"name": "Offline Two", "sex": "male", "phone": "98765 43210"})),
            json!({}),
        ),
    ];
    let first = push(&desk, k, batch.clone()).await?;
    check!(
        first[0]["outcome"] == "applied" && first[3]["outcome"] == "applied",
        "good ones applied: {first:?}"
    );
    check!(
        first[1]["outcome"] == "rejected" && first[1]["code"] == "invalid_field",
        "bad one rejected: {}",
        first[1]
    );
    check!(
        first[2]["outcome"] == "rejected" && first[2]["code"] == "forbidden",
        "front desk encounter rejected: {}",
        first[2]
    );
    let again = push(&desk, k, batch).await?;
    check!(
        again == first,
        "a retried batch got different results: {again:?}"
    );
    let su = w.db.superuser().await?;
    let n: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.patients WHERE clinic_id = $1",
            &[&k],
        )
        .await?
        .get(0);
    check!(n == 2, "patients after a retried batch: {n}");
    let denied: i64 = su
        .query_one("SELECT count(*) FROM vaidya.audit_log WHERE clinic_id = $1 AND action = 'denied' AND entity_type = 'encounter'", &[&k])
        .await?
        .get(0);
    check!(denied == 1, "denied mutation audited {denied} times");
    Ok(())
}

pub async fn merge_rules(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    let k = w.a.id;
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Ravi", "sex": "male", "address": "Old Street"}),
        )
        .await?;
    let pid: Uuid = p["id"].as_str().unwrap_or_default().parse()?;

    // Two devices edited offline from the same base: different fields merge, the same field
    // keeps the first value to reach the server and records the other.
    let a = push(&desk, k, vec![mutation("patient", pid, "update", None, json!({
        "phone": {"value": "+919811111111", "base": null}, "address": {"value": "New Street", "base": "Old Street"}}))]).await?;
    check!(
        a[0]["outcome"] == "applied" && a[0]["conflicts"].as_array().is_some_and(|c| c.is_empty()),
        "first device: {a:?}"
    );
    let b = push(&doctor, k, vec![mutation("patient", pid, "update", None, json!({
        "name": {"value": "Ravi Kumar", "base": "Ravi"}, "address": {"value": "Other Street", "base": "Old Street"}}))]).await?;
    check!(b[0]["outcome"] == "applied", "second device: {b:?}");
    check!(
        b[0]["conflicts"][0]["field"] == "address"
            && b[0]["conflicts"][0]["server_value"] == "New Street"
            && b[0]["conflicts"][0]["client_value"] == "Other Street",
        "same-field conflict: {b:?}"
    );
    let (_, now) = desk.get(&format!("/v1/clinics/{k}/patients/{pid}")).await?;
    check!(
        now["name"] == "Ravi Kumar"
            && now["address"] == "New Street"
            && now["phone"] == "+919811111111",
        "merged patient: {now}"
    );
    let (_, inbox) = desk.get(&format!("/v1/clinics/{k}/conflicts")).await?;
    let conflict = inbox["items"]
        .as_array()
        .and_then(|i| i.iter().find(|c| c["field"] == "address"))
        .cloned()
        .unwrap_or_default();
    check!(conflict["kind"] == "same_field", "inbox: {inbox}");
    // A person resolves it in favour of the device's value.
    let (status, resolved) = desk
        .post(
            &format!(
                "/v1/clinics/{k}/conflicts/{}/resolve",
                conflict["id"].as_str().unwrap_or_default()
            ),
            json!({"resolution": "use_client"}),
        )
        .await?;
    check!(
        status == StatusCode::OK && resolved["resolved_at"].is_string(),
        "resolve: {status} {resolved}"
    );
    let (_, now) = desk.get(&format!("/v1/clinics/{k}/patients/{pid}")).await?;
    check!(
        now["address"] == "Other Street",
        "resolved value applied: {now}"
    );

    // Taking a device's value is an edit of the record: an allergy's conflict is seen by
    // every member (allergies are), but only a clinician may take its value.
    let (status, allergy) = doctor
        .post(
            &format!("/v1/clinics/{k}/allergies"),
            json!({"patient_id": pid, "substance": "Amoxicillin", "reaction": "Hives", "severity": "severe"}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "allergy: {status} {allergy}");
    let aid: Uuid = allergy["id"].as_str().unwrap_or_default().parse()?;
    let reaction = |value: &str| {
        mutation(
            "allergy",
            aid,
            "update",
            None,
            json!({"reaction": {"value": value, "base": "Hives"}}),
        )
    };
    push(&doctor, k, vec![reaction("Rash")]).await?;
    let r = push(&doctor, k, vec![reaction("Swelling of the lips")]).await?;
    check!(
        r[0]["conflicts"][0]["field"] == "reaction",
        "allergy conflict: {r:?}"
    );
    let (_, inbox) = desk.get(&format!("/v1/clinics/{k}/conflicts")).await?;
    let allergy_conflict = inbox["items"]
        .as_array()
        .and_then(|i| i.iter().find(|c| c["entity"] == "allergy"))
        .and_then(|c| c["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let resolve = format!("/v1/clinics/{k}/conflicts/{allergy_conflict}/resolve");
    let take = json!({"resolution": "use_client"});
    let (status, body) = desk.post(&resolve, take.clone()).await?;
    check!(
        status == StatusCode::FORBIDDEN && body["code"] == "forbidden",
        "the desk taking an allergy's value: {status} {body}"
    );
    let (_, still) = doctor
        .get(&format!("/v1/clinics/{k}/allergies/{aid}"))
        .await?;
    check!(
        still["reaction"] == "Rash",
        "refused, nothing changed: {still}"
    );
    let (status, _) = doctor.post(&resolve, take).await?;
    check!(status == StatusCode::OK, "the doctor takes it: {status}");
    let (_, taken) = doctor
        .get(&format!("/v1/clinics/{k}/allergies/{aid}"))
        .await?;
    check!(
        taken["reaction"] == "Swelling of the lips",
        "the device's value applied: {taken}"
    );

    // Deleted on the server, edited offline: a conflict, and the patient stays deleted.
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/patients/{pid}"))
        .await?;
    check!(status == StatusCode::NO_CONTENT, "delete: {status}");
    let r = push(
        &desk,
        k,
        vec![mutation(
            "patient",
            pid,
            "update",
            None,
            json!({"name": {"value": "Ravi K", "base": "Ravi Kumar"}}),
        )],
    )
    .await?;
    check!(
        r[0]["outcome"] == "conflict" && r[0]["kind"] == "deleted",
        "edit of deleted: {r:?}"
    );
    let (status, _) = desk.get(&format!("/v1/clinics/{k}/patients/{pid}")).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "deleted patient resurrected: {status}"
    );

    // A signed note edited offline becomes an addendum.
    let (_, p2) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Sita", "sex": "female"}),
        )
        .await?;
    let (_, e) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters"),
            json!({"patient_id": p2["id"], "notes": "Cough"}),
        )
        .await?;
    let eid: Uuid = e["id"].as_str().unwrap_or_default().parse()?;
    doctor
        .post(&format!("/v1/clinics/{k}/encounters/{eid}/sign"), json!({}))
        .await?;
    let r = push(
        &doctor,
        k,
        vec![mutation(
            "encounter",
            eid,
            "update",
            None,
            json!({"notes": {"value": "Cough, 3 days", "base": "Cough"}}),
        )],
    )
    .await?;
    check!(
        r[0]["outcome"] == "applied" && r[0]["addendum_id"].is_string(),
        "signed edit: {r:?}"
    );
    let (_, e) = doctor
        .get(&format!("/v1/clinics/{k}/encounters/{eid}"))
        .await?;
    check!(
        e["notes"] == "Cough"
            && e["addenda"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Cough, 3 days")),
        "addendum: {e}"
    );

    // A note written and signed offline: one mutation edits and signs; only doctors may sign.
    let (_, draft) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters"),
            json!({"patient_id": p2["id"], "notes": "Fever"}),
        )
        .await?;
    let did: Uuid = draft["id"].as_str().unwrap_or_default().parse()?;
    let (nurse, _) = server
        .client()
        .login(&w.a.nurse.email, &w.a.nurse.password)
        .await?;
    let r = push(
        &nurse,
        k,
        vec![mutation(
            "encounter",
            did,
            "update",
            None,
            json!({"sign": {"value": true, "base": false}}),
        )],
    )
    .await?;
    check!(
        r[0]["outcome"] == "rejected" && r[0]["code"] == "forbidden",
        "nurse signing via sync: {r:?}"
    );
    let r = push(
        &doctor,
        k,
        vec![mutation(
            "encounter",
            did,
            "update",
            None,
            json!({
        "diagnosis": {"value": "Viral fever", "base": ""}, "sign": {"value": true, "base": false}}),
        )],
    )
    .await?;
    check!(r[0]["outcome"] == "applied", "offline sign: {r:?}");
    let (_, signed) = doctor
        .get(&format!("/v1/clinics/{k}/encounters/{did}"))
        .await?;
    check!(
        signed["signed_by"] == w.a.doctor.id.to_string() && signed["diagnosis"] == "Viral fever",
        "signed offline: {signed}"
    );

    // Two desks book the same doctor's slot offline: both kept, flagged.
    let start = Utc::now() + chrono::Duration::days(2);
    let booking = |id: Uuid| {
        mutation(
            "appointment",
            id,
            "create",
            Some(json!({"patient_id": p2["id"], "doctor_id": w.a.doctor.id,
        "starts_at": start, "ends_at": start + chrono::Duration::minutes(15)})),
            json!({}),
        )
    };
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    push(&desk, k, vec![booking(x)]).await?;
    let r = push(&admin, k, vec![booking(y)]).await?;
    check!(
        r[0]["outcome"] == "applied" && r[0]["conflicts"][0]["server_value"][0] == x.to_string(),
        "double booking: {r:?}"
    );
    let (_, inbox) = desk.get(&format!("/v1/clinics/{k}/conflicts")).await?;
    check!(
        inbox["items"].as_array().is_some_and(|i| i
            .iter()
            .any(|c| c["kind"] == "double_booking" && c["entity_id"] == y.to_string())),
        "double booking in inbox: {inbox}"
    );

    // Device series: each device numbers its own invoices; a clash is refused.
    let inv = |id: Uuid, n: i64| {
        mutation(
            "invoice",
            id,
            "create",
            Some(
                json!({"patient_id": p2["id"], "series": "D1A2B3C", "number": n,
        "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 30000, "gst_rate_bp": 0}]}),
            ),
            json!({}),
        )
    };
    let r = push(
        &desk,
        k,
        vec![
            inv(Uuid::new_v4(), 1),
            inv(Uuid::new_v4(), 2),
            inv(Uuid::new_v4(), 2),
        ],
    )
    .await?;
    check!(
        r[0]["outcome"] == "applied"
            && r[1]["outcome"] == "applied"
            && r[2]["code"] == "already_exists",
        "device series: {r:?}"
    );
    Ok(())
}

/// Transaction T1 writes first but commits last; T2 writes later and commits first. A pull
/// between the commits must not move its cursor past T1's row, or T1's row would be lost.
pub async fn pull_never_skips_out_of_order_commits(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let k = w.a.id;
    let (before, cursor) = pull_all(&desk, k, None).await?;
    check!(before.is_empty(), "fresh clinic pulled {before:?}");

    let t1 = w.db.app().await?;
    let t2 = w.db.app().await?;
    let insert = |name: &str| {
        format!(
        "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex) VALUES ('{}', '{k}', {}, '{name}', 'other')",
        Uuid::new_v4(), rand::random::<u32>() % 1_000_000 + 1)
    };
    t1.batch_execute(&format!(
        "BEGIN; SELECT set_config('app.user_id', '{}', true); {}",
        w.a.desk.id,
        insert("T1")
    ))
    .await?;
    t2.batch_execute(&format!(
        "BEGIN; SELECT set_config('app.user_id', '{}', true); {}; COMMIT",
        w.a.desk.id,
        insert("T2")
    ))
    .await?;

    let (mid, mid_cursor) = pull_all(&desk, k, Some(cursor.clone())).await?;
    check!(
        mid.is_empty(),
        "handed out T2 while T1 (older) is still open: {mid:?}"
    );
    let (_, body) = desk
        .get(&format!("/v1/clinics/{k}/sync/pull?cursor={mid_cursor}"))
        .await?;
    check!(
        body["settling"] == true,
        "the held-back change is not announced: {body}"
    );
    t1.batch_execute("COMMIT").await?;
    // Other tests' transactions on this cluster may hold the horizon back for a moment
    // (the server says so with `settling`); the rows come once they end, never skipped.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut after = Vec::new();
    let mut cursor = mid_cursor;
    while after.len() < 2 && std::time::Instant::now() < deadline {
        let (more, next) = pull_all(&desk, k, Some(cursor)).await?;
        after.extend(more);
        cursor = next;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let names: Vec<&str> = after
        .iter()
        .filter_map(|c| c["data"]["name"].as_str())
        .collect();
    check!(
        names == ["T1", "T2"],
        "after both commits, in commit-safe order: {names:?}"
    );
    Ok(())
}

pub async fn pull_pages_tombstones_roles_and_audit(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let s = crate::isolation::seed(&w.db.superuser().await?, &w.a).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    let k = w.a.id;
    let (status, first) = doctor.get(&format!("/v1/clinics/{k}/sync/pull")).await?;
    check!(
        status == StatusCode::OK && first["estimated_total"].as_i64().is_some_and(|n| n >= 5),
        "initial pull: {status} {first}"
    );
    let (all, cursor) = pull_settled(&doctor, k, None).await?;
    // The compact layout carries the very same changes, in the same order.
    let compact = pull_compact(&doctor, k).await?;
    check!(
        compact == all,
        "compact pages expand to the verbose ones:\n{compact:?}\nvs\n{all:?}"
    );
    let (status, body) = doctor
        .get(&format!("/v1/clinics/{k}/sync/pull?format=columns"))
        .await?;
    check!(
        status == StatusCode::BAD_REQUEST && body["code"].is_string(),
        "an unknown layout is refused: {status} {body}"
    );
    let kinds: Vec<&str> = all.iter().filter_map(|c| c["entity"].as_str()).collect();
    for kind in [
        "patient",
        "appointment",
        "encounter",
        "prescription",
        "invoice",
    ] {
        check!(
            kinds.contains(&kind),
            "doctor's pull lacks {kind}: {kinds:?}"
        );
    }
    let invoice = all
        .iter()
        .find(|c| c["entity"] == "invoice")
        .cloned()
        .unwrap_or_default();
    check!(
        invoice["data"]["lines"].as_array().map(Vec::len) == Some(1)
            && invoice["data"]["payments"].as_array().map(Vec::len) == Some(1),
        "invoice pulled whole: {invoice}"
    );
    // The front desk gets no clinical notes.
    let (desk_all, _) = pull_all(&desk, k, None).await?;
    check!(
        !desk_all
            .iter()
            .any(|c| c["entity"] == "encounter" || c["entity"] == "prescription"),
        "front desk pulled clinical records"
    );
    // A payment (a child row) re-sends its invoice; a deletion arrives as a tombstone.
    desk.post(
        &format!("/v1/clinics/{k}/invoices/{}/payments", s.invoice),
        json!({"amount_paise": 5000, "method": "cash"}),
    )
    .await?;
    admin
        .delete(&format!("/v1/clinics/{k}/patients/{}", s.patient))
        .await?;
    let (next, _) = pull_settled(&doctor, k, Some(cursor)).await?;
    check!(
        next.iter().any(|c| c["entity"] == "invoice"
            && c["data"]["payments"].as_array().map(Vec::len) == Some(2)),
        "payment did not re-send the invoice: {next:?}"
    );
    check!(
        next.iter()
            .any(|c| c["entity"] == "patient" && c["deleted"] == true),
        "no tombstone: {next:?}"
    );
    // Bad cursors are clear errors.
    let (status, body) = doctor
        .get(&format!("/v1/clinics/{k}/sync/pull?cursor=garbage"))
        .await?;
    check!(
        status == StatusCode::BAD_REQUEST && body["code"] == "invalid_parameter",
        "bad cursor: {status} {body}"
    );
    // Another clinic cannot pull or push here; both are audited.
    let (other, _) = server
        .client()
        .login(&w.b.admin.email, &w.b.admin.password)
        .await?;
    let (status, _) = other.get(&format!("/v1/clinics/{k}/sync/pull")).await?;
    check!(status == StatusCode::NOT_FOUND, "foreign pull: {status}");
    let (status, _) = other.post(&format!("/v1/clinics/{k}/sync/push"), json!({"mutations": [mutation("patient", Uuid::new_v4(), "create", Some(json!({"name": "X", "sex": "male"})), json!({}))]})).await?;
    check!(status == StatusCode::NOT_FOUND, "foreign push: {status}");
    let su = w.db.superuser().await?;
    let denied: i64 = su.query_one("SELECT count(*) FROM vaidya.audit_log WHERE clinic_id = $1 AND action = 'denied' AND actor_id = $2", &[&k, &w.b.admin.id]).await?.get(0);
    check!(denied == 2, "foreign sync attempts audited {denied} times");
    // A pull audits what it sent.
    let listed: i64 = su
        .query_one("SELECT count(*) FROM vaidya.audit_log WHERE clinic_id = $1 AND action = 'list' AND actor_id = $2 AND entity_type = 'encounter' AND $3 = ANY(entity_ids)", &[&k, &w.a.doctor.id, &s.encounter])
        .await?
        .get(0);
    check!(listed >= 1, "pull of the encounter not audited");
    Ok(())
}

pub async fn live_notification_reaches_other_clients(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let k = w.a.id;
    let (status, live) = doctor.live(k).await?;
    let mut live = live.ok_or_else(|| anyhow::anyhow!("live: {status}"))?;
    // The first event arrives at connect.
    live.changed(Duration::from_secs(5)).await?;
    let started = std::time::Instant::now();
    desk.post(
        &format!("/v1/clinics/{k}/patients"),
        json!({"name": "Live", "sex": "female"}),
    )
    .await?;
    let seen = live.changed(Duration::from_secs(5)).await?;
    check!(
        seen.contains(&k.to_string()),
        "event names the clinic: {seen}"
    );
    println!("live notification after {:?}", started.elapsed());
    // A user of another clinic cannot subscribe.
    let (other, _) = server
        .client()
        .login(&w.b.admin.email, &w.b.admin.password)
        .await?;
    let (status, _) = other.get(&format!("/v1/clinics/{k}/sync/live")).await?;
    check!(status == StatusCode::NOT_FOUND, "foreign live: {status}");
    Ok(())
}

/// A member revoked while their live stream is open receives no further change event: the
/// stream closes at the next change (membership is checked for each event sent), not up
/// to a minute later.
pub async fn a_revoked_members_live_stream_gets_no_more_changes(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let (desk, doctor, admin) = (
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.doctor).await?,
        server.login_as(&w.a.admin).await?,
    );
    let k = w.a.id;
    let (status, live) = doctor.live(k).await?;
    let mut live = live.ok_or_else(|| anyhow::anyhow!("live: {status}"))?;
    live.changed(Duration::from_secs(5)).await?;

    let (_, members) = admin.get(&format!("/v1/clinics/{k}/members")).await?;
    let membership = members
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|m| m["user"]["id"] == w.a.doctor.id.to_string())
        })
        .and_then(|m| m["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("the doctor's membership: {members}"))?;
    let (status, body) = admin
        .delete(&format!("/v1/clinics/{k}/members/{membership}"))
        .await?;
    check!(status.is_success(), "revoke: {status} {body}");
    desk.post(
        &format!("/v1/clinics/{k}/patients"),
        json!({"name": "After Revocation", "sex": "female"}),
    )
    .await?;

    // The stream ends without another `changed` (keep-alive comments may come first).
    let ended = live.until_end(Duration::from_secs(10)).await;
    check!(ended.is_ok(), "the revoked member's stream stayed open");
    let after = ended.unwrap_or_default();
    check!(
        !after.contains("event: changed"),
        "a revoked member was told of a change: {after}"
    );
    Ok(())
}

/// A pull cursor reveals nothing about other clinics: it is sealed (not the global
/// transaction position), refreshed on every answer, bound to its clinic, and shared by
/// every server instance of the deployment; a plain, altered or foreign cursor is refused.
pub async fn pull_cursors_are_sealed_and_bound_to_their_clinic(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    crate::isolation::seed(&w.db.superuser().await?, &w.a).await?;
    crate::isolation::seed(&w.db.superuser().await?, &w.b).await?;
    let (one, two) = (
        TestServer::spawn(&w.db, 2).await?,
        TestServer::spawn(&w.db, 2).await?,
    );
    let (a_desk, _) = one
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (b_desk, _) = one
        .client()
        .login(&w.b.desk.email, &w.b.desk.password)
        .await?;
    let (a, b) = (w.a.id, w.b.id);
    // The first pull this deployment ever sees brings a cursor from before sealing (a device
    // after the upgrade): refused, and the refusal rolls its transaction back. The key is
    // stored apart from it, so both instances still seal with one key below.
    let (status, body) = a_desk
        .get(&format!("/v1/clinics/{a}/sync/pull?cursor=0:0"))
        .await?;
    check!(
        status == StatusCode::BAD_REQUEST && body["code"] == "invalid_parameter",
        "a plain cursor first: {status} {body}"
    );
    let (_, cursor) = pull_all(&a_desk, a, None).await?;
    check!(
        cursor.starts_with("c1.") && !cursor.contains(':'),
        "a sealed cursor, not a position: {cursor}"
    );
    // Clinic B writes; clinic A's next (empty) pull gives a cursor that tells nothing.
    for i in 0..3 {
        let (status, _) = b_desk
            .post(
                &format!("/v1/clinics/{b}/patients"),
                json!({"name": format!("Other Clinic {i}"), "sex": "female"}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "clinic B writes: {status}");
    }
    let (changes, again) = pull_all(&a_desk, a, Some(cursor.clone())).await?;
    check!(
        changes.is_empty() && again != cursor && again.len() == cursor.len(),
        "an empty pull's cursor is fresh and the same length: {cursor} {again}"
    );
    // The other instance opens it (one key per deployment, kept in the database).
    let (a_desk_two, _) = two
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (status, body) = a_desk_two
        .get(&format!("/v1/clinics/{a}/sync/pull?cursor={again}"))
        .await?;
    check!(
        status == StatusCode::OK,
        "another instance takes the cursor: {status} {body}"
    );
    // Refused: clinic A's cursor in clinic B's pull, a plain position, an altered cursor.
    let mut altered = again.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered)?;
    for (who, clinic, bad) in [
        (&b_desk, b, again.clone()),
        (&a_desk, a, "0:0".to_owned()),
        (&a_desk, a, "18446744073709551615:9".to_owned()),
        (&a_desk, a, altered),
    ] {
        let (status, body) = who
            .get(&format!("/v1/clinics/{clinic}/sync/pull?cursor={bad}"))
            .await?;
        check!(
            status == StatusCode::BAD_REQUEST && body["code"] == "invalid_parameter",
            "cursor {bad} for {clinic}: {status} {body}"
        );
    }
    Ok(())
}
