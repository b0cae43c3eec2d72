//! Bad input from the disk, the network and the clock: each is a clear, typed error and
//! loses no local work.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vaidya_client::session::{Client, ClientConfig};
use vaidya_client::{ServerApi, SyncEngine};
use vaidya_tests::{Harness, TestServer, World};

use crate::check;
use crate::round_trip::new_patient;
use crate::support::{fast_options, keyring, server_state, Device};

pub async fn corrupted_partition_is_a_typed_error(h: Arc<Harness>) -> Result<()> {
    if keyring("corrupted_partition_is_a_typed_error")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::new(&server, 11).await?;
    d.sign_in(&world.a.desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    d.proxy.set_online(false);
    let kept = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Unsynced Work", "9444444444"))?;
    engine.partition().checkpoint()?;
    drop(engine);

    let file = d.config.data_dir.partition_file(clinic);
    let good = std::fs::read(&file)?;
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    for b in &mut bad[middle..middle + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &bad)?;
    let err = d
        .client()?
        .open_partition(clinic)
        .err()
        .context("a damaged file must not open")?;
    check!(err.code() == "partition_corrupted", "{err:?}");
    check!(
        std::fs::read(&file)? == bad,
        "the damaged file is left for recovery, not wiped"
    );

    // Restored from a copy, the unsynced work is there and syncs.
    std::fs::write(&file, &good)?;
    d.proxy.set_online(true);
    let mut engine = d.engine(clinic, 3)?;
    check!(engine.status()?.pending == 1, "the outbox survived");
    engine.sync().await?;
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let (patients, _) = server_state(&admin, clinic).await?;
    check!(
        patients.iter().any(|p| p.id == kept.id),
        "reached the server"
    );
    Ok(())
}

/// A one-connection-at-a-time HTTP endpoint that answers every request with `response`.
async fn fake_server(response: Vec<u8>) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                // Read the request head (and whatever body follows quickly), then answer.
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = sock.write_all(&response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(base)
}

fn http(status: &str, content_type: &str, body: &str, declared_len: Option<usize>) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        declared_len.unwrap_or(body.len())
    )
    .into_bytes()
}

pub async fn truncated_and_malformed_answers_lose_nothing(h: Arc<Harness>) -> Result<()> {
    if keyring("truncated_and_malformed_answers_lose_nothing")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::new(&server, 12).await?;
    d.sign_in(&world.a.desk).await?;
    let mut engine = d.engine(clinic, 2)?;
    engine.sync().await?;
    let cursor = engine.partition().pull_cursor()?;
    let made = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Cut Short", "9555555555"))?;

    // Every answer is cut after 150 bytes (inside the headers or the body).
    d.proxy.set_truncate_responses(Some(150));
    let err = engine
        .sync()
        .await
        .err()
        .context("a cut answer must fail")?;
    check!(
        matches!(err.code(), "malformed_response" | "network"),
        "clear error: {err:?}"
    );
    check!(engine.status()?.pending == 1, "the change is still queued");
    d.proxy.set_truncate_responses(None);
    engine.sync().await?;
    let admin = server
        .client()
        .login(&world.a.admin.email, &world.a.admin.password)
        .await?
        .0;
    let (patients, _) = server_state(&admin, clinic).await?;
    let copies = patients.iter().filter(|p| p.id == made.id).count();
    check!(copies == 1, "applied exactly once ({copies})");

    // Broken servers, each answering every request the same way.
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "truncated JSON body",
            http(
                "200 OK",
                "application/json",
                r#"{"changes": [{"entity": "pat"#,
                None,
            ),
            &["malformed_response"],
        ),
        (
            "body shorter than declared",
            http("200 OK", "application/json", r#"{"changes": []"#, Some(400)),
            &["malformed_response", "network"],
        ),
        (
            "wrong shape",
            http("200 OK", "application/json", r#"{"results": "yes"}"#, None),
            &["malformed_response"],
        ),
        (
            "HTML error page",
            http(
                "502 Bad Gateway",
                "text/html",
                "<html>bad gateway</html>",
                None,
            ),
            &["unexpected_status"],
        ),
        (
            "upgrade required",
            http(
                "426 Upgrade Required",
                "application/json",
                r#"{"code": "upgrade_required", "message": "please update"}"#,
                None,
            ),
            &["upgrade_required"],
        ),
    ];
    d.clinic(&mut engine)?
        .register_patient(new_patient("Still Here", "9666666666"))?;
    let before = engine.partition().outbox()?;
    let cursor_before = engine.partition().pull_cursor()?;
    check!(
        cursor_before != cursor || cursor.is_some(),
        "a cursor was stored"
    );
    let mut partition = engine.into_partition();
    for (name, response, codes) in cases {
        let base = fake_server(response).await?;
        let api = ServerApi::new(&base, "bad-input-test")?;
        api.set_access_token(Some("token".to_owned()));
        let mut broken = SyncEngine::new(api.clone(), partition).with_options(fast_options(1));
        let err = broken
            .sync()
            .await
            .err()
            .with_context(|| format!("{name}: must fail"))?;
        check!(
            codes.contains(&err.code()),
            "{name}: got {} ({err})",
            err.code()
        );
        // Pull alone, too (the push may fail first).
        let pull_err = api
            .pull(clinic, None, None)
            .await
            .err()
            .context("pull must fail")?;
        check!(
            codes.contains(&pull_err.code()),
            "{name}: pull got {pull_err:?}"
        );
        partition = broken.into_partition();
        let after = partition.outbox()?;
        check!(
            after.len() == before.len()
                && after
                    .iter()
                    .zip(&before)
                    .all(|(a, b)| a.mutation == b.mutation),
            "{name}: outbox intact"
        );
        check!(
            partition.pull_cursor()? == cursor_before,
            "{name}: cursor untouched"
        );
    }
    Ok(())
}

