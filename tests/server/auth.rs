//! Sign-in: login, refresh rotation with replay detection, logout, throttling, and
//! membership changes taking effect on the next request.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

pub async fn login_refresh_logout(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let anon = server.client();
    let (me, session) = anon
        .login(&w.a.doctor.email.to_uppercase(), &w.a.doctor.password)
        .await?;
    check!(
        session["memberships"][0]["clinic_id"] == w.a.id.to_string(),
        "memberships: {session}"
    );
    check!(
        session["memberships"][0]["role"] == "doctor",
        "role: {session}"
    );
    check!(
        session["offline_lease_until"].is_string(),
        "no offline lease"
    );
    let (status, body) = me.get("/v1/me").await?;
    check!(
        status == StatusCode::OK && body["user"]["email"] == w.a.doctor.email,
        "me: {status} {body}"
    );

    let (status, refreshed) = anon
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": session["refresh_token"]}),
        )
        .await?;
    check!(status == StatusCode::OK, "refresh: {status} {refreshed}");
    // The old access token died with the rotation; the new one works.
    let (status, _) = me.get("/v1/me").await?;
    check!(
        status == StatusCode::UNAUTHORIZED,
        "old access token still works: {status}"
    );
    let me2 = vaidya_tests::Api {
        token: refreshed["access_token"].as_str().map(String::from),
        ..anon.clone()
    };
    let (status, _) = me2.get("/v1/me").await?;
    check!(status == StatusCode::OK, "new access token: {status}");

    let (status, _) = me2.post("/v1/auth/logout", json!({})).await?;
    check!(status == StatusCode::NO_CONTENT, "logout: {status}");
    let (status, body) = me2.get("/v1/me").await?;
    check!(
        status == StatusCode::UNAUTHORIZED && body["code"] == "unauthenticated",
        "after logout: {status} {body}"
    );

    // Login is audited in the user's clinic.
    let su = w.db.superuser().await?;
    let n: i64 = su
        .query_one("SELECT count(*) FROM vaidya.audit_log WHERE clinic_id = $1 AND action = 'login' AND actor_id = $2", &[&w.a.id, &w.a.doctor.id])
        .await?
        .get(0);
    check!(n == 1, "login audit rows: {n}");
    // Tokens are stored hashed only.
    let raw: i64 = su
        .query_one("SELECT count(*) FROM vaidya.sessions WHERE encode(access_hash, 'escape') LIKE '%' || $1 || '%'", &[&refreshed["access_token"].as_str().unwrap_or("x")])
        .await?
        .get(0);
    check!(raw == 0, "raw token stored");
    Ok(())
}

pub async fn unknown_email_and_wrong_password_look_alike(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let anon = server.client();
    let wrong = anon
        .post(
            "/v1/auth/login",
            json!({"email": w.a.admin.email, "password": "not-the-password"}),
        )
        .await?;
    let unknown = anon
        .post(
            "/v1/auth/login",
            json!({"email": "nobody@nowhere.in", "password": "not-the-password"}),
        )
        .await?;
    check!(
        wrong.0 == StatusCode::UNAUTHORIZED,
        "wrong password: {wrong:?}"
    );
    check!(wrong == unknown, "answers differ: {wrong:?} vs {unknown:?}");
    check!(wrong.1["code"] == "invalid_credentials", "code: {wrong:?}");
    Ok(())
}

