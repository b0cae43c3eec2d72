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
use vaidya_shared::numbering::{self, FinancialYear};
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

/// The accountant's fixture set, each case issued as a PC issues it (offline, synced) or
/// online, and checked as a CA would: the document, the taxes and totals, the number and
/// the GSTR-1 rows. The desk's membership is dated back to August 2025, so acts of
/// September 2025 and of 31 March 2026 fall within what the server accepts from them.
pub async fn a_chartered_accountants_fixture_set_holds(h: Arc<Harness>) -> Result<()> {
    use chrono::TimeZone;
    use vaidya_shared::gst::{DocumentKind, StateTax};
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (k, kb) = (w.a.id, w.b.id);
    let su = w.db.superuser().await?;
    su.execute(
        "UPDATE vaidya.memberships SET created_at = '2025-08-01T00:00:00Z' WHERE clinic_id = $1 AND user_id = $2",
        &[&k, &w.a.desk.id],
    )
    .await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let pc = desk.with_device("vaidya-ca-pc")?;
    let (_, code) = allocate(&pc, k, &"c".repeat(32)).await?;
    let code = code["code"].as_str().unwrap_or_default().to_owned();
    let (_, patient) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Fixture Patient", "sex": "female"}),
        )
        .await?;
    let line = |d: &str, sac: &str, q: i64, p: i64, r: u32| json!({"description": d, "sac_hsn": sac, "quantity": q, "unit_price_paise": p, "gst_rate_bp": r});
    let online = |lines: Value, recipient: Value| {
        let desk = desk.clone();
        let patient = patient.clone();
        async move {
            desk.post(
                &format!("/v1/clinics/{k}/invoices"),
                json!({"patient_id": patient["id"], "lines": lines, "recipient": recipient}),
            )
            .await
        }
    };
    let document = |inv: &Value| {
        DocumentKind::for_rates(
            inv["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| l["gst_rate_bp"].as_u64().unwrap_or(0) as u32),
        )
    };
    let t = |inv: &Value, what: &str| inv["totals"][what].as_i64().unwrap_or(-1);

    // 1. An exempt consultation: a bill of supply, no tax.
    let (_, consult) = online(
        json!([line("Consultation", "999312", 1, 50_000, 0)]),
        Value::Null,
    )
    .await?;
    check!(
        document(&consult) == DocumentKind::BillOfSupply
            && t(&consult, "total_paise") == 50_000
            && t(&consult, "cgst_paise") == 0,
        "exempt consultation: {consult}"
    );
    // 2. A cosmetic procedure at 18 %: a tax invoice, 9 % + 9 %.
    let (_, peel) = online(
        json!([line("Chemical peel", "999722", 1, 1_000_000, 1800)]),
        Value::Null,
    )
    .await?;
    check!(
        document(&peel) == DocumentKind::TaxInvoice
            && (
                t(&peel, "cgst_paise"),
                t(&peel, "sgst_paise"),
                t(&peel, "total_paise")
            ) == (90_000, 90_000, 1_180_000),
        "procedure at 18 %: {peel}"
    );
    // 3. Medicines at 5 %, counted in packs.
    let (_, meds) = online(
        json!([{"description": "Amoxicillin 500", "sac_hsn": "3004", "quantity": 2, "unit_price_paise": 10_000,
                "gst_rate_bp": 500, "unit": "PAC"}]),
        Value::Null,
    )
    .await?;
    check!(
        (t(&meds, "cgst_paise"), t(&meds, "total_paise")) == (500, 21_000)
            && meds["lines"][0]["unit"] == "PAC",
        "medicines at 5 %: {meds}"
    );
    // 4. A mixed bill: an invoice-cum-bill of supply.
    let (_, mixed) = online(
        json!([
            line("Consultation", "999312", 1, 50_000, 0),
            line("Dressing", "3005", 1, 20_000, 500)
        ]),
        Value::Null,
    )
    .await?;
    check!(
        document(&mixed) == DocumentKind::InvoiceCumBillOfSupply,
        "mixed: {mixed}"
    );
    // 5. A company's health check-up, with its GSTIN (B2B).
    let (_, b2b) = online(
        json!([
            line("Health check-up", "999312", 10, 150_000, 0),
            line("Body composition scan", "999722", 1, 200_000, 1800)
        ]),
        json!({"gstin": "29AAGCA1234D1Z4", "name": "Acme Software Pvt Ltd"}),
    )
    .await?;
    check!(b2b["recipient"]["gstin"] == "29AAGCA1234D1Z4", "B2B: {b2b}");
    // 6. A cancelled invoice keeps its number.
    let (_, void) = online(
        json!([line("Consultation", "999312", 1, 30_000, 0)]),
        Value::Null,
    )
    .await?;
    let (status, _) = desk
        .post(
            &format!(
                "/v1/clinics/{k}/invoices/{}/cancel",
                void["id"].as_str().unwrap_or_default()
            ),
            json!({"reason": "Patient left before the consultation"}),
        )
        .await?;
    check!(status == StatusCode::OK, "cancel: {status}");
    // 7. A credit note: half the procedure given back.
    let (status, credited) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices/{}/credit-notes", peel["id"].as_str().unwrap_or_default()),
            json!({"reason": "Half the session", "lines": [{"invoice_line_id": peel["lines"][0]["id"], "taxable_paise": 500_000}]}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED
            && credited["credit_notes"][0]["totals"]["total_paise"] == 590_000,
        "credit note: {status} {credited}"
    );

    // 8. Offline, a rate change: 12 % on 20 September 2025 is accepted; on 23 September,
    //    under the new schedule, refused; 5 % then is accepted. And 9. a bill printed at
    //    23:30 on 31 March 2026 keeps its date and its year's series, synced today.
    let ist = |y, m, d, h, min| {
        chrono::FixedOffset::east_opt(5 * 3600 + 1800)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let series =
        numbering::device_series(numbering::Document::Invoice, &code, ist(2025, 9, 20, 10, 0));
    let offline = |number: i64, rate: u32, at| {
        let mut m = invoice_push(&patient, &series, number, at);
        m["mutations"][0]["data"]["lines"][0] = line("Dressing", "3005", 1, 10_000, rate);
        m
    };
    let before = push_one(&pc, k, offline(1, 1200, ist(2025, 9, 20, 10, 0))).await?;
    let after = push_one(&pc, k, offline(2, 1200, ist(2025, 9, 23, 10, 0))).await?;
    let after_at_5 = push_one(&pc, k, offline(2, 500, ist(2025, 9, 23, 10, 5))).await?;
    let march = push_one(&pc, k, offline(3, 500, ist(2026, 3, 31, 23, 30))).await?;
    check!(
        before["outcome"] == "applied"
            && after["outcome"] == "rejected"
            && after["field"] == "lines[0].gst_rate_bp"
            && after_at_5["outcome"] == "applied"
            && march["outcome"] == "applied",
        "rates by date: {before} {after} {after_at_5} {march}"
    );
    let gstr1 = |year: i32, month: u32| {
        let desk = desk.clone();
        async move {
            desk.get(&format!(
                "/v1/clinics/{k}/reports/gstr1?year={year}&month={month}"
            ))
            .await
        }
    };
    let (_, sep) = gstr1(2025, 9).await?;
    check!(
        sep["b2cs"]
            == json!([
                {"place_of_supply": "27", "rate_bp": 500, "taxable_paise": 10_000, "igst_paise": 0, "cgst_paise": 250, "sgst_paise": 250},
                {"place_of_supply": "27", "rate_bp": 1200, "taxable_paise": 10_000, "igst_paise": 0, "cgst_paise": 600, "sgst_paise": 600}
            ]),
        "September 2025 keeps the old 12 %: {}",
        sep["b2cs"]
    );
    let (_, mar) = gstr1(2026, 3).await?;
    check!(
        mar["invoices"] == 1
            && mar["documents"][0]["from"] == format!("{series}/000003")
            && mar["documents"][0]["series"] == series.as_str()
            && series.starts_with("2526-"),
        "31 March 2026 is in March's return, in 2025–26's series: {}",
        mar["documents"]
    );
    let (_, apr) = gstr1(2026, 4).await?;
    check!(
        apr["invoices"] == 0,
        "and not in April's: {}",
        apr["invoices"]
    );

    // This month's return: every table.
    let now = vaidya_shared::rules::clock::india_date(Utc::now());
    let (_, r) = gstr1(chrono::Datelike::year(&now), chrono::Datelike::month(&now)).await?;
    let main = numbering::main_series(numbering::Document::Invoice, Utc::now());
    check!(
        r["b2b"][0]["recipient_gstin"] == "29AAGCA1234D1Z4"
            && r["b2b"][0]["items"]
                == json!([{"rate_bp": 1800, "taxable_paise": 200_000, "igst_paise": 0, "cgst_paise": 18_000, "sgst_paise": 18_000}])
            && r["b2cs"]
                == json!([
                    {"place_of_supply": "27", "rate_bp": 500, "taxable_paise": 40_000, "igst_paise": 0, "cgst_paise": 1_000, "sgst_paise": 1_000},
                    {"place_of_supply": "27", "rate_bp": 1800, "taxable_paise": 500_000, "igst_paise": 0, "cgst_paise": 45_000, "sgst_paise": 45_000}
                ])
            && r["nil"]
                == json!([
                    {"supply_type": "INTRAB2B", "nil_paise": 0, "exempt_paise": 1_500_000, "non_gst_paise": 0},
                    {"supply_type": "INTRAB2C", "nil_paise": 0, "exempt_paise": 100_000, "non_gst_paise": 0}
                ])
            && r["documents"][0]
                == json!({"nature": "Invoices for outward supply", "series": main, "from": format!("{main}/000001"),
                          "to": format!("{main}/000006"), "total": 6, "cancelled": 1, "net_issued": 5, "missing": 0})
            && r["documents"][1]["nature"] == "Credit Note",
        "this month's GSTR-1: {r}"
    );

    // 10. A clinic without a GSTIN charges no GST; 11. a clinic in Chandigarh levies UTGST.
    su.execute(
        "UPDATE vaidya.clinics SET gstin = NULL WHERE id = $1",
        &[&kb],
    )
    .await?;
    let (desk_b, _) = server
        .client()
        .login(&w.b.desk.email, &w.b.desk.password)
        .await?;
    let (_, pb) = desk_b
        .post(
            &format!("/v1/clinics/{kb}/patients"),
            json!({"name": "B Patient", "sex": "male"}),
        )
        .await?;
    let issue_b = |lines: Value| {
        let desk_b = desk_b.clone();
        let pb = pb.clone();
        async move {
            desk_b
                .post(
                    &format!("/v1/clinics/{kb}/invoices"),
                    json!({"patient_id": pb["id"], "lines": lines}),
                )
                .await
        }
    };
    let (status, refused) =
        issue_b(json!([line("Chemical peel", "999722", 1, 100_000, 1800)])).await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "lines[0].gst_rate_bp",
        "no GSTIN, no GST: {status} {refused}"
    );
    let (status, bill) = issue_b(json!([line("Consultation", "999312", 1, 40_000, 0)])).await?;
    check!(
        status == StatusCode::CREATED && bill["supplier"]["gstin"].is_null(),
        "a plain bill: {status} {bill}"
    );
    let first14 = "04AAPFA1234C1Z";
    let chandigarh = format!(
        "{first14}{}",
        vaidya_shared::gst::gstin_check_char(first14).unwrap_or('0')
    );
    su.execute(
        "UPDATE vaidya.clinics SET gstin = $2, state_code = '04' WHERE id = $1",
        &[&kb, &chandigarh],
    )
    .await?;
    let (status, ut) = issue_b(json!([line("Chemical peel", "999722", 1, 100_000, 1800)])).await?;
    check!(
        status == StatusCode::CREATED
            && ut["place_of_supply"] == "04"
            && ut["supply_kind"] == "intra_state"
            && (
                t(&ut, "cgst_paise"),
                t(&ut, "sgst_paise"),
                t(&ut, "igst_paise")
            ) == (9_000, 9_000, 0)
            && StateTax::of_state("04") == StateTax::Utgst,
        "Chandigarh: CGST + UTGST: {status} {ut}"
    );
    Ok(())
}
