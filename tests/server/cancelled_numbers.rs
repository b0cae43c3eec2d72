//! Cancelled device invoice numbers: a device that discards a refused invoice tells the
//! server which number of its series is now void, so the books show "cancelled", never a
//! silent gap. Recorded once, never over an issued invoice, only from a role that issues
//! invoices, and read by the roles that read invoices.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn cancelled_device_numbers_are_recorded_once_and_never_over_an_invoice(
    h: Arc<Harness>,
) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, nurse, admin) = (
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.nurse).await?,
        server.login_as(&w.a.admin).await?,
    );
    let k = w.a.id;
    let push = format!("/v1/clinics/{k}/sync/push");
    let list = format!("/v1/clinics/{k}/cancelled-invoice-numbers");

    // D000042/2 was issued (pushed) by the device; /3 was refused and discarded there.
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Asha Rao", "sex": "female"}),
        )
        .await?;
    let issued = Uuid::now_v7();
    let (status, body) = desk
        .post(
            &push,
            json!({"mutations": [{"mutation_id": Uuid::now_v7(), "entity": "invoice", "entity_id": issued,
                "op": "create", "made_at": "2026-06-15T05:00:00Z",
                "data": {"patient_id": p["id"], "series": "D000042", "number": 2, "lines": [
                    {"description": "Consultation", "sac_hsn": "999312", "quantity": 1,
                     "unit_price_paise": 50000, "gst_rate_bp": 0}]}}]}),
        )
        .await?;
    check!(
        status == StatusCode::OK && body["results"][0]["outcome"] == "applied",
        "the issued device invoice: {status} {body}"
    );
    let cancelled = |number: i64, at: &str| {
        json!({"series": "D000042", "number": number, "invoice_id": Uuid::now_v7(),
               "reason": "The patient was removed.", "cancelled_at": at})
    };
    // Far in the future: kept at the server's clock, never later.
    let body = json!({"mutations": [], "cancelled_numbers": [
        cancelled(3, "2099-01-01T00:00:00Z"), cancelled(2, "2026-06-15T06:00:00Z")]});
    for attempt in 0..2 {
        let (status, answer) = desk.post(&push, body.clone()).await?;
        check!(
            status == StatusCode::OK,
            "push {attempt} with cancelled numbers: {status} {answer}"
        );
    }
    let (status, got) = admin.get(&list).await?;
    let rows = got.as_array().cloned().unwrap_or_default();
    check!(
        status == StatusCode::OK && rows.len() == 1,
        "one number recorded, once; the issued invoice's number left alone: {status} {got}"
    );
    check!(
        rows[0]["number"] == 3 && rows[0]["reason"] == "The patient was removed.",
        "the cancelled number and why: {got}"
    );
    let at: chrono::DateTime<chrono::Utc> = rows[0]["cancelled_at"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    check!(
        at <= chrono::Utc::now(),
        "a device clock in the future is not believed: {at}"
    );

    // The main series is numbered by the server and never cancelled by a device.
    let (status, answer) = desk
        .post(
            &push,
            json!({"mutations": [], "cancelled_numbers": [{"series": "INV", "number": 7,
                "invoice_id": Uuid::now_v7(), "cancelled_at": "2026-06-15T06:00:00Z"}]}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY
            && answer["field"] == "cancelled_numbers[0].series",
        "main series refused with its field: {status} {answer}"
    );

    // A nurse issues no invoices: her push goes through, records nothing, and she cannot
    // read the list.
    let (status, answer) = nurse
        .post(
            &push,
            json!({"mutations": [], "cancelled_numbers": [cancelled(9, "2026-06-15T06:00:00Z")]}),
        )
        .await?;
    check!(
        status == StatusCode::OK,
        "a nurse's push is not blocked: {status} {answer}"
    );
    let (status, _) = nurse.get(&list).await?;
    check!(status == StatusCode::FORBIDDEN, "nurse reading: {status}");
    let (_, got) = desk.get(&list).await?;
    check!(
        got.as_array().map(Vec::len) == Some(1),
        "nothing recorded from the nurse: {got}"
    );
    // Another clinic's member sees none of it.
    let (status, got) = server.login_as(&w.b.admin).await?.get(&list).await?;
    check!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "another clinic: {status} {got}"
    );
    Ok(())
}
