//! bench-client: the offline client's initial sync, live change propagation, search as you
//! type and SQLCipher's cost, each against a baseline measured in the same run (issue 3).
//!
//! `cargo run --release -p vaidya-tests --bin bench-client -- [--rows N] [--search-patients N] [--live-iters N]`
//!
//! The keyring is not needed: the engines are built from `ServerApi` + `ClinicPartition::open`
//! with a generated key, which is what `session::Client::sync_engine` does minus the keyring.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;
use vaidya_client::partition::{register_sql_functions, CachedRow, ClinicalKey};
use vaidya_client::{
    ClinicPartition, DataDir, PartitionKey, ServerApi, SyncEngine, SyncOptions, SyncReport,
};
use vaidya_server::admin::Admin;
use vaidya_server::migrate;
use vaidya_server::pg_cluster::PgCluster;
use vaidya_shared::api::{Appointment, Invoice, NewPatient, Patient, Prescription, Role, Sex};
use vaidya_shared::compact_pull::CompactPullResponse;
use vaidya_shared::sync::{Change, EntityKind, PullResponse, MAX_PULL_LIMIT};
use vaidya_tests::{TestDb, TestServer, APP_PASSWORD};

/// Rows per server-side load statement: big enough to be fast, small enough to keep
/// PostgreSQL's memory and WAL bursts modest on a shared VM.
const LOAD_CHUNK: i64 = 50_000;
/// Each measured search phase stops after this long (1-character prefixes at 1 M patients
/// can take long; the run must stay under 10 minutes).
const SEARCH_BUDGET: Duration = Duration::from_secs(45);
const SEARCH_LIMIT: i64 = 20;

struct Args {
    /// Stop after the initial-sync phase and its baselines (`--sync-only 1`).
    sync_only: bool,
    rows: i64,
    search_patients: usize,
    live_iters: usize,
}

/// One line of the final table.
struct Verdict {
    what: String,
    value: String,
    target: String,
    pass: Option<bool>,
}

struct Phases {
    start: Instant,
    last: Instant,
}

