//! bench-load: a clinic group's day compressed into minutes, through PgBouncer to two
//! server instances, with one instance killed and restarted in the middle (issue 10).
//!
//! ```sh
//! cargo build --release -p vaidya-server -p vaidya-tests
//! target/release/bench-load            # 10 clinics × 100k patients, 200 devices, 50 REST clients, 10 min
//! target/release/bench-load --clinics 2 --patients 5000 --devices 20 --rest 10 --secs 60   # a quick look
//! ```
//!
//! - A throwaway cluster with the real migrations; `--clinics` clinics of `--patients`
//!   patients each, loaded by the superuser (as `bench-isolation` does).
//! - A PgBouncer in transaction mode (`tests/src/pgbouncer.rs`) and two `vaidya-server serve
//!   --pooled` processes behind it (the release binary next to this one), LISTEN straight to
//!   PostgreSQL.
//! - `--devices` simulated desktops, spread over the clinics and the two instances: each
//!   keeps its live stream open, pushes a few new patients every few seconds and pulls
//!   after each push and each live event. `--rest` REST clients read patients by id,
//!   search, list and register patients.
//! - Half-way, instance 1 is killed (SIGKILL) and started again five seconds later. A client
//!   whose instance fails moves to the other (as behind a load balancer) and resends what got
//!   no answer: pushes with the same mutation ids, registrations with the same patient id.
//! - Printed: throughput and p50/p99 per operation, errors, live events, each instance's
//!   memory; then verified: every acknowledged write is stored exactly once, every read
//!   answered has its audit row, and `audit verify` finds every clinic's chain intact.

use std::collections::HashMap;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_server::admin::Admin;
use vaidya_server::pg_cluster::{free_port, PgCluster};
use vaidya_server::{audit_chain, migrate};
use vaidya_shared::api::Role;
use vaidya_tests::pgbouncer::PgBouncer;
use vaidya_tests::{Api, APP_PASSWORD};

const PASSWORD: &str = "load-password-1";
const LOAD_CHUNK: i64 = 50_000;

struct Options {
    clinics: usize,
    patients: i64,
    devices: usize,
    rest: usize,
    secs: u64,
}

fn options() -> Result<Options> {
    let mut o = Options {
        clinics: 10,
        patients: 100_000,
        devices: 200,
        rest: 50,
        secs: 600,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).context("every option takes a value")?;
        match pair[0].as_str() {
            "--clinics" => o.clinics = value.parse()?,
            "--patients" => o.patients = value.parse()?,
            "--devices" => o.devices = value.parse()?,
            "--rest" => o.rest = value.parse()?,
            "--secs" => o.secs = value.parse()?,
            other => bail!(
                "unknown option {other}; usage: bench-load [--clinics N] [--patients N] [--devices N] [--rest N] [--secs N]"
            ),
        }
    }
    Ok(o)
}

/// One clinic of the load: its id, its front desk's email and a sample of its patients.
#[derive(Clone)]
struct Clinic {
    id: Uuid,
    desk: String,
    sample: Arc<Vec<Uuid>>,
}

/// What every worker records: latencies per operation (ms), answers that were errors, and
/// what the server acknowledged (to verify afterwards).
#[derive(Default)]
struct Record {
    latencies: HashMap<&'static str, Vec<f64>>,
    errors: HashMap<&'static str, u64>,
    /// Requests that got no answer (the instance died under them); resent elsewhere.
    cut: u64,
    acked_patients: Vec<Uuid>,
    read_patients: Vec<Uuid>,
}

impl Record {
    fn took(&mut self, op: &'static str, started: Instant) {
        self.latencies
            .entry(op)
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1000.0);
    }

    fn error(&mut self, op: &'static str) {
        *self.errors.entry(op).or_default() += 1;
    }

    fn merge(&mut self, other: Record) {
        for (op, mut l) in other.latencies {
            self.latencies.entry(op).or_default().append(&mut l);
        }
        for (op, n) in other.errors {
            *self.errors.entry(op).or_default() += n;
        }
        self.cut += other.cut;
        self.acked_patients.extend(other.acked_patients);
        self.read_patients.extend(other.read_patients);
    }
}

