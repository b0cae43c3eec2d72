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
    Ok(())
}
