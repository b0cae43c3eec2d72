//! Clinic rules the server enforces: signed notes are immutable (addenda instead), GST
//! splits by place of supply with consecutive invoice numbers, the day's queue moves
//! forward only; and the OpenAPI document is served.

use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use vaidya_shared::numbering;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn signed_note_is_immutable_and_takes_addenda(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (nurse, _) = server
        .client()
        .login(&w.a.nurse.email, &w.a.nurse.password)
        .await?;
    let k = w.a.id;
    let (_, p) = doctor
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Lata", "sex": "female"}),
        )
        .await?;
    let (status, e) = nurse
        .post(&format!("/v1/clinics/{k}/encounters"), json!({"patient_id": p["id"], "chief_complaint": "Fever", "vitals": {"pulse_bpm": 92, "temperature_dc": 384}}))
        .await?;
    check!(
        status == StatusCode::CREATED && e["vitals"]["temperature_dc"] == 384,
        "create encounter: {status} {e}"
    );
    let eid = e["id"].as_str().unwrap_or_default().to_string();
    let (status, body) = nurse
        .patch(
            &format!("/v1/clinics/{k}/encounters/{eid}"),
            json!({"vitals": {"pulse_bpm": 720}}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "vitals.pulse_bpm",
        "implausible pulse: {status} {body}"
    );
    let (status, _) = doctor
        .patch(
            &format!("/v1/clinics/{k}/encounters/{eid}"),
            json!({"notes": "Viral fever", "diagnosis": "J06.9"}),
        )
        .await?;
    check!(status == StatusCode::OK, "edit before signing: {status}");
    let (status, body) = nurse
        .post(&format!("/v1/clinics/{k}/encounters/{eid}/sign"), json!({}))
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "nurse signing: {status} {body}"
    );
    let (status, signed) = doctor
        .post(&format!("/v1/clinics/{k}/encounters/{eid}/sign"), json!({}))
        .await?;
    check!(
        status == StatusCode::OK && signed["signed_by"] == w.a.doctor.id.to_string(),
        "sign: {status} {signed}"
    );
    let (status, body) = doctor
        .patch(
            &format!("/v1/clinics/{k}/encounters/{eid}"),
            json!({"notes": "rewritten"}),
        )
        .await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "invalid_state",
        "edit after signing: {status} {body}"
    );
    // The database itself refuses, even if the API check were missing.
    let app = w.db.app().await?;
    app.batch_execute(&format!(
        "BEGIN; SELECT set_config('app.user_id', '{}', true)",
        w.a.doctor.id
    ))
    .await?;
    let direct = app
        .execute(
            "UPDATE vaidya.encounters SET notes = 'sneaky' WHERE id = $1::text::uuid",
            &[&eid],
        )
        .await;
    app.batch_execute("ROLLBACK").await?;
    check!(
        direct
            .as_ref()
            .err()
            .and_then(|e| e.code())
            .map(|c| c.code())
            == Some("VD001"),
        "direct update of a signed note: {direct:?}"
    );
    let (status, e2) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters/{eid}/addenda"),
            json!({"text": "Dose corrected to 500 mg"}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED
            && e2["addenda"].as_array().map(Vec::len) == Some(1)
            && e2["notes"] == "Viral fever",
        "addendum: {status} {e2}"
    );
    Ok(())
}

