//! The server's patient list and search: the list pages by position in a stable order and
//! never repeats or skips a patient; search matches what a device's search matches (word
//! prefixes of the name, the phone with or without +91, the patient number, the ABHA
//! number), only the clinic's live patients; and both read their indexes in order (0020).

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vaidya_tests::{Api, Harness, TestServer, World};

use crate::check;

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub async fn patient_list_pages_by_position_and_search_matches_like_a_device(
    h: Arc<Harness>,
) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (desk, _) = server
        .client()
        .login(&w.a.desk.email, &w.a.desk.password)
        .await?;
    let (other, _) = server
        .client()
        .login(&w.b.desk.email, &w.b.desk.password)
        .await?;
    let k = w.a.id;
    let mut created = Vec::new();
    for (name, phone, abha) in [
        ("Asha Kulkarni", Some("+91 98450 12345"), None),
        ("ravi sharma", None, Some("12345678901234")),
        ("Anil Kulkarni", None, None),
        ("Meera Iyer", None, None),
        ("Zoya Khan", None, None),
        ("asha Deshpande", None, None),
        ("Gone Kulkarni", None, None),
    ] {
        let (status, p) = desk
            .post(
                &format!("/v1/clinics/{k}/patients"),
                json!({"name": name, "sex": "female", "phone": phone, "abha_number": abha}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "create {name}: {status} {p}");
        created.push(p);
    }
    let gone = created[6]["id"].as_str().unwrap_or_default().to_owned();
    let (admin, _) = server
        .client()
        .login(&w.a.admin.email, &w.a.admin.password)
        .await?;
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/patients/{gone}"))
        .await?;
    check!(status.is_success(), "delete: {status}");
    // Clinic B's namesake is never found from A.
    other
        .post(
            &format!("/v1/clinics/{}/patients", w.b.id),
            json!({"name": "Asha Kulkarni", "sex": "female"}),
        )
        .await?;

    // Page through two at a time by position: every live patient once, in name order.
    let seen = page_by_position(&desk, k).await?;
    let mut expected: Vec<String> = [
        "Anil Kulkarni",
        "Asha Kulkarni",
        "asha Deshpande",
        "Meera Iyer",
        "ravi sharma",
        "Zoya Khan",
    ]
    .map(str::to_owned)
    .to_vec();
    expected.sort_by_key(|n| n.to_lowercase());
    check!(
        seen == expected,
        "paged list {seen:?}, expected {expected:?}"
    );

    // A page after a patient who was deleted since still goes on from there.
    let (status, page) = desk
        .get(&format!("/v1/clinics/{k}/patients?after={gone}"))
        .await?;
    check!(
        status == StatusCode::OK && names(&page) == ["Meera Iyer", "ravi sharma", "Zoya Khan"],
        "after a deleted patient: {status} {page}"
    );
    // An id that is not this clinic's patient is a bad parameter, the same for another
    // clinic's patient as for none.
    for id in [uuid::Uuid::new_v4().to_string(), w.b.id.to_string()] {
        let (status, body) = desk
            .get(&format!("/v1/clinics/{k}/patients?after={id}"))
            .await?;
        check!(
            status == StatusCode::BAD_REQUEST && body["code"] == "invalid_parameter",
            "after an unknown id: {status} {body}"
        );
    }

    let number = created[3]["patient_number"].as_i64().unwrap_or_default();
    for (q, want) in [
        ("kul", vec!["Anil Kulkarni", "Asha Kulkarni"]),
        ("KULK asha", vec!["Asha Kulkarni"]),
        ("asha", vec!["asha Deshpande", "Asha Kulkarni"]),
        ("98450", vec!["Asha Kulkarni"]),
        ("+91 98450-12345", vec!["Asha Kulkarni"]),
        ("9845012345", vec!["Asha Kulkarni"]),
        ("1234567890", vec!["ravi sharma"]),
        ("sharma r", vec!["ravi sharma"]),
        ("gone", vec![]),
        ("shar ma", vec![]),
        ("%_'\\", vec![]),
        ("x'); DROP TABLE vaidya.patients; --", vec![]),
    ] {
        let (status, page) = desk
            .get(&format!("/v1/clinics/{k}/patients?q={}", urlencode(q)))
            .await?;
        check!(
            status == StatusCode::OK && names(&page) == want,
            "search {q:?}: {status} {page}"
        );
    }
    let (_, page) = desk
        .get(&format!("/v1/clinics/{k}/patients?q={number}"))
        .await?;
    check!(
        names(&page).contains(&"Meera Iyer".to_owned()),
        "search by patient number {number}: {page}"
    );

    // Both shapes use their index: the list reads (clinic, name) in order, search the GIN.
    // With the clinic grown to a few thousand patients, so that the planner's choice means
    // something (loaded as the superuser, which is setup, not the thing under test).
    let su = w.db.superuser().await?;
    su.batch_execute(&format!(
        "SET session_replication_role = replica;
         INSERT INTO vaidya.patients (id, clinic_id, patient_number, name, sex, version, change_xid,
                                      change_seq, created_at, updated_at)
         SELECT gen_random_uuid(), '{k}', 1000 + g, 'Walk-in ' || g, 'unknown', 1,
                pg_current_xact_id(), nextval('vaidya.change_seq'), now(), now()
         FROM generate_series(1, 5000) g;
         SET session_replication_role = origin;
         ANALYZE vaidya.patients;"
    ))
    .await?;
    let mut app = w.db.app().await?;
    let tx = app.transaction().await?;
    tx.execute("SELECT vaidya.set_identity($1)", &[&w.a.desk.id])
        .await?;
    let plan = |rows: Vec<tokio_postgres::Row>| {
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let list = plan(
        tx.query(
            &format!(
                "EXPLAIN SELECT * FROM vaidya.patients WHERE clinic_id = $1 AND deleted_at IS NULL
                 ORDER BY {}, id LIMIT 21",
                vaidya_server::routes::patients::NAME_KEY
            ),
            &[&k],
        )
        .await?,
    );
    // The search's plan where only bitmap scans remain: its GIN index must be the one that
    // can answer it (which plan wins at 200k patients is bench-isolation's to show).
    tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        .await?;
    let search = plan(
        tx.query(
            "EXPLAIN SELECT * FROM vaidya.patients WHERE clinic_id = $1 AND deleted_at IS NULL
               AND search_doc @@ pg_catalog.to_tsquery('pg_catalog.simple', 'kul:*') LIMIT 300",
            &[&k],
        )
        .await?,
    );
    tx.rollback().await?;
    check!(
        list.contains("patients_by_name") && !list.contains("Sort"),
        "the list does not read its index in order:\n{list}"
    );
    check!(
        search.contains("patients_search"),
        "search does not use its index:\n{search}"
    );
    Ok(())
}

/// On a group server whose database was made with another locale than the embedded
/// PostgreSQL's C (here ICU `en-US`, as a distribution's cluster often is), the list pages
/// and search still list patients in the device's order: the name lowered as SQLite's
/// `lower` does (ASCII letters only) and compared as bytes, then the id (0037). Under the
/// database's own collation "Éva" would come among the E's, and paging by `after` would
/// follow that order instead.
pub async fn the_list_keeps_the_devices_order_on_any_database_locale(
    h: Arc<Harness>,
) -> Result<()> {
    let w = World::create_in(h.database_with_icu_locale("en-US").await?).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let desk = server.login_as(&w.a.desk).await?;
    let k = w.a.id;
    let mut created: Vec<(String, uuid::Uuid)> = Vec::new();
    for name in [
        "Zoya Das",
        "Éva Das",
        "anil Das",
        "Ravi Shah",
        "ravi shah",
        "Émile Roy",
        "Omkar Nair",
    ] {
        let (status, p) = desk
            .post(
                &format!("/v1/clinics/{k}/patients"),
                json!({"name": name, "sex": "female"}),
            )
            .await?;
        check!(status == StatusCode::CREATED, "create {name}: {status} {p}");
        let id = p["id"].as_str().unwrap_or_default().parse()?;
        created.push((name.to_owned(), id));
    }
    // The device's order: `ORDER BY lower(name), id` in SQLite.
    let device_order = |mut people: Vec<(String, uuid::Uuid)>| {
        people.sort_by_key(|a| (a.0.to_ascii_lowercase(), a.1));
        people.into_iter().map(|(n, _)| n).collect::<Vec<_>>()
    };
    let want = device_order(created.clone());
    check!(
        want.ends_with(&["Émile Roy".to_owned(), "Éva Das".to_owned()]),
        "the fixture does not tell the orders apart: {want:?}"
    );

    let seen = page_by_position(&desk, k).await?;
    check!(
        seen == want,
        "paged list {seen:?}, the device's order {want:?}"
    );

    let (status, page) = desk.get(&format!("/v1/clinics/{k}/patients?q=das")).await?;
    let das = device_order(
        created
            .into_iter()
            .filter(|(n, _)| n.ends_with("Das"))
            .collect(),
    );
    check!(
        status == StatusCode::OK && names(&page) == das,
        "search \"das\": {status} {:?}, the device's order {das:?}",
        names(&page)
    );
    Ok(())
}

/// The clinic's whole list, paged two at a time by position (`after`): the names in the
/// order the pages gave them.
async fn page_by_position(desk: &Api, clinic: uuid::Uuid) -> Result<Vec<String>> {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let path = match &after {
            Some(a) => format!("/v1/clinics/{clinic}/patients?limit=2&after={a}"),
            None => format!("/v1/clinics/{clinic}/patients?limit=2"),
        };
        let (status, page) = desk.get(&path).await?;
        check!(status == StatusCode::OK, "list {path}: {status} {page}");
        seen.extend(names(&page));
        after = page["next_after"].as_str().map(str::to_owned);
        check!(
            after.is_some() == page["next_offset"].is_i64(),
            "next_after and next_offset disagree: {page}"
        );
        if after.is_none() {
            return Ok(seen);
        }
    }
    anyhow::bail!("the list did not end after 10 pages: {seen:?}")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The server's searchable words (`vaidya.patient_search_doc`, SQL because an index needs
/// it) are the device's (`shared::search`): the phone forms, the ABHA digits, the number.
/// The rule is written in both tiers; this is where they would be caught drifting apart.
pub async fn server_search_words_are_the_devices(h: Arc<Harness>) -> Result<()> {
    use vaidya_shared::search;
    let db = h.database().await?;
    let su = db.superuser().await?;
    for (phone, abha) in [
        (Some("+919845012345"), Some("12345678901234")),
        (Some("+4420794601"), None),
        (Some("+919845012345"), None),
        (None, Some("98765432109876")),
        (None, None),
    ] {
        let row = su
            .query_one(
                "SELECT array(SELECT unnest(tsvector_to_array(
                     vaidya.patient_search_doc('Asha Kulkarni', $1, 42, $2))) ORDER BY 1)",
                &[&phone, &abha],
            )
            .await?;
        let got: Vec<String> = row.get(0);
        let mut want: Vec<String> = ["asha", "kulkarni", "42"].map(str::to_owned).to_vec();
        want.extend(search::phone_forms(phone));
        let abha_digits = search::digits(abha.unwrap_or(""));
        if !abha_digits.is_empty() {
            want.push(abha_digits);
        }
        want.sort();
        want.dedup();
        check!(
            got == want,
            "phone {phone:?}, ABHA {abha:?}: the server indexes {got:?}, a device {want:?}"
        );
    }
    Ok(())
}
