//! Several server instances behind PgBouncer in transaction mode (issue 10): the pooler a
//! clinic group puts between its instances and PostgreSQL (docs/deployment.md). PgBouncer
//! here rotates each transaction over its backends (`server_round_robin`), as it may in
//! production, so nothing that outlives a transaction on one backend can pass by luck.
//!
//! Shown through it: statements prepared per transaction work where cached ones fail; the
//! pool-hygiene and HTTP isolation tests hold (identity never leaks between pooled
//! transactions); the sign-in throttle and live change events span two instances; a push to
//! an instance killed mid-request is applied exactly once after the client retries on the
//! other.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use vaidya_tests::{pgbouncer, Harness, TestServer, World};

use crate::check;
use crate::sync::{mutation, push};

pub async fn instances_behind_pgbouncer_in_transaction_mode(h: Arc<Harness>) -> Result<()> {
    if pgbouncer::find().is_none() {
        if std::env::var_os("VAIDYA_REQUIRE_PGBOUNCER").is_some() {
            bail!("pgbouncer is not installed (apt-get install pgbouncer)");
        }
        eprintln!("SKIPPED: pgbouncer is not installed");
        return Ok(());
    }
    let pooled = h.through_pgbouncer()?;
    cached_statements_fail_behind_the_pooler(&pooled).await?;
    crate::pool::interleaved_clinics_on_one_connection(pooled.clone()).await?;
    crate::isolation::http_matrix(pooled.clone()).await?;
    crate::sync::push_is_idempotent_with_per_mutation_results(pooled.clone()).await?;
    crate::auth::throttle_holds_under_concurrency_and_spares_known_devices(pooled.clone()).await?;
    writes_and_live_events_span_instances(&pooled).await?;
    a_push_cut_by_a_killed_instance_is_applied_once(&pooled).await?;
    Ok(())
}

/// The control: a server that caches its prepared statements per connection (right on
/// PostgreSQL) fails behind the pooler, because its next transaction runs on a backend
/// where the statement does not exist. So the tests above pass because of
/// `Settings::pooled`, not by luck.
async fn cached_statements_fail_behind_the_pooler(h: &Harness) -> Result<()> {
    let w = World::create(h).await?;
    let mut settings = w.db.server_settings(1)?;
    settings.pooled = false;
    let server = TestServer::spawn_with(settings).await?;
    let mut failed = 0;
    for _ in 0..8 {
        let (status, _) = server
            .client()
            .post(
                "/v1/auth/login",
                json!({"email": w.a.desk.email, "password": w.a.desk.password}),
            )
            .await?;
        if status.is_server_error() {
            failed += 1;
        }
    }
    check!(
        failed > 0,
        "cached statements should break behind a transaction-mode pooler; none of 8 sign-ins failed"
    );
    Ok(())
}

/// A patient written through one instance is read through the other, and a client
/// listening on the second instance hears of the change made on the first (LISTEN runs on
/// PostgreSQL itself, NOTIFY commits through the pooler).
async fn writes_and_live_events_span_instances(h: &Harness) -> Result<()> {
    let w = World::create(h).await?;
    let (one, two) = (
        TestServer::spawn(&w.db, 4).await?,
        TestServer::spawn(&w.db, 4).await?,
    );
    let k = w.a.id;
    let (desk, _) = one
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (doctor, _) = two
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (status, live) = doctor.live(k).await?;
    let mut live = live.ok_or_else(|| anyhow::anyhow!("live: {status}"))?;
    // The first event arrives at connect.
    live.changed(Duration::from_secs(5)).await?;
    let (status, patient) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Across Instances", "sex": "female"}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {patient}");
    let seen = live.changed(Duration::from_secs(5)).await?;
    check!(
        seen.contains(&k.to_string()),
        "the event names the clinic: {seen}"
    );
    let (status, read) = doctor
        .get(&format!(
            "/v1/clinics/{k}/patients/{}",
            patient["id"].as_str().unwrap_or_default()
        ))
        .await?;
    check!(
        status == StatusCode::OK && read["name"] == "Across Instances",
        "{status} {read}"
    );
    Ok(())
}

/// A push whose instance dies mid-request, retried by the client on the other instance:
/// every change is there exactly once, and nothing of the cut attempt is half-written.
async fn a_push_cut_by_a_killed_instance_is_applied_once(h: &Harness) -> Result<()> {
    let w = World::create(h).await?;
    let (one, two) = (
        TestServer::spawn(&w.db, 4).await?,
        TestServer::spawn(&w.db, 4).await?,
    );
    let k = w.a.id;
    let (desk_one, _) = one
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let desk_two = vaidya_tests::Api {
        base: two.base.clone(),
        ..desk_one.clone()
    };
    let ids: Vec<Uuid> = (0..400).map(|_| Uuid::new_v4()).collect();
    let batch: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            mutation(
                "patient",
                *id,
                "create",
                Some(json!({"name": format!("Cut {i}"), "sex": "male"})),
                json!({}),
            )
        })
        .collect();
    let cut = {
        let (api, batch) = (desk_one.clone(), batch.clone());
        tokio::spawn(async move { push(&api, k, batch).await })
    };
    tokio::time::sleep(Duration::from_millis(40)).await;
    one.kill();
    let first = cut.await?;
    // Whatever the cut attempt answered (most likely nothing), the client pushes again.
    let results = push(&desk_two, k, batch).await?;
    check!(
        results.len() == ids.len() && results.iter().all(|r| r["outcome"] == "applied"),
        "retried push: {} results {:?} (cut attempt: {:?})",
        results.len(),
        results.iter().find(|r| r["outcome"] != "applied"),
        first.as_ref().map(|r| r.len()).map_err(|e| e.to_string())
    );
    let su = w.db.superuser().await?;
    let counts = su
        .query_one(
            "SELECT count(*), count(DISTINCT id) FROM vaidya.patients
             WHERE clinic_id = $1 AND id = ANY ($2)",
            &[&k, &ids],
        )
        .await?;
    let (rows, distinct): (i64, i64) = (counts.get(0), counts.get(1));
    check!(
        rows == 400 && distinct == 400,
        "each change exactly once: {rows} rows, {distinct} distinct"
    );
    Ok(())
}