/// The two server processes and where they listen; instance `i` can be killed and started
/// again on the same port.
struct Instances {
    bases: [String; 2],
    children: Mutex<[Option<Child>; 2]>,
    binary: std::path::PathBuf,
    database_url: String,
    listen_url: String,
    ports: [u16; 2],
}

impl Instances {
    fn start(&self, i: usize) -> Result<()> {
        let child = Command::new(&self.binary)
            .args(["serve", "--pooled"])
            .arg("--database-url")
            .arg(&self.database_url)
            .arg("--listen-database-url")
            .arg(&self.listen_url)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.ports[i]))
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.children.lock().unwrap()[i] = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.ports[i])).is_err() {
            if Instant::now() > deadline {
                bail!("instance {} did not open its port", i + 1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn kill(&self, i: usize) -> Result<()> {
        if let Some(mut child) = self.children.lock().unwrap()[i].take() {
            child.kill()?; // SIGKILL on Unix
            child.wait()?;
        }
        Ok(())
    }

    /// Resident memory of instance `i` in MiB (Linux `/proc`), if it runs.
    fn rss_mib(&self, i: usize) -> Option<f64> {
        let pid = self.children.lock().unwrap()[i].as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for i in 0..2 {
            let _ = self.kill(i);
        }
    }
}

/// A client that moves to the other instance when its own does not answer, and goes back
/// to its own a few seconds later (as a load balancer's health check would).
#[derive(Clone)]
struct Failover {
    api: Api,
    bases: [String; 2],
    home: usize,
    on: usize,
    moved_at: Option<Instant>,
}

impl Failover {
    fn new(api: Api, bases: [String; 2], home: usize) -> Failover {
        Failover {
            api,
            bases,
            home,
            on: home,
            moved_at: None,
        }
    }

    fn switch(&mut self) {
        self.on = 1 - self.on;
        self.api.base = self.bases[self.on].clone();
        self.moved_at = Some(Instant::now());
    }

    /// Back to the home instance once it has had time to come back.
    fn go_home(&mut self) {
        if self.on != self.home
            && self
                .moved_at
                .is_none_or(|at| at.elapsed() > Duration::from_secs(10))
        {
            self.on = self.home;
            self.api.base = self.bases[self.home].clone();
        }
    }

    /// Sends until some instance answers (at most a minute); `rec.cut` counts the requests
    /// that got no answer.
    async fn send(
        &mut self,
        rec: &mut Record,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        self.go_home();
        loop {
            match self.api.send(method.clone(), path, body.clone()).await {
                Ok(answer) if answer.0 != StatusCode::BAD_GATEWAY => return Ok(answer),
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    rec.cut += 1;
                    self.switch();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(answer) => return Ok(answer),
                Err(e) => return Err(e),
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let binary = std::env::current_exe()?
        .parent()
        .context("the binary's directory")?
        .join(format!("vaidya-server{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        bail!(
            "{} is missing: cargo build --release -p vaidya-server",
            binary.display()
        );
    }
    println!(
        "bench-load: {} clinics × {} patients, {} devices, {} REST clients, {} s, instance 1 killed at {} s; {} cores, {}",
        o.clinics,
        o.patients,
        o.devices,
        o.rest,
        o.secs,
        o.secs / 2,
        std::thread::available_parallelism().map(usize::from).unwrap_or(0),
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let phase = Instant::now();

    // ------------------------------------------------------------ cluster and data
    let cluster = PgCluster::start_temporary()?;
    let setup = migrate::connect(&cluster.superuser_url("postgres")).await?;
    setup.batch_execute("CREATE DATABASE load").await?;
    migrate::migrate(&cluster.superuser_url("load"), Some(APP_PASSWORD)).await?;
    let admin_url = cluster.superuser_url("load");
    let admin = Admin::connect(&admin_url).await?;
    let group = admin.create_group("Load").await?;
    let su = migrate::connect(&admin_url).await?;
    let mut clinics = Vec::new();
    for c in 0..o.clinics {
        let id = admin
            .create_clinic(group, &format!("Branch {c}"), "27", None, "Pune")
            .await?;
        let desk = format!("desk{c}@load.in");
        admin
            .create_user(&desk, &format!("Desk {c}"), PASSWORD)
            .await?;
        admin.add_member(id, &desk, Role::FrontDesk).await?;
        load_patients(&su, id, o.patients).await?;
        let sample: Vec<Uuid> = su
            .query(
                "SELECT id FROM vaidya.patients WHERE clinic_id = $1 AND deleted_at IS NULL
                 ORDER BY random() LIMIT 2000",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        clinics.push(Clinic {
            id,
            desk,
            sample: Arc::new(sample),
        });
    }
    su.batch_execute("ANALYZE").await?;
    println!(
        "[{:>6.1}s] loaded {} patients",
        phase.elapsed().as_secs_f64(),
        o.clinics as i64 * o.patients
    );

    // ------------------------------------------------------------ pooler and instances
    let pooler = PgBouncer::start(cluster.port, &[(migrate::APP_ROLE, APP_PASSWORD)])?;
    let ports = [free_port()?, free_port()?];
    let instances = Arc::new(Instances {
        bases: ports.map(|p| format!("http://127.0.0.1:{p}")),
        children: Mutex::new([None, None]),
        binary,
        database_url: pooler.url(migrate::APP_ROLE, APP_PASSWORD, "load"),
        listen_url: cluster.url_for(migrate::APP_ROLE, APP_PASSWORD, "load"),
        ports,
    });
    instances.start(0)?;
    instances.start(1)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    // Sign every device and REST client in, and bring each clinic's devices to the end of
    // its change feed (one catch-up per clinic; its devices share the cursor).
    let mut cursors = HashMap::new();
    for (c, clinic) in clinics.iter().enumerate() {
        let api = login(&http, &instances.bases[c % 2], &clinic.desk).await?;
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cur) => format!(
                    "/v1/clinics/{}/sync/pull?limit=5000&cursor={cur}",
                    clinic.id
                ),
                None => format!("/v1/clinics/{}/sync/pull?limit=5000", clinic.id),
            };
            let (status, page) = api.get(&path).await?;
            anyhow::ensure!(status == StatusCode::OK, "catch-up pull: {status} {page}");
            cursor = page["cursor"].as_str().map(str::to_owned);
            if page["has_more"] != true {
                break;
            }
        }
        cursors.insert(clinic.id, cursor.context("a cursor")?);
    }
    println!(
        "[{:>6.1}s] two instances behind PgBouncer; every clinic's feed pulled once",
        phase.elapsed().as_secs_f64()
    );

    let mut devices = Vec::new();
    for d in 0..o.devices {
        let clinic = clinics[d % clinics.len()].clone();
        let on = d % 2;
        let api = login(&http, &instances.bases[on], &clinic.desk).await?;
        devices.push((
            clinic.clone(),
            Failover::new(api, instances.bases.clone(), on),
            cursors[&clinic.id].clone(),
        ));
    }
    let mut rest_clients = Vec::new();
    for r in 0..o.rest {
        let clinic = clinics[r % clinics.len()].clone();
        let on = r % 2;
        let api = login(&http, &instances.bases[on], &clinic.desk).await?;
        rest_clients.push((clinic, Failover::new(api, instances.bases.clone(), on)));
    }
    println!(
        "[{:>6.1}s] {} devices and {} REST clients signed in; running for {} s",
        phase.elapsed().as_secs_f64(),
        o.devices,
        o.rest,
        o.secs
    );

    // ------------------------------------------------------------ the run
    let started = Instant::now();
    let deadline = started + Duration::from_secs(o.secs);
    let stop = Arc::new(AtomicBool::new(false));
    let live_events = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, (clinic, client, cursor)) in devices.into_iter().enumerate() {
        tasks.push(tokio::spawn(device(
            i as u64,
            clinic,
            client,
            cursor,
            deadline,
            stop.clone(),
            live_events.clone(),
        )));
    }
    for (i, (clinic, client)) in rest_clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(rest_client(
            10_000 + i as u64,
            clinic,
            client,
            deadline,
        )));
    }

    // Memory every 10 s; the kill and restart half-way.
    let mut memory: Vec<(f64, Option<f64>, Option<f64>)> = Vec::new();
    let kill_at = started + Duration::from_secs(o.secs / 2);
    let mut killed = false;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t = started.elapsed().as_secs_f64();
        if (t as u64).is_multiple_of(10) {
            memory.push((t, instances.rss_mib(0), instances.rss_mib(1)));
        }
        if !killed && Instant::now() >= kill_at {
            instances.kill(0)?;
            println!("[{t:>6.1}s of the run] instance 1 killed (SIGKILL)");
            tokio::time::sleep(Duration::from_secs(5)).await;
            instances.start(0)?;
            println!(
                "[{:>6.1}s of the run] instance 1 started again",
                started.elapsed().as_secs_f64()
            );
            killed = true;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = Record::default();
    for task in tasks {
        total.merge(task.await??);
    }
    let run_secs = started.elapsed().as_secs_f64();

    // ------------------------------------------------------------ figures
    println!("\noperation                     count      per s    p50 ms    p99 ms   errors");
    let mut ops: Vec<_> = total.latencies.keys().copied().collect();
    ops.sort();
    for op in ops {
        let mut l = total.latencies[op].clone();
        l.sort_by(f64::total_cmp);
        let q = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize];
        println!(
            "{op:<26} {:>8} {:>10.1} {:>9.1} {:>9.1} {:>8}",
            l.len(),
            l.len() as f64 / run_secs,
            q(0.5),
            q(0.99),
            total.errors.get(op).copied().unwrap_or(0)
        );
    }
    println!(
        "requests that got no answer (instance killed under them), resent on the other: {}",
        total.cut
    );
    println!(
        "live events received: {}",
        live_events.load(Ordering::Relaxed)
    );
    println!("\nmemory (RSS MiB)   instance 1   instance 2");
    for (t, one, two) in memory
        .iter()
        .filter(|(t, _, _)| (*t as u64).is_multiple_of(60))
    {
        let show = |m: &Option<f64>| m.map_or("—".to_owned(), |m| format!("{m:.1}"));
        println!("{t:>8.0} s {:>16} {:>12}", show(one), show(two));
    }
    let half: Vec<f64> = memory
        .iter()
        .filter(|(t, _, _)| *t >= run_secs / 2.0)
        .filter_map(|(_, _, two)| *two)
        .collect();
    if let (Some(first), Some(last)) = (half.first(), half.last()) {
        println!(
            "instance 2 over the second half: {first:.1} → {last:.1} MiB ({:+.1} %)",
            (last / first - 1.0) * 100.0
        );
    }

    // ------------------------------------------------------------ verification
    let mut acked = total.acked_patients.clone();
    acked.sort();
    let acked_n = acked.len();
    acked.dedup();
    anyhow::ensure!(
        acked.len() == acked_n,
        "a patient id was acknowledged twice"
    );
    let row = su
        .query_one(
            "SELECT count(*), count(DISTINCT id) FROM vaidya.patients WHERE id = ANY ($1)",
            &[&acked],
        )
        .await?;
    let (rows, distinct): (i64, i64) = (row.get(0), row.get(1));
    println!(
        "\nacknowledged writes: {acked_n}; stored {rows} rows, {distinct} distinct: {}",
        if rows as usize == acked_n && distinct as usize == acked_n {
            "EXACTLY ONCE"
        } else {
            "MISMATCH"
        }
    );
    let mut read = total.read_patients.clone();
    read.sort();
    read.dedup();
    let audited: i64 = su
        .query_one(
            "SELECT count(DISTINCT x) FROM vaidya.audit_log, unnest(entity_ids) x
             WHERE action = 'read' AND entity_type = 'patient' AND x = ANY ($1)",
            &[&read],
        )
        .await?
        .get(0);
    println!(
        "patients read with an answer: {}; with an audit row: {audited}: {}",
        read.len(),
        if audited as usize == read.len() {
            "EVERY READ AUDITED"
        } else {
            "MISSING AUDIT ROWS"
        }
    );
    let report = audit_chain::verify(&su).await?;
    println!(
        "audit verify: {} clinics, {} rows, {}",
        report.clinics,
        report.rows,
        if report.broken.is_empty() {
            "every chain intact".to_owned()
        } else {
            format!("BROKEN: {:?}", report.broken)
        }
    );
    let ok = rows as usize == acked_n
        && distinct as usize == acked_n
        && audited as usize == read.len()
        && report.broken.is_empty();
    drop(pooler);
    if !ok {
        bail!("verification failed");
    }
    println!("verification: PASS");
    Ok(())
}