pub async fn repeated_failures_are_throttled(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let anon = server.client();
    for _ in 0..5 {
        let (status, _) = anon
            .post(
                "/v1/auth/login",
                json!({"email": w.a.nurse.email, "password": "guess-guess-guess"}),
            )
            .await?;
        check!(
            status == StatusCode::UNAUTHORIZED,
            "failure answered {status}"
        );
    }
    // Even the right password waits now: the throttle answers before checking it.
    let (status, body) = anon
        .post(
            "/v1/auth/login",
            json!({"email": w.a.nurse.email, "password": w.a.nurse.password}),
        )
        .await?;
    check!(
        status == StatusCode::TOO_MANY_REQUESTS && body["code"] == "too_many_attempts",
        "6th attempt: {status} {body}"
    );
    // Other accounts are unaffected.
    anon.login(&w.a.admin.email, &w.a.admin.password).await?;
    // After the wait, the right password works and clears the counter.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    anon.login(&w.a.nurse.email, &w.a.nurse.password).await?;
    Ok(())
}

pub async fn refresh_token_replay_revokes_session(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    // Within the grace period a replay is a lost response; without one it is theft.
    let mut settings = vaidya_server::Settings::from_url(&w.db.app_url)?;
    settings.refresh_grace = std::time::Duration::ZERO;
    let server = TestServer::spawn_with(settings).await?;
    let anon = server.client();
    let (_, session) = anon.login(&w.a.desk.email, &w.a.desk.password).await?;
    let old = session["refresh_token"].clone();
    let (status, fresh) = anon
        .post("/v1/auth/refresh", json!({"refresh_token": old}))
        .await?;
    check!(status == StatusCode::OK, "first refresh: {status}");
    // A thief replays the old refresh token: refused, and the legitimate session dies too.
    let (status, _) = anon
        .post("/v1/auth/refresh", json!({"refresh_token": old}))
        .await?;
    check!(status == StatusCode::UNAUTHORIZED, "replay: {status}");
    let live = vaidya_tests::Api {
        token: fresh["access_token"].as_str().map(String::from),
        ..anon.clone()
    };
    let (status, _) = live.get("/v1/me").await?;
    check!(
        status == StatusCode::UNAUTHORIZED,
        "session survived a replay: {status}"
    );
    let (status, _) = anon
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": fresh["refresh_token"]}),
        )
        .await?;
    check!(
        status == StatusCode::UNAUTHORIZED,
        "rotated token survived a replay: {status}"
    );
    Ok(())
}

pub async fn revoked_membership_takes_effect_next_request(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let anon = server.client();
    let (admin, _) = anon.login(&w.a.admin.email, &w.a.admin.password).await?;
    let (nurse, _) = anon.login(&w.a.nurse.email, &w.a.nurse.password).await?;
    let k = w.a.id;
    let (status, _) = nurse.get(&format!("/v1/clinics/{k}/patients")).await?;
    check!(
        status == StatusCode::OK,
        "nurse before revocation: {status}"
    );
    let (_, members) = admin.get(&format!("/v1/clinics/{k}/members")).await?;
    let nurse_member = members
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["user"]["id"] == w.a.nurse.id.to_string())
        })
        .map(|m| m["id"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/members/{nurse_member}"))
        .await?;
    check!(status == StatusCode::NO_CONTENT, "revoke: {status}");
    let (status, _) = nurse.get(&format!("/v1/clinics/{k}/patients")).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "nurse after revocation: {status}"
    );
    // The last admin cannot remove themselves.
    let (_, members) = admin.get(&format!("/v1/clinics/{k}/members")).await?;
    let me = members
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["user"]["id"] == w.a.admin.id.to_string())
        })
        .cloned()
        .unwrap_or_default();
    let (status, body) = admin
        .delete(&format!(
            "/v1/clinics/{k}/members/{}",
            me["id"].as_str().unwrap_or_default()
        ))
        .await?;
    check!(
        status == StatusCode::CONFLICT && body["code"] == "invalid_state",
        "last admin removal: {status} {body}"
    );
    // Re-adding restores access with the new role.
    let (status, body) = admin
        .post(
            &format!("/v1/clinics/{k}/members"),
            json!({"email": w.a.nurse.email, "role": "front_desk"}),
        )
        .await?;
    check!(
        status == StatusCode::CREATED
            && body["outcome"] == "added"
            && body["member"]["role"] == "front_desk",
        "re-add: {status} {body}"
    );
    let (status, _) = nurse.get(&format!("/v1/clinics/{k}/patients")).await?;
    check!(status == StatusCode::OK, "nurse after re-adding: {status}");
    Ok(())
}

