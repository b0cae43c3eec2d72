//! bench-sync: push ingest under forced RLS, against a COPY of the same rows by a superuser,
//! measured in the same run on the same cluster.
//!
//! `cargo run --release -p vaidya-tests --bin bench-sync -- [--mutations N] [--clients N] [--pgbouncer]`
//!
//! `--pgbouncer`: the server reaches PostgreSQL through a PgBouncer in transaction mode and
//! sends its statements unnamed with their parameter types (`Settings::pooled`) instead of
//! caching them per connection: what a deployment of several instances behind the pooler
//! pays.
//!
//! Then the same ingest again with every mutation signed by the desk's device key (proven
//! authorship, issue 9): the server verifies each signature. Batches are built (and signed)
//! before each timed run, so both runs time the server's ingest, not the client's work.

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;
use futures::SinkExt;
use serde_json::json;
use uuid::Uuid;
use vaidya_server::admin::Admin;
use vaidya_server::migrate;
use vaidya_server::pg_cluster::PgCluster;
use vaidya_shared::api::Role;
use vaidya_shared::authorship::{encode_public_key, DeviceSigner};
use vaidya_shared::sync::{EntityKind, Mutation, Operation};
use vaidya_tests::pgbouncer::PgBouncer;
use vaidya_tests::{TestDb, TestServer, APP_PASSWORD};

const BATCH: usize = 500;

