//! Credit notes (CGST Act s. 34, Rule 53(1A)): issued online and offline against an
//! invoice's lines, numbered in the credit-note series of the year, never more than is
//! left of a line, only by the roles that bill, and what they give back is no longer due.

use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_shared::numbering::{self, Document};
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

async fn push_one(api: &Api, clinic: Uuid, m: Value) -> Result<Value> {
    let (status, answer) = api
        .post(
            &format!("/v1/clinics/{clinic}/sync/push"),
            json!({"mutations": [m]}),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "push: {status} {answer}");
    Ok(answer["results"][0].clone())
}

fn offline_note(invoice: &Value, line: &Value, series: &str, taxable: i64) -> Value {
    let id = Uuid::now_v7();
    json!({"mutation_id": Uuid::now_v7(), "entity": "credit_note", "entity_id": id, "op": "create",
        "parent_id": invoice["id"], "changes": {}, "made_at": Utc::now(),
        "data": {"id": id, "series": series, "number": 1, "reason": "Dressing not used",
                 "lines": [{"invoice_line_id": line["id"], "taxable_paise": taxable}]}})
}

pub async fn credit_notes_give_back_what_was_billed_and_no_more(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (_, patient) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Credit Patient", "sex": "male"}),
        )
        .await?;
    // An exempt consultation (₹500) and a procedure at 18 % (₹1,000 + ₹180).
    let (status, invoice) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": patient["id"], "lines": [
                {"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 50_000, "gst_rate_bp": 0},
                {"description": "Chemical peel", "sac_hsn": "999722", "quantity": 1, "unit_price_paise": 100_000, "gst_rate_bp": 1800}]}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {invoice}");
    let inv_id = invoice["id"].as_str().unwrap_or_default().to_owned();
    let (consult, peel) = (invoice["lines"][0].clone(), invoice["lines"][1].clone());
    let (status, paid) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{inv_id}/payments"),
            json!({"amount_paise": 168_000, "method": "upi", "reference": null}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {paid}");
    let credit = |lines: Value, reason: &str| json!({"reason": reason, "lines": lines});
    let path = format!("/v1/clinics/{k}/invoices/{inv_id}/credit-notes");

    // Half the procedure given back: ₹500 and its ₹90 of tax, numbered in the year's series.
    let (status, after) = desk
        .post(
            &path,
            credit(
                json!([{"invoice_line_id": peel["id"], "taxable_paise": 50_000}]),
                "Half the session",
            ),
        )
        .await?;
    let note = &after["credit_notes"][0];
    let main = numbering::main_series(Document::CreditNote, Utc::now());
    check!(
        status == StatusCode::CREATED
            && note["credit_note_number"] == format!("{main}/000001")
            && note["totals"]["cgst_paise"] == 4_500
            && note["totals"]["total_paise"] == 59_000
            && note["lines"][0]["description"] == "Chemical peel"
            && note["lines"][0]["gst_rate_bp"] == 1800,
        "{status} {after}"
    );
    // More than is left of the line, a line of another invoice, no reason: refused on
    // their fields, nothing written.
    for (body, field) in [
        (
            credit(
                json!([{"invoice_line_id": peel["id"], "taxable_paise": 50_001}]),
                "x",
            ),
            "lines[0].taxable_paise",
        ),
        (
            credit(
                json!([{"invoice_line_id": Uuid::now_v7(), "taxable_paise": 1}]),
                "x",
            ),
            "lines[0].invoice_line_id",
        ),
        (
            credit(
                json!([{"invoice_line_id": consult["id"], "taxable_paise": 1}]),
                " ",
            ),
            "reason",
        ),
    ] {
        let (status, refused) = desk.post(&path, body).await?;
        check!(
            status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == field,
            "{field}: {status} {refused}"
        );
    }
    // A nurse does not bill; another clinic's member does not see the invoice.
    let (nurse, _) = server
        .client()
        .login(&w.a.nurse.email, &w.a.nurse.password)
        .await?;
    let (status, _) = nurse
        .post(
            &path,
            credit(
                json!([{"invoice_line_id": consult["id"], "taxable_paise": 1}]),
                "x",
            ),
        )
        .await?;
    check!(status == StatusCode::FORBIDDEN, "nurse: {status}");
    let (foreign, _) = server
        .client()
        .login(&w.b.desk.email, &w.b.desk.password)
        .await?;
    let (status, _) = foreign
        .post(
            &format!("/v1/clinics/{}/invoices/{inv_id}/credit-notes", w.b.id),
            credit(
                json!([{"invoice_line_id": consult["id"], "taxable_paise": 1}]),
                "x",
            ),
        )
        .await?;
    check!(status == StatusCode::NOT_FOUND, "another clinic: {status}");

    // What was credited is no longer due: the credit is paid back as a refund (never more
    // than was paid), and an invoice with credit notes is not cancelled.
    let refund = |paise: i64| json!({"amount_paise": -paise, "method": "upi", "reference": null});
    let (status, _) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{inv_id}/payments"),
            refund(168_001),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY,
        "refund over what was paid: {status}"
    );
    let (status, refunded) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{inv_id}/payments"),
            refund(59_000),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && refunded["paid_paise"] == 109_000,
        "{status} {refunded}"
    );
    // Nothing is due now: even a paisa more is more than the amount due.
    let (status, _) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{inv_id}/payments"),
            json!({"amount_paise": 1, "method": "cash", "reference": null}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY,
        "nothing is due: {status}"
    );
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{inv_id}/cancel"),
            json!({"reason": "x"}),
        )
        .await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "invalid_state",
        "{status} {body}"
    );

    // Offline: a PC issues from its own credit-note series of the year (`C` + its code);
    // another PC, or an invoice series, is refused.
    let (pc_a, pc_b) = (
        desk.with_device("vaidya-cn-a")?,
        desk.with_device("vaidya-cn-b")?,
    );
    let (_, code) = pc_a
        .post(
            &format!("/v1/clinics/{k}/invoice-series"),
            json!({"partition_id": "a".repeat(32)}),
        )
        .await?;
    let code = code["code"].as_str().unwrap_or_default().to_owned();
    let own = numbering::device_series(Document::CreditNote, &code, Utc::now());
    let invoice_series = numbering::device_series(Document::Invoice, &code, Utc::now());
    for (api, series, why) in [
        (&pc_b, own.as_str(), "another PC's series"),
        (&pc_a, invoice_series.as_str(), "an invoice series"),
    ] {
        let r = push_one(api, k, offline_note(&invoice, &consult, series, 10_000)).await?;
        check!(
            r["outcome"] == "rejected" && r["field"] == "series",
            "{why}: {r}"
        );
    }
    let r = push_one(&pc_a, k, offline_note(&invoice, &consult, &own, 10_000)).await?;
    check!(r["outcome"] == "applied", "own series: {r}");
    let (_, now) = desk
        .get(&format!("/v1/clinics/{k}/invoices/{inv_id}"))
        .await?;
    let numbers: Vec<&str> = now["credit_notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["credit_note_number"].as_str())
        .collect();
    check!(
        numbers == vec![format!("{main}/000001"), format!("{own}/000001")],
        "both notes, in order: {numbers:?}"
    );
    // A nurse's session carrying the same act is refused by role, nothing written.
    let r = push_one(&nurse, k, offline_note(&invoice, &consult, &own, 10_000)).await?;
    check!(
        r["outcome"] == "rejected" && r["code"] == "forbidden",
        "{r}"
    );

    // GSTR-1 of this month: the consumer tables net of both notes, and the notes counted
    // in table 13 per series.
    let today = vaidya_shared::rules::clock::india_date(Utc::now());
    let (status, r) = desk
        .get(&format!(
            "/v1/clinics/{k}/reports/gstr1?year={}&month={}",
            chrono::Datelike::year(&today),
            chrono::Datelike::month(&today)
        ))
        .await?;
    check!(status == StatusCode::OK, "{status} {r}");
    check!(
        r["b2cs"]
            == json!([{"place_of_supply": w.a.state_code, "rate_bp": 1800, "taxable_paise": 50_000,
                             "igst_paise": 0, "cgst_paise": 4_500, "sgst_paise": 4_500}])
            && r["nil"]
                == json!([{"supply_type": "INTRAB2C", "nil_paise": 0, "exempt_paise": 40_000, "non_gst_paise": 0}])
            && r["cdnr"] == json!([])
            && r["credit_notes"] == 2,
        "net of the credit notes: {r}"
    );
    let notes: Vec<(String, i64)> = r["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["nature"] == "Credit Note")
        .map(|d| {
            (
                d["series"].as_str().unwrap_or_default().to_owned(),
                d["total"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let mut expected = vec![(main.clone(), 1), (own.clone(), 1)];
    expected.sort();
    check!(notes == expected, "table 13: {notes:?}");
    Ok(())
}