impl Phases {
    fn done(&mut self, name: &str) {
        let now = Instant::now();
        println!(
            "  [phase {name}: {:.1}s, total {:.1}s]",
            (now - self.last).as_secs_f64(),
            (now - self.start).as_secs_f64()
        );
        self.last = now;
    }
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args {
        sync_only: false,
        rows: 1_000_000,
        search_patients: 1_000_000,
        live_iters: 200,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        match (
            pair[0].as_str(),
            pair.get(1).and_then(|v| v.parse::<i64>().ok()),
        ) {
            ("--rows", Some(n)) => args.rows = n.max(100),
            ("--search-patients", Some(n)) => args.search_patients = n.max(1000) as usize,
            ("--live-iters", Some(n)) => args.live_iters = n.max(10) as usize,
            ("--sync-only", Some(n)) => args.sync_only = n != 0,
            _ => anyhow::bail!(
                "usage: bench-client [--rows N] [--search-patients N] [--live-iters N] [--sync-only 1]"
            ),
        }
    }
    println!(
        "bench-client: {} rows to sync, {} patients to search, {} live iterations, {} cores, {}",
        args.rows,
        args.search_patients,
        args.live_iters,
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(0),
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let mut phases = Phases {
        start: Instant::now(),
        last: Instant::now(),
    };
    let mut verdicts = Vec::new();

    // ------------------------------------------------------------ cluster, clinics, load
    let cluster = PgCluster::start_temporary()?;
    let setup = migrate::connect(&cluster.superuser_url("postgres")).await?;
    setup.batch_execute("CREATE DATABASE bench").await?;
    migrate::migrate(&cluster.superuser_url("bench"), Some(APP_PASSWORD)).await?;
    let db = TestDb {
        name: "bench".into(),
        admin_url: cluster.superuser_url("bench"),
        app_url: cluster.url_for(migrate::APP_ROLE, APP_PASSWORD, "bench"),
        server_url: cluster.url_for(migrate::APP_ROLE, APP_PASSWORD, "bench"),
        pooled: false,
    };
    let admin = Admin::connect(&db.admin_url).await?;
    let group = admin.create_group("Bench").await?;
    let big = admin
        .create_clinic(group, "Big", "27", None, "Pune")
        .await?;
    let live = admin
        .create_clinic(group, "Live", "27", None, "Pune")
        .await?;
    let doctor = admin
        .create_user("doctor@bench.in", "Doctor", "bench-password-1")
        .await?;
    admin
        .create_user("desk@bench.in", "Desk", "bench-password-2")
        .await?;
    for clinic in [big, live] {
        admin
            .add_member(clinic, "doctor@bench.in", Role::Doctor)
            .await?;
        admin
            .add_member(clinic, "desk@bench.in", Role::FrontDesk)
            .await?;
    }
    let su = migrate::connect(&db.admin_url).await?;
    let counts = load(&su, big, doctor, args.rows).await?;
    println!(
        "loaded {} patients, {} appointments, {} prescriptions (1 item each), {} invoices (1 line each)",
        counts[0], counts[1], counts[2], counts[3]
    );
    phases.done("server bulk load");

    let server = TestServer::spawn(&db, 4).await?;
    let work = tempfile::tempdir()?;

    // ------------------------------------------------------------ 1. initial sync, end to end
    println!(
        "\n1. initial sync of {} rows, pull page {MAX_PULL_LIMIT}",
        args.rows
    );
    let api = ServerApi::new(&server.base, "bench-sync")?;
    api.login("doctor@bench.in", "bench-password-1").await?;
    let bytes = Arc::new(AtomicU64::new(0));
    let seen = bytes.clone();
    let key = PartitionKey::generate();
    let mut part = ClinicPartition::open(&DataDir::new(work.path().join("sync")), big, &key)?;
    // The doctor's session keeps notes and prescriptions in the clinical store.
    part.open_clinical_store(&ClinicalKey::generate())?;
    let mut engine = SyncEngine::new(api.clone(), part)
        .with_options(SyncOptions {
            pull_limit: MAX_PULL_LIMIT,
            ..SyncOptions::default()
        })
        .on_progress(move |p| seen.store(p.bytes, Ordering::Relaxed));
    let t = Instant::now();
    let report = engine.sync().await?;
    let sync_secs = t.elapsed().as_secs_f64();
    let synced = report.pulled as f64;
    anyhow::ensure!(
        report.pulled as i64 == args.rows,
        "pulled {} of {} rows: {report:?}",
        report.pulled,
        args.rows
    );
    let sync_rate = synced / sync_secs;
    // The clinic file and its clinical store together.
    let store = DataDir::new(work.path().join("sync")).clinical_store_file(big);
    let sync_file = file_size(&engine.partition().path()) + file_size(&store);
    println!(
        "   on disk: clinic file {:.1} MB + its WAL {:.1} MB, clinical store {:.1} MB + its WAL {:.1} MB",
        own_size(&engine.partition().path()) as f64 / 1e6,
        own_size(&engine.partition().path().with_extension("sqlite-wal")) as f64 / 1e6,
        own_size(&store) as f64 / 1e6,
        own_size(&store.with_extension("sqlite-wal")) as f64 / 1e6,
    );
    drop(engine);
    println!(
        "   SyncEngine::sync: {} rows, {} pages, {:.1} MB of JSON in {sync_secs:.1}s = {sync_rate:.0} rows/s; partition file {:.0} MB",
        report.pulled,
        report.pages,
        bytes.load(Ordering::Relaxed) as f64 / 1e6,
        sync_file as f64 / 1e6
    );
    print_space_by_table(
        &DataDir::new(work.path().join("sync")).partition_file(big),
        &key,
        big,
    )?;
    phases.done("engine initial sync");

    // Where the time goes: the pull alone (server + HTTP, then JSON decoding), pages kept.
    let (pages, server_secs, decode_secs, pulled_bytes) = pull_all(&server.base, big, &api).await?;
    let n_changes: usize = pages.iter().map(|p| p.changes.len()).sum();
    println!(
        "   pull alone: {n_changes} rows, {:.1} MB: server+HTTP {server_secs:.1}s ({:.0} rows/s), JSON decode {decode_secs:.1}s ({:.0} rows/s)",
        pulled_bytes as f64 / 1e6,
        n_changes as f64 / server_secs,
        n_changes as f64 / decode_secs
    );
    phases.done("pull alone");

    // The apply alone: the same pages into a fresh encrypted partition.
    let key2 = PartitionKey::generate();
    let mut part = ClinicPartition::open(&DataDir::new(work.path().join("apply")), big, &key2)?;
    part.open_clinical_store(&ClinicalKey::generate())?;
    // The page cache `SyncEngine` gives an initial sync.
    part.set_bulk_load(Some(256))?;
    let t = Instant::now();
    let mut fifths = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        part.apply_pull_page(&page.changes, &page.cursor, i + 1 < pages.len())?;
        // Whether the apply slows as the file grows: the time of each fifth of the pages.
        if (i + 1) % (pages.len() / 5).max(1) == 0 {
            fifths.push(format!("{:.1}", t.elapsed().as_secs_f64()));
        }
    }
    println!(
        "   apply alone, elapsed after each fifth of the pages (s): {}",
        fifths.join(" / ")
    );
    let pages_secs = t.elapsed().as_secs_f64();
    // The end of a fill indexes the patients it queued for search.
    part.set_bulk_load(None)?;
    let apply_secs = t.elapsed().as_secs_f64();
    drop(part);
    println!(
        "   apply alone (apply_pull_page, encrypted): {apply_secs:.1}s = {:.0} rows/s \
         (pages {pages_secs:.1}s, end of fill: search and lookup indexes {:.1}s)",
        n_changes as f64 / apply_secs,
        apply_secs - pages_secs
    );
    phases.done("apply alone");

