//! `bench-hub`: the clinic hub's figures (issue 11). Two PCs on the hub's LAN (loopback)
//! during an outage, and the hub's line to the group server through the test proxy.
//!
//! - LAN propagation: the front desk's PC pushes a new patient to the hub; the doctor's PC
//!   hears of it on the hub's live stream and pulls it. Time from the push's start until the
//!   doctor's pull holds the patient, p50 and p99 over `--samples`.
//! - A day's work forwarded: `--day` patients, as many notes and as many bills pushed to the
//!   hub during the outage, then the line returns shaped at `--mbit` Mbit/s with `--rtt-ms`
//!   round trip: time for the hub to forward all of it (`Replica::forward`, every change
//!   applied upstream as its author), bytes up and down, and the time for the group server's
//!   rows to come back into the hub's copy (`Replica::catch_up`).
//!
//! `cargo run --release -p vaidya-tests --bin bench-hub -- [--samples 200] [--day 300]
//! [--mbit 4] [--rtt-ms 100]`
//!
//! No keyring: the hub's session is the one its approval hands out, used directly.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;
use vaidya_client::ServerApi;
use vaidya_server::hub::replica::Replica;
use vaidya_shared::sync::{EntityKind, Mutation, MutationResult, PushRequest};
use vaidya_tests::hub::{device_key, signed_create};
use vaidya_tests::proxy::{Proxy, Shape};
use vaidya_tests::{Harness, TestServer, World};

struct Args {
    samples: usize,
    day: usize,
    mbit: f64,
    rtt_ms: u64,
}

