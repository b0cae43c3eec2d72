//! `bench-link`: a new PC's first fill of a realistic clinic over a clinic's line (issue 15,
//! item 2). The test proxy shapes the link (bandwidth shared by every connection, added
//! round trip, jitter); the same fill runs once unbroken and once with the line cut at a
//! third and at two thirds of the rows, as the app runs it (`SyncEngine::sync`, its own
//! retries and backoff). Figures: time until search finds a patient (a second connection
//! polls the file as the desktop's screens would), time until complete, bytes on the line,
//! and the cut run's bytes against the unbroken one's (target ≤ 1.1×).
//!
//! `cargo run --release -p vaidya-tests --bin bench-link -- [--patients N (100000)]
//! [--mbit 4] [--rtt-ms 100] [--jitter-ms 10] [--page N (the app's first-fill page)]`
//!
//! The keyring is not needed: the engine is built from `ServerApi` + `ClinicPartition::open`
//! with a generated key, which is what `session::Client::sync_engine` does minus the keyring.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use uuid::Uuid;
use vaidya_client::partition::ClinicalKey;
use vaidya_client::{ClinicPartition, DataDir, PartitionKey, ServerApi, SyncEngine, SyncOptions};
use vaidya_tests::proxy::{Proxy, Shape};
use vaidya_tests::{Harness, Person, TestServer, World};

/// Bytes of the cut fill against the unbroken one (issue 15).
const TARGET_CUT_RATIO: f64 = 1.1;

struct Args {
    patients: i64,
    mbit: f64,
    rtt_ms: u64,
    jitter_ms: u64,
    page: i64,
}