    // Baseline: the same entity JSON, raw rusqlite inserts into a plain SQLite file.
    let raw_path = work.path().join("raw.sqlite");
    let mut raw = open_raw(&raw_path, None, big)?;
    // The same page cache as an initial sync into a partition (256 MiB).
    raw.execute_batch("PRAGMA cache_size = -262144;")?;
    raw.execute_batch(
        "CREATE TABLE entities (id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL,
                                version INTEGER NOT NULL, data TEXT NOT NULL);",
    )?;
    let t = Instant::now();
    for page in &pages {
        let tx = raw.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO entities (id, kind, version, data) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for c in &page.changes {
                insert.execute(params![
                    c.id.to_string(),
                    c.entity.as_str(),
                    c.version,
                    c.data.to_string()
                ])?;
            }
        }
        tx.commit()?;
    }
    let raw_secs = t.elapsed().as_secs_f64();
    drop(raw);
    let raw_rate = n_changes as f64 / raw_secs;
    println!("   raw baseline (plain SQLite, one JSON row per entity, page transactions, same page cache as a partition): {raw_secs:.1}s = {raw_rate:.0} rows/s");
    phases.done("raw baseline");

    verdicts.push(Verdict {
        what: format!("initial sync, {} rows, rows/s", args.rows),
        value: format!("{sync_rate:.0}"),
        target: "≥ 50000".into(),
        pass: Some(sync_rate >= 50_000.0),
    });
    let mb_per_million = sync_file as f64 / 1e6 * 1e6 / args.rows as f64;
    verdicts.push(Verdict {
        what: "partition on disk, MB per 1 M rows".into(),
        value: format!("{mb_per_million:.0}"),
        target: "≤ 250".into(),
        pass: Some(mb_per_million <= 250.0),
    });
    verdicts.push(Verdict {
        what: "  initial sync / JSON-blob insert (the old baseline)".into(),
        value: format!("{:.3}", sync_rate / raw_rate),
        target: "—".into(),
        pass: None,
    });
    verdicts.push(Verdict {
        what: "  of which apply alone / JSON-blob insert".into(),
        value: format!("{:.3}", n_changes as f64 / apply_secs / raw_rate),
        target: "—".into(),
        pass: None,
    });
    verdicts.push(Verdict {
        what: "  time split: pull server+HTTP / decode / apply (s)".into(),
        value: format!("{server_secs:.1} / {decode_secs:.1} / {apply_secs:.1}"),
        target: "—".into(),
        pass: None,
    });

    // ------------------------------------------------------------ 4a. SQLCipher cost on apply
    println!("\n4a. SQLCipher cost of the sync apply (same statements, keyed vs plain connection)");
    // The partition API refuses plaintext files, so both sides are raw rusqlite on the same
    // bundled-SQLCipher build, with the partition's own schema copied by sqlcipher_export
    // from an empty migrated partition, replaying the statements `apply_pull_page` runs.
    let tmpl_key = PartitionKey::generate();
    let tmpl_dir = DataDir::new(work.path().join("template"));
    let tmpl_path = ClinicPartition::open(&tmpl_dir, big, &tmpl_key)?.path();
    let keyed_path = work.path().join("replica-keyed.db");
    let plain_path = work.path().join("replica-plain.db");
    export(&tmpl_path, &tmpl_key, &keyed_path, Some(&tmpl_key), big)?;
    export(&tmpl_path, &tmpl_key, &plain_path, None, big)?;
    let mut keyed = open_raw(&keyed_path, Some(&tmpl_key), big)?;
    let mut plain = open_raw(&plain_path, None, big)?;
    // The clinical tables live in the clinical store; the replicas keep them in one file,
    // as the cost measured is SQLCipher's per statement, not the store's.
    for replica in [&keyed, &plain] {
        replica.execute_batch(&vaidya_client::partition::clinical_tables_sql("main"))?;
    }
    // Alternate which goes first to spread the VM's noise.
    let t = Instant::now();
    replica_apply(&mut plain, big, &pages[..pages.len() / 2])?;
    let mut plain_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    replica_apply(&mut keyed, big, &pages[..pages.len() / 2])?;
    let mut keyed_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    replica_apply(&mut keyed, big, &pages[pages.len() / 2..])?;
    keyed_secs += t.elapsed().as_secs_f64();
    let t = Instant::now();
    replica_apply(&mut plain, big, &pages[pages.len() / 2..])?;
    plain_secs += t.elapsed().as_secs_f64();
    drop((keyed, plain));
    let apply_overhead = keyed_secs / plain_secs - 1.0;
    // The baseline the issue names: the same rows inserted raw (rusqlite, the statements
    // and nothing else) into the same encrypted schema, i.e. the keyed replica.
    let keyed_rate = n_changes as f64 / keyed_secs;
    verdicts.push(Verdict {
        what: "initial sync / raw insert into the same encrypted schema".into(),
        value: format!("{:.3}", sync_rate / keyed_rate),
        target: "≥ 0.5".into(),
        pass: Some(sync_rate / keyed_rate >= 0.5),
    });
    println!(
        "   replica apply: keyed {keyed_secs:.1}s ({:.0} rows/s), plain {plain_secs:.1}s ({:.0} rows/s); real apply_pull_page {apply_secs:.1}s",
        n_changes as f64 / keyed_secs,
        n_changes as f64 / plain_secs
    );
    verdicts.push(Verdict {
        what: "SQLCipher overhead, sync apply (keyed/plain − 1)".into(),
        value: format!("{:+.1} %", apply_overhead * 100.0),
        target: "≤ 15 %".into(),
        pass: Some(apply_overhead <= 0.15),
    });
    drop(pages);
    phases.done("SQLCipher apply");
    if args.sync_only {
        print_verdicts(&verdicts);
        return Ok(());
    }

    // ------------------------------------------------------------ 2. live propagation
    println!(
        "\n2. change propagation A push → B partition (B in run_live), {} iterations",
        args.live_iters
    );
    let (p50, p99, push50) = live_bench(&server.base, live, args.live_iters, work.path()).await?;
    verdicts.push(Verdict {
        what: "propagation p50 (ms)".into(),
        value: format!("{p50:.1}"),
        target: "≤ 10".into(),
        pass: Some(p50 <= 10.0),
    });
    verdicts.push(Verdict {
        what: "propagation p99 (ms)".into(),
        value: format!("{p99:.1}"),
        target: "≤ 50".into(),
        pass: Some(p99 <= 50.0),
    });
    verdicts.push(Verdict {
        what: "  of which A's push alone, p50 (ms)".into(),
        value: format!("{push50:.1}"),
        target: "—".into(),
        pass: None,
    });
    phases.done("live propagation");
    drop(server);

    // ------------------------------------------------------------ 3. search as you type
    println!(
        "\n3. search as you type at {} patients (encrypted partition)",
        args.search_patients
    );
    let search_key = PartitionKey::generate();
    let search_dir = DataDir::new(work.path().join("search"));
    let mut search = ClinicPartition::open(&search_dir, big, &search_key)?;
    let targets = fill_patients(&mut search, big, args.search_patients)?;
    search.checkpoint()?;
    phases.done("fill search partition");
    let keystrokes = keystrokes(&targets);
    let t = Instant::now();
    let mut lat = Vec::new();
    let mut by_len: Vec<Vec<f64>> = vec![Vec::new(); 7];
    let mut each: Vec<(f64, &str)> = Vec::new();
    for (q, len) in &keystrokes {
        let t0 = Instant::now();
        let hits = search.search_patients(q, SEARCH_LIMIT)?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(!hits.is_empty(), "no hit for {q:?}");
        lat.push(ms);
        by_len[*len].push(ms);
        each.push((ms, q));
        if t.elapsed() > SEARCH_BUDGET {
            break;
        }
    }
    let lat = sorted(lat);
    println!(
        "   search_patients (limit {SEARCH_LIMIT}, records the list read): {} keystrokes, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    for (len, v) in by_len.into_iter().enumerate().skip(1) {
        let v = sorted(v);
        if !v.is_empty() {
            println!(
                "     prefix length {len}: n {:>4}, p50 {:>8.2} ms, p99 {:>8.2} ms",
                v.len(),
                pct(&v, 0.5),
                pct(&v, 0.99)
            );
        }
    }
    // What the tail is made of: the slowest keystrokes as typed.
    each.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<String> = each
        .iter()
        .take(12)
        .map(|(ms, q)| format!("{q:?} {ms:.1}"))
        .collect();
    println!("     slowest (ms): {}", slowest.join(", "));
    verdicts.push(Verdict {
        what: format!("search p50 (ms), {} patients", args.search_patients),
        value: format!("{:.2}", pct(&lat, 0.5)),
        target: "—".into(),
        pass: None,
    });
    verdicts.push(Verdict {
        what: format!("search p99 (ms), {} patients", args.search_patients),
        value: format!("{:.2}", pct(&lat, 0.99)),
        target: "≤ 10".into(),
        pass: Some(pct(&lat, 0.99) <= 10.0),
    });
    let search_path = search.path();
    drop(search);
    phases.done("search (partition API)");

    // ------------------------------------------------------------ 4b. SQLCipher cost on search
    println!(
        "\n4b. SQLCipher cost of search (same FTS query, keyed partition file vs plaintext copy)"
    );
    let plain_search = work.path().join("search-plain.db");
    export(&search_path, &search_key, &plain_search, None, big)?;
    let keyed = open_raw(&search_path, Some(&search_key), big)?;
    let plain = open_raw(&plain_search, None, big)?;
    // Interleaved per keystroke so both see the same machine load; the page caches warm up
    // on a first pass that is not measured.
    let n = keystrokes.len().min(lat.len());
    for (q, _) in keystrokes.iter().take(n.min(60)) {
        raw_search(&keyed, q)?;
        raw_search(&plain, q)?;
    }
    let (mut lk, mut lp) = (Vec::new(), Vec::new());
    let t = Instant::now();
    for (i, (q, _)) in keystrokes.iter().take(n).enumerate() {
        let order: [&Connection; 2] = if i % 2 == 0 {
            [&keyed, &plain]
        } else {
            [&plain, &keyed]
        };
        for c in order {
            let t0 = Instant::now();
            let hits = raw_search(c, q)?;
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            anyhow::ensure!(hits > 0, "no raw hit for {q:?}");
            if std::ptr::eq(c, &keyed) {
                lk.push(ms);
            } else {
                lp.push(ms);
            }
        }
        if t.elapsed() > SEARCH_BUDGET * 2 {
            break;
        }
    }
    let (lk, lp) = (sorted(lk), sorted(lp));
    let search_overhead = pct(&lk, 0.5) / pct(&lp, 0.5) - 1.0;
    println!(
        "   raw FTS query, {} keystrokes: keyed p50 {:.2} / p99 {:.2} ms, plain p50 {:.2} / p99 {:.2} ms",
        lk.len(),
        pct(&lk, 0.5),
        pct(&lk, 0.99),
        pct(&lp, 0.5),
        pct(&lp, 0.99)
    );
    verdicts.push(Verdict {
        what: "SQLCipher overhead, search p50 (keyed/plain − 1)".into(),
        value: format!("{:+.1} %", search_overhead * 100.0),
        target: "≤ 15 %".into(),
        pass: Some(search_overhead <= 0.15),
    });
    verdicts.push(Verdict {
        what: "SQLCipher overhead, search p99".into(),
        value: format!("{:+.1} %", (pct(&lk, 0.99) / pct(&lp, 0.99) - 1.0) * 100.0),
        target: "—".into(),
        pass: None,
    });
    phases.done("SQLCipher search");

    print_verdicts(&verdicts);
    println!("\ntotal {:.1}s", phases.start.elapsed().as_secs_f64());
    Ok(())
}

