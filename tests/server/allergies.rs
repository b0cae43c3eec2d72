//! Allergies through the server: clinicians note them, every member sees them (audited),
//! another clinic sees none; a matching drug needs the doctor's acknowledgement, which is
//! stored with the prescription. And the rule that started the one rule set: a nurse cannot
//! issue an invoice, over REST or through a push.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn allergies_noted_by_clinicians_warn_the_prescriber(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (doctor, nurse, desk, admin) = (
        server.login_as(&w.a.doctor).await?,
        server.login_as(&w.a.nurse).await?,
        server.login_as(&w.a.desk).await?,
        server.login_as(&w.a.admin).await?,
    );
    let other = server.login_as(&w.b.doctor).await?;
    let k = w.a.id;
    let (_, p) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Asha Rao", "sex": "female"}),
        )
        .await?;
    let patient = p["id"].as_str().unwrap_or_default().to_owned();

    let allergy = json!({"patient_id": patient, "substance": "Amoxicillin", "reaction": "Hives", "severity": "severe"});
    let (status, body) = desk
        .post(&format!("/v1/clinics/{k}/allergies"), allergy.clone())
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "front desk noting an allergy: {status} {body}"
    );
    let (status, a) = nurse
        .post(&format!("/v1/clinics/{k}/allergies"), allergy)
        .await?;
    check!(
        status == StatusCode::CREATED
            && a["status"] == "active"
            && a["noted_by"] == w.a.nurse.id.to_string(),
        "nurse noting an allergy: {status} {a}"
    );
    let allergy_id = a["id"].as_str().unwrap_or_default().to_owned();
    let (status, list) = desk
        .get(&format!("/v1/clinics/{k}/patients/{patient}/allergies"))
        .await?;
    check!(
        status == StatusCode::OK && list.as_array().map(Vec::len) == Some(1),
        "front desk sees the allergy (badge): {status} {list}"
    );
    let (status, _) = other
        .get(&format!("/v1/clinics/{k}/patients/{patient}/allergies"))
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "another clinic's doctor: {status}"
    );

    let rx = |ack: Vec<String>| {
        json!({"patient_id": patient, "items": [{"drug": "Paracetamol"}, {"drug": "Amoxicillin + Clavulanic acid", "strength": "625 mg"}],
               "acknowledged_allergies": ack})
    };
    let (status, body) = doctor
        .post(&format!("/v1/clinics/{k}/prescriptions"), rx(vec![]))
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "items[1].drug",
        "unacknowledged allergy: {status} {body}"
    );
    let (status, issued) = doctor
        .post(
            &format!("/v1/clinics/{k}/prescriptions"),
            rx(vec![allergy_id.clone()]),
        )
        .await?;
    check!(
        status == StatusCode::CREATED && issued["acknowledged_allergies"] == json!([allergy_id]),
        "acknowledged: {status} {issued}"
    );

    // Marked inactive by a doctor: no more warning.
    let (status, body) = doctor
        .patch(
            &format!("/v1/clinics/{k}/allergies/{allergy_id}"),
            json!({"status": "inactive"}),
        )
        .await?;
    check!(
        status == StatusCode::OK && body["status"] == "inactive",
        "inactive: {status} {body}"
    );
    let (status, body) = doctor
        .post(&format!("/v1/clinics/{k}/prescriptions"), rx(vec![]))
        .await?;
    check!(
        status == StatusCode::CREATED,
        "inactive allergy does not warn: {status} {body}"
    );

    // Reads of allergies are audited.
    let (status, audit) = admin
        .get(&format!(
            "/v1/clinics/{k}/audit?patient_id={patient}&limit=200"
        ))
        .await?;
    let items = audit["items"].as_array().cloned().unwrap_or_default();
    check!(
        status == StatusCode::OK
            && items.iter().any(|e| e["entity_type"] == "allergy"
                && e["action"] == "list"
                && e["actor_id"] == w.a.desk.id.to_string()),
        "the front desk's allergy read is audited: {audit}"
    );
    Ok(())
}

pub async fn a_nurse_cannot_issue_an_invoice(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (nurse, _) = server
        .client()
        .login(&w.a.nurse.email, &w.a.nurse.password)
        .await?;
    let k = w.a.id;
    let (_, p) = nurse
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Ravi", "sex": "male"}),
        )
        .await?;
    let invoice = json!({"patient_id": p["id"], "lines": [{"description": "Dressing", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 20000, "gst_rate_bp": 0}]});
    let (status, body) = nurse
        .post(&format!("/v1/clinics/{k}/invoices"), invoice.clone())
        .await?;
    check!(
        status == StatusCode::FORBIDDEN,
        "nurse invoice over REST: {status} {body}"
    );
    let id = Uuid::now_v7();
    let mut data = invoice;
    data["series"] = json!("D00A11");
    data["number"] = json!(1);
    let (status, body) = nurse
        .post(
            &format!("/v1/clinics/{k}/sync/push"),
            json!({"mutations": [{"mutation_id": Uuid::now_v7(), "entity": "invoice", "entity_id": id,
                                  "op": "create", "data": data, "made_at": "2026-06-15T05:00:00Z"}]}),
        )
        .await?;
    let result = &body["results"][0];
    check!(
        status == StatusCode::OK
            && result["outcome"] == "rejected"
            && result["code"] == "forbidden",
        "nurse invoice through push: {status} {body}"
    );
    check!(
        result["message"] == "A nurse may not add invoices in this clinic.",
        "the server words it as the device does: {result}"
    );
    Ok(())
}