/// One fill's figures.
struct Fill {
    rows: usize,
    bytes: u64,
    searchable_secs: f64,
    complete_secs: f64,
    cuts: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args {
        patients: 100_000,
        mbit: 4.0,
        rtt_ms: 100,
        jitter_ms: 10,
        page: SyncOptions::default().fill_limit,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        match pair[0].as_str() {
            "--patients" => args.patients = value.parse()?,
            "--mbit" => args.mbit = value.parse()?,
            "--rtt-ms" => args.rtt_ms = value.parse()?,
            "--jitter-ms" => args.jitter_ms = value.parse()?,
            "--page" => args.page = value.parse()?,
            _ => anyhow::bail!(
                "usage: bench-link [--patients N] [--mbit M] [--rtt-ms MS] [--jitter-ms MS] [--page N]"
            ),
        }
    }
    println!(
        "bench-link: {} patients (realistic clinic), {} Mbit/s, {} ms RTT, ≤ {} ms jitter, pull page {} rows, {}",
        args.patients,
        args.mbit,
        args.rtt_ms,
        args.jitter_ms,
        args.page,
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let h = Harness::start().await?;
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    let t = Instant::now();
    vaidya_tests::realistic::load_clinic(&su, w.a.id, w.a.doctor.id, args.patients).await?;
    println!("loaded in {:.1}s", t.elapsed().as_secs_f64());
    let server = TestServer::spawn(&w.db, 4).await?;
    let upstream = server
        .base
        .trim_start_matches("http://")
        .parse()
        .context("server address")?;
    let proxy = Proxy::start(upstream, 15).await?;
    proxy.set_shape(Shape::line(
        args.mbit,
        Duration::from_millis(args.rtt_ms),
        Duration::from_millis(args.jitter_ms),
    ));

    let whole = fill(&proxy, w.a.id, &w.a.doctor, &args, &[]).await?;
    report("unbroken", &whole, args.mbit);
    let cut = fill(&proxy, w.a.id, &w.a.doctor, &args, &[1.0 / 3.0, 2.0 / 3.0]).await?;
    report("cut twice", &cut, args.mbit);
    anyhow::ensure!(
        cut.rows == whole.rows,
        "the cut fill has {} rows, the unbroken one {}",
        cut.rows,
        whole.rows
    );
    let ratio = cut.bytes as f64 / whole.bytes as f64;
    println!(
        "\nbytes with two cuts / unbroken: {ratio:.3}  target ≤ {TARGET_CUT_RATIO}: {}",
        if ratio <= TARGET_CUT_RATIO {
            "PASS"
        } else {
            "MISS"
        }
    );
    Ok(())
}

fn report(what: &str, f: &Fill, mbit: f64) {
    let line_secs = f.bytes as f64 * 8.0 / (mbit * 1e6);
    println!(
        "{what:>10}: {} rows, {:.1} MB on the line ({:.1} B/row; {line_secs:.0}s at the line's rate); \
         search works after {:.1}s, complete after {:.1}s ({:.0} rows/s); {} cuts",
        f.rows,
        f.bytes as f64 / 1e6,
        f.bytes as f64 / f.rows as f64,
        f.searchable_secs,
        f.complete_secs,
        f.rows as f64 / f.complete_secs,
        f.cuts
    );
}

/// A first fill into a fresh partition through `proxy`, cutting every open connection when
/// the rows applied pass each fraction of `cut_at` (of the estimate).
async fn fill(
    proxy: &Proxy,
    clinic: Uuid,
    doctor: &Person,
    args: &Args,
    cut_at: &[f64],
) -> Result<Fill> {
    let api = ServerApi::new(&proxy.base(), "bench-link")?;
    api.login(&doctor.email, &doctor.password).await?;
    let dir = tempfile::tempdir()?;
    let data = DataDir::new(dir.path());
    let key = PartitionKey::generate();
    let mut part = ClinicPartition::open(&data, clinic, &key)?;
    // The doctor's session keeps notes and prescriptions in the clinical store.
    part.open_clinical_store(&ClinicalKey::generate())?;
    let rows = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let (seen_rows, seen_total) = (rows.clone(), total.clone());
    let mut engine = SyncEngine::new(api, part)
        .with_options(SyncOptions {
            fill_limit: args.page,
            ..SyncOptions::default()
        })
        .on_progress(move |p| {
            seen_rows.store(p.rows, Ordering::Relaxed);
            seen_total.store(
                p.estimated_total.unwrap_or(0).max(0) as u64,
                Ordering::Relaxed,
            );
        });

    // A second connection, as the desktop's screens have, searching until a patient of the
    // clinic turns up.
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let searcher = {
        let (data, key, done) = (data.clone(), key.clone(), done.clone());
        tokio::task::spawn_blocking(move || -> Result<f64> {
            let reader = ClinicPartition::open(&data, clinic, &key)?;
            loop {
                if !reader.search_patients("Asha", 5)?.is_empty() {
                    return Ok(started.elapsed().as_secs_f64());
                }
                if done.load(Ordering::Relaxed) {
                    anyhow::bail!("the fill ended and search never found a patient");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let before = proxy.bytes_down();
    let mut cuts = 0;
    let cutter = async {
        for fraction in cut_at {
            loop {
                let t = total.load(Ordering::Relaxed);
                if t > 0 && rows.load(Ordering::Relaxed) as f64 >= t as f64 * fraction {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // Mid-transfer: wait for bytes of the next page to be on their way.
            let at = proxy.bytes_down();
            while proxy.bytes_down() < at + 20_000 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            proxy.cut_all();
            cuts += 1;
        }
        std::future::pending::<()>().await
    };
    let report = tokio::select! {
        r = engine.sync() => r?,
        _ = cutter => unreachable!("the cutter never ends"),
    };
    let complete_secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let searchable_secs = searcher.await??;
    anyhow::ensure!(
        engine.partition().initial_fill()?.is_none(),
        "the fill is complete but still recorded as under way"
    );
    // The engine's report covers its last attempt; the progress counts the whole fill.
    let _ = report;
    Ok(Fill {
        rows: rows.load(Ordering::Relaxed) as usize,
        bytes: proxy.bytes_down() - before,
        searchable_secs,
        complete_secs,
        cuts,
    })
}
