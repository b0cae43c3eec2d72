//! Invoice numbering per financial year (CGST Rule 46(b)): the main series of the year, a
//! device series code allocated once per clinic file and bound to its device, and the
//! attacks on that binding — another PC writing into a series, a code never allocated, a
//! series of another year.

use std::sync::Arc;

use anyhow::Result;
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_shared::numbering::FinancialYear;
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

fn invoice_push(
    patient: &Value,
    series: &str,
    number: i64,
    made_at: chrono::DateTime<Utc>,
) -> Value {
    let id = Uuid::now_v7();
    json!({"mutations": [{"mutation_id": Uuid::now_v7(), "entity": "invoice", "entity_id": id,
        "op": "create", "changes": {}, "made_at": made_at,
        "data": {"id": id, "patient_id": patient["id"], "series": series, "number": number,
            "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1,
                       "unit_price_paise": 50000, "discount_paise": 0, "gst_rate_bp": 0}]}}]})
}

async fn push_one(api: &Api, clinic: Uuid, body: Value) -> Result<Value> {
    let (status, answer) = api
        .post(&format!("/v1/clinics/{clinic}/sync/push"), body)
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "push: {status} {answer}");
    Ok(answer["results"][0].clone())
}

async fn allocate(api: &Api, clinic: Uuid, partition: &str) -> Result<(StatusCode, Value)> {
    api.post(
        &format!("/v1/clinics/{clinic}/invoice-series"),
        json!({"partition_id": partition}),
    )
    .await
}

pub async fn device_series_are_allocated_once_and_written_only_by_their_device(
    h: Arc<Harness>,
) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (pc_a, pc_b) = (
        desk.with_device("vaidya-pc-a")?,
        desk.with_device("vaidya-pc-b")?,
    );
    let (file_a, file_b) = ("a".repeat(32), "b".repeat(32));
    let year = FinancialYear::of(Utc::now()).label();

    // One code per clinic file, the same on every call, bound to the device that asked.
    let (status, first) = allocate(&pc_a, k, &file_a).await?;
    check!(
        status == StatusCode::OK && first["code"] == "D1",
        "{status} {first}"
    );
    let (_, again) = allocate(&pc_a, k, &file_a).await?;
    check!(again["code"] == "D1", "idempotent: {again}");
    let (status, stolen) = allocate(&pc_b, k, &file_a).await?;
    check!(
        status == StatusCode::CONFLICT && stolen["code"] == "invalid_state",
        "another device cannot take a file's code: {status} {stolen}"
    );
    let (_, second) = allocate(&pc_b, k, &file_b).await?;
    check!(second["code"] == "D2", "the next PC: {second}");
    // Any member may be the first to open the clinic on a PC.
    let (nurse, _) = server
        .client()
        .login(&w.a.nurse.email, &w.a.nurse.password)
        .await?;
    let (status, third) = allocate(&nurse.with_device("vaidya-pc-c")?, k, &"c".repeat(32)).await?;
    check!(
        status == StatusCode::OK && third["code"] == "D3",
        "{status} {third}"
    );
    // Bad input has a field; a clinic the caller is not in is not found.
    let (status, bad) = allocate(&pc_a, k, "not-hex").await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && bad["field"] == "partition_id",
        "{status} {bad}"
    );
    let (status, anonymous_device) = allocate(&desk, k, &"d".repeat(32)).await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY
            && anonymous_device["field"] == "x-vaidya-device",
        "{status} {anonymous_device}"
    );
    let (status, foreign) = allocate(&pc_a, w.b.id, &"e".repeat(32)).await?;
    check!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "another clinic: {status} {foreign}"
    );

    let (_, patient) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Series Patient", "sex": "female"}),
        )
        .await?;
    let series_a = format!("{year}-D1");
    // PC B writing into PC A's series, a code never allocated, a series of last year: each
    // refused on its field, and nothing written.
    for (api, series, made_at, why) in [
        (&pc_b, series_a.clone(), Utc::now(), "another PC's series"),
        (
            &pc_a,
            format!("{year}-D77"),
            Utc::now(),
            "a code never allocated",
        ),
        (
            &pc_a,
            format!(
                "{}-D1",
                FinancialYear(FinancialYear::of(Utc::now()).0 - 1).label()
            ),
            Utc::now(),
            "last year's series on today's invoice",
        ),
    ] {
        let r = push_one(api, k, invoice_push(&patient, &series, 1, made_at)).await?;
        check!(
            r["outcome"] == "rejected" && r["field"] == "series",
            "{why}: {r}"
        );
    }
    let (_, listed) = desk
        .get(&format!("/v1/clinics/{k}/invoices?limit=50"))
        .await?;
    check!(
        listed["items"].as_array().is_some_and(|i| i.is_empty()),
        "nothing written: {listed}"
    );

    // The owner writes its series; the number prints with the year, within 16 characters.
    let r = push_one(
        &pc_a,
        k,
        invoice_push(&patient, &series_a, 1, Utc::now() - Duration::minutes(5)),
    )
    .await?;
    check!(r["outcome"] == "applied", "{r}");
    // The main series is the year's, numbered by the server.
    let (status, online) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": patient["id"], "lines": [
                {"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 50000, "gst_rate_bp": 0},
                {"description": "ORS sachets", "sac_hsn": "3004", "quantity": 2, "unit_price_paise": 2000, "gst_rate_bp": 0,
                 "treatment": "nil_rated", "unit": "pac"}]}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && online["invoice_number"] == format!("{year}-INV/000001"),
        "{status} {online}"
    );
    // Each line keeps its treatment and unit (defaults for the one that named none).
    let kept: Vec<(&str, &str)> = online["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["treatment"].as_str().unwrap_or(""),
                l["unit"].as_str().unwrap_or(""),
            )
        })
        .collect();
    check!(kept == [("exempt", "NA"), ("nil_rated", "PAC")], "{kept:?}");
    let (_, listed) = desk
        .get(&format!("/v1/clinics/{k}/invoices?limit=50"))
        .await?;
    let mut printed: Vec<String> = listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["invoice_number"].as_str().map(str::to_owned))
        .collect();
    printed.sort();
    check!(
        printed == vec![format!("{year}-D1/000001"), format!("{year}-INV/000001")]
            && printed.iter().all(|p| p.len() <= 16),
        "{printed:?}"
    );
    // A device never cancels a number of a main series, of any year.
    let (status, answer) = pc_a
        .post(
            &format!("/v1/clinics/{k}/sync/push"),
            json!({"mutations": [], "cancelled_numbers": [{"series": format!("{year}-INV"), "number": 7,
                "invoice_id": Uuid::now_v7(), "cancelled_at": Utc::now()}]}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY
            && answer["field"] == "cancelled_numbers[0].series",
        "{status} {answer}"
    );
    Ok(())
}
