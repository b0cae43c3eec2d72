//! Duplicate patients: a new patient who is probably one the clinic already has (the same
//! mobile and a similar name with a compatible date of birth, or the same ABHA number)
//! raises a `duplicate_patient` conflict, whether registered over REST or pushed by a PC
//! (the set-based ingest of a run of registrations too). A family sharing a mobile raises
//! none, and another clinic's patients never count.

use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn a_patient_registered_twice_raises_a_duplicate_conflict(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (k, other) = (w.a.id, w.b.id);
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (other_desk, _) = server
        .client()
        .login(&w.b.desk.email, &w.b.desk.password)
        .await?;

    // Another clinic's patient on the same mobile: never a candidate here.
    let (status, _) = other_desk
        .post(
            &format!("/v1/clinics/{other}/patients"),
            json!({"name": "Ravi Sharma", "sex": "male", "date_of_birth": "1960-03-01", "phone": "98450 12345"}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status}");
    let (status, ravi) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Ravi Sharma", "sex": "male", "date_of_birth": "1960-03-01", "phone": "98450 12345"}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {ravi}");

    // A PC pushes three registrations made offline: the same man spelt differently with
    // an age-derived date, his son on the family's mobile, and a stranger.
    let (sarma, son, stranger) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let create = |id: Uuid, data: Value| {
        json!({"mutation_id": Uuid::now_v7(), "entity": "patient", "entity_id": id, "op": "create",
               "base_version": null, "made_at": Utc::now(), "data": data})
    };
    let (status, answer) = desk
        .post(
            &format!("/v1/clinics/{k}/sync/push"),
            json!({"mutations": [
                create(sarma, json!({"name": "Ravi Sarma", "sex": "male", "date_of_birth": "1960-01-01", "phone": "+91 98450 12345"})),
                create(son, json!({"name": "Suresh Sharma", "sex": "male", "date_of_birth": "1990-07-12", "phone": "9845012345"})),
                create(stranger, json!({"name": "Asha Kulkarni", "sex": "female", "phone": "9822000000"})),
            ]}),
        )
        .await?;
    let outcomes: Vec<&str> = answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["outcome"].as_str().unwrap_or_default())
        .collect();
    check!(
        status == StatusCode::OK && outcomes == ["applied", "applied", "applied"],
        "{status} {answer}"
    );
    // Registered again over REST, with a title and the ABHA number left out.
    let (status, again) = desk
        .post(
            &format!("/v1/clinics/{k}/patients"),
            json!({"name": "Shri Ravi Kumar Sharma", "sex": "male", "phone": "98450 12345"}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {again}");

    let (status, page) = desk.get(&format!("/v1/clinics/{k}/conflicts")).await?;
    let duplicates: Vec<&Value> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["kind"] == "duplicate_patient")
        .collect();
    let flagged: Vec<(String, Vec<String>)> = duplicates
        .iter()
        .map(|c| {
            (
                c["entity_id"].as_str().unwrap_or_default().to_owned(),
                c["server_value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
                    .collect(),
            )
        })
        .collect();
    let ravi_id = ravi["id"].as_str().unwrap_or_default().to_owned();
    let again_id = again["id"].as_str().unwrap_or_default().to_owned();
    check!(
        status == StatusCode::OK
            && flagged.len() == 2
            && flagged.contains(&(sarma.to_string(), vec![ravi_id.clone()]))
            && flagged.contains(&(again_id, vec![ravi_id, sarma.to_string()])),
        "{status} {flagged:?}"
    );
    let first = duplicates
        .iter()
        .find(|c| c["entity_id"] == sarma.to_string().as_str());
    check!(
        first.is_some_and(|c| c["entity"] == "patient"
            && c["client_value"]["name"] == "Ravi Sarma"
            && c["server_value"][0]["reason"] == "same_phone_and_name"),
        "{first:?}"
    );

    // The other clinic's inbox holds none of it.
    let (_, theirs) = other_desk
        .get(&format!("/v1/clinics/{other}/conflicts"))
        .await?;
    check!(
        theirs["items"].as_array().is_some_and(Vec::is_empty),
        "{theirs}"
    );

    // The duplicate's day: a booking, a signed note and a bill.
    let (doctor, _) = server
        .client()
        .login(&w.a.doctor.email, &w.a.doctor.password)
        .await?;
    let (status, booked) = desk
        .post(
            &format!("/v1/clinics/{k}/appointments"),
            json!({"patient_id": sarma, "doctor_id": w.a.doctor.id,
                   "starts_at": Utc::now() + chrono::Duration::hours(1),
                   "ends_at": Utc::now() + chrono::Duration::hours(1) + chrono::Duration::minutes(15)}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {booked}");
    let (status, note) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters"),
            json!({"patient_id": sarma, "chief_complaint": "Fever"}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {note}");
    let note_id = note["id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = doctor
        .post(
            &format!("/v1/clinics/{k}/encounters/{note_id}/sign"),
            json!({}),
        )
        .await?;
    check!(status.is_success(), "sign: {status}");
    let (status, bill) = desk
        .post(
            &format!("/v1/clinics/{k}/invoices"),
            json!({"patient_id": sarma, "lines": [{"description": "Consultation", "sac_hsn": "999312",
                   "quantity": 1, "unit_price_paise": 50_000, "gst_rate_bp": 0}]}),
        )
        .await?;
    check!(status == StatusCode::CREATED, "{status} {bill}");

    // Only an admin merges, two live records of this clinic, never one into itself.
    let ravi_uuid: Uuid = ravi["id"].as_str().unwrap_or_default().parse()?;
    let merge = format!("/v1/clinics/{k}/patients/{ravi_uuid}/merge");
    let (status, _) = desk.post(&merge, json!({"duplicate_id": sarma})).await?;
    check!(status == StatusCode::FORBIDDEN, "the desk merged: {status}");
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    let (status, refused) = admin
        .post(&merge, json!({"duplicate_id": ravi_uuid}))
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && refused["field"] == "duplicate_id",
        "{status} {refused}"
    );
    let (status, _) = admin
        .post(&merge, json!({"duplicate_id": Uuid::now_v7()}))
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "an unknown duplicate: {status}"
    );

    let (status, survivor) = admin.post(&merge, json!({"duplicate_id": sarma})).await?;
    check!(
        status == StatusCode::OK && survivor["id"] == ravi["id"],
        "{status} {survivor}"
    );
    let (status, _) = desk
        .get(&format!("/v1/clinics/{k}/patients/{sarma}"))
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "the duplicate is still live: {status}"
    );
    // A PC that was offline during the merge pushes a booking it made for the duplicate.
    let late = Uuid::now_v7();
    let (status, answer) = desk
        .post(
            &format!("/v1/clinics/{k}/sync/push"),
            json!({"mutations": [{"mutation_id": Uuid::now_v7(), "entity": "appointment", "entity_id": late,
                "op": "create", "base_version": null, "made_at": Utc::now(),
                "data": {"patient_id": sarma, "doctor_id": w.a.doctor.id,
                         "starts_at": Utc::now() + chrono::Duration::hours(3),
                         "ends_at": Utc::now() + chrono::Duration::hours(3) + chrono::Duration::minutes(15)}}]}),
        )
        .await?;
    check!(
        status == StatusCode::OK && answer["results"][0]["outcome"] == "applied",
        "{status} {answer}"
    );
    let su = w.db.superuser().await?;
    let mut on_survivor = Vec::new();
    for (table, id) in [
        (
            "appointments",
            booked["id"].as_str().unwrap_or_default().to_owned(),
        ),
        ("appointments", late.to_string()),
        ("encounters", note_id.clone()),
        (
            "invoices",
            bill["id"].as_str().unwrap_or_default().to_owned(),
        ),
    ] {
        let id: Uuid = id.parse()?;
        let patient: Uuid = su
            .query_one(
                &format!("SELECT patient_id FROM vaidya.{table} WHERE clinic_id = $1 AND id = $2"),
                &[&k, &id],
            )
            .await?
            .get(0);
        on_survivor.push(patient == ravi_uuid);
    }
    check!(
        on_survivor.iter().all(|x| *x),
        "moved to the survivor: {on_survivor:?}"
    );
    let row = su
        .query_one(
            "SELECT merged_into, deleted_at IS NOT NULL FROM vaidya.patients WHERE clinic_id = $1 AND id = $2",
            &[&k, &sarma],
        )
        .await?;
    check!(
        row.get::<_, Option<Uuid>>(0) == Some(ravi_uuid) && row.get::<_, bool>(1),
        "the duplicate is not a tombstone naming the survivor"
    );
    let settled: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.sync_conflicts WHERE clinic_id = $1 AND entity_id = $2
               AND kind = 'duplicate_patient' AND resolved_at IS NOT NULL",
            &[&k, &sarma],
        )
        .await?
        .get(0);
    check!(settled == 1, "the duplicate conflict is still open");
    let audited: i64 = su
        .query_one(
            "SELECT count(*) FROM vaidya.audit_log WHERE clinic_id = $1 AND entity_type = 'patient_merge'
               AND actor_id = $2 AND entity_ids = ARRAY[$3, $4]::uuid[]",
            &[&k, &w.a.admin.id, &ravi_uuid, &sarma],
        )
        .await?
        .get(0);
    check!(audited == 1, "the merge is not in the trail");

    // The database refuses a merge asked by anyone but an admin, even bypassing the route.
    let app = w.db.app().await?;
    app.batch_execute(&format!(
        "BEGIN; SELECT vaidya.set_identity('{}');",
        w.a.desk.id
    ))
    .await?;
    let again_uuid: Uuid = again["id"].as_str().unwrap_or_default().parse()?;
    let refused = app
        .execute(
            "SELECT vaidya.merge_patients($1, $2, $3)",
            &[&k, &ravi_uuid, &again_uuid],
        )
        .await;
    check!(refused.is_err(), "the database merged for the front desk");
    app.batch_execute("ROLLBACK").await?;
    Ok(())
}