async fn login(http: &reqwest::Client, base: &str, email: &str) -> Result<Api> {
    let anon = Api {
        http: http.clone(),
        base: base.to_owned(),
        token: None,
    };
    Ok(anon.login(email, PASSWORD).await?.0)
}

/// Bulk-loads `n` patients of `clinic` as the superuser (as `bench-isolation` does: the
/// stamp and foreign-key triggers are skipped and their columns filled as they would be),
/// then moves the clinic's patient counter past them.
async fn load_patients(su: &tokio_postgres::Client, clinic: Uuid, n: i64) -> Result<()> {
    su.batch_execute("SET session_replication_role = replica")
        .await?;
    let mut first = 1i64;
    while first <= n {
        let last = (first + LOAD_CHUNK - 1).min(n);
        su.execute(
            "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, date_of_birth,
                 phone, address, version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, g,
                    (ARRAY['Asha','Ravi','Sunita','Anil','Meera','Vikram','Lakshmi','Arjun','Fatima','Joseph'])[1 + (g % 10)::int]
                      || ' ' ||
                    (ARRAY['Kulkarni','Sharma','Patil','Iyer','Reddy','Khan','Deshpande','Nair','Joshi','Das'])[1 + ((g / 10) % 10)::int],
                    (ARRAY['female', 'male'])[1 + (g % 2)::int],
                    date '1940-01-01' + (g * 7919 % 30000)::int,
                    '+9198' || lpad((g * 104729 % 100000000)::text, 8, '0'),
                    g || ' MG Road, Pune',
                    1, pg_current_xact_id(), nextval('vaidya.change_seq'),
                    now() - interval '1 year', now() - interval '1 year'
             FROM generate_series($2::bigint, $3::bigint) g",
            &[&clinic, &first, &last],
        )
        .await?;
        first = last + 1;
    }
    su.batch_execute("SET session_replication_role = origin")
        .await?;
    su.execute(
        "INSERT INTO vaidya.clinic_counters (clinic_id, counter, value) VALUES ($1, 'patient_number', $2)
         ON CONFLICT (clinic_id, counter) DO UPDATE SET value = excluded.value",
        &[&clinic, &n],
    )
    .await?;
    Ok(())
}