async fn push_all(pc: &ServerApi, clinic: Uuid, mutations: Vec<Mutation>) -> Result<()> {
    for batch in mutations.chunks(200) {
        let answer = pc
            .push(
                clinic,
                &PushRequest {
                    mutations: batch.to_vec(),
                    local_accesses: vec![],
                    cancelled_numbers: vec![],
                },
            )
            .await?;
        anyhow::ensure!(
            answer
                .results
                .iter()
                .all(|r| matches!(r, MutationResult::Applied { .. })),
            "a push to the hub was not applied: {:?}",
            answer
                .results
                .iter()
                .find(|r| !matches!(r, MutationResult::Applied { .. }))
        );
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args {
        samples: 200,
        day: 300,
        mbit: 4.0,
        rtt_ms: 100,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        match pair[0].as_str() {
            "--samples" => args.samples = value.parse()?,
            "--day" => args.day = value.parse()?,
            "--mbit" => args.mbit = value.parse()?,
            "--rtt-ms" => args.rtt_ms = value.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let h = Harness::start().await?;
    let w = World::create(&h).await?;
    let (a, k) = (&w.a, w.a.id);
    let server = TestServer::spawn(&w.db, 8).await?;
    let line = Proxy::start(server.base.trim_start_matches("http://").parse()?, 3).await?;
    const DESK_PC: &str = "Front desk PC";
    const DOCTOR_PC: &str = "Consulting room PC";
    let desk_up = server.login_as(&a.desk).await?.with_device(DESK_PC)?;
    let doctor_up = server.login_as(&a.doctor).await?;
    let admin = server.login_as(&a.admin).await?;
    let desk_key = device_key(&desk_up, a.desk.id, 31).await?;
    let doctor_key = device_key(&doctor_up, a.doctor.id, 32).await?;
    let (_, series) = desk_up
        .post(
            &format!("/v1/clinics/{k}/invoice-series"),
            json!({"partition_id": "c".repeat(32)}),
        )
        .await?;
    let year = vaidya_shared::numbering::FinancialYear::of(Utc::now()).label();
    let series = format!("{year}-{}", series["code"].as_str().context("series code")?);
    let (hub, _) = admin.register_hub(k, "Reception hub", &doctor_up).await?;
    let upstream = ServerApi::new(&line.base(), vaidya_server::hub::DEVICE)?;
    upstream.set_access_token(hub.token.clone());
    let hub_db = h.database().await?;
    let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
    replica.catch_up(&upstream, "Group a").await?;
    let lan = TestServer::spawn(&hub_db, 8).await?;

    // The outage: the PCs work through the hub.
    line.set_online(false);
    let desk_pc = ServerApi::new(&lan.base, DESK_PC)?;
    desk_pc.sign_in_with_device_key(k, &desk_key).await?;
    let doctor_pc = ServerApi::new(&lan.base, DOCTOR_PC)?;
    doctor_pc.sign_in_with_device_key(k, &doctor_key).await?;
    let mut hears = doctor_pc.live(k).await?;
    hears.next().await;
    let mut cursor = doctor_pc.pull(k, None, Some(5000)).await?.cursor;

    let mut seen = Vec::with_capacity(args.samples);
    for i in 0..args.samples {
        let id = Uuid::now_v7();
        let m = signed_create(
            &desk_key,
            k,
            DESK_PC,
            EntityKind::Patient,
            id,
            json!({"id": id, "name": format!("Walk-in {i}"), "sex": "female"}),
        );
        let start = Instant::now();
        push_all(&desk_pc, k, vec![m]).await?;
        loop {
            tokio::time::timeout(Duration::from_secs(5), hears.next())
                .await
                .context("the doctor's PC heard nothing for 5 s")?;
            let page = doctor_pc.pull(k, Some(&cursor), Some(5000)).await?;
            cursor = page.cursor;
            if page.changes.iter().any(|c| c.id == id) {
                break;
            }
        }
        seen.push(start.elapsed());
    }
    seen.sort();
    println!(
        "LAN propagation through the hub (push → the colleague's pull holds it), {} samples: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        seen.len(),
        percentile(&seen, 0.5).as_secs_f64() * 1e3,
        percentile(&seen, 0.99).as_secs_f64() * 1e3,
        seen.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    // What the samples queued goes up unshaped, so the day below is measured alone.
    line.set_online(true);
    replica.forward(&upstream).await?;
    replica.catch_up(&upstream, "Group a").await?;
    line.set_online(false);

    // A day's work during the outage.
    let patients: Vec<Uuid> = (0..args.day).map(|_| Uuid::now_v7()).collect();
    let mut registered = Vec::new();
    let mut notes = Vec::new();
    let mut bills = Vec::new();
    for (i, p) in patients.iter().enumerate() {
        registered.push(signed_create(&desk_key, k, DESK_PC, EntityKind::Patient, *p,
            json!({"id": p, "name": format!("Patient {i} Deshpande"), "sex": if i % 2 == 0 { "female" } else { "male" },
                   "phone": format!("98{:08}", 20_000_000 + i), "address": "Kothrud, Pune"})));
        let note = Uuid::now_v7();
        notes.push(signed_create(
            &doctor_key,
            k,
            DOCTOR_PC,
            EntityKind::Encounter,
            note,
            json!({"id": note, "patient_id": p, "chief_complaint": "Fever and cough for three days",
                   "notes": "Throat congested, chest clear. Advised rest, fluids and paracetamol.",
                   "diagnosis": "J06.9 Acute upper respiratory infection"}),
        ));
        let bill = Uuid::now_v7();
        bills.push(signed_create(
            &desk_key,
            k,
            DESK_PC,
            EntityKind::Invoice,
            bill,
            json!({"id": bill, "patient_id": p, "series": series, "number": i + 1,
                   "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1,
                              "unit_price_paise": 50000, "discount_paise": 0, "gst_rate_bp": 0}]}),
        ));
    }
    push_all(&desk_pc, k, registered).await?;
    push_all(&doctor_pc, k, notes).await?;
    push_all(&desk_pc, k, bills).await?;
    let waiting = replica.waiting().await?;

    // The line returns, shaped.
    line.set_shape(Shape::line(
        args.mbit,
        Duration::from_millis(args.rtt_ms),
        Duration::from_millis(args.rtt_ms / 10),
    ));
    line.set_online(true);
    let (up0, down0) = (line.bytes_up(), line.bytes_down());
    let start = Instant::now();
    let forwarded = replica.forward(&upstream).await?;
    let forward_secs = start.elapsed().as_secs_f64();
    let (up1, down1) = (line.bytes_up(), line.bytes_down());
    let start = Instant::now();
    let back = replica.catch_up(&upstream, "Group a").await?;
    let back_secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        forwarded.refused == 0,
        "the group server refused {} changes",
        forwarded.refused
    );
    let bits = ((up1 - up0) as f64) * 8.0;
    println!(
        "a day's work ({} patients, {} notes, {} bills = {} changes, {waiting} queued) forwarded over {} Mbit/s, {} ms RTT: {:.1} s; {:.0} kB up ({:.1} s of the line at full rate), {:.0} kB down",
        args.day, args.day, args.day, forwarded.mutations, args.mbit, args.rtt_ms, forward_secs,
        (up1 - up0) as f64 / 1e3, bits / (args.mbit * 1e6), (down1 - down0) as f64 / 1e3
    );
    println!(
        "the group server's rows back into the hub's copy: {} rows in {:.1} s; {:.0} kB down",
        back.rows,
        back_secs,
        (line.bytes_down() - down1) as f64 / 1e3
    );
    Ok(())
}