fn print_verdicts(verdicts: &[Verdict]) {
    println!("\n| figure | value | target | verdict |\n|---|---|---|---|");
    for v in verdicts {
        println!(
            "| {} | {} | {} | {} |",
            v.what,
            v.value,
            v.target,
            match v.pass {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "—",
            }
        );
    }
}

// ---------------------------------------------------------------- server-side bulk load

/// Loads `rows` entities into `clinic` as the cluster superuser: 40 % patients, 40 %
/// appointments (one per patient), 10 % prescriptions with one item, 10 % invoices with one
/// line. `session_replication_role = replica` skips the stamp, notify and foreign-key
/// triggers (they would dominate the load); the statements fill version, change_xid and
/// change_seq exactly as `vaidya.stamp_change()` does, and every reference points at a row
/// of the same clinic, so the pull sees what the app would have written.
async fn load(
    su: &tokio_postgres::Client,
    clinic: Uuid,
    doctor: Uuid,
    rows: i64,
) -> Result<[i64; 4]> {
    let n_pat = rows * 4 / 10;
    let n_appt = rows * 4 / 10;
    let n_rx = rows / 10;
    let n_inv = rows - n_pat - n_appt - n_rx;
    su.batch_execute("SET session_replication_role = replica")
        .await?;
    let stamp = "1, pg_current_xact_id(), nextval('vaidya.change_seq'), now(), now()";
    let patients = su
        .prepare(&format!(
            "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, date_of_birth,
                 phone, address, version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, g, 'Patient ' || g,
                    (ARRAY['female', 'male', 'other', 'unknown'])[1 + (g % 4)::int],
                    date '1940-01-01' + (g * 7919 % 30000)::int,
                    '+9198' || lpad((g * 104729 % 100000000)::text, 8, '0'),
                    g || ' MG Road, Pune', {stamp}
             FROM generate_series($2::bigint, $3::bigint) g"
        ))
        .await?;
    let appointments = su
        .prepare(&format!(
            "INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at,
                 ends_at, status, reason, version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, p.id, $4, now() - p.patient_number * interval '15 minutes',
                    now() - p.patient_number * interval '15 minutes' + interval '15 minutes',
                    'completed', 'Follow-up', {stamp}
             FROM vaidya.patients p
             WHERE p.clinic_id = $1 AND p.patient_number BETWEEN $2 AND $3"
        ))
        .await?;
    let prescriptions = su
        .prepare(&format!(
            "WITH rx AS (
                 INSERT INTO vaidya.prescriptions (id, clinic_id, patient_id, doctor_id, notes,
                     issued_at, version, change_xid, change_seq, created_at, updated_at)
                 SELECT gen_random_uuid(), $1, p.id, $4, 'Review in a week', now(), {stamp}
                 FROM vaidya.patients p
                 WHERE p.clinic_id = $1 AND p.patient_number BETWEEN $2 AND $3
                 RETURNING id)
             INSERT INTO vaidya.prescription_items (id, clinic_id, prescription_id, position, drug,
                 strength, dose, frequency, duration, instructions,
                 version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, rx.id, 0, 'Paracetamol', '500 mg', '1 tablet', 'TDS',
                    '5 days', 'After food', {stamp}
             FROM rx"
        ))
        .await?;
    let invoices = su
        .prepare(&format!(
            "WITH inv AS (
                 INSERT INTO vaidya.invoices (id, clinic_id, patient_id, series, number, issued_at,
                     place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise,
                     igst_paise, total_paise, version, change_xid, change_seq, created_at, updated_at)
                 SELECT gen_random_uuid(), $1, p.id, 'INV', p.patient_number, now(), '27',
                        'intra_state', 50000, 4500, 4500, 0, 59000, {stamp}
                 FROM vaidya.patients p
                 WHERE p.clinic_id = $1 AND p.patient_number BETWEEN $2 AND $3
                 RETURNING id)
             INSERT INTO vaidya.invoice_lines (id, clinic_id, invoice_id, position, description,
                 sac_hsn, quantity, unit_price_paise, discount_paise, gst_rate_bp, taxable_paise,
                 cgst_paise, sgst_paise, igst_paise, total_paise,
                 version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, inv.id, 0, 'Consultation', '999312', 1, 50000, 0,
                    1800, 50000, 4500, 4500, 0, 59000, {stamp}
             FROM inv"
        ))
        .await?;
    let with_doctor = [false, true, true, false];
    for (i, (stmt, n)) in [
        (&patients, n_pat),
        (&appointments, n_appt),
        (&prescriptions, n_rx),
        (&invoices, n_inv),
    ]
    .into_iter()
    .enumerate()
    {
        let mut first = 1i64;
        while first <= n {
            let last = (first + LOAD_CHUNK - 1).min(n);
            if with_doctor[i] {
                su.execute(stmt, &[&clinic, &first, &last, &doctor]).await?;
            } else {
                su.execute(stmt, &[&clinic, &first, &last]).await?;
            }
            first = last + 1;
        }
    }
    su.batch_execute("SET session_replication_role = origin; ANALYZE")
        .await?;
    Ok([n_pat, n_appt, n_rx, n_inv])
}