/// A desktop: its live stream open, a few registrations pushed every few seconds, a pull
/// after each push and each live event.
async fn device(
    seed: u64,
    clinic: Clinic,
    mut client: Failover,
    mut cursor: String,
    deadline: Instant,
    stop: Arc<AtomicBool>,
    live_events: Arc<AtomicU64>,
) -> Result<Record> {
    let mut rec = Record::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let heard = Arc::new(tokio::sync::Notify::new());
    let live = tokio::spawn(listen(
        client.clone(),
        clinic.id,
        heard.clone(),
        stop.clone(),
        live_events,
    ));
    // Devices start spread over the first seconds, not all at once.
    tokio::time::sleep(Duration::from_millis(rng.gen_range(0..3000))).await;
    while Instant::now() < deadline {
        let n = rng.gen_range(1..=3);
        let batch: Vec<Value> = (0..n)
            .map(|_| {
                json!({"mutation_id": Uuid::new_v4(), "entity": "patient", "entity_id": Uuid::new_v4(),
                       "op": "create", "data": {"name": format!("Walk-in {}", rng.gen_range(0..100_000)), "sex": "female"},
                       "changes": {}, "made_at": Utc::now()})
            })
            .collect();
        let ids: Vec<Uuid> = batch
            .iter()
            .filter_map(|m| m["entity_id"].as_str()?.parse().ok())
            .collect();
        let t = Instant::now();
        let (status, body) = client
            .send(
                &mut rec,
                reqwest::Method::POST,
                &format!("/v1/clinics/{}/sync/push", clinic.id),
                Some(json!({"mutations": batch})),
            )
            .await?;
        rec.took("device push", t);
        if status == StatusCode::OK
            && body["results"]
                .as_array()
                .is_some_and(|r| r.iter().all(|r| r["outcome"] == "applied"))
        {
            rec.acked_patients.extend(ids);
        } else {
            rec.error("device push");
        }
        pull(&mut client, &mut rec, clinic.id, &mut cursor).await?;
        // Wait a few seconds, or less when the live stream says something changed.
        let pause = Duration::from_millis(rng.gen_range(2000..6000));
        if tokio::time::timeout(pause, heard.notified()).await.is_ok() {
            pull(&mut client, &mut rec, clinic.id, &mut cursor).await?;
            tokio::time::sleep(pause / 2).await;
        }
    }
    live.abort();
    Ok(rec)
}