/// A refresh whose answer never arrived: the device presents the previous token again within
/// the grace period and gets the SAME pair back (nothing is minted twice, so no holder of
/// the pair is signed out), and two refreshes of one token at once both get that pair.
pub async fn lost_refresh_answer_keeps_the_session(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let anon = server.client();
    let (_, session) = anon.login(&w.a.desk.email, &w.a.desk.password).await?;
    let old = session["refresh_token"].clone();
    let (status, lost) = anon
        .post("/v1/auth/refresh", json!({"refresh_token": old}))
        .await?;
    check!(status == StatusCode::OK, "first refresh: {status}");
    let (status, again) = anon
        .post("/v1/auth/refresh", json!({"refresh_token": old}))
        .await?;
    check!(
        status == StatusCode::OK
            && again["access_token"] == lost["access_token"]
            && again["refresh_token"] == lost["refresh_token"],
        "the retry inside the grace period gets the same pair: {status} {again} vs {lost}"
    );
    let live = vaidya_tests::Api {
        token: lost["access_token"].as_str().map(String::from),
        ..anon.clone()
    };
    let (status, _) = live.get("/v1/me").await?;
    check!(status == StatusCode::OK, "the pair works: {status}");

    // Two refreshes of one token at the same moment: one rotation, one pair for both.
    let (a, b) = tokio::join!(
        anon.post(
            "/v1/auth/refresh",
            json!({"refresh_token": lost["refresh_token"]})
        ),
        anon.post(
            "/v1/auth/refresh",
            json!({"refresh_token": lost["refresh_token"]})
        ),
    );
    let ((sa, a), (sb, b)) = (a?, b?);
    check!(
        sa == StatusCode::OK
            && sb == StatusCode::OK
            && a["access_token"] == b["access_token"]
            && a["refresh_token"] == b["refresh_token"],
        "concurrent refreshes: {sa} {a} / {sb} {b}"
    );
    let live = vaidya_tests::Api {
        token: a["access_token"].as_str().map(String::from),
        ..anon.clone()
    };
    let (status, _) = live.get("/v1/me").await?;
    check!(
        status == StatusCode::OK,
        "after concurrent refreshes: {status}"
    );
    // The token two rotations back is no longer anything: refused.
    let (status, _) = anon
        .post("/v1/auth/refresh", json!({"refresh_token": old}))
        .await?;
    check!(
        status == StatusCode::UNAUTHORIZED,
        "a token two rotations old: {status}"
    );
    // ... and that reuse is theft: the session ends for every holder.
    let (status, _) = live.get("/v1/me").await?;
    check!(
        status == StatusCode::UNAUTHORIZED,
        "the session survived the reuse of a replaced token: {status}"
    );
    Ok(())
}

