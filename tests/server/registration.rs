//! People and reports around a bill: a doctor's medical registration as the clinic records
//! it for prints (by its admin, doctors only), the doctor a bill names and collections per
//! doctor, and a group's roll-up for the admin of its branches.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn a_doctors_registration_is_recorded_by_the_admin(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (_, members) = admin.get(&format!("/v1/clinics/{k}/members")).await?;
    let member_of = |user: uuid::Uuid| -> Value {
        members
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["user"]["id"] == user.to_string())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (doctor, front_desk) = (member_of(w.a.doctor.id), member_of(w.a.desk.id));
    let path = |m: &Value| {
        format!(
            "/v1/clinics/{k}/members/{}/registration",
            m["id"].as_str().unwrap_or_default()
        )
    };
    let body = json!({"number": " MMC 2009/04/1234 ", "qualifications": "MBBS, MD (Medicine)"});
    let (status, set) = admin.put(&path(&doctor), body.clone()).await?;
    check!(
        status == StatusCode::OK
            && set["registration"]
                == json!({"number": "MMC 2009/04/1234", "qualifications": "MBBS, MD (Medicine)"}),
        "{status} {set}"
    );
    // Every member's list carries it (the doctor picker and prints, offline too).
    let (_, seen) = desk.get(&format!("/v1/clinics/{k}/members")).await?;
    check!(
        seen.as_array().is_some_and(|l| l
            .iter()
            .any(|m| m["registration"]["number"] == "MMC 2009/04/1234")),
        "{seen}"
    );
    let (status, _) = desk.put(&path(&doctor), body.clone()).await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "the desk records nothing: {status}"
    );
    let (status, refused) = admin.put(&path(&front_desk), body).await?;
    check!(
        status == StatusCode::CONFLICT && refused["code"] == "invalid_state",
        "only doctors: {status} {refused}"
    );
    let (status, refused) = admin
        .put(
            &path(&doctor),
            json!({"number": "  ", "qualifications": ""}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "number",
        "{status} {refused}"
    );

    // A bill names the doctor whose care it bills (a doctor of the clinic), and the day's
    // collections add up per doctor.
    let (_, patient) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Billed Patient", "sex": "male"}),
        )
        .await?;
    let bill = |doctor: Value, paise: i64| {
        json!({"patient_id": patient["id"], "doctor_id": doctor, "lines": [{"description": "Consultation",
            "sac_hsn": "999312", "quantity": 1, "unit_price_paise": paise, "gst_rate_bp": 0}]})
    };
    let invoices = format!("/v1/clinics/{k}/invoices");
    let (status, refused) = desk.post(&invoices, bill(json!(w.a.desk.id), 100)).await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "doctor_id",
        "the desk is no doctor: {status} {refused}"
    );
    let mut paid = Vec::new();
    for (doctor, paise) in [
        (json!(w.a.doctor.id), 50_000),
        (json!(w.a.doctor.id), 30_000),
        (Value::Null, 20_000),
    ] {
        let (status, inv) = desk.post(&invoices, bill(doctor.clone(), paise)).await?;
        check!(
            status == StatusCode::CREATED && inv["doctor_id"] == doctor,
            "{status} {inv}"
        );
        let (status, _) = desk
            .post(
                &format!(
                    "{invoices}/{}/payments",
                    inv["id"].as_str().unwrap_or_default()
                ),
                json!({"amount_paise": paise, "method": "cash", "reference": null}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "{status}");
        paid.push(paise);
    }
    let today = vaidya_shared::rules::clock::india_date(chrono::Utc::now());
    let (status, report) = desk
        .get(&format!(
            "/v1/clinics/{k}/reports/collections?from={today}&to={today}"
        ))
        .await?;
    check!(
        status == StatusCode::OK
            && report["by_doctor"]
                == json!([
                    {"doctor_id": w.a.doctor.id, "payments": 2, "amount_paise": 80_000},
                    {"doctor_id": null, "payments": 1, "amount_paise": 20_000}
                ])
            && report["total_paise"] == paid.iter().sum::<i64>(),
        "{status} {report}"
    );
    Ok(())
}

/// A group's roll-up: an admin of two branches of one group sees both, branch by branch;
/// a branch's front desk and another group's admin see nothing of it.
pub async fn a_group_admin_sees_the_branches_they_administer(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let k = w.a.id;
    let su = w.db.superuser().await?;
    let group: uuid::Uuid = su
        .query_one("SELECT group_id FROM vaidya.clinics WHERE id = $1", &[&k])
        .await?
        .get(0);
    let branch = uuid::Uuid::now_v7();
    su.execute(
        "INSERT INTO vaidya.clinics (id, group_id, name, state_code) VALUES ($1, $2, 'Clinic a2', '27')",
        &[&branch, &group],
    )
    .await?;
    su.execute(
        "INSERT INTO vaidya.memberships (id, clinic_id, user_id, role) VALUES ($1, $2, $3, 'admin')",
        &[&uuid::Uuid::now_v7(), &branch, &w.a.admin.id],
    )
    .await?;
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    for (clinic, paise, method) in [(k, 50_000, "cash"), (branch, 30_000, "upi")] {
        let (_, patient) = admin
            .post(
                &format!("/v1/clinics/{clinic}/patients"),
                json!({"name": "Group Patient", "sex": "female"}),
            )
            .await?;
        let (status, inv) = admin
            .post(
                &format!("/v1/clinics/{clinic}/invoices"),
                json!({"patient_id": patient["id"], "lines": [{"description": "Consultation",
                    "sac_hsn": "999312", "quantity": 1, "unit_price_paise": paise, "gst_rate_bp": 0}]}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "{status} {inv}");
        let (status, _) = admin
            .post(
                &format!(
                    "/v1/clinics/{clinic}/invoices/{}/payments",
                    inv["id"].as_str().unwrap_or_default()
                ),
                json!({"amount_paise": paise, "method": method, "reference": null}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "{status}");
    }
    let today = vaidya_shared::rules::clock::india_date(chrono::Utc::now());
    let path = format!("/v1/groups/{group}/reports/collections?from={today}&to={today}");
    let (status, r) = admin.get(&path).await?;
    let totals: Vec<(String, i64)> = r["branches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            (
                b["clinic_name"].as_str().unwrap_or_default().to_owned(),
                b["total_paise"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    check!(
        status == StatusCode::OK
            && totals
                == [
                    ("Clinic a".to_owned(), 50_000),
                    ("Clinic a2".to_owned(), 30_000)
                ]
            && r["total_paise"] == 80_000
            && r["by_method"]
                == json!([{"method": "cash", "payments": 1, "amount_paise": 50_000},
                          {"method": "upi", "payments": 1, "amount_paise": 30_000}]),
        "{status} {r}"
    );
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (status, _) = desk.get(&path).await?;
    check!(status == StatusCode::NOT_FOUND, "a branch's desk: {status}");
    let (other, _) = server
        .client()
        .login(&w.b.admin.email, &w.b.admin.password)
        .await?;
    let (status, _) = other.get(&path).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "another group's admin: {status}"
    );
    Ok(())
}
