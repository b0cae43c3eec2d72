//! The clinical store key of a clinic file on a PC (`POST …/clinical-store-key`): one key
//! per file, the same for every clinician who asks, never given to the front desk or an
//! admin (whose sessions on a shared PC must not open clinical records on disk), and
//! every release in the clinic's audit trail.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::json;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn only_clinicians_get_a_files_clinical_store_key(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let path = format!("/v1/clinics/{k}/clinical-store-key");
    let login = |email: String, password: String| {
        let client = server.client();
        async move { client.login(&email, &password).await }
    };
    let (doctor, _) = login(w.a.doctor.email.clone(), w.a.doctor.password.clone()).await?;
    let (nurse, _) = login(w.a.nurse.email.clone(), w.a.nurse.password.clone()).await?;
    let (desk, _) = login(w.a.desk.email.clone(), w.a.desk.password.clone()).await?;
    let (admin, _) = login(w.a.admin.email.clone(), w.a.admin.password.clone()).await?;
    let (stranger, _) = login(w.b.doctor.email.clone(), w.b.doctor.password.clone()).await?;
    let file = json!({"partition_id": "0123456789abcdef0123456789abcdef"});
    let other_file = json!({"partition_id": "fedcba9876543210fedcba9876543210"});

    let (status, first) = doctor.post(&path, file.clone()).await?;
    let key = first["key"].as_str().unwrap_or_default().to_owned();
    check!(
        status == StatusCode::OK && key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{status} {first}"
    );
    let (_, again) = doctor.post(&path, file.clone()).await?;
    let (_, nurses) = nurse.post(&path, file.clone()).await?;
    check!(
        again["key"] == key && nurses["key"] == key,
        "one key per file: {again} {nurses}"
    );
    let (_, other) = doctor.post(&path, other_file).await?;
    check!(
        other["key"]
            .as_str()
            .is_some_and(|o| o.len() == 64 && o != key),
        "another file, another key: {other}"
    );

    for (who, client) in [("front desk", &desk), ("admin", &admin)] {
        let (status, body) = client.post(&path, file.clone()).await?;
        check!(
            status == StatusCode::FORBIDDEN
                && body["code"] == "forbidden"
                && !body.to_string().contains(&key),
            "the {who} gets no key: {status} {body}"
        );
    }
    let (status, body) = stranger.post(&path, file.clone()).await?;
    check!(
        status == StatusCode::NOT_FOUND && !body.to_string().contains(&key),
        "another clinic's doctor: {status} {body}"
    );
    for bad in [
        json!({"partition_id": "not hex"}),
        json!({"partition_id": "0123456789ABCDEF0123456789ABCDEF"}),
        json!({}),
    ] {
        let (status, body) = doctor.post(&path, bad.clone()).await?;
        check!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
    }

    // Every release and refusal (the desk's, the admin's, the stranger's) is in clinic A's
    // trail.
    let db = w.db.superuser().await?;
    let rows = db
        .query(
            "SELECT action, count(*) FROM vaidya.audit_log
             WHERE clinic_id = $1 AND entity_type = 'clinical_store_key'
             GROUP BY action ORDER BY action",
            &[&k],
        )
        .await?;
    let counts: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    check!(
        counts
            == vec![
                ("create".to_owned(), 2),
                ("denied".to_owned(), 3),
                ("read".to_owned(), 2)
            ],
        "{counts:?}"
    );
    Ok(())
}