pub async fn invoice_gst_split_and_numbering(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let k = w.a.id; // Maharashtra (27)
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Neha", "sex": "female", "phone": "98200 12345"}),
        )
        .await?;
    check!(p["phone"] == "+919820012345", "phone normalised: {p}");
    let lines = json!([
        {"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 50000, "gst_rate_bp": 0},
        {"description": "Nebuliser kit", "sac_hsn": "90192010", "quantity": 2, "unit_price_paise": 45000, "discount_paise": 5000, "gst_rate_bp": 500}
    ]);
    let (status, intra) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": lines}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED,
        "intra-state invoice: {status} {intra}"
    );
    // 2 × 450.00 − 50.00 = 850.00 taxable at 5 %: CGST 21.25 + SGST 21.25.
    check!(
        intra["supply_kind"] == "intra_state"
            && intra["place_of_supply"] == "27"
            && intra["totals"]["cgst_paise"] == 2125
            && intra["totals"]["sgst_paise"] == 2125
            && intra["totals"]["igst_paise"] == 0,
        "split: {intra}"
    );
    check!(
        intra["totals"]["total_paise"] == 50000 + 85000 + 4250,
        "total: {intra}"
    );
    // Care given at the clinic is supplied in the clinic's state (IGST Act s. 12(4)): another
    // place of supply is refused, not billed as IGST.
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "place_of_supply": "29", "lines": lines}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "place_of_supply",
        "another state's place of supply: {status} {body}"
    );
    let (_, inter) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "place_of_supply": "27", "lines": lines}),
        )
        .await?;
    check!(
        intra["number"] == 1
            && inter["number"] == 2
            && inter["invoice_number"]
                == format!(
                    "{}/000002",
                    numbering::main_series(numbering::Document::Invoice, Utc::now())
                ),
        "numbering: {} {}",
        intra["number"],
        inter["number"]
    );
    let (_, other_series) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "series": "DESK2", "lines": lines}),
        )
        .await?;
    check!(
        other_series["number"] == 1 && other_series["invoice_number"] == "DESK2/000001",
        "series: {other_series}"
    );
    let (status, body) = desk.post(&format!("/v1/clinics/{k}/invoices"), json!({"patient_id": p["id"], "lines": [{"description": "X", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 100, "gst_rate_bp": 1700}]})).await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "lines[0].gst_rate_bp",
        "bad GST rate: {status} {body}"
    );
    // The schedule in force on the issue date decides: since 22 September 2025, 12 % is no
    // longer a rate and 40 % is (GST 2.0).
    let line = |rate: u32| json!([{"description": "Item", "sac_hsn": "30049099", "quantity": 1, "unit_price_paise": 10000, "gst_rate_bp": rate}]);
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": line(1200)}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY
            && body["field"] == "lines[0].gst_rate_bp"
            && body["message"].as_str().is_some_and(|m| m.contains("12 %")),
        "12 % after GST 2.0: {status} {body}"
    );
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": line(4000)}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && body["totals"]["cgst_paise"] == 2000,
        "40 %: {status} {body}"
    );
    // The supplier's details are the invoice's own: after the clinic moves, a reprint of an
    // earlier invoice shows where it was issued (Rule 46(a)).
    check!(
        intra["supplier"]["name"] == "Clinic a"
            && intra["supplier"]["address"] == "Somewhere"
            && intra["supplier"]["gstin"] == w.a.gstin.as_str()
            && intra["supplier"]["state_code"] == "27",
        "the supplier at issue: {intra}"
    );
    w.db.superuser()
        .await?
        .execute(
            "UPDATE vaidya.clinics SET name = 'Clinic a (new premises)', address = 'Elsewhere' WHERE id = $1",
            &[&k],
        )
        .await?;
    let (_, reprint) = desk
        .get(&format!(
            "/v1/clinics/{k}/invoices/{}",
            intra["id"].as_str().unwrap_or_default()
        ))
        .await?;
    check!(
        reprint["supplier"] == intra["supplier"],
        "a reprint keeps the supplier at issue: {reprint}"
    );
    // A clinic without a GSTIN may not charge GST: its taxed line is refused, exempt care
    // is billed (a bill of supply).
    w.db.superuser()
        .await?
        .execute(
            "UPDATE vaidya.clinics SET gstin = NULL WHERE id = $1",
            &[&k],
        )
        .await?;
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": line(500)}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY
            && body["field"] == "lines[0].gst_rate_bp"
            && body["message"]
                .as_str()
                .is_some_and(|m| m.contains("GSTIN")),
        "GST without a GSTIN: {status} {body}"
    );
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": line(0)}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && body["totals"]["total_paise"] == 10000,
        "exempt care without a GSTIN: {status} {body}"
    );
    // Payments: partial, then the rest; more than due is refused.
    let inv = intra["id"].as_str().unwrap_or_default();
    let (status, paid) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{inv}/payments"),
            json!({"amount_paise": 100000, "method": "upi", "reference": "UPI-123"}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && paid["paid_paise"] == 100000,
        "payment: {status} {paid}"
    );
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{inv}/payments"),
            json!({"amount_paise": 99999999, "method": "cash"}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "amount_paise",
        "overpayment: {status} {body}"
    );
    Ok(())
}