pub async fn clock_far_ahead_or_behind_extends_nothing(h: Arc<Harness>) -> Result<()> {
    if keyring("clock_far_ahead_or_behind_extends_nothing")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::new(&server, 13).await?;
    d.sign_in(&world.a.doctor).await?;
    let lease = d.client()?.lease_until();
    let mut engine = d.engine(clinic, 3)?;
    let kept = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Before The Jump", "9777777777"))?;
    drop(engine);
    d.client = None;
    d.proxy.set_online(false);

    let with_clock = |offset: chrono::TimeDelta| -> ClientConfig {
        let mut config = d.config.clone();
        config.clock = Arc::new(move || Utc::now() + offset);
        config
    };
    // Ten years ahead: the lease is over, partitions stay locked.
    let err = Client::start_offline(with_clock(chrono::TimeDelta::days(3650)))
        .err()
        .context("a far-future clock must not unlock")?;
    check!(err.code() == "lease_expired", "{err:?}");
    // resume() tries the network first (down), then falls back to the same lease check.
    let err = Client::resume(with_clock(chrono::TimeDelta::days(3650)))
        .await
        .err()
        .context("resume offline with a far-future clock")?;
    check!(err.code() == "lease_expired", "{err:?}");
    // Two days back: the clock was turned back; refused rather than trusted.
    let err = Client::start_offline(with_clock(-chrono::TimeDelta::days(2)))
        .err()
        .context("a clock turned back must not unlock")?;
    check!(err.code() == "clock_behind", "{err:?}");

    // The right clock unlocks offline; the lease is the server's, unchanged.
    let client = Client::start_offline(with_clock(chrono::TimeDelta::zero()))?;
    check!(client.lease_until() == lease, "lease not extended");
    let partition = client.open_partition(clinic)?;
    check!(partition.get_patient(kept.id)?.is_some(), "nothing lost");
    check!(partition.outbox_len()? == 1, "still queued");
    drop(partition);

    // A failed offline start did not shift anything: back online, it all syncs.
    d.proxy.set_online(true);
    let client = Client::resume(d.config.clone()).await?;
    check!(client.mode() == vaidya_client::Mode::Online, "online again");
    let mut engine = client.sync_engine(clinic)?.with_options(fast_options(1));
    engine.sync().await?;
    check!(engine.status()?.synced, "synced");
    Ok(())
}

