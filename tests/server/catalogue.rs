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

/// A group's catalogue: the admin of two branches adds an item to both at once and copies
/// another across; each branch keeps its own price; a change for the group reaches every
/// copy. A branch they don't administer, a desk and another group's admin get nothing, and
/// a refused copy writes nothing anywhere.
pub async fn a_group_admin_keeps_one_catalogue_for_their_branches(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let su = w.db.superuser().await?;
    let group: Uuid = su
        .query_one("SELECT group_id FROM vaidya.clinics WHERE id = $1", &[&k])
        .await?
        .get(0);
    // a2: a branch the admin also administers; a3: a branch of the group where they are a
    // doctor only.
    let (a2, a3) = (Uuid::now_v7(), Uuid::now_v7());
    for (branch, name, role) in [(a2, "Clinic a2", "admin"), (a3, "Clinic a3", "doctor")] {
        su.execute(
            "INSERT INTO vaidya.clinics (id, group_id, name, state_code) VALUES ($1, $2, $3, '27')",
            &[&branch, &group, &name],
        )
        .await?;
        su.execute(
            "INSERT INTO vaidya.memberships (id, clinic_id, user_id, role) VALUES ($1, $2, $3, $4)",
            &[&Uuid::now_v7(), &branch, &w.a.admin.id, &role],
        )
        .await?;
    }
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    let path = format!("/v1/groups/{group}/catalogue");
    let prices = |item: &serde_json::Value| -> Vec<(String, i64, bool)> {
        item["copies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["clinic_id"].as_str().unwrap_or_default().to_owned(),
                    c["price_paise"].as_i64().unwrap_or(-1),
                    c["active"] == true,
                )
            })
            .collect()
    };
    let (ka, ka2) = (k.to_string(), a2.to_string());

    // Added to every branch the admin administers (a and a2, not a3), one id for both.
    let (status, peel) = admin
        .post(
            &path,
            json!({"item": {"name": "Chemical peel", "sac_hsn": "999722", "gst_rate_bp": 1800, "price_paise": 250_000}}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED
            && prices(&peel) == [(ka.clone(), 250_000, true), (ka2.clone(), 250_000, true)]
            && peel["treatment"] == "taxable"
            && peel["unit"] == "NA",
        "{status} {peel}"
    );
    let peel_id = peel["id"].as_str().unwrap_or_default().to_owned();
    // Each branch prices its own copy.
    let (status, _) = admin
        .patch(
            &format!("/v1/clinics/{a2}/catalogue/{peel_id}"),
            json!({"price_paise": 200_000}),
        )
        .await?;
    check!(status == StatusCode::OK, "{status}");

    // An item of branch a alone, copied to a2 at another price; a keeps its own.
    let (status, ors) = admin
        .post(
            &format!("/v1/clinics/{k}/catalogue"),
            json!({"name": "ORS sachet", "sac_hsn": "3004", "gst_rate_bp": 500, "unit": "PAC", "price_paise": 2_000}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {ors}");
    let copy = json!({"item": {"id": ors["id"], "name": "ORS sachet", "sac_hsn": "3004", "gst_rate_bp": 500,
                               "unit": "PAC", "price_paise": 2_500}, "clinics": [a2, k]});
    let (status, copied) = admin.post(&path, copy.clone()).await?;
    check!(
        status == StatusCode::CREATED
            && prices(&copied) == [(ka.clone(), 2_000, true), (ka2.clone(), 2_500, true)],
        "{status} {copied}"
    );
    // Sent again (a retry): nothing changes.
    let (status, again) = admin.post(&path, copy).await?;
    check!(
        status == StatusCode::CREATED && prices(&again) == prices(&copied),
        "{status} {again}"
    );

    // Refused: a branch they don't administer, another item under a held id (nothing
    // written to a2 before a's refusal), a rate no longer in force, a group version.
    let (status, refused) = admin
        .post(
            &path,
            json!({"item": {"name": "Dressing", "sac_hsn": "3005", "gst_rate_bp": 500, "price_paise": 100}, "clinics": [a3]}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "clinics",
        "{status} {refused}"
    );
    let (status, solo) = admin
        .post(
            &format!("/v1/clinics/{k}/catalogue"),
            json!({"name": "Scar cream", "sac_hsn": "3004", "gst_rate_bp": 1800, "price_paise": 50_000}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {solo}");
    let (status, refused) = admin
        .post(
            &path,
            json!({"item": {"id": solo["id"], "name": "Scar cream", "sac_hsn": "3004", "gst_rate_bp": 500,
                            "price_paise": 50_000}, "clinics": [a2, k]}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "item",
        "{status} {refused}"
    );
    let held: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.catalogue_items WHERE clinic_id = ANY($1) AND name IN ('Dressing', 'Scar cream')",
            &[&vec![a2, a3]],
        )
        .await?
        .get(0);
    check!(held == 0, "a refused request wrote {held} rows");
    let (status, refused) = admin
        .post(
            &path,
            json!({"item": {"name": "Old rate", "sac_hsn": "999722", "gst_rate_bp": 1200, "price_paise": 1}}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "gst_rate_bp",
        "{status} {refused}"
    );
    let (status, refused) = admin
        .patch(
            &format!("{path}/{peel_id}"),
            json!({"base_version": 1, "active": false}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "base_version",
        "{status} {refused}"
    );

    // Retired in the whole group at once: both copies, each audited in its own branch.
    let (status, retired) = admin
        .patch(&format!("{path}/{peel_id}"), json!({"active": false}))
        .await?;
    check!(
        status == StatusCode::OK
            && prices(&retired) == [(ka.clone(), 250_000, false), (ka2.clone(), 200_000, false)],
        "{status} {retired}"
    );
    let peel_uuid: Uuid = peel_id.parse()?;
    for clinic in [k, a2] {
        let audited: i64 = su
            .query_one(
                "SELECT count(*) FROM vaidya.audit_log WHERE clinic_id = $1 AND entity_type = 'catalogue_item'
                   AND $2 = ANY(entity_ids) AND action = 'update'",
                &[&clinic, &peel_uuid],
            )
            .await?
            .get(0);
        check!(audited >= 1, "{clinic}: the change is not in its trail");
    }

    // The whole view: three items over the two branches, by name.
    let (status, view) = admin.get(&path).await?;
    let names: Vec<&str> = view["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["copies"][0]["name"].as_str().unwrap_or_default())
        .collect();
    let branches: Vec<&str> = view["branches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["name"].as_str().unwrap_or_default())
        .collect();
    check!(
        status == StatusCode::OK
            && names == ["Chemical peel", "ORS sachet", "Scar cream"]
            && branches == ["Clinic a", "Clinic a2"],
        "{status} {view}"
    );

    // The branch's desk and another group's admin see no group catalogue.
    for (email, password) in [
        (&w.a.desk.email, &w.a.desk.password),
        (&w.b.admin.email, &w.b.admin.password),
    ] {
        let (someone, _) = server.client().login(email, password).await?;
        let (status, _) = someone.get(&path).await?;
        check!(status == StatusCode::NOT_FOUND, "{email}: {status}");
        let (status, _) = someone
            .post(
                &path,
                json!({"item": {"name": "x", "sac_hsn": "999312", "gst_rate_bp": 0, "price_paise": 1}}),
            )
            .await?;
        check!(status == StatusCode::NOT_FOUND, "{email} adds: {status}");
    }
    Ok(())
}