// ---------------------------------------------------------------- pull alone

/// Pulls the whole feed with plain reqwest, timing the response (server + HTTP) apart from
/// the JSON decoding the client does. Returns the decoded pages.
async fn pull_all(
    base: &str,
    clinic: Uuid,
    api: &ServerApi,
) -> Result<(Vec<PullResponse>, f64, f64, usize)> {
    // A second login: the engine's session keeps its own token.
    let token = api
        .login("doctor@bench.in", "bench-password-1")
        .await?
        .access_token;
    let http = reqwest::Client::new();
    let mut cursor: Option<String> = None;
    let (mut server_secs, mut decode_secs, mut bytes) = (0.0, 0.0, 0usize);
    let mut pages = Vec::new();
    loop {
        let mut req = http
            .get(format!("{base}/v1/clinics/{clinic}/sync/pull"))
            .bearer_auth(&token)
            .header(
                vaidya_shared::PROTOCOL_HEADER,
                vaidya_shared::PROTOCOL_VERSION.to_string(),
            )
            .header(vaidya_shared::DEVICE_HEADER, "bench-pull")
            // The layout the client asks for.
            .query(&[("limit", MAX_PULL_LIMIT.to_string())])
            .query(&[("format", "compact")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let t = Instant::now();
        let resp = req.send().await?;
        anyhow::ensure!(resp.status().is_success(), "pull: {}", resp.status());
        let body = resp.bytes().await?;
        server_secs += t.elapsed().as_secs_f64();
        bytes += body.len();
        let t = Instant::now();
        let page = serde_json::from_slice::<CompactPullResponse>(&body)?.into_page(clinic)?;
        decode_secs += t.elapsed().as_secs_f64();
        cursor = Some(page.cursor.clone());
        let more = page.has_more;
        pages.push(page);
        if !more {
            return Ok((pages, server_secs, decode_secs, bytes));
        }
    }
}

// ---------------------------------------------------------------- raw SQLite side

fn own_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0)
}