pub async fn appointment_queue_transitions(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let k = w.a.id;
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Omkar", "sex": "male"}),
        )
        .await?;
    let starts = chrono::Utc::now();
    let (status, a) = desk
        .post(&format!("/v1/clinics/{k}/appointments"), json!({"patient_id": p["id"], "doctor_id": w.a.doctor.id, "starts_at": starts, "ends_at": starts + chrono::Duration::minutes(15)}))
        .await?;
    check!(
        status == StatusCode::CREATED && a["status"] == "booked",
        "book: {status} {a}"
    );
    let path = format!(
        "/v1/clinics/{k}/appointments/{}",
        a["id"].as_str().unwrap_or_default()
    );
    let (status, body) = desk.patch(&path, json!({"status": "completed"})).await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "invalid_state",
        "skip to completed: {status} {body}"
    );
    for next in ["checked_in", "in_consultation", "completed"] {
        let (status, body) = desk.patch(&path, json!({"status": next})).await?;
        check!(
            status == StatusCode::OK && body["status"] == next,
            "{next}: {status} {body}"
        );
    }
    let (status, _) = desk.patch(&path, json!({"status": "cancelled"})).await?;
    check!(
        status == StatusCode::CONFLICT,
        "cancel after completion: {status}"
    );
    let (status, body) = desk
        .patch(&path, json!({"base_version": 1, "reason": "late"}))
        .await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "version_conflict",
        "stale version: {status} {body}"
    );
    // Only doctors can be booked.
    let (status, body) = desk
        .post(&format!("/v1/clinics/{k}/appointments"), json!({"patient_id": p["id"], "doctor_id": w.a.nurse.id, "starts_at": starts, "ends_at": starts + chrono::Duration::minutes(15)}))
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "doctor_id",
        "nurse as doctor: {status} {body}"
    );
    // The doctor's day, in order.
    let (_, day) = desk
        .get(&format!(
            "/v1/clinics/{k}/appointments?doctor_id={}&from={}",
            w.a.doctor.id,
            urlencoding(&(starts - chrono::Duration::hours(1)).to_rfc3339())
        ))
        .await?;
    check!(
        day["items"].as_array().map(Vec::len) == Some(1),
        "doctor's day: {day}"
    );
    Ok(())
}

fn urlencoding(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

pub async fn openapi_document_is_served(h: Arc<Harness>) -> Result<()> {
    let db = h.database().await?;
    let server = TestServer::spawn(&db, 1).await?;
    let (status, doc) = server.client().get("/v1/openapi.json").await?;
    check!(
        status == StatusCode::OK && doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi: {status}"
    );
    for path in [
        "/v1/auth/login",
        "/v1/clinics/{clinic_id}/patients",
        "/v1/clinics/{clinic_id}/invoices",
        "/v1/clinics/{clinic_id}/audit",
    ] {
        check!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }
    check!(
        doc["components"]["schemas"]["ErrorCode"].is_object(),
        "openapi lacks ErrorCode"
    );
    // Every operation lists the errors it can answer, each with the ApiError body.
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            operations += 1;
            let has = |status: &str| {
                op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                    == "#/components/schemas/ApiError"
            };
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let body = op["requestBody"].is_object();
            let mut missing: Vec<&str> = ["500", "503", "426"]
                .into_iter()
                .filter(|s| !has(s))
                .collect();
            if secured && !has("401") {
                missing.push("401");
            }
            if body && !(has("400") && has("422")) {
                missing.push("400/422");
            }
            if path.contains("{clinic_id}") && !(has("403") && has("404")) {
                missing.push("403/404");
            }
            check!(missing.is_empty(), "{method} {path} lacks {missing:?}");
        }
    }
    check!(operations > 40, "only {operations} operations documented");
    Ok(())
}