/// The desktop shows the session kept in the keyring at once and takes it online behind
/// the first screen (`Client::start_offline`, then `Client::reconnect`): the refresh's new
/// access token reaches the sync engine the early client made (no second refresh), the
/// rotated refresh token is in the keyring as soon as the server answered, and a session
/// the server ended is refused and leaves the keyring.
pub async fn a_kept_session_goes_online_behind_the_screen(h: Arc<Harness>) -> Result<()> {
    if keyring("a_kept_session_goes_online_behind_the_screen")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let doctor = &world.a.doctor;
    let mut d = Device::new(&server, 17).await?;
    d.sign_in(doctor).await?;
    let server_url = d.config.server.clone();
    let kept_token = |d: &Device| -> Result<String> {
        Ok(d.config
            .credentials
            .session(&server_url, doctor.id)?
            .context("a kept session")?
            .refresh_token)
    };
    d.client = None;

    // The app starts: the kept session is shown before the server is asked.
    let early = Client::start_offline(d.config.clone())?;
    check!(
        early.mode() == vaidya_client::Mode::Offline,
        "shown from the keyring"
    );
    let before = kept_token(&d)?;
    let mut engine = early.sync_engine(clinic)?.with_options(fast_options(1));
    let reconnect = early.reconnect();
    let session = reconnect
        .refresh()
        .await?
        .context("a kept session with a refresh token")?;
    let rotated = kept_token(&d)?;
    check!(
        rotated != before,
        "the rotated refresh token is kept as soon as the server answered"
    );
    // The engine made before the refresh uses its access token: it syncs without a
    // refresh of its own (which would have rotated the kept token again).
    engine.sync().await?;
    check!(engine.status()?.synced, "the early engine synced");
    check!(
        kept_token(&d)? == rotated,
        "the sync did not refresh a second time"
    );
    let online = reconnect.finish(session).await?;
    check!(
        online.mode() == vaidya_client::Mode::Online,
        "online behind the screen"
    );
    drop((engine, online, early));

    // The server ends the session while the app is closed (signed out elsewhere, revoked).
    let su = world.db.superuser().await?;
    su.execute(
        "UPDATE vaidya.sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        &[&doctor.id],
    )
    .await?;
    // Offline, the PC cannot know: it shows the session within its lease...
    let early = Client::start_offline(d.config.clone())?;
    // ...and the server's refusal ends it, and takes it out of the keyring.
    let refused = early.reconnect().refresh().await;
    let err = refused.err().context("a revoked session was refreshed")?;
    check!(err.code() == "unauthenticated", "{err:?}");
    check!(
        d.config
            .credentials
            .session(&server_url, doctor.id)?
            .is_none_or(|s| s.refresh_token.is_empty()),
        "the refused session left the keyring"
    );
    Ok(())
}

/// A stored pull cursor the server no longer takes (from before cursors were sealed, or
/// sealed under another deployment's key) does not leave the PC stuck: the pull starts
/// again from the beginning, once, and ends with a sealed cursor and everything present.
pub async fn a_refused_pull_cursor_starts_the_pull_again(h: Arc<Harness>) -> Result<()> {
    if keyring("a_refused_pull_cursor_starts_the_pull_again")?.is_none() {
        return Ok(());
    }
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let clinic = world.a.id;
    let mut d = Device::new(&server, 12).await?;
    d.sign_in(&world.a.desk).await?;
    let mut engine = d.engine(clinic, 3)?;
    let patient = d
        .clinic(&mut engine)?
        .register_patient(new_patient("Before The Upgrade", "9444444455"))?;
    engine.sync().await?;
    // An old server's plain cursor, far past everything.
    engine.partition_mut().set_pull_cursor("99999999:1")?;
    let api = server
        .client()
        .login(&world.a.desk.email, &world.a.desk.password)
        .await?
        .0;
    let (status, _) = api
        .post(
            &format!("/v1/clinics/{clinic}/patients"),
            serde_json::json!({"name": "Registered Elsewhere", "sex": "male"}),
        )
        .await?;
    check!(
        status.is_success(),
        "a registration on another PC: {status}"
    );
    let report = engine.sync().await?;
    let cursor = engine.partition().pull_cursor()?.unwrap_or_default();
    check!(
        cursor.starts_with("c1."),
        "a sealed cursor is stored: {cursor} ({report:?})"
    );
    let names: Vec<String> = engine
        .partition()
        .all_patients()?
        .into_iter()
        .map(|p| p.name)
        .collect();
    check!(
        names.contains(&"Registered Elsewhere".to_owned())
            && engine.partition().get_patient(patient.id)?.is_some(),
        "the pull started again and brought everything: {names:?}"
    );
    Ok(())
}
