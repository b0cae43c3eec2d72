//! Bad input: every kind gets a 4xx with a stable code and a readable message, no database
//! detail leaks, and nothing is half-written.

use std::sync::Arc;

use anyhow::Result;
use reqwest::{Method, StatusCode};
use serde_json::json;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

/// name, method, path, content type, body, expected status, expected error code
type BadInput = (
    &'static str,
    Method,
    String,
    &'static str,
    Vec<u8>,
    StatusCode,
    &'static str,
);

pub async fn malformed_input_gets_stable_codes(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let k = w.a.id;
    let patients = format!("/v1/clinics/{k}/patients");
    let big = vec![b'a'; 2 * 1024 * 1024];
    let cases: Vec<BadInput> = vec![
        (
            "malformed JSON",
            Method::POST,
            patients.clone(),
            "application/json",
            b"{\"name\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "not JSON at all",
            Method::POST,
            patients.clone(),
            "text/plain",
            b"name=x".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "wrong type",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": 5, "sex": "male"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "an array for an object",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"["A", "male", null, null, null, null, null]"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "unknown field",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "A", "sex": "male", "clinic_id": "x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "bad enum",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "A", "sex": "robot"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "invalid date",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "A", "sex": "male", "date_of_birth": "31/02/2020"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "future birth date",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "A", "sex": "male", "date_of_birth": "2999-01-01"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "NUL byte",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "A\u0000B", "sex": "male"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "empty name",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "   ", "sex": "male"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "bad phone",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "A", "sex": "male", "phone": "12'; DROP TABLE x;--"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "bad ABHA",
            Method::POST,
            patients.clone(),
            "application/json",
            br#"{"name": "A", "sex": "male", "abha_number": "123"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "oversized body",
            Method::POST,
            patients.clone(),
            "application/json",
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "invalid UUID in path",
            Method::GET,
            format!("/v1/clinics/{k}/patients/not-a-uuid"),
            "application/json",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "invalid clinic UUID",
            Method::GET,
            "/v1/clinics/1%27%20OR%201=1/patients".into(),
            "application/json",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "bad limit",
            Method::GET,
            format!("{patients}?limit=100000"),
            "application/json",
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "unknown query key",
            Method::GET,
            format!("{patients}?clinic_id=x"),
            "application/json",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "bad query date",
            Method::GET,
            format!("/v1/clinics/{k}/appointments?from=yesterday"),
            "application/json",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "unknown route",
            Method::GET,
            "/v1/nothing-here".into(),
            "application/json",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "a known address with another method",
            Method::DELETE,
            patients.clone(),
            "application/json",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "a method the sync push does not take",
            Method::GET,
            format!("/v1/clinics/{k}/sync/push"),
            "application/json",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "another method on the health check",
            Method::POST,
            "/health".into(),
            "application/json",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (name, method, path, ct, body, status, code) in cases {
        let (got, body) = desk.send_raw(method, &path, ct, body).await?;
        check!(
            got == status && body["code"] == code,
            "{name}: expected {status} {code}, got {got} {body}"
        );
        check!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: no message"
        );
        let text = body.to_string().to_lowercase();
        // Nor the server's Rust type names ("expected struct NewPatient with 7 elements").
        for leak in [
            "vaidya.",
            "violates",
            "postgres",
            "sqlstate",
            "relation",
            "struct ",
            "newpatient",
        ] {
            check!(
                !text.contains(leak),
                "{name}: response leaks `{leak}`: {body}"
            );
        }
    }
    // Quotes and SQL fragments in text fields are just text.
    let name = r#"O'Brien "Bobby" ; DROP TABLE vaidya.patients; --"#;
    let (status, body) = desk
        .post(&patients, json!({"name": name, "sex": "male"}))
        .await?;
    check!(
        status == StatusCode::CREATED && body["name"] == name,
        "hostile name: {status} {body}"
    );
    let (status, body) = desk
        .get(&format!("{patients}?q={}", urlencode("O'Brien \"Bob")))
        .await?;
    check!(
        status == StatusCode::OK && body["items"].as_array().is_some_and(|i| i.len() == 1),
        "search with quotes: {status} {body}"
    );
    // LIKE wildcards in a search are literal: "%" matches no one rather than everyone.
    let (status, body) = desk
        .get(&format!("{patients}?q={}", urlencode("%_")))
        .await?;
    check!(
        status == StatusCode::OK && body["items"].as_array().is_some_and(|i| i.is_empty()),
        "wildcard search: {status} {body}"
    );
    // An old or unknown protocol version gets a clear "update" answer.
    let resp = desk
        .http
        .get(format!("{}/v1/me", desk.base))
        .header("x-vaidya-protocol", "99")
        .bearer_auth(desk.token.clone().unwrap_or_default())
        .send()
        .await?;
    check!(
        resp.status() == StatusCode::UPGRADE_REQUIRED,
        "protocol 99: {}",
        resp.status()
    );
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A request that fails part-way leaves nothing behind.
pub async fn nothing_half_written(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let k = w.a.id;
    let (_, patient) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Kiran", "sex": "female"}),
        )
        .await?;
    let pid = patient["id"].clone();
    // Second item invalid (control character): no prescription at all.
    let (status, body) = doctor
        .post(
            &format!("/v1/clinics/{k}/prescriptions"),
            json!({"patient_id": pid, "items": [{"drug": "Cetirizine"}, {"drug": "Bad\u{7}drug"}]}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "items[1].drug",
        "bad item: {status} {body}"
    );
    // An invoice whose line fails in the database (item position overflow is caught before; use
    // a patient of nowhere) writes neither invoice nor lines nor a consumed number.
    let (status, _) = desk
        .post(&format!("/v1/clinics/{k}/invoices"), json!({"patient_id": uuid::Uuid::new_v4(), "lines": [{"description": "X", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 100, "gst_rate_bp": 0}]}))
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY,
        "invoice for unknown patient: {status}"
    );
    let su = w.db.superuser().await?;
    for t in [
        "prescriptions",
        "prescription_items",
        "invoices",
        "invoice_lines",
    ] {
        let n: i64 = su
            .query_one(
                &format!("SELECT count(*) FROM vaidya.{t} WHERE clinic_id = $1"),
                &[&k],
            )
            .await?
            .get(0);
        check!(n == 0, "{t} has {n} half-written rows");
    }
    let used: Option<i64> = su.query_opt("SELECT value FROM vaidya.clinic_counters WHERE clinic_id = $1 AND counter = 'invoice:INV'", &[&k]).await?.map(|r| r.get(0));
    check!(used.is_none(), "a failed invoice consumed number {used:?}");
    // The next good invoice is number 1.
    let (status, inv) = desk
        .post(&format!("/v1/clinics/{k}/invoices"), json!({"patient_id": pid, "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 50000, "gst_rate_bp": 0}]}))
        .await?;
    check!(
        status == StatusCode::CREATED && inv["number"] == 1,
        "first invoice: {status} {inv}"
    );
    Ok(())
}

/// Compression on slow lines: answers come compressed as asked (zstd, else gzip), the live
/// stream never (it would hold events back), pushed bodies may come zstd-compressed, and a
/// compressed body that inflates past the body limit is refused like a large plain one.
pub async fn answers_and_pushes_travel_compressed(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    crate::isolation::seed(&w.db.superuser().await?, &w.a).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let doctor = server.login_as(&w.a.doctor).await?;
    let token = doctor.token.clone().unwrap_or_default();
    let k = w.a.id;
    // A client that shows the wire: no automatic decompression.
    let raw = reqwest::Client::builder().no_gzip().no_zstd().build()?;
    let get = |path: String, accept: &'static str| {
        raw.get(format!("{}{path}", server.base))
            .bearer_auth(&token)
            .header(
                vaidya_shared::PROTOCOL_HEADER,
                vaidya_shared::PROTOCOL_VERSION.to_string(),
            )
            .header(reqwest::header::ACCEPT_ENCODING, accept)
    };
    let encoding = |r: &reqwest::Response| {
        r.headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_owned()
    };
    let plain = get(format!("/v1/clinics/{k}/sync/pull"), "identity")
        .send()
        .await?;
    check!(
        plain.status() == StatusCode::OK && encoding(&plain) == "identity",
        "plain pull"
    );
    let plain = plain.bytes().await?;
    let zstd = get(format!("/v1/clinics/{k}/sync/pull"), "gzip, zstd")
        .send()
        .await?;
    check!(
        encoding(&zstd) == "zstd",
        "zstd preferred: {}",
        encoding(&zstd)
    );
    let packed = zstd.bytes().await?;
    let unpacked = zstd::decode_all(&packed[..])?;
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&plain)?,
        serde_json::from_slice(&unpacked)?,
    );
    check!(
        a["changes"] == b["changes"] && packed.len() < plain.len(),
        "the same page, smaller: {} → {} bytes",
        plain.len(),
        packed.len()
    );
    let gzip = get(format!("/v1/clinics/{k}/patients"), "gzip")
        .send()
        .await?;
    check!(
        encoding(&gzip) == "gzip",
        "gzip fallback: {}",
        encoding(&gzip)
    );
    let live = get(format!("/v1/clinics/{k}/sync/live"), "gzip, zstd")
        .send()
        .await?;
    check!(
        live.status() == StatusCode::OK && encoding(&live) == "identity",
        "the live stream is never compressed: {}",
        encoding(&live)
    );
    drop(live);

    // A compressed push is taken; a compressed bomb is refused with the plain body's answer.
    let push = |body: Vec<u8>| {
        raw.post(format!("{}/v1/clinics/{k}/sync/push", server.base))
            .bearer_auth(&token)
            .header(
                vaidya_shared::PROTOCOL_HEADER,
                vaidya_shared::PROTOCOL_VERSION.to_string(),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "zstd")
            .body(body)
    };
    let patient = uuid::Uuid::new_v4();
    let body = json!({"mutations": [{
        "mutation_id": uuid::Uuid::new_v4(), "entity": "patient", "entity_id": patient,
        "op": "create", "data": {"id": patient, "name": "Zstd Patient", "sex": "female"},
        "changes": {}, "made_at": chrono::Utc::now(),
    }], "local_accesses": []});
    let resp = push(zstd::encode_all(body.to_string().as_bytes(), 3)?)
        .send()
        .await?;
    let status = resp.status();
    let answer: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
    check!(
        status == StatusCode::OK && answer["results"][0]["outcome"] == "applied",
        "compressed push: {status} {answer}"
    );
    let bomb = format!(
        "{{\"mutations\": [], \"local_accesses\": [], \"pad\": \"{}\"}}",
        " ".repeat(8 * 1024 * 1024)
    );
    let packed = zstd::encode_all(bomb.as_bytes(), 19)?;
    check!(packed.len() < 64 * 1024, "the bomb is small on the wire");
    let resp = push(packed).send().await?;
    let status = resp.status();
    let answer: serde_json::Value =
        serde_json::from_slice(&resp.bytes().await?).unwrap_or_default();
    check!(
        status == StatusCode::PAYLOAD_TOO_LARGE && answer["code"].is_string(),
        "compressed bomb: {status} {answer}"
    );
    Ok(())
}
