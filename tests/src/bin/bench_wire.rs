//! `bench-wire`: bytes on the wire per synced row of a realistic clinic, in both pull
//! layouts (`changes` and `compact`), as JSON and with the compression the server negotiates
//! (gzip, zstd), overall and per entity (issue 15).
//!
//! A throwaway PostgreSQL cluster with the real migrations; a clinic whose patients each
//! have appointments, a clinical note with text, a prescription, and an invoice with a
//! payment; the whole pull feed fetched by its doctor once per `Accept-Encoding`, counting
//! the body bytes as they arrive (no decompression on the way). Figures and the command are
//! kept in `docs/benchmarks.md`. Run with
//! `cargo run --release -p vaidya-tests --bin bench-wire [-- --patients N]`.

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::{ensure, Result};
use vaidya_shared::compact_pull::{CompactPullResponse, PullFormat};
use vaidya_shared::sync::{PullResponse, MAX_PULL_LIMIT};
use vaidya_tests::{Harness, TestServer, World};

/// The overall figure issue 15 asks for.
const TARGET_BYTES_PER_ROW: f64 = 80.0;

#[tokio::main]
async fn main() -> Result<()> {
    let mut patients: i64 = 5_000;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--patients" => patients = args.next().unwrap_or_default().parse()?,
            _ => anyhow::bail!("bench-wire [--patients N (5000)]"),
        }
    }
    let h = Harness::start().await?;
    let w = World::create(&h).await?;
    let su = w.db.superuser().await?;
    vaidya_tests::realistic::load_clinic(&su, w.a.id, w.a.doctor.id, patients).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let token = server
        .login_as(&w.a.doctor)
        .await?
        .token
        .unwrap_or_default();

    println!("bench-wire: one clinic, {patients} patients, pulled whole by its doctor");
    let mut baseline = 0.0;
    let mut pages_json = Vec::new();
    for format in [PullFormat::Changes, PullFormat::Compact] {
        for encoding in ["identity", "gzip", "zstd"] {
            let (rows, bytes, pages) =
                pull_all(&server.base, w.a.id, &token, encoding, format).await?;
            let per_row = bytes as f64 / rows as f64;
            let first = format == PullFormat::Changes && encoding == "identity";
            if first {
                baseline = per_row;
                pages_json = pages;
            }
            let verdict = if first {
                String::new()
            } else {
                format!(
                    "  {:.2}× of JSON  target ≤ {TARGET_BYTES_PER_ROW} B/row: {}",
                    per_row / baseline,
                    if per_row <= TARGET_BYTES_PER_ROW {
                        "MET"
                    } else {
                        "MISS"
                    }
                )
            };
            println!(
                "  {:<8} {encoding:<8} {rows} rows  {:>10} bytes  {per_row:>7.1} B/row{verdict}",
                format!("{format:?}").to_lowercase(),
                bytes
            );
        }
    }

    // The same pages through zstd at other levels, to see what a level buys and costs (the
    // server asks for the fastest, level 1).
    let json_pages: Vec<Vec<u8>> = pages_json
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<_, _>>()?;
    let rows: usize = pages_json.iter().map(|p| p.changes.len()).sum();
    let plain: usize = json_pages.iter().map(Vec::len).sum();
    println!("  zstd level  B/row   compress MB/s (one core)");
    for level in [1, 3, 6, 9, 12, 19] {
        let started = std::time::Instant::now();
        let mut packed = 0;
        for page in &json_pages {
            packed += zstd::bulk::compress(page, level)?.len();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {level:>10} {:>6.1}   {:>8.0}",
            packed as f64 / rows as f64,
            plain as f64 / 1e6 / secs
        );
    }

    // Per entity: each entity's changes as the feed carries them, alone (JSON), and
    // compressed alone with zstd at the server's level (indicative: on the wire entities
    // are mixed in pages, which compresses a little better).
    let mut by_entity: BTreeMap<String, (usize, Vec<u8>)> = BTreeMap::new();
    for page in &pages_json {
        for change in &page.changes {
            let entry = by_entity
                .entry(change.entity.as_str().to_owned())
                .or_default();
            entry.0 += 1;
            serde_json::to_writer(&mut entry.1, change)?;
            entry.1.write_all(b",")?;
        }
    }
    // The same per entity in the compact layout: each entity's changes as one compact page.
    let mut compact_by_entity: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for page in &pages_json {
        for kind in vaidya_shared::sync::EntityKind::ALL {
            let changes: Vec<_> = page
                .changes
                .iter()
                .filter(|c| c.entity == kind)
                .cloned()
                .collect();
            if changes.is_empty() {
                continue;
            }
            let alone = PullResponse {
                changes,
                ..page.clone()
            };
            let compact = CompactPullResponse::from_page(w.a.id, alone)?;
            serde_json::to_writer(
                compact_by_entity
                    .entry(kind.as_str().to_owned())
                    .or_default(),
                &compact,
            )?;
        }
    }
    println!("  per entity (JSON alone → zstd alone; compact alone → zstd alone; bytes per row):");
    for (entity, (rows, json)) in &by_entity {
        let packed = zstd::bulk::compress(json, 1)?;
        let compact = &compact_by_entity[entity];
        let compact_packed = zstd::bulk::compress(compact, 1)?;
        println!(
            "    {entity:<12} {rows:>6} rows  {:>7.1} → {:>6.1};  {:>7.1} → {:>6.1}",
            json.len() as f64 / *rows as f64,
            packed.len() as f64 / *rows as f64,
            compact.len() as f64 / *rows as f64,
            compact_packed.len() as f64 / *rows as f64
        );
    }
    Ok(())
}

/// Pulls the whole feed asking for `encoding`; returns rows, body bytes as received, and the
/// decoded pages.
async fn pull_all(
    base: &str,
    clinic: uuid::Uuid,
    token: &str,
    encoding: &str,
    format: PullFormat,
) -> Result<(usize, usize, Vec<PullResponse>)> {
    let http = reqwest::Client::builder().no_gzip().no_zstd().build()?;
    let (mut cursor, mut rows, mut bytes, mut pages) = (None::<String>, 0, 0, Vec::new());
    loop {
        let mut req = http
            .get(format!("{base}/v1/clinics/{clinic}/sync/pull"))
            .bearer_auth(token)
            .header(
                vaidya_shared::PROTOCOL_HEADER,
                vaidya_shared::PROTOCOL_VERSION.to_string(),
            )
            .header(reqwest::header::ACCEPT_ENCODING, encoding)
            .query(&[("limit", MAX_PULL_LIMIT.to_string())]);
        if format == PullFormat::Compact {
            req = req.query(&[("format", "compact")]);
        }
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let resp = req.send().await?;
        ensure!(resp.status().is_success(), "pull: {}", resp.status());
        let got = resp
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_owned();
        let body = resp.bytes().await?;
        bytes += body.len();
        let json = match got.as_str() {
            "zstd" => zstd::decode_all(&body[..])?,
            "gzip" => {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out)?;
                out
            }
            _ => body.to_vec(),
        };
        ensure!(got == encoding, "asked for {encoding}, got {got}");
        let page: PullResponse = match format {
            PullFormat::Changes => serde_json::from_slice(&json)?,
            PullFormat::Compact => {
                serde_json::from_slice::<CompactPullResponse>(&json)?.into_page(clinic)?
            }
        };
        rows += page.changes.len();
        cursor = Some(page.cursor.clone());
        let more = page.has_more;
        pages.push(page);
        if !more {
            return Ok((rows, bytes, pages));
        }
    }
}