/// The collections report counts what the database holds, per day in India and per mode,
/// only for the clinic's own members whose role reads payments; a bad period is a clear
/// error; the report is audited.
pub async fn collections_report_adds_up_and_stays_in_its_branch(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, admin, nurse, other) = (
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.nurse).await?,
        server.login_as(&w.b.admin).await?,
    );
    let k = w.a.id;
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Payer", "sex": "female"}),
        )
        .await?;
    // Three invoices paid in cash, UPI and card (one in two parts).
    let mut payments = Vec::new();
    for (price, parts) in [
        (50_000, vec![("cash", 50_000)]),
        (30_000, vec![("upi", 10_000), ("cash", 20_000)]),
        (12_345, vec![("card", 12_345)]),
    ] {
        let (status, inv) = desk
            .post(
                &format!("/v1/clinics/{k}/invoices"),
                json!({"patient_id": p["id"], "lines": [{"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": price, "gst_rate_bp": 0}]}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "invoice: {status} {inv}");
        for (method, amount) in parts {
            let (status, paid) = desk
                .post(
                    &format!(
                        "/v1/clinics/{k}/invoices/{}/payments",
                        inv["id"].as_str().unwrap_or_default()
                    ),
                    json!({"amount_paise": amount, "method": method}),
                )
                .await?;
            check!(status == StatusCode::CREATED, "payment: {status} {paid}");
            payments.push(paid);
        }
    }
    // One payment was received yesterday evening in India (21:00 IST), one a year ago
    // (moved by the superuser, past the triggers that keep payments unchanged).
    let su = w.db.superuser().await?;
    su.batch_execute("SET session_replication_role = replica")
        .await?;
    let yesterday = vaidya_shared::rules::clock::india_date(chrono::Utc::now())
        .pred_opt()
        .unwrap_or_default();
    let evening =
        vaidya_shared::rules::clock::india_day_start(yesterday) + chrono::TimeDelta::hours(21);
    su.execute(
        "UPDATE vaidya.payments SET received_at = $2 WHERE clinic_id = $1 AND method = 'card'",
        &[&k, &evening],
    )
    .await?;
    su.execute(
        "UPDATE vaidya.payments SET received_at = now() - interval '400 days' WHERE clinic_id = $1 AND method = 'upi'",
        &[&k],
    )
    .await?;
    let today = vaidya_shared::rules::clock::india_date(chrono::Utc::now());
    let (status, report) = desk
        .get(&format!(
            "/v1/clinics/{k}/reports/collections?from={yesterday}&to={today}"
        ))
        .await?;
    check!(status == StatusCode::OK, "report: {status} {report}");
    // The figures equal the database's own sums for the same filter.
    let (start, end) = (
        vaidya_shared::rules::clock::india_day_start(yesterday),
        vaidya_shared::rules::clock::india_day_start(today) + chrono::TimeDelta::days(1),
    );
    let db_total: i64 = su
        .query_one(
            "SELECT coalesce(sum(amount_paise), 0)::bigint FROM vaidya.payments
             WHERE clinic_id = $1 AND received_at >= $2 AND received_at < $3",
            &[&k, &start, &end],
        )
        .await?
        .get(0);
    check!(
        report["total_paise"] == db_total && db_total == 50_000 + 20_000 + 12_345,
        "total {} against the database's {db_total}: {report}",
        report["total_paise"]
    );
    let days = report["days"].as_array().cloned().unwrap_or_default();
    check!(
        days.len() == 2
            && days[0]["date"] == yesterday.to_string()
            && days[0]["total_paise"] == 12_345
            && days[1]["date"] == today.to_string()
            && days[1]["by_method"]
                == json!([{"method": "cash", "payments": 2, "amount_paise": 70_000}]),
        "per day and mode: {report}"
    );
    // Other roles and branches: the nurse's role does not read payments; another group's
    // admin is not a member here.
    let (status, body) = nurse
        .get(&format!(
            "/v1/clinics/{k}/reports/collections?from={today}&to={today}"
        ))
        .await?;
    check!(status == StatusCode::FORBIDDEN, "nurse: {status} {body}");
    let (status, body) = other
        .get(&format!(
            "/v1/clinics/{k}/reports/collections?from={today}&to={today}"
        ))
        .await?;
    check!(
        status == StatusCode::NOT_FOUND && !body.to_string().contains("70000"),
        "another branch: {status} {body}"
    );
    // Bad periods.
    for (query, want) in [
        (
            format!("from={today}&to={yesterday}"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=2025-01-01&to=2026-01-02".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=yesterday&to=today".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, body) = desk
            .get(&format!("/v1/clinics/{k}/reports/collections?{query}"))
            .await?;
        check!(
            status == want && body["code"].is_string(),
            "{query}: {status} {body}"
        );
    }
    // Audited as an export, and the admin sees the same figures.
    let (_, exported) = admin
        .get(&format!("/v1/clinics/{k}/audit?action=export"))
        .await?;
    check!(
        exported["items"].as_array().is_some_and(|v| v
            .iter()
            .any(|e| e["entity_type"] == "collections_report"
                && e["actor_id"] == w.a.desk.id.to_string())),
        "the report is audited: {exported}"
    );
    let (_, again) = admin
        .get(&format!(
            "/v1/clinics/{k}/reports/collections?from={yesterday}&to={today}"
        ))
        .await?;
    check!(again == report, "the admin sees the same report");
    drop(payments);
    Ok(())
}

/// A CA's month: an exempt consultation, a cosmetic procedure at 18 %, medicines at 5 % with
/// a consultation, and a company's health check-ups billed B2B with its GSTIN. GSTR-1 puts
/// each in its table, adds up to what the database holds, leaves out other months, and is
/// read only by roles and branches that may read the invoices.
pub async fn gstr1_reports_each_supply_and_stays_in_its_branch(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, admin, nurse, other) = (
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.a.nurse).await?,
        server.login_as(&w.b.admin).await?,
    );
    let k = w.a.id;
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Rekha Rao", "sex": "female"}),
        )
        .await?;
    let line = |desc: &str, sac: &str, qty: i64, price: i64, rate: u32| json!({"description": desc, "sac_hsn": sac, "quantity": qty, "unit_price_paise": price, "gst_rate_bp": rate});
    let mut issued = Vec::new();
    for (lines, recipient) in [
        (vec![line("Consultation", "999312", 1, 50_000, 0)], None),
        (
            vec![line("Laser hair removal", "999722", 1, 1_000_000, 1800)],
            None,
        ),
        (
            vec![
                line("Consultation", "999312", 1, 50_000, 0),
                line("Paracetamol 500 mg strip", "3004", 2, 10_000, 500),
            ],
            None,
        ),
        (
            vec![
                line("Annual health check-up", "999312", 10, 150_000, 0),
                line("Cosmetic consultation", "999722", 1, 200_000, 1800),
            ],
            Some(json!({"gstin": " 29aagca1234d1z4 ", "name": "Acme Software Pvt Ltd"})),
        ),
    ] {
        let mut body = json!({"patient_id": p["id"], "lines": lines});
        if let Some(r) = recipient {
            body["recipient"] = r;
        }
        let (status, inv) = desk
            .post(&format!("/v1/clinics/{k}/invoices"), body)
            .await?;
        check!(status == StatusCode::CREATED, "invoice: {status} {inv}");
        issued.push(inv);
    }
    check!(
        issued[3]["recipient"]
            == json!({"gstin": "29AAGCA1234D1Z4", "name": "Acme Software Pvt Ltd"})
            && issued[0]["recipient"].is_null(),
        "the business customer is kept, its GSTIN normalised: {}",
        issued[3]
    );
    // A mistyped GSTIN (wrong check character) is refused, and takes no number.
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": [line("Check-up", "999312", 1, 100, 0)],
                   "recipient": {"gstin": "29AAGCA1234D1Z5", "name": "Acme"}}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "recipient.gstin",
        "bad GSTIN: {status} {body}"
    );
    // One more invoice, moved to last month: not in this month's return.
    let (_, old) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": [line("Consultation", "999312", 1, 70_000, 0)]}),
        )
        .await?;
    let su = w.db.superuser().await?;
    su.batch_execute("SET session_replication_role = replica")
        .await?;
    su.execute(
        "UPDATE vaidya.invoices SET issued_at = now() - interval '45 days' WHERE clinic_id = $1 AND id = $2",
        &[&k, &old["id"].as_str().unwrap_or_default().parse::<uuid::Uuid>()?],
    )
    .await?;

    let today = vaidya_shared::rules::clock::india_date(chrono::Utc::now());
    use chrono::Datelike as _;
    let period = format!("year={}&month={}", today.year(), today.month());
    let (status, r) = desk
        .get(&format!("/v1/clinics/{k}/reports/gstr1?{period}"))
        .await?;
    check!(status == StatusCode::OK, "report: {status} {r}");
    check!(
        r["gstin"] == w.a.gstin.as_str()
            && r["return_period"] == format!("{:02}{}", today.month(), today.year())
            && r["invoices"] == 4,
        "the month's four invoices: {r}"
    );
    let b2b = &r["b2b"];
    check!(
        b2b.as_array().map(Vec::len) == Some(1)
            && b2b[0]["recipient_gstin"] == "29AAGCA1234D1Z4"
            && b2b[0]["value_paise"] == 1_500_000 + 236_000
            && b2b[0]["items"]
                == json!([{"rate_bp": 1800, "taxable_paise": 200_000, "igst_paise": 0, "cgst_paise": 18_000, "sgst_paise": 18_000}]),
        "B2B: {b2b}"
    );
    check!(
        r["b2cs"]
            == json!([
                {"place_of_supply": "27", "rate_bp": 500, "taxable_paise": 20_000, "igst_paise": 0, "cgst_paise": 500, "sgst_paise": 500},
                {"place_of_supply": "27", "rate_bp": 1800, "taxable_paise": 1_000_000, "igst_paise": 0, "cgst_paise": 90_000, "sgst_paise": 90_000}
            ]),
        "B2CS by place of supply and rate: {}",
        r["b2cs"]
    );
    check!(
        r["nil"]
            == json!([
                {"supply_type": "INTRAB2B", "nil_paise": 0, "exempt_paise": 1_500_000, "non_gst_paise": 0},
                {"supply_type": "INTRAB2C", "nil_paise": 0, "exempt_paise": 100_000, "non_gst_paise": 0}
            ]),
        "exempt supplies: {}",
        r["nil"]
    );
    let main = numbering::main_series(numbering::Document::Invoice, Utc::now());
    check!(
        r["documents"]
            == json!([{"nature": "Invoices for outward supply", "series": main, "from": format!("{main}/000001"), "to": format!("{main}/000004"), "total": 4, "cancelled": 0, "net_issued": 4, "missing": 0}]),
        "documents issued: {}",
        r["documents"]
    );
    // The totals are the database's own sums for the same month.
    let month_start =
        vaidya_shared::rules::clock::india_day_start(today.with_day(1).unwrap_or(today));
    let db: (i64, i64) = su
        .query_one(
            "SELECT coalesce(sum(l.taxable_paise), 0)::bigint, coalesce(sum(l.cgst_paise + l.sgst_paise), 0)::bigint
             FROM vaidya.invoice_lines l JOIN vaidya.invoices i ON i.clinic_id = l.clinic_id AND i.id = l.invoice_id
             WHERE i.clinic_id = $1 AND i.issued_at >= $2",
            &[&k, &month_start],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))?;
    check!(
        r["totals"]["taxable_paise"] == db.0
            && r["totals"]["cgst_paise"].as_i64().unwrap_or(0)
                + r["totals"]["sgst_paise"].as_i64().unwrap_or(0)
                == db.1,
        "totals {} against the database's {db:?}",
        r["totals"]
    );
    // Roles and branches, bad periods, a clinic without a GSTIN.
    let (status, body) = nurse
        .get(&format!("/v1/clinics/{k}/reports/gstr1?{period}"))
        .await?;
    check!(status == StatusCode::FORBIDDEN, "nurse: {status} {body}");
    let (status, body) = other
        .get(&format!("/v1/clinics/{k}/reports/gstr1?{period}"))
        .await?;
    check!(
        status == StatusCode::NOT_FOUND && !body.to_string().contains("29AAGCA1234D1Z4"),
        "another branch: {status} {body}"
    );
    for (query, want, field) in [
        (
            "year=2026&month=5&months=3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "month",
        ),
        (
            "year=2026&month=4&months=2",
            StatusCode::UNPROCESSABLE_ENTITY,
            "months",
        ),
        (
            "year=2026&month=13",
            StatusCode::UNPROCESSABLE_ENTITY,
            "month",
        ),
        ("year=twenty&month=4", StatusCode::BAD_REQUEST, ""),
    ] {
        let (status, body) = desk
            .get(&format!("/v1/clinics/{k}/reports/gstr1?{query}"))
            .await?;
        check!(
            status == want
                && body["code"].is_string()
                && (field.is_empty() || body["field"] == field),
            "{query}: {status} {body}"
        );
    }
    let (_, exported) = admin
        .get(&format!("/v1/clinics/{k}/audit?action=export"))
        .await?;
    check!(
        exported["items"]
            .as_array()
            .is_some_and(|v| v
                .iter()
                .any(|e| e["entity_type"] == "gstr1_report"
                    && e["actor_id"] == w.a.desk.id.to_string())),
        "the return is audited: {exported}"
    );
    su.execute(
        "UPDATE vaidya.clinics SET gstin = NULL WHERE id = $1",
        &[&k],
    )
    .await?;
    let (status, body) = desk
        .get(&format!("/v1/clinics/{k}/reports/gstr1?{period}"))
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "gstin",
        "no GSTIN, no GSTR-1: {status} {body}"
    );
    Ok(())
}

