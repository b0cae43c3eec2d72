//! Desktop updates from the clinic group's own server. The release workflow publishes a
//! signed release and its `latest.json` (Tauri's static updater manifest, plus an optional
//! `minimum_version`); the group's IT drops that file into the server's releases directory
//! (`--desktop-releases`). Each PC asks its own sync server, the one address it already
//! reaches through the clinic's proxy and certificate store, and is answered with the one
//! entry for its platform, or 204 when it is up to date.
//!
//! The server vouches for nothing here: the desktop installs only an installer whose minisign
//! signature, by the key built into the app, names the announced version. A tampered
//! manifest can at worst announce an update that the PC then refuses.

use std::collections::BTreeMap;
use std::path::Path;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use vaidya_shared::api::{DesktopUpdate, DesktopUpdateQuery};
use vaidya_shared::{ApiError, ErrorCode};

use crate::app::App;
use crate::http::{ApiQuery, AppError};

/// The manifest file in the releases directory.
pub const MANIFEST_FILE: &str = "latest.json";

/// `latest.json` as the release workflow writes it (Tauri's static format).
#[derive(Debug, Deserialize)]
struct ReleaseManifest {
    version: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    pub_date: Option<String>,
    /// Builds older than this can no longer sync with this server.
    #[serde(default)]
    minimum_version: Option<String>,
    /// Keyed `{target}-{arch}-{bundle}` or `{target}-{arch}` (e.g. `windows-x86_64-msi`).
    platforms: BTreeMap<String, PlatformRelease>,
}

#[derive(Debug, Deserialize)]
struct PlatformRelease {
    url: String,
    signature: String,
}

#[utoipa::path(get, path = "/v1/desktop/update", tag = "desktop",
    params(
        ("target" = String, Query, description = "`windows`, `darwin` or `linux`"),
        ("arch" = String, Query, description = "`x86_64`, `aarch64`, `i686` or `armv7`"),
        ("bundle" = Option<String>, Query, description = "`msi`, `nsis`, `app`, `appimage`, `deb` or `rpm`"),
        ("version" = String, Query, description = "the running version (semver)")),
    responses(
        (status = 200, description = "A newer release for this build", body = DesktopUpdate),
        (status = 204, description = "Up to date, or no release for this build"),
        (status = 400, description = "`invalid_parameter`", body = ApiError)))]
/// The newest desktop release for the asking build, if newer than it. Needs no sign-in: a
/// PC too old to sign in must still learn that it has to update.
pub async fn update(
    State(app): State<App>,
    ApiQuery(query): ApiQuery<DesktopUpdateQuery>,
) -> Result<Response, AppError> {
    let running = check_query(&query)?;
    let Some(dir) = app.settings.desktop_releases.as_deref() else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let Some(manifest) = read_manifest(dir).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    Ok(match answer(&manifest, &query, &running)? {
        Some(update) => Json(update).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// The running version; target, arch and bundle were checked when the query was read.
fn check_query(query: &DesktopUpdateQuery) -> Result<semver::Version, AppError> {
    semver::Version::parse(query.version.trim_start_matches('v')).map_err(|_| {
        AppError::client(
            ErrorCode::InvalidParameter,
            "Bad query parameter: version must be a version number such as 0.2.1",
        )
    })
}

/// The releases directory's manifest; `None` when none is published yet. A manifest that
/// cannot be read is the operator's mistake, logged and answered as an internal error.
async fn read_manifest(dir: &Path) -> Result<Option<ReleaseManifest>, AppError> {
    let path = dir.join(MANIFEST_FILE);
    let reading = path.clone();
    let read = tokio::task::spawn_blocking(move || std::fs::read(reading))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AppError::Internal(
                anyhow::Error::new(e).context(format!("reading {}", path.display())),
            ))
        }
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        AppError::Internal(anyhow::Error::new(e).context(format!("{}", path.display())))
    })
}

/// The update for this build, if the manifest's release is newer and has an entry for it.
fn answer(
    manifest: &ReleaseManifest,
    query: &DesktopUpdateQuery,
    running: &semver::Version,
) -> Result<Option<DesktopUpdate>, AppError> {
    let parse = |v: &str| {
        semver::Version::parse(v.trim_start_matches('v'))
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{MANIFEST_FILE}: version {v:?}: {e}")))
    };
    let latest = parse(&manifest.version)?;
    if latest <= *running {
        return Ok(None);
    }
    let general = format!("{}-{}", query.target.as_str(), query.arch.as_str());
    let specific = query.bundle.map(|b| format!("{general}-{}", b.as_str()));
    let Some(platform) = specific
        .and_then(|key| manifest.platforms.get(&key))
        .or_else(|| manifest.platforms.get(&general))
    else {
        return Ok(None);
    };
    let required = match &manifest.minimum_version {
        Some(minimum) => *running < parse(minimum)?,
        None => false,
    };
    Ok(Some(DesktopUpdate {
        version: manifest.version.clone(),
        notes: manifest.notes.clone(),
        pub_date: manifest.pub_date.clone(),
        url: platform.url.clone(),
        signature: platform.signature.clone(),
        required,
    }))
}
