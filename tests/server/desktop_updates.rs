//! Desktop updates announced by the group's server (`GET /v1/desktop/update`): the entry for
//! the asking build, "required" below the minimum version, 204 when up to date or nothing is
//! published, stable codes for bad queries.

use std::sync::Arc;

use anyhow::{ensure, Result};
use reqwest::StatusCode;
use serde_json::{json, Value};
use vaidya_tests::{Harness, TestServer};

pub async fn the_server_announces_the_desktop_release_for_each_build(
    h: Arc<Harness>,
) -> Result<()> {
    let db = h.database().await?;
    let releases = tempfile::tempdir()?;
    let mut settings = db.server_settings(2)?;
    settings.desktop_releases = Some(releases.path().to_owned());
    let server = TestServer::spawn_with(settings).await?;
    let http = reqwest::Client::new();
    let ask = |query: &str| {
        let url = format!("{}/v1/desktop/update?{query}", server.base);
        let http = http.clone();
        async move {
            let resp = http.get(url).send().await?;
            let status = resp.status();
            let body = resp.text().await?;
            let json = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null);
            anyhow::Ok((status, json))
        }
    };
    let linux = "target=linux&arch=x86_64&bundle=appimage";

    // Nothing published yet: up to date.
    let (status, _) = ask(&format!("{linux}&version=0.1.0")).await?;
    ensure!(
        status == StatusCode::NO_CONTENT,
        "nothing published: {status}"
    );

    std::fs::write(
        releases.path().join("latest.json"),
        serde_json::to_vec(&json!({
            "version": "0.3.0",
            "notes": "Faster search",
            "pub_date": "2026-12-01T10:00:00Z",
            "minimum_version": "0.2.0",
            "platforms": {
                "linux-x86_64-appimage": {"url": "https://releases.example/Vaidya.AppImage", "signature": "c2ln"},
                "windows-x86_64-msi": {"url": "https://releases.example/Vaidya.msi", "signature": "bXNp"},
                "windows-x86_64-nsis": {"url": "https://releases.example/Vaidya-setup.exe", "signature": "bnNpcw=="},
                "darwin-aarch64": {"url": "https://releases.example/Vaidya.app.tar.gz", "signature": "bWFj"}
            }
        }))?,
    )?;

    // Below the minimum: the update is required.
    let (status, body) = ask(&format!("{linux}&version=0.1.0")).await?;
    ensure!(status == StatusCode::OK, "0.1.0: {status} {body}");
    ensure!(
        body["version"] == "0.3.0" && body["required"] == true,
        "{body}"
    );
    ensure!(
        body["url"] == "https://releases.example/Vaidya.AppImage",
        "{body}"
    );
    ensure!(
        body["signature"] == "c2ln" && body["notes"] == "Faster search",
        "{body}"
    );

    // At or above the minimum: offered, not required.
    let (_, body) = ask(&format!("{linux}&version=0.2.0")).await?;
    ensure!(body["required"] == false, "0.2.0 is supported: {body}");

    // Up to date, or ahead (a test build).
    for version in ["0.3.0", "v0.3.0", "0.4.0-beta.1"] {
        let (status, _) = ask(&format!("{linux}&version={version}")).await?;
        ensure!(status == StatusCode::NO_CONTENT, "{version}: {status}");
    }

    // Each installer gets its own entry; a platform-wide entry serves any installer.
    let (_, body) = ask("target=windows&arch=x86_64&bundle=nsis&version=0.2.5").await?;
    ensure!(
        body["url"] == "https://releases.example/Vaidya-setup.exe",
        "{body}"
    );
    let (_, body) = ask("target=darwin&arch=aarch64&bundle=app&version=0.2.5").await?;
    ensure!(
        body["url"] == "https://releases.example/Vaidya.app.tar.gz",
        "{body}"
    );
    // No build for this platform: nothing to offer.
    let (status, _) = ask("target=linux&arch=aarch64&bundle=deb&version=0.1.0").await?;
    ensure!(
        status == StatusCode::NO_CONTENT,
        "no linux-aarch64 build: {status}"
    );

    // Bad queries get a stable code.
    for bad in [
        "target=beos&arch=x86_64&version=0.1.0",
        "target=linux&arch=sparc&version=0.1.0",
        "target=linux&arch=x86_64&bundle=zip&version=0.1.0",
        "target=linux&arch=x86_64&version=latest",
        "target=linux&arch=x86_64",
        "target=linux&arch=x86_64&version=0.1.0&channel=beta",
    ] {
        let (status, body) = ask(bad).await?;
        ensure!(
            status == StatusCode::BAD_REQUEST && body["code"] == "invalid_parameter",
            "{bad}: {status} {body}"
        );
    }

    // A broken manifest is the operator's mistake: an internal error, never a bad update.
    std::fs::write(releases.path().join("latest.json"), b"{\"version\": ")?;
    let (status, body) = ask(&format!("{linux}&version=0.1.0")).await?;
    ensure!(
        status == StatusCode::INTERNAL_SERVER_ERROR && body["code"] == "internal",
        "broken manifest: {status} {body}"
    );

    // A server without a releases directory announces nothing.
    let plain = TestServer::spawn(&db, 2).await?;
    let status = http
        .get(format!(
            "{}/v1/desktop/update?{linux}&version=0.1.0",
            plain.base
        ))
        .send()
        .await?
        .status();
    ensure!(
        status == StatusCode::NO_CONTENT,
        "no releases directory: {status}"
    );
    Ok(())
}