/// Corrections without deletion: a paid invoice is refunded (a negative payment, never more
/// than was paid) and then cancelled once, with a reason; it keeps its number, takes no
/// more payments, shows as cancelled in GSTR-1's table 13 only, and the database refuses to
/// undo or alter the cancellation even when asked directly.
pub async fn an_invoice_is_refunded_then_cancelled_never_deleted(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, nurse) = (
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.nurse).await?,
    );
    let k = w.a.id;
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Anil Joshi", "sex": "male"}),
        )
        .await?;
    let (status, inv) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": p["id"], "lines": [{"description": "Chemical peel", "sac_hsn": "999722", "quantity": 1, "unit_price_paise": 50_000, "gst_rate_bp": 1800}]}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "invoice: {status} {inv}");
    let id = inv["id"].as_str().unwrap_or_default().to_owned();
    let pay = |amount: i64| json!({"amount_paise": amount, "method": "cash"});
    let (status, _) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/payments"),
            pay(59_000),
        )
        .await?;
    check!(status == StatusCode::CREATED, "paid: {status}");

    // Paid: it cannot be cancelled until refunded; a refund never exceeds what was paid.
    let cancel = |reason: &str| json!({ "reason": reason });
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/cancel"),
            cancel("Billed to the wrong patient"),
        )
        .await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "invalid_state",
        "cancelling a paid invoice: {status} {body}"
    );
    // The most negative amount a request can carry is refused, not overflowed (found by
    // the schemathesis run).
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/payments"),
            pay(i64::MIN),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "amount_paise",
        "refunding i64::MIN: {status} {body}"
    );
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/payments"),
            pay(-59_001),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "amount_paise",
        "refunding more than was paid: {status} {body}"
    );
    let (status, refunded) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/payments"),
            pay(-59_000),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && refunded["paid_paise"] == 0,
        "refund: {status} {refunded}"
    );

    // Who may cancel, and only with a reason.
    let (status, body) = nurse
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/cancel"),
            cancel("x"),
        )
        .await?;
    check!(status == StatusCode::FORBIDDEN, "nurse: {status} {body}");
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/cancel"),
            cancel("  "),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "reason",
        "no reason: {status} {body}"
    );
    let (status, cancelled) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/cancel"),
            cancel("Billed to the wrong patient"),
        )
        .await?;
    check!(
        status == StatusCode::OK
            && cancelled["cancellation"]["reason"] == "Billed to the wrong patient"
            && cancelled["cancellation"]["cancelled_by"] == w.a.desk.id.to_string()
            && cancelled["invoice_number"] == inv["invoice_number"],
        "cancelled, number kept: {status} {cancelled}"
    );
    let (status, body) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{id}/cancel"),
            cancel("again"),
        )
        .await?;
    check!(
        status == StatusCode::CONFLICT,
        "cancelled twice: {status} {body}"
    );
    let (status, body) = desk
        .post(&format!("/v1/clinics/{k}/invoices/{id}/payments"), pay(100))
        .await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "invalid_state",
        "paying a cancelled invoice: {status} {body}"
    );
    let (status, fetched) = desk.get(&format!("/v1/clinics/{k}/invoices/{id}")).await?;
    check!(
        status == StatusCode::OK && fetched["cancellation"] == cancelled["cancellation"],
        "still there, cancelled: {status} {fetched}"
    );

    // The database itself refuses to undo or alter the cancellation, or the invoice.
    let app = w.db.app().await?;
    for sql in [
        "UPDATE vaidya.invoices SET cancelled_at = NULL, cancelled_by = NULL, cancel_reason = NULL, cancel_recorded_at = NULL WHERE id = $1::text::uuid",
        "UPDATE vaidya.invoices SET cancel_reason = 'Never issued' WHERE id = $1::text::uuid",
        "UPDATE vaidya.invoices SET total_paise = 0 WHERE id = $1::text::uuid",
    ] {
        app.batch_execute(&format!(
            "BEGIN; SELECT set_config('app.user_id', '{}', true)",
            w.a.desk.id
        ))
        .await?;
        let direct = app.execute(sql, &[&id]).await;
        app.batch_execute("ROLLBACK").await?;
        check!(
            direct.as_ref().err().and_then(|e| e.code()).map(|c| c.code()) == Some("VD001"),
            "{sql}: {direct:?}"
        );
    }

    // GSTR-1: in table 13 as cancelled, in no other table; collections net to nothing.
    let today = vaidya_shared::rules::clock::india_date(chrono::Utc::now());
    use chrono::Datelike as _;
    let (status, r) = desk
        .get(&format!(
            "/v1/clinics/{k}/reports/gstr1?year={}&month={}",
            today.year(),
            today.month()
        ))
        .await?;
    check!(
        status == StatusCode::OK
            && r["invoices"] == 0
            && r["b2cs"] == json!([])
            && r["documents"][0]["cancelled"] == 1
            && r["documents"][0]["net_issued"] == 0,
        "GSTR-1 with a cancelled invoice: {status} {r}"
    );
    let (_, collected) = desk
        .get(&format!(
            "/v1/clinics/{k}/reports/collections?from={today}&to={today}"
        ))
        .await?;
    check!(
        collected["total_paise"] == 0,
        "a refunded payment nets to nothing: {collected}"
    );
    Ok(())
}
