//! Pool hygiene: identity is transaction-local, so a pooled connection never carries one
//! caller's clinic into another's request, not even after an aborted transaction.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

/// Requests of clinics A and B interleaved on a pool of ONE connection, with failing
/// requests (aborted transactions) mixed in: each side only ever sees its own patients.
pub async fn interleaved_clinics_on_one_connection(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 1).await?;
    let (a, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (b, _) = server
        .client()
        .login(&w.b.desk.email, &w.b.desk.password)
        .await?;
    let (ka, kb) = (w.a.id, w.b.id);
    for i in 0..5 {
        a.post(
            &format!("/v1/clinics/{ka}/patients"),
            json!({"name": format!("Alpha {i}"), "sex": "female"}),
        )
        .await?;
        b.post(
            &format!("/v1/clinics/{kb}/patients"),
            json!({"name": format!("Beta {i}"), "sex": "male"}),
        )
        .await?;
    }
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (client, clinic, own) = if i % 2 == 0 {
            (a.clone(), ka, "Alpha")
        } else {
            (b.clone(), kb, "Beta")
        };
        tasks.push(tokio::spawn(async move {
            if i % 5 == 0 {
                // Fails inside the transaction (unknown patient → foreign key error → rollback).
                let now = chrono::Utc::now();
                let (s, _) = client
                    .post(&format!("/v1/clinics/{clinic}/appointments"),
                          json!({"patient_id": uuid::Uuid::new_v4(), "doctor_id": uuid::Uuid::new_v4(), "starts_at": now, "ends_at": now + chrono::Duration::minutes(5)}))
                    .await?;
                anyhow::ensure!(s.is_client_error(), "failing request returned {s}");
            }
            let (s, body) = client.get(&format!("/v1/clinics/{clinic}/patients?limit=200")).await?;
            anyhow::ensure!(s == StatusCode::OK, "list failed: {s} {body}");
            let names: Vec<String> = body["items"].as_array().into_iter().flatten().filter_map(|p: &Value| p["name"].as_str().map(str::to_string)).collect();
            anyhow::ensure!(names.len() == 5, "expected 5 own patients, got {names:?}");
            anyhow::ensure!(names.iter().all(|n| n.starts_with(own)), "{own} side saw {names:?}");
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// A transaction abandoned mid-way (as on a panic or a dropped request) is rolled back
/// before its connection is reused, and its identity does not survive.
pub async fn aborted_transaction_leaves_no_identity(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let settings = vaidya_server::Settings::from_url(&w.db.app_url)?;
    let mut small = settings.clone();
    small.pool_size = 1;
    let app = vaidya_server::App::new(small)?;
    {
        let conn = app.pool.get().await?;
        conn.batch_execute("BEGIN").await?;
        conn.execute(
            "SELECT set_config('app.user_id', $1, true)",
            &[&w.a.admin.id.to_string()],
        )
        .await?;
        // Abort the transaction with an error, then hand the connection back without ROLLBACK.
        let _ = conn.batch_execute("SELECT 1/0").await;
    }
    // Sessions through the server rolled back on drop; here we check the driver-level rule
    // the server relies on: a new transaction on the same connection starts clean.
    let conn = app.pool.get().await?;
    let _ = conn.batch_execute("ROLLBACK").await;
    conn.batch_execute("BEGIN").await?;
    let who: Option<String> = conn
        .query_one(
            "SELECT nullif(current_setting('app.user_id', true), '')",
            &[],
        )
        .await?
        .get(0);
    check!(
        who.is_none(),
        "identity survived the aborted transaction: {who:?}"
    );
    let n: i64 = conn
        .query_one("SELECT count(*) FROM vaidya.memberships", &[])
        .await?
        .get(0);
    check!(n == 0, "no identity must see zero rows, saw {n}");
    conn.batch_execute("ROLLBACK").await?;
    drop(conn); // the pool has one connection

    // And through the server's own transaction type: drop a RequestTx mid-way.
    let meta = vaidya_server::http::RequestMeta {
        token_hash: None,
        request_id: "t".into(),
        device: None,
        client_addr: None,
    };
    {
        let mut tx = vaidya_server::http::RequestTx::begin_anonymous(&app.pool, &meta).await?;
        tx.set_user(w.a.admin.id).await?;
        // dropped here without commit
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let tx = vaidya_server::http::RequestTx::begin_anonymous(&app.pool, &meta).await?;
    let n: i64 = tx
        .query_one("SELECT count(*) FROM vaidya.memberships", &[])
        .await?
        .get(0);
    check!(
        n == 0,
        "a dropped RequestTx leaked its identity: saw {n} memberships"
    );
    Ok(())
}
