//! `bench-wire`: bytes on the wire per synced row of a realistic clinic, as JSON and with
//! the compression the server negotiates (gzip, zstd), overall and per entity (issue 15).
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
    load(&su, w.a.id, w.a.doctor.id, patients).await?;
    let server = TestServer::spawn(&w.db, 4).await?;
    let token = server
        .login_as(&w.a.doctor)
        .await?
        .token
        .unwrap_or_default();

    println!("bench-wire: one clinic, {patients} patients, pulled whole by its doctor");
    let mut baseline = 0.0;
    let mut pages_json = Vec::new();
    for encoding in ["identity", "gzip", "zstd"] {
        let (rows, bytes, pages) = pull_all(&server.base, w.a.id, &token, encoding).await?;
        let per_row = bytes as f64 / rows as f64;
        if encoding == "identity" {
            baseline = per_row;
            pages_json = pages;
        }
        let verdict = if encoding == "identity" {
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
            "  {encoding:<8} {rows} rows  {:>10} bytes  {per_row:>7.1} B/row{verdict}",
            bytes
        );
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
    println!("  per entity (JSON alone → zstd alone, bytes per row):");
    for (entity, (rows, json)) in &by_entity {
        let packed = zstd::bulk::compress(json, 3)?;
        println!(
            "    {entity:<12} {rows:>6} rows  {:>7.1} → {:>6.1}",
            json.len() as f64 / *rows as f64,
            packed.len() as f64 / *rows as f64
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
        let page: PullResponse = serde_json::from_slice(&json)?;
        rows += page.changes.len();
        cursor = Some(page.cursor.clone());
        let more = page.has_more;
        pages.push(page);
        if !more {
            return Ok((rows, bytes, pages));
        }
    }
}

/// A realistic clinic: per patient two appointments, a note with text, a prescription with
/// two items, an invoice with two lines and a payment. Names, places and texts vary the way
/// real ones do (drawn from small lists), not as random hex.
async fn load(
    su: &tokio_postgres::Client,
    clinic: uuid::Uuid,
    doctor: uuid::Uuid,
    patients: i64,
) -> Result<()> {
    su.batch_execute("SET session_replication_role = replica")
        .await?;
    let stamp = "1, pg_current_xact_id(), nextval('vaidya.change_seq'), now(), now()";
    let sql = format!(
        "INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, date_of_birth,
             phone, address, abha_number, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, g,
                (ARRAY['Asha','Ravi','Sunita','Anil','Meera','Vikram','Lakshmi','Arjun','Fatima','Joseph'])[1 + g % 10]
                  || ' ' || (ARRAY['Kulkarni','Sharma','Patil','Iyer','Reddy','Khan','Deshpande','Nair','Joshi','Das'])[1 + (g / 10) % 10],
                (ARRAY['female','male'])[1 + g % 2], date '1950-01-01' + (g * 7919 % 25000)::int,
                '+9198' || lpad((g * 104729 % 100000000)::text, 8, '0'),
                (g % 300) || ', ' || (ARRAY['MG Road','FC Road','Baner Road','Karve Nagar','Aundh'])[1 + g % 5] || ', Pune 4110' || lpad((g % 60)::text, 2, '0'),
                CASE WHEN g % 3 = 0 THEN lpad((g * 7 % 100000000000000)::text, 14, '9') END,
                {stamp}
         FROM generate_series(1, $2::bigint) g;
         INSERT INTO vaidya.appointments (id, clinic_id, patient_id, doctor_id, starts_at, ends_at,
             status, reason, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, p.id, $3, now() - (p.patient_number * 13 + k) * interval '15 minutes',
                now() - (p.patient_number * 13 + k) * interval '15 minutes' + interval '15 minutes',
                (ARRAY['completed','completed','booked','no_show'])[1 + (p.patient_number + k) % 4],
                (ARRAY['Follow-up','Fever','Diabetes review','BP check','Cough and cold'])[1 + (p.patient_number + k) % 5],
                {stamp}
         FROM vaidya.patients p CROSS JOIN generate_series(1, 2) k WHERE p.clinic_id = $1;
         INSERT INTO vaidya.encounters (id, clinic_id, patient_id, doctor_id, chief_complaint, notes,
             diagnosis, vitals, signed_at, signed_by, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, p.id, $3,
                (ARRAY['Fever for 3 days','Cough and cold','Headache','Joint pain','Follow-up of diabetes'])[1 + p.patient_number % 5],
                'Patient reports ' || (ARRAY['fever with chills since three days, no rash','dry cough worse at night, no breathlessness','throbbing headache, photophobia, no vomiting','knee pain on climbing stairs, morning stiffness','good sugar control on current dose'])[1 + p.patient_number % 5]
                  || '. On examination ' || (ARRAY['throat congested, chest clear','afebrile, chest clear','no neck stiffness','mild crepitus both knees','feet normal, pulses present'])[1 + (p.patient_number / 5) % 5]
                  || '. Advised ' || (ARRAY['fluids and rest','steam inhalation','sleep hygiene','physiotherapy','diet control and walking'])[1 + (p.patient_number / 25) % 5] || ', review in one week.',
                (ARRAY['Viral fever','Upper respiratory infection','Migraine','Osteoarthritis knee','Type 2 diabetes mellitus'])[1 + p.patient_number % 5],
                jsonb_build_object('pulse_bpm', 60 + p.patient_number % 40, 'systolic_mmhg', 110 + p.patient_number % 40,
                                   'diastolic_mmhg', 70 + p.patient_number % 20, 'temperature_dc', 365 + p.patient_number % 30),
                now(), $3, {stamp}
         FROM vaidya.patients p WHERE p.clinic_id = $1;
         WITH rx AS (
             INSERT INTO vaidya.prescriptions (id, clinic_id, patient_id, doctor_id, notes, issued_at,
                 version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, p.id, $3, 'Review in a week', now(), {stamp}
             FROM vaidya.patients p WHERE p.clinic_id = $1 RETURNING id)
         INSERT INTO vaidya.prescription_items (id, clinic_id, prescription_id, position, drug, strength,
             dose, frequency, duration, instructions, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, rx.id, k - 1,
                (ARRAY['Paracetamol','Cetirizine','Metformin','Amlodipine'])[k + (ascii(rx.id::text) % 2) * 2],
                (ARRAY['500 mg','10 mg','500 mg','5 mg'])[k + (ascii(rx.id::text) % 2) * 2],
                '1 tablet', (ARRAY['TDS','OD','BD'])[1 + k % 3], '5 days', 'After food', {stamp}
         FROM rx CROSS JOIN generate_series(1, 2) k;
         WITH inv AS (
             INSERT INTO vaidya.invoices (id, clinic_id, patient_id, series, number, issued_at,
                 place_of_supply, supply_kind, taxable_paise, cgst_paise, sgst_paise, igst_paise,
                 total_paise, supplier_name, supplier_address, supplier_gstin, supplier_state,
                 version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, p.id, 'INV', p.patient_number, now(), '27', 'intra_state',
                    70000, 1800, 1800, 0, 73600, 'Arogya Clinic', '12 FC Road, Pune 411004',
                    '27AAPFA1234C1ZV', '27', {stamp}
             FROM vaidya.patients p WHERE p.clinic_id = $1 RETURNING id),
         lines AS (
             INSERT INTO vaidya.invoice_lines (id, clinic_id, invoice_id, position, description, sac_hsn,
                 quantity, unit_price_paise, discount_paise, gst_rate_bp, taxable_paise, cgst_paise,
                 sgst_paise, igst_paise, total_paise, version, change_xid, change_seq, created_at, updated_at)
             SELECT gen_random_uuid(), $1, inv.id, 0, 'Consultation', '999312', 1, 50000, 0, 0, 50000,
                    0, 0, 0, 50000, {stamp} FROM inv
             UNION ALL
             SELECT gen_random_uuid(), $1, inv.id, 1, 'Paracetamol 500 mg strip', '3004', 2, 10000, 0,
                    1800, 20000, 1800, 1800, 0, 23600, {stamp} FROM inv
             RETURNING 1)
         INSERT INTO vaidya.payments (id, clinic_id, invoice_id, amount_paise, method, reference,
             received_at, version, change_xid, change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), $1, inv.id, 73600, 'upi', 'UPI-' || substr(md5(inv.id::text), 1, 12),
                now(), {stamp} FROM inv;"
    );
    // Our own ids and a number, never input: formatted in as literals.
    let sql = sql
        .replace("$1", &format!("'{clinic}'::uuid"))
        .replace("$2::bigint", &patients.to_string())
        .replace("$3", &format!("'{doctor}'::uuid"));
    su.batch_execute(&sql).await?;
    su.batch_execute("SET session_replication_role = origin; ANALYZE")
        .await?;
    Ok(())
}
