//! A doctor's medical registration, as the clinic records it for prints: set by the clinic's
//! admin, only for doctors, shown in the member list every PC keeps.

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
    Ok(())
}