/// Where a partition's bytes go: every table and index of 1 % of the file or more, the
/// unused share of their pages, and the file's free pages (SQLite's `dbstat`).
fn print_space_by_table(path: &std::path::Path, key: &PartitionKey, clinic: Uuid) -> Result<()> {
    let conn = open_raw(path, Some(key), clinic)?;
    let (page_size, pages, free): (i64, i64, i64) = conn.query_row(
        "SELECT CAST(page_size AS INTEGER), CAST(page_count AS INTEGER), CAST(freelist_count AS INTEGER)
         FROM pragma_page_size, pragma_page_count, pragma_freelist_count",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let file = page_size * pages;
    let mut stmt = conn.prepare(
        "SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut parts = Vec::new();
    let mut unused_total = 0;
    for row in rows {
        let (name, bytes, unused) = row?;
        unused_total += unused;
        if bytes * 100 >= file {
            parts.push(format!("{name} {:.1} MB", bytes as f64 / 1e6));
        }
    }
    println!("   clinic file by table and index: {}", parts.join(", "));
    println!(
        "   clinic file {:.1} MB: unused inside pages {:.1} MB, free pages {:.1} MB",
        file as f64 / 1e6,
        unused_total as f64 / 1e6,
        (free * page_size) as f64 / 1e6
    );
    Ok(())
}

/// A connection on the bundled-SQLCipher build with the partition's pragmas; keyed (the
/// key is the first statement, as in `ClinicPartition::open`) or plain (no key: SQLCipher
/// then reads and writes ordinary SQLite pages), with the partition's SQL functions for
/// the clinic whose file it stands for.
fn open_raw(
    path: &std::path::Path,
    key: Option<&PartitionKey>,
    clinic: Uuid,
) -> Result<Connection> {
    let conn = Connection::open(path)?;
    if let Some(k) = key {
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", k.to_hex()))?;
    }
    register_sql_functions(&conn, clinic)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "journal mode {mode}");
    // The same settings as a partition (64 MiB page cache included), so baselines and the
    // keyed/plain replicas differ from the partition only in what they measure.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;",
    )?;
    Ok(conn)
}

/// Copies an encrypted partition file (schema and rows) into `to`, keyed or plain.
fn export(
    from: &std::path::Path,
    key: &PartitionKey,
    to: &std::path::Path,
    to_key: Option<&PartitionKey>,
    clinic: Uuid,
) -> Result<()> {
    let conn = Connection::open(from)?;
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex()))?;
    register_sql_functions(&conn, clinic)?;
    let to_key = to_key
        .map(|k| format!("x'{}'", k.to_hex()))
        .unwrap_or_default();
    conn.execute(
        "ATTACH DATABASE ?1 AS target KEY ?2",
        params![to.to_string_lossy(), to_key],
    )?;
    conn.query_row("SELECT sqlcipher_export('target')", [], |_| Ok(()))?;
    conn.execute_batch("DETACH DATABASE target")?;
    Ok(())
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The statements `ClinicPartition::apply_pull_page` runs for a page (one outbox and one
/// refetch probe per page; per change a typed decode, an upsert with children, and the
/// per-row outbox check and refetch clear only when those probes found something; the
/// cursor), on a raw connection.
fn replica_apply(conn: &mut Connection, clinic: Uuid, pages: &[PullResponse]) -> Result<()> {
    for page in pages {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outbox_pending: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE state IN ('pending', 'failed'))",
            )?
            .query_row([], |r| r.get(0))?;
        let refetch_pending: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM refetch)")?
            .query_row([], |r| r.get(0))?;
        // A fill page queues its patients for search (`partition::bulk_load`).
        tx.prepare_cached("INSERT OR IGNORE INTO search_deferred (deferred) VALUES (1)")?
            .execute([])?;
        for c in &page.changes {
            if outbox_pending {
                let pushable = tx
                    .prepare_cached(
                        "SELECT 1 FROM outbox WHERE state IN ('pending', 'failed')
                           AND ((entity = ?1 AND entity_id = ?2) OR parent_id = ?2) LIMIT 1",
                    )?
                    .query_row(params![c.entity.as_str(), c.id.to_string()], |_| Ok(()))
                    .optional()?;
                anyhow::ensure!(pushable.is_none(), "nothing is pending here");
            }
            replica_upsert(&tx, clinic, c)?;
            if refetch_pending {
                tx.prepare_cached("DELETE FROM refetch WHERE entity = ?1 AND id = ?2")?
                    .execute(params![c.entity.as_str(), c.id.to_string()])?;
            }
        }
        for (k, v) in [
            ("pull_cursor", page.cursor.as_str()),
            ("pull_complete", "0"),
        ] {
            tx.execute(
                "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![k, v],
            )?;
        }
        tx.prepare_cached("DELETE FROM search_deferred")?
            .execute([])?;
        tx.commit()?;
    }
    // And the queued patients are indexed in one statement, as the fill's end does.
    let tx = conn.transaction()?;
    tx.execute_batch(
        "INSERT INTO patients_fts (rowid, name, phone_search, patient_number, abha_search)
         SELECT p.pk, p.name, p.phone_search, p.patient_number, p.abha_search
         FROM search_pending AS q JOIN patients AS p ON p.pk = q.pk ORDER BY q.pk;
         DELETE FROM search_pending;",
    )?;
    tx.commit()?;
    Ok(())
}