#[tokio::main]
async fn main() -> Result<()> {
    let mut mutations = 40_000usize;
    let mut clients = 2usize;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let through_pgbouncer = args.iter().any(|a| a == "--pgbouncer");
    args.retain(|a| a != "--pgbouncer");
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1).and_then(|v| v.parse().ok())) {
            ("--mutations", Some(n)) => mutations = n,
            ("--clients", Some(n)) => clients = n,
            _ => anyhow::bail!("usage: bench-sync [--mutations N] [--clients N] [--pgbouncer]"),
        }
    }
    println!("bench-sync: {mutations} patient-create mutations, {clients} concurrent clients, batches of {BATCH}, {} cores, {}",
        std::thread::available_parallelism().map(usize::from).unwrap_or(0), Utc::now().format("%Y-%m-%d %H:%M UTC"));
    let cluster = PgCluster::start_temporary()?;
    let setup = migrate::connect(&cluster.superuser_url("postgres")).await?;
    setup.batch_execute("CREATE DATABASE bench").await?;
    migrate::migrate(&cluster.superuser_url("bench"), Some(APP_PASSWORD)).await?;
    let pooler = through_pgbouncer
        .then(|| PgBouncer::start(cluster.port, &[(migrate::APP_ROLE, APP_PASSWORD)]))
        .transpose()?;
    let app_url = cluster.url_for(migrate::APP_ROLE, APP_PASSWORD, "bench");
    let db = TestDb {
        name: "bench".into(),
        admin_url: cluster.superuser_url("bench"),
        server_url: match &pooler {
            Some(p) => p.url(migrate::APP_ROLE, APP_PASSWORD, "bench"),
            None => app_url.clone(),
        },
        pooled: pooler.is_some(),
        app_url,
    };
    println!(
        "server statements: {}",
        if db.pooled {
            "unnamed, with their parameter types, through PgBouncer (transaction mode)"
        } else {
            "cached per connection, straight to PostgreSQL"
        }
    );
    let admin = Admin::connect(&db.admin_url).await?;
    let group = admin.create_group("Bench").await?;
    let push_clinic = admin.create_clinic(group, "Push", "27", None, "").await?;
    let copy_clinic = admin.create_clinic(group, "Copy", "27", None, "").await?;
    admin
        .create_user("desk@bench.in", "Desk", "bench-password-1")
        .await?;
    admin
        .add_member(push_clinic, "desk@bench.in", Role::FrontDesk)
        .await?;

    let server = TestServer::spawn(&db, 8).await?;
    let (desk, _) = server
        .client()
        .login("desk@bench.in", "bench-password-1")
        .await?;

    // Warm up the server's statement caches.
    push_batches(&desk, push_clinic, vec![batch(push_clinic, 0, 100, None)]).await?;

    let per_client = mutations / clients;
    let pushed = per_client * clients;
    let push_secs = timed_push(&desk, push_clinic, clients, per_client, 1000, None).await?;
    let push_rate = pushed as f64 / push_secs;

    // The same ingest, every mutation signed by the desk's registered device key.
    let signer = DeviceSigner::from_secret(desk_id(&desk).await?, Uuid::now_v7(), [42; 32]);
    let (status, body) = desk
        .post(
            "/v1/me/device-keys",
            json!({"id": signer.key_id, "public_key": encode_public_key(&signer.public_key())}),
        )
        .await?;
    anyhow::ensure!(status.is_success(), "registering the key: {status} {body}");
    let signed_secs = timed_push(
        &desk,
        push_clinic,
        clients,
        per_client,
        1000 + pushed,
        Some(&signer),
    )
    .await?;
    let signed_rate = pushed as f64 / signed_secs;

    // A colleague's signed work carried by the desk's session: each signature verified and
    // each change applied as its author (one by one, not set-based).
    admin
        .create_user("nurse@bench.in", "Nurse", "bench-password-3")
        .await?;
    admin
        .add_member(push_clinic, "nurse@bench.in", Role::Nurse)
        .await?;
    let (nurse, _) = server
        .client()
        .login("nurse@bench.in", "bench-password-3")
        .await?;
    let colleague = DeviceSigner::from_secret(desk_id(&nurse).await?, Uuid::now_v7(), [43; 32]);
    let (status, body) = nurse
        .post(
            "/v1/me/device-keys",
            json!({"id": colleague.key_id, "public_key": encode_public_key(&colleague.public_key())}),
        )
        .await?;
    anyhow::ensure!(
        status.is_success(),
        "registering the nurse's key: {status} {body}"
    );
    let carried = (pushed / 4).max(clients);
    let carried_secs = timed_push(
        &desk,
        push_clinic,
        clients,
        carried / clients,
        1000 + 2 * pushed,
        Some(&colleague),
    )
    .await?;
    let carried = (carried / clients) * clients;
    let carried_rate = carried as f64 / carried_secs;

    // Baseline: the same rows by COPY as the superuser (COPY FROM refuses tables under RLS
    // for anyone RLS applies to, the forced owner included), triggers on.
    let su = migrate::connect(&db.admin_url).await?;
    let started = Instant::now();
    let sink = su
        .copy_in(
            "COPY vaidya.patients (id, clinic_id, patient_number, name, sex, phone) FROM STDIN",
        )
        .await?;
    let mut sink = std::pin::pin!(sink);
    let mut buf = String::with_capacity(pushed * 100);
    for i in 0..pushed {
        buf.push_str(&format!(
            "{}\t{}\t{}\tPatient {}\tfemale\t+9198{:08}\n",
            Uuid::new_v4(),
            copy_clinic,
            i + 1,
            i,
            i
        ));
    }
    sink.send(bytes::Bytes::from(buf)).await?;
    let copied = sink.as_mut().finish().await? as usize;
    let copy_secs = started.elapsed().as_secs_f64();
    let copy_rate = copied as f64 / copy_secs;

    let stored: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.patients WHERE clinic_id = $1",
            &[&push_clinic],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        stored as usize == 2 * pushed + carried + 100,
        "pushed 2 × {pushed} + {carried} + 100 but {stored} stored"
    );

    check_careful_run(&desk, &su, push_clinic).await?;

    // REST reads: each request is its own transaction (identity, the read, its audit row),
    // so a server preparing per transaction behind a pooler pays its prepares on every one.
    let ids: Vec<Uuid> = su
        .query(
            "SELECT id FROM vaidya.patients WHERE clinic_id = $1 LIMIT 4000",
            &[&push_clinic],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let started = Instant::now();
    let mut readers = Vec::new();
    for chunk in ids.chunks(ids.len().div_ceil(8)) {
        let (desk, chunk) = (desk.clone(), chunk.to_vec());
        readers.push(tokio::spawn(async move {
            for id in chunk {
                let (status, body) = desk
                    .get(&format!("/v1/clinics/{push_clinic}/patients/{id}"))
                    .await?;
                anyhow::ensure!(status.is_success(), "read: {status} {body}");
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for reader in readers {
        reader.await??;
    }
    let read_secs = started.elapsed().as_secs_f64();
    let read_rate = ids.len() as f64 / read_secs;

    println!("push (HTTP, forced RLS, idempotency record, audit): {pushed} in {push_secs:.2}s = {push_rate:.0} mutations/s (target ≥ 20000) {}",
        if push_rate >= 20_000.0 { "PASS" } else { "MISS" });
    println!("COPY baseline (superuser, no RLS, no HTTP): {copied} in {copy_secs:.2}s = {copy_rate:.0} rows/s");
    println!("REST read of a patient by id (8 clients; identity, read and audit row per request): {} in {read_secs:.2}s = {read_rate:.0} requests/s", ids.len());
    println!("push, every mutation signed by the pusher: {pushed} in {signed_secs:.2}s = {signed_rate:.0} mutations/s");
    println!("push of a colleague's signed work (verified, applied as the author): {carried} in {carried_secs:.2}s = {carried_rate:.0} mutations/s");
    for (what, rate) in [
        ("own signed", signed_rate),
        ("colleague's signed", carried_rate),
    ] {
        println!(
            "ratio {what} / unsigned push = {:.3} (target ≥ 0.8) {}",
            rate / push_rate,
            if rate / push_rate >= 0.8 {
                "PASS"
            } else {
                "MISS"
            }
        );
    }
    println!(
        "ratio push / COPY = {:.3} (target ≥ 0.25) {}",
        push_rate / copy_rate,
        if push_rate / copy_rate >= 0.25 {
            "PASS"
        } else {
            "MISS"
        }
    );
    drop(server);
    Ok(())
}

/// Not timed: a run of patient creates that the set-based insert cannot take whole (a
/// duplicate ABHA number, a repeated entity id) falls back to one savepoint per mutation:
/// exact per-mutation results, consecutive patient numbers, and the same answer on retry.
async fn check_careful_run(
    api: &vaidya_tests::Api,
    su: &tokio_postgres::Client,
    clinic: Uuid,
) -> Result<()> {
    let count = || async {
        let n: i64 = su
            .query_one(
                "SELECT count(*) FROM vaidya.patients WHERE clinic_id = $1",
                &[&clinic],
            )
            .await?
            .get(0);
        anyhow::Ok(n)
    };
    let before = count().await?;
    let a = Uuid::new_v4();
    let m = |entity_id: Uuid, data: serde_json::Value| {
        json!({"mutation_id": Uuid::new_v4(), "entity": "patient", "entity_id": entity_id,
               "op": "create", "data": data, "made_at": Utc::now()})
    };
    let c = Uuid::new_v4();
    let batch = json!({"mutations": [
        m(a, json!({"name": "Run A", "sex": "female", "abha_number": "12345678901234"})),
        m(Uuid::new_v4(), json!({"name": "Run B", "sex": "male", "abha_number": "12345678901234"})),
        m(c, json!({"name": "Run C", "sex": "other"})),
        m(a, json!({"name": "Run D", "sex": "unknown"})),
        m(Uuid::new_v4(), json!({"name": "", "sex": "unknown"})),
    ]});
    let url = format!("/v1/clinics/{clinic}/sync/push");
    let (status, first) = api.post(&url, batch.clone()).await?;
    anyhow::ensure!(status.is_success(), "careful run: {status} {first}");
    let outcomes: Vec<&str> = first["results"]
        .as_array()
        .context("no results")?
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    anyhow::ensure!(
        outcomes == ["applied", "rejected", "applied", "rejected", "rejected"],
        "careful run results: {first}"
    );
    let (_, again) = api.post(&url, batch).await?;
    anyhow::ensure!(again == first, "retry differs: {again} vs {first}");
    anyhow::ensure!(
        count().await? == before + 2,
        "careful run stored wrong rows"
    );
    let numbers: Vec<i64> = su
        .query(
            "SELECT patient_number FROM vaidya.patients WHERE clinic_id = $1 AND id = ANY($2) ORDER BY name",
            &[&clinic, &vec![a, c]],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    anyhow::ensure!(
        numbers.len() == 2 && numbers[1] == numbers[0] + 1 && numbers[0] == before + 1,
        "patient numbers not consecutive after {before}: {numbers:?}"
    );
    println!("careful run (duplicate ABHA, repeated id, empty name): exact results, consecutive numbers, idempotent: ok");
    Ok(())
}

/// `n` patient creates numbered from `first`, signed when a signer is given.
fn batch(clinic: Uuid, first: usize, n: usize, signer: Option<&DeviceSigner>) -> Vec<Mutation> {
    (first..first + n)
        .map(|i| {
            let mut m = Mutation {
                mutation_id: Uuid::new_v4(),
                entity: EntityKind::Patient,
                entity_id: Uuid::new_v4(),
                op: Operation::Create,
                base_version: None,
                parent_id: None,
                data: Some(json!({"name": format!("Patient {i}"), "sex": "female",
                                  "phone": format!("+9198{:08}", i % 100_000_000)})),
                changes: serde_json::Map::new(),
                made_at: Utc::now(),
                author: None,
                device: None,
            };
            if let Some(signer) = signer {
                signer.sign(clinic, &mut m);
            }
            m
        })
        .collect()
}

/// Pushes `per_client` mutations from each of `clients` concurrent clients; the batches are
/// built (and signed) first, so the time is the server's ingest.
async fn timed_push(
    api: &vaidya_tests::Api,
    clinic: Uuid,
    clients: usize,
    per_client: usize,
    first: usize,
    signer: Option<&DeviceSigner>,
) -> Result<f64> {
    let mut work = Vec::new();
    for c in 0..clients {
        let mut batches = Vec::new();
        let mut sent = 0;
        while sent < per_client {
            let n = BATCH.min(per_client - sent);
            batches.push(batch(clinic, first + c * per_client + sent, n, signer));
            sent += n;
        }
        work.push(batches);
    }
    let started = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|batches| {
            let api = api.clone();
            tokio::spawn(async move { push_batches(&api, clinic, batches).await })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn push_batches(
    api: &vaidya_tests::Api,
    clinic: Uuid,
    batches: Vec<Vec<Mutation>>,
) -> Result<()> {
    for mutations in batches {
        let n = mutations.len();
        let (status, body) = api
            .post(
                &format!("/v1/clinics/{clinic}/sync/push"),
                json!({"mutations": mutations}),
            )
            .await?;
        anyhow::ensure!(status.is_success(), "push failed: {status} {body}");
        let applied = body["results"]
            .as_array()
            .context("no results")?
            .iter()
            .filter(|r| r["outcome"] == "applied")
            .count();
        anyhow::ensure!(applied == n, "only {applied} of {n} applied: {body}");
    }
    Ok(())
}

async fn desk_id(api: &vaidya_tests::Api) -> Result<Uuid> {
    let (_, me) = api.get("/v1/me").await?;
    me["user"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("the desk's id")
}
