//! A first fill over a clinic's line: slow, delayed, jittery, and cut twice mid-transfer.
//! The fill resumes from the last stored page (never from scratch), keeps counting its
//! progress where it stopped, and what has arrived is searchable while it is under way.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use vaidya_client::SyncProgress;
use vaidya_tests::proxy::Shape;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;
use crate::support::{keyring, Device};

/// Patients of the realistic clinic (each with appointments, a note, a prescription and a
/// bill): 6 rows of the feed each.
const PATIENTS: i64 = 600;

pub async fn a_first_fill_over_a_cut_slow_line_resumes_where_it_stopped(
    h: Arc<Harness>,
) -> Result<()> {
    if keyring("a_first_fill_over_a_cut_slow_line_resumes_where_it_stopped")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let clinic = world.a.id;
    let su = world.db.superuser().await?;
    vaidya_tests::realistic::load_clinic(&su, clinic, world.a.doctor.id, PATIENTS).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    // A clinic's broadband: 8 Mbit/s, 60 ms round trip, up to 10 ms of jitter.
    let line = Shape::line(8.0, Duration::from_millis(60), Duration::from_millis(10));

    // The same fill on an unbroken line: the bytes a fill takes.
    let mut whole = Device::new(&server, 51).await?;
    whole.proxy.set_shape(line);
    whole.sign_in(&world.a.doctor).await?;
    let before = whole.proxy.bytes_down();
    let mut engine = whole.engine(clinic, 1)?;
    let report = engine.sync().await?;
    let uncut_bytes = whole.proxy.bytes_down() - before;
    let rows = report.pulled;
    check!(
        rows as i64 >= PATIENTS * 6,
        "the whole fill pulled {rows} rows"
    );
    drop(engine);

    // The fill that loses its line twice, at a third and at two thirds.
    let mut cut = Device::new(&server, 52).await?;
    cut.proxy.set_shape(line);
    cut.sign_in(&world.a.doctor).await?;
    let seen: Arc<Mutex<Vec<SyncProgress>>> = Arc::default();
    let record = seen.clone();
    // The line is cut from the progress callback, as the page that reaches the mark is
    // stored: exactly there, however busy the machine (a poller could miss the mark).
    let cut_at = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    let (mark, cut_line) = (cut_at.clone(), cut.proxy.cutter());
    let mut engine = cut.engine(clinic, 1)?.on_progress(move |p| {
        record.lock().unwrap_or_else(|e| e.into_inner()).push(*p);
        if p.rows >= mark.load(std::sync::atomic::Ordering::SeqCst) {
            mark.store(u64::MAX, std::sync::atomic::Ordering::SeqCst);
            cut_line();
        }
    });
    let before = cut.proxy.bytes_down();
    let mut failures = 0;
    let mut searched_mid_fill = false;
    for third in [1u64, 2, 3] {
        let target = rows as u64 * third / 3;
        if third < 3 {
            cut_at.store(target, std::sync::atomic::Ordering::SeqCst);
        }
        let outcome = engine.sync().await;
        match outcome {
            Ok(_) if third == 3 => {}
            Ok(_) => anyhow::bail!("the fill ended before its cut at {third}/3"),
            Err(e) if e.is_retryable() && third < 3 => {
                failures += 1;
                // The line is down mid-fill: what has arrived is stored, counted and
                // searchable.
                let fill = engine.partition().initial_fill()?;
                check!(
                    fill.is_some_and(|f| f.rows >= target && f.estimated_total.is_some()),
                    "after the cut at {third}/3 the fill's progress is {fill:?}"
                );
                let arrived = engine.partition().search_patients("Asha", 5)?;
                check!(!arrived.is_empty(), "nothing searchable mid-fill");
                searched_mid_fill = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let cut_bytes = cut.proxy.bytes_down() - before;
    check!(
        failures == 2 && searched_mid_fill,
        "{failures} cuts took effect"
    );
    check!(
        engine.partition().initial_fill()?.is_none(),
        "the fill is over, its progress record is not"
    );
    // Every row arrived, once.
    let count = engine.partition().all_patients()?.len() as i64;
    check!(count == PATIENTS, "{count} of {PATIENTS} patients arrived");

    // Resumed, not restarted: a restart after each cut would take about twice the bytes.
    let ratio = cut_bytes as f64 / uncut_bytes as f64;
    println!("first fill of {rows} rows: {uncut_bytes} bytes unbroken, {cut_bytes} with two cuts ({ratio:.2}×)");
    check!(
        cut_bytes * 10 <= uncut_bytes * 13,
        "the cut fill took {cut_bytes} bytes against {uncut_bytes} unbroken ({ratio:.2}×)"
    );

    // The progress counted on across the cuts, to the end, with a time left.
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let counts: Vec<u64> = seen.iter().map(|p| p.rows).collect();
    check!(
        counts.windows(2).all(|w| w[0] < w[1]),
        "the count went back: {counts:?}"
    );
    let last = seen.last().copied();
    check!(
        last.is_some_and(|p| p.rows == rows as u64 && p.eta_secs == Some(0.0)),
        "the last progress: {last:?} (of {rows} rows)"
    );
    check!(
        seen.iter().any(|p| p.eta_secs.is_some_and(|s| s > 0.0)),
        "no time left was ever told"
    );
    Ok(())
}
