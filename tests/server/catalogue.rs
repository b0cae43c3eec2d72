//! The clinic's catalogue: every member reads it, only its admins add and change items,
//! each item checked as a bill's line at today's rates; a PC's offline edit syncs as the
//! admin's, and another clinic sees none of it.

use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn the_catalogue_is_read_by_all_and_kept_by_admins(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let login = |email: String, password: String| {
        let server = server.client();
        async move { Ok::<_, anyhow::Error>(server.login(&email, &password).await?.0) }
    };
    let admin = login(w.a.admin.email.clone(), w.a.admin.password.clone()).await?;
    let desk = login(w.a.desk.email.clone(), w.a.desk.password.clone()).await?;
    let path = format!("/v1/clinics/{k}/catalogue");

    let (status, peel) = admin
        .post(
            &path,
            json!({"name": "Chemical peel", "sac_hsn": "999722", "gst_rate_bp": 1800, "price_paise": 250_000}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED
            && peel["treatment"] == "taxable"
            && peel["unit"] == "NA"
            && peel["active"] == true,
        "{status} {peel}"
    );
    let (status, ors) = admin
        .post(
            &path,
            json!({"name": "ORS sachet", "sac_hsn": "3004", "gst_rate_bp": 0, "treatment": "nil_rated",
                   "unit": "pac", "price_paise": 2_000}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && ors["unit"] == "PAC",
        "{status} {ors}"
    );
    // Checked as a bill's line, at today's rates: 12 % is gone since 22 September 2025.
    for (body, field) in [
        (
            json!({"name": "Old rate", "sac_hsn": "999722", "gst_rate_bp": 1200, "price_paise": 1}),
            "gst_rate_bp",
        ),
        (
            json!({"name": "Exempt at 5 %", "sac_hsn": "999312", "gst_rate_bp": 500, "treatment": "exempt", "price_paise": 1}),
            "treatment",
        ),
        (
            json!({"name": "Goods without unit", "sac_hsn": "3004", "gst_rate_bp": 500, "unit": "NA", "price_paise": 1}),
            "unit",
        ),
        (
            json!({"name": " ", "sac_hsn": "3004", "gst_rate_bp": 500, "price_paise": 1}),
            "name",
        ),
        (
            json!({"name": "Bad code", "sac_hsn": "99A3", "gst_rate_bp": 0, "price_paise": 1}),
            "sac_hsn",
        ),
        (
            json!({"name": "Too dear", "sac_hsn": "3004", "gst_rate_bp": 500, "price_paise": 1_000_000_001}),
            "price_paise",
        ),
    ] {
        let (status, refused) = admin.post(&path, body).await?;
        check!(
            status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == field,
            "{field}: {status} {refused}"
        );
    }
    // The desk reads it; it does not write it.
    let (status, listed) = desk.get(&path).await?;
    check!(
        status == StatusCode::OK && listed.as_array().map(Vec::len) == Some(2),
        "{status} {listed}"
    );
    let (status, _) = desk
        .post(
            &path,
            json!({"name": "x", "sac_hsn": "999312", "gst_rate_bp": 0, "price_paise": 1}),
        )
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "the desk adds nothing: {status}"
    );
    let peel_id = peel["id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = desk
        .patch(&format!("{path}/{peel_id}"), json!({"price_paise": 1}))
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "the desk reprices nothing: {status}"
    );
    // Another clinic's admin sees none of it.
    let other = login(w.b.admin.email.clone(), w.b.admin.password.clone()).await?;
    let (status, _) = other.get(&path).await?;
    check!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "another clinic: {status}"
    );

    // Repriced and retired; a stale version is a conflict.
    let (status, repriced) = admin
        .patch(
            &format!("{path}/{peel_id}"),
            json!({"base_version": peel["version"], "price_paise": 300_000}),
        )
        .await?;
    check!(
        status == StatusCode::OK && repriced["price_paise"] == 300_000,
        "{status} {repriced}"
    );
    let (status, stale) = admin
        .patch(
            &format!("{path}/{peel_id}"),
            json!({"base_version": peel["version"], "active": false}),
        )
        .await?;
    check!(
        status == StatusCode::CONFLICT && stale["code"] == "version_conflict",
        "{status} {stale}"
    );
    // Tax identity is not editable.
    let (status, _) = admin
        .patch(&format!("{path}/{peel_id}"), json!({"gst_rate_bp": 500}))
        .await?;
    check!(
        status.is_client_error(),
        "the rate of an item does not change: {status}"
    );

    // An admin's offline change, pushed by a PC: retired.
    let (status, answer) = admin
        .post(
            &format!("/v1/clinics/{k}/sync/push"),
            json!({"mutations": [{"mutation_id": Uuid::now_v7(), "entity": "catalogue_item", "entity_id": peel_id,
                "op": "update", "base_version": repriced["version"], "made_at": Utc::now(),
                "changes": {"active": {"value": false, "base": true}}}]}),
        )
        .await?;
    check!(
        status == StatusCode::OK && answer["results"][0]["outcome"] == "applied",
        "{status} {answer}"
    );
    // And a pull hands the catalogue to every member's PC (asked again while the server
    // holds changes back behind another test's open transaction: `settling`).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, pulled) = desk.get(&format!("/v1/clinics/{k}/sync/pull")).await?;
        let items: Vec<_> = pulled["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["entity"] == "catalogue_item")
            .cloned()
            .collect();
        let complete = items.len() == 2
            && items
                .iter()
                .any(|c| c["data"]["id"] == peel_id.as_str() && c["data"]["active"] == false);
        if status == StatusCode::OK && complete {
            break;
        }
        check!(
            std::time::Instant::now() < deadline,
            "the pull never handed out the catalogue: {status} {items:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