fn replica_upsert(conn: &Connection, clinic: Uuid, c: &Change) -> Result<()> {
    // The partition's own writes (`CachedRow::upsert`), so the replica runs exactly the
    // statements `apply_pull_page` runs.
    fn write<R: CachedRow + serde::de::DeserializeOwned>(
        conn: &Connection,
        clinic: Uuid,
        c: &Change,
    ) -> Result<()> {
        let record = R::deserialize(&c.data)?;
        anyhow::ensure!(
            record.clinic_id() == clinic && record.id() == c.id,
            "wrong row"
        );
        record.upsert(conn)?;
        Ok(())
    }
    match c.entity {
        EntityKind::Patient => write::<Patient>(conn, clinic, c),
        EntityKind::Appointment => write::<Appointment>(conn, clinic, c),
        EntityKind::Prescription => write::<Prescription>(conn, clinic, c),
        EntityKind::Invoice => write::<Invoice>(conn, clinic, c),
        other => anyhow::bail!("the bench clinic has no {}", other.as_str()),
    }
}

// ---------------------------------------------------------------- live propagation

/// A (front desk) creates a patient and pushes; B (doctor) runs `run_live`. The time is
/// from A's push start to B's `after_sync` for the sync that pulled the row (called after
/// the page's transaction committed). Returns p50, p99 and A's push-alone p50, in ms.
async fn live_bench(
    base: &str,
    clinic: Uuid,
    iters: usize,
    dir: &std::path::Path,
) -> Result<(f64, f64, f64)> {
    let engine_for = |who: &str| -> Result<SyncEngine> {
        let api = ServerApi::new(base, who)?;
        let part = ClinicPartition::open(
            &DataDir::new(dir.join(format!("live-{who}"))),
            clinic,
            &PartitionKey::generate(),
        )?;
        Ok(SyncEngine::new(api, part))
    };
    let mut a = engine_for("a")?;
    a.api().login("desk@bench.in", "bench-password-2").await?;
    let mut b = engine_for("b")?;
    b.api().login("doctor@bench.in", "bench-password-1").await?;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, SyncReport)>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let r = b
            .run_live(
                async {
                    let _ = stop_rx.await;
                },
                move |r| {
                    let _ = tx.send((Instant::now(), *r));
                },
            )
            .await;
        (b, r)
    });
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await?
        .context("initial live sync")?;

    let mut rng = StdRng::seed_from_u64(7);
    let (mut lat, mut push) = (Vec::new(), Vec::new());
    let mut ids = Vec::new();
    // Ten warm-up iterations (connection pools, statement caches) are not counted.
    for i in 0..iters + 10 {
        let created = a.partition_mut().create_patient(valid(NewPatient {
            id: None,
            name: format!("Live Patient {i}"),
            sex: Sex::Female,
            date_of_birth: None,
            phone: Some(format!("+91 98{:08}", rng.gen_range(0..100_000_000u32))),
            address: None,
            abha_number: None,
        }))?;
        ids.push(created.id);
        let t0 = Instant::now();
        let mut report = SyncReport::default();
        a.push(&mut report).await?;
        let pushed = t0.elapsed();
        anyhow::ensure!(report.applied == 1, "push applied: {report:?}");
        let arrived = loop {
            let (at, r) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .context("no live sync within 10 s")?
                .context("live task ended")?;
            if r.pulled > 0 {
                break at;
            }
        };
        if i >= 10 {
            lat.push((arrived - t0).as_secs_f64() * 1e3);
            push.push(pushed.as_secs_f64() * 1e3);
        }
    }
    let _ = stop_tx.send(());
    let (b, r) = task.await?;
    r?;
    for id in &ids {
        anyhow::ensure!(
            b.partition().get_patient(*id)?.is_some(),
            "B lacks patient {id}"
        );
    }
    let (lat, push) = (sorted(lat), sorted(push));
    println!(
        "   A push → row in B: n {}, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; A's push alone p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        pct(&push, 0.5),
        pct(&push, 0.99)
    );
    Ok((pct(&lat, 0.5), pct(&lat, 0.99), pct(&push, 0.5)))
}

// ---------------------------------------------------------------- search fill and typing