/// The throttle takes each attempt in one locked step, so concurrent guesses (here spread
/// over two server instances) cannot all slip through; a device the account signed in from
/// before is not locked out by guesses made elsewhere; and one address cannot guess across
/// many accounts without being slowed.
pub async fn throttle_holds_under_concurrency_and_spares_known_devices(
    h: Arc<Harness>,
) -> Result<()> {
    let w = World::create(&h).await?;
    let (one, two) = (
        TestServer::spawn(&w.db, 4).await?,
        TestServer::spawn(&w.db, 4).await?,
    );
    // The nurse's own computer signs in once: it is a known device from now on.
    let (status, session) = one
        .client()
        .post(
            "/v1/auth/login",
            json!({"email": w.a.nurse.email, "password": w.a.nurse.password}),
        )
        .await?;
    let device_token = session["device_token"].clone();
    check!(
        status == StatusCode::OK && device_token.is_string(),
        "a first sign-in gets a device token: {status} {session}"
    );

    // Twenty wrong passwords at once, over both instances, from a stranger.
    let attempts = (0..20).map(|i| {
        let api = if i % 2 == 0 {
            one.client()
        } else {
            two.client()
        };
        let email = w.a.nurse.email.clone();
        async move {
            api.post(
                "/v1/auth/login",
                json!({"email": email, "password": format!("guess-{i}")}),
            )
            .await
            .map(|(status, _)| status)
        }
    });
    let answers = futures::future::try_join_all(attempts).await?;
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    check!(
        checked == 5 && throttled == 15,
        "5 guesses checked and 15 refused, got {checked} checked, {throttled} refused: {answers:?}"
    );
    // The account is locked for strangers, even with the right password ...
    let (status, _) = two
        .client()
        .post(
            "/v1/auth/login",
            json!({"email": w.a.nurse.email, "password": w.a.nurse.password}),
        )
        .await?;
    check!(
        status == StatusCode::TOO_MANY_REQUESTS,
        "locked for an unknown device: {status}"
    );
    // ... but not on the nurse's own computer.
    let (status, body) = one
        .client()
        .post(
            "/v1/auth/login",
            json!({"email": w.a.nurse.email, "password": w.a.nurse.password,
                   "device_token": device_token}),
        )
        .await?;
    check!(
        status == StatusCode::OK && body["device_token"] == device_token,
        "the known device signs in and keeps its token: {status} {body}"
    );
    // A forged device token is just an unknown device.
    let (status, _) = one
        .client()
        .post(
            "/v1/auth/login",
            json!({"email": w.a.nurse.email, "password": w.a.nurse.password,
                   "device_token": "not-a-token"}),
        )
        .await?;
    check!(
        status == StatusCode::TOO_MANY_REQUESTS,
        "a made-up device token is not a known device: {status}"
    );

    // One address guessing across many accounts is slowed after 30 failures.
    let mut last = StatusCode::OK;
    for i in 0..40 {
        let (status, _) = one
            .client()
            .post(
                "/v1/auth/login",
                json!({"email": format!("nobody{i}@example.in"), "password": "guess"}),
            )
            .await?;
        last = status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    check!(
        last == StatusCode::TOO_MANY_REQUESTS,
        "an address guessing across accounts was never slowed"
    );
    Ok(())
}

/// Adding by email stays inside the clinic's group: another group's account is never found
/// (the admin learns nothing, not even that it exists) and is only invited; the invitee joins
/// by accepting, and nobody else can accept for them.
pub async fn adding_a_member_outside_the_group_is_an_invitation(h: Arc<Harness>) -> Result<()> {
    let w = World::create(&h).await?;
    let server = TestServer::spawn(&w.db, 2).await?;
    let (admin_a, doctor_b, nurse_b) = (
        server.login_as(&w.a.admin).await?,
        server.login_as(&w.b.doctor).await?,
        server.login_as(&w.b.nurse).await?,
    );
    let k = w.a.id;
    // Clinic B's doctor (another group) and an email with no account get the same answer.
    let mut answers = Vec::new();
    for email in [w.b.doctor.email.as_str(), "nobody.here@test.vaidya.in"] {
        let (status, body) = admin_a
            .post(
                &format!("/v1/clinics/{k}/members"),
                json!({"email": email.to_uppercase(), "role": "doctor"}),
            )
            .await?;
        check!(
            status == StatusCode::ACCEPTED && body["outcome"] == "invited",
            "{email}: {status} {body}"
        );
        check!(
            !body.to_string().contains("doctor b"),
            "the answer names the account's holder: {body}"
        );
        answers.push(body);
    }
    let keys = |v: &Value| {
        let mut k: Vec<String> = v["invitation"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    check!(
        keys(&answers[0]) == keys(&answers[1]),
        "both answers have one shape: {answers:?}"
    );
    let invitation = answers[0]["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The admin sees both open; withdraws the one to the address with no account, after
    // which it can no longer be accepted.
    let (status, open) = admin_a.get(&format!("/v1/clinics/{k}/invitations")).await?;
    check!(
        status == StatusCode::OK && open.as_array().map(Vec::len) == Some(2),
        "open invitations: {status} {open}"
    );
    let stranger = answers[1]["invitation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, _) = admin_a
        .delete(&format!("/v1/clinics/{k}/invitations/{stranger}"))
        .await?;
    check!(status == StatusCode::NO_CONTENT, "withdraw: {status}");
    let (status, _) = admin_a
        .delete(&format!("/v1/clinics/{k}/invitations/{stranger}"))
        .await?;
    check!(status == StatusCode::NOT_FOUND, "withdrawn twice: {status}");
    let (_, open) = admin_a.get(&format!("/v1/clinics/{k}/invitations")).await?;
    check!(
        open.as_array().map(Vec::len) == Some(1),
        "after withdrawing: {open}"
    );
    // Only the clinic's admins see them.
    let (status, _) = doctor_b
        .get(&format!("/v1/clinics/{k}/invitations"))
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "a non-member lists: {status}"
    );
    // Not a member yet: clinic A's data stays closed to them.
    let (status, _) = doctor_b.get(&format!("/v1/clinics/{k}/patients")).await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "before accepting: {status}"
    );
    // Someone else cannot see or accept it.
    let (_, theirs) = nurse_b.get("/v1/me/invitations").await?;
    check!(
        theirs.as_array().is_some_and(Vec::is_empty),
        "another person's invitations: {theirs}"
    );
    let (status, _) = nurse_b
        .post(
            &format!("/v1/me/invitations/{invitation}/accept"),
            json!({}),
        )
        .await?;
    check!(
        status == StatusCode::NOT_FOUND,
        "accepted by another: {status}"
    );
    // The invitee sees it and accepts.
    let (status, mine) = doctor_b.get("/v1/me/invitations").await?;
    check!(
        status == StatusCode::OK
            && mine.as_array().map(Vec::len) == Some(1)
            && mine[0]["clinic_name"] == "Clinic a"
            && mine[0]["role"] == "doctor",
        "the invitee's invitations: {status} {mine}"
    );
    let (status, me) = doctor_b
        .post(
            &format!("/v1/me/invitations/{invitation}/accept"),
            json!({}),
        )
        .await?;
    check!(
        status == StatusCode::OK
            && me["memberships"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["clinic_id"] == k.to_string())),
        "accepted: {status} {me}"
    );
    let (status, _) = doctor_b.get(&format!("/v1/clinics/{k}/patients")).await?;
    check!(status == StatusCode::OK, "after accepting: {status}");
    // Answered once: a second answer finds nothing.
    let (status, _) = doctor_b
        .post(
            &format!("/v1/me/invitations/{invitation}/decline"),
            json!({}),
        )
        .await?;
    check!(status == StatusCode::NOT_FOUND, "answered twice: {status}");
    // The old lookup is gone for the app role.
    let app = w.db.app().await?;
    check!(
        app.query(
            "SELECT vaidya.user_id_by_email('doctor.b@test.vaidya.in')",
            &[]
        )
        .await
        .is_err(),
        "user_id_by_email still answers"
    );
    // A malformed email is refused before anything is looked up (a colleague of the group
    // being added at once is the re-add in `revoked_membership_takes_effect_next_request`).
    let (status, body) = admin_a
        .post(
            &format!("/v1/clinics/{k}/members"),
            json!({"email": "not an email", "role": "nurse"}),
        )
        .await?;
    check!(
        status == StatusCode::UNPROCESSABLE_ENTITY && body["field"] == "email",
        "malformed email: {status} {body}"
    );
    Ok(())
}