async fn pull(
    client: &mut Failover,
    rec: &mut Record,
    clinic: Uuid,
    cursor: &mut String,
) -> Result<()> {
    loop {
        let t = Instant::now();
        let (status, page) = client
            .send(
                rec,
                reqwest::Method::GET,
                &format!("/v1/clinics/{clinic}/sync/pull?limit=1000&cursor={cursor}"),
                None,
            )
            .await?;
        rec.took("device pull", t);
        if status != StatusCode::OK {
            rec.error("device pull");
            return Ok(());
        }
        if let Some(next) = page["cursor"].as_str() {
            *cursor = next.to_owned();
        }
        if page["has_more"] != true {
            return Ok(());
        }
    }
}

/// The device's live stream, reopened on the other instance when its own dies.
async fn listen(
    mut client: Failover,
    clinic: Uuid,
    heard: Arc<tokio::sync::Notify>,
    stop: Arc<AtomicBool>,
    events: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        let resp = client
            .api
            .http
            .get(format!("{}/v1/clinics/{clinic}/sync/live", client.api.base))
            .bearer_auth(client.api.token.clone().unwrap_or_default())
            .timeout(Duration::from_secs(3600))
            .send()
            .await;
        if let Ok(resp) = resp {
            let mut stream = resp.bytes_stream();
            while let Some(Ok(chunk)) = stream.next().await {
                let n = String::from_utf8_lossy(&chunk)
                    .matches("event: changed")
                    .count();
                if n > 0 {
                    events.fetch_add(n as u64, Ordering::Relaxed);
                    heard.notify_one();
                }
            }
        }
        if client.on == client.home {
            client.switch();
        } else {
            client.go_home();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A REST client at a front desk: mostly reads of a patient, some searches and lists, a
/// few registrations (with the patient's id chosen here, so a resend is recognised).
async fn rest_client(
    seed: u64,
    clinic: Clinic,
    mut client: Failover,
    deadline: Instant,
) -> Result<Record> {
    let mut rec = Record::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let k = clinic.id;
    let names = [
        "Asha",
        "Ravi",
        "Sun",
        "Anil K",
        "Meera P",
        "Vik",
        "Lakshmi I",
    ];
    while Instant::now() < deadline {
        let roll = rng.gen_range(0..100);
        let t = Instant::now();
        if roll < 60 {
            let id = clinic.sample[rng.gen_range(0..clinic.sample.len())];
            let (status, _) = client
                .send(
                    &mut rec,
                    reqwest::Method::GET,
                    &format!("/v1/clinics/{k}/patients/{id}"),
                    None,
                )
                .await?;
            rec.took("rest get patient", t);
            if status == StatusCode::OK {
                rec.read_patients.push(id);
            } else {
                rec.error("rest get patient");
            }
        } else if roll < 80 {
            let q = names[rng.gen_range(0..names.len())].replace(' ', "%20");
            let (status, _) = client
                .send(
                    &mut rec,
                    reqwest::Method::GET,
                    &format!("/v1/clinics/{k}/patients?q={q}&limit=20"),
                    None,
                )
                .await?;
            rec.took("rest search", t);
            if status != StatusCode::OK {
                rec.error("rest search");
            }
        } else if roll < 90 {
            let (status, _) = client
                .send(
                    &mut rec,
                    reqwest::Method::GET,
                    &format!("/v1/clinics/{k}/patients?limit=20"),
                    None,
                )
                .await?;
            rec.took("rest list", t);
            if status != StatusCode::OK {
                rec.error("rest list");
            }
        } else {
            let id = Uuid::new_v4();
            let body = json!({"id": id, "name": format!("Registered {}", rng.gen_range(0..100_000)), "sex": "male"});
            let (status, _) = client
                .send(
                    &mut rec,
                    reqwest::Method::POST,
                    &format!("/v1/clinics/{k}/patients"),
                    Some(body),
                )
                .await?;
            rec.took("rest register", t);
            // 409: a resend of a registration whose first answer was lost with its instance.
            if status == StatusCode::CREATED || status == StatusCode::CONFLICT {
                rec.acked_patients.push(id);
            } else {
                rec.error("rest register");
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..250))).await;
    }
    Ok(rec)
}