const FIRST_SYLLABLES: [&str; 24] = [
    "a", "an", "ar", "as", "bha", "cha", "de", "dee", "ga", "ha", "ja", "ka", "ku", "la", "ma",
    "mee", "na", "ni", "pra", "ra", "sa", "su", "va", "ya",
];
const MORE_SYLLABLES: [&str; 20] = [
    "dha", "ja", "ka", "la", "li", "man", "mi", "na", "nil", "nu", "pa", "ra", "re", "ri", "sha",
    "shi", "ta", "ti", "vi", "ya",
];
const SURNAMES: [&str; 40] = [
    "Patil",
    "Kulkarni",
    "Joshi",
    "Deshpande",
    "Shinde",
    "Pawar",
    "Jadhav",
    "More",
    "Gaikwad",
    "Chavan",
    "Sharma",
    "Verma",
    "Gupta",
    "Singh",
    "Yadav",
    "Reddy",
    "Naidu",
    "Rao",
    "Iyer",
    "Nair",
    "Menon",
    "Pillai",
    "Das",
    "Ghosh",
    "Bose",
    "Mukherjee",
    "Banerjee",
    "Khan",
    "Shaikh",
    "Pathan",
    "Mehta",
    "Shah",
    "Desai",
    "Patel",
    "Thakur",
    "Mishra",
    "Tiwari",
    "Pandey",
    "Dubey",
    "Saxena",
];

/// Fills the partition with `n` synthetic patients through `apply_pull_page` in pages of
/// 5,000 (the pull path, FTS triggers included). Returns (name, phone digits) of one patient
/// in 2,000, the people the desk will type.
fn fill_patients(
    part: &mut ClinicPartition,
    clinic: Uuid,
    n: usize,
) -> Result<Vec<(String, String)>> {
    let mut rng = StdRng::seed_from_u64(42);
    let now = Utc::now();
    let mut targets = Vec::new();
    let t = Instant::now();
    let mut page = Vec::with_capacity(MAX_PULL_LIMIT as usize);
    for i in 0..n {
        let mut first = FIRST_SYLLABLES[rng.gen_range(0..FIRST_SYLLABLES.len())].to_owned();
        for _ in 0..rng.gen_range(1..=2) {
            first.push_str(MORE_SYLLABLES[rng.gen_range(0..MORE_SYLLABLES.len())]);
        }
        let mut chars = first.chars();
        let first: String = chars
            .next()
            .map(|c| c.to_ascii_uppercase())
            .into_iter()
            .chain(chars)
            .collect();
        let name = format!("{first} {}", SURNAMES[rng.gen_range(0..SURNAMES.len())]);
        let national = format!(
            "{}{:09}",
            rng.gen_range(6..=9u8),
            rng.gen_range(0..1_000_000_000u32)
        );
        if i % 2000 == 1000 {
            targets.push((name.clone(), national.clone()));
        }
        let id = Uuid::now_v7();
        let p = Patient {
            id,
            clinic_id: clinic,
            patient_number: i as i64 + 1,
            name,
            sex: if i % 2 == 0 { Sex::Female } else { Sex::Male },
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1950 + (i % 60) as i32, 1, 1),
            phone: Some(format!("+91 {national}")),
            address: Some(format!("{} MG Road, Pune", i % 500)),
            abha_number: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        page.push(Change {
            entity: EntityKind::Patient,
            id,
            version: 1,
            deleted: false,
            data: serde_json::to_value(&p)?,
        });
        if page.len() == MAX_PULL_LIMIT as usize || i + 1 == n {
            part.apply_pull_page(&page, &format!("0:{i}"), i + 1 < n)?;
            page.clear();
        }
    }
    println!(
        "   filled {n} patients via apply_pull_page in {:.1}s ({:.0} rows/s); file {:.0} MB",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64(),
        file_size(&part.path()) as f64 / 1e6
    );
    Ok(targets)
}

/// What the desk types: for each target, the name's first 1..6 characters (lower case, as
/// typed), and for the next target the phone's first 1..6 digits; (query, prefix length).
fn keystrokes(targets: &[(String, String)]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (i, (name, phone)) in targets.iter().enumerate() {
        let typed = if i % 2 == 0 {
            name.to_lowercase()
        } else {
            phone.clone()
        };
        for len in 1..=6 {
            let q: String = typed.chars().take(len).collect();
            if q.trim().is_empty() {
                continue;
            }
            out.push((q, len));
        }
    }
    out
}

/// The FTS query `search_patients` runs (its quoting of prefix terms and its ordering join),
/// without the local-read bookkeeping. Returns the number of hits.
fn raw_search(conn: &Connection, typed: &str) -> Result<usize> {
    let numeric = typed
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace());
    let fts = if numeric {
        format!("\"{}\"*", digits(typed))
    } else {
        typed
            .split_whitespace()
            .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // The bounded search `search_patients` runs: the first 300 matches as FTS5 yields
    // them, ordered by name.
    let mut stmt = conn.prepare_cached(
        "SELECT id, vaidya_clinic_id(), patient_number, name, sex, date_of_birth, phone, address,
                abha_number, version, created_at, updated_at
         FROM (SELECT rowid AS hit FROM patients_fts WHERE patients_fts MATCH ?1 LIMIT 300)
         JOIN patients ON patients.pk = hit
         ORDER BY lower(name), id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![fts, SEARCH_LIMIT], |r| {
        // Ids are stored as their 16 bytes (partition schema 23).
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(3)?))
    })?;
    let mut n = 0;
    for r in rows {
        let _: (Vec<u8>, String) = r?;
        n += 1;
    }
    Ok(n)
}

/// Input through the shared rules, as the client core takes it.
fn valid<T: vaidya_shared::rules::Validate>(input: T) -> vaidya_shared::rules::Valid<T> {
    input
        .validate(chrono::Utc::now().date_naive())
        .expect("benchmark input follows the shared rules")
}
