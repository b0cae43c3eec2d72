//! Updates for a clinic's PCs, announced by the clinic group's own sync server
//! (`GET /v1/desktop/update`) and installed by Tauri's updater plugin.
//!
//! The PC asks the server it already syncs with (through the clinic's proxy and the OS
//! certificate store, like every sync), so a clinic needs no other address open. What it
//! installs is decided by the signature alone: the announced entry is handed to the updater
//! as a restored manifest ([`tauri_plugin_updater::Updater::restore_update`]), which requires
//! the installer's minisign signature, made with the release key whose public half is built
//! into this app, to name the announced version. A tampered announcement can therefore
//! neither install foreign code nor pair a newer version number with an older installer.
//!
//! Unsent work is never at stake: the outbox lives in the clinic files of the data
//! directory, which an update does not touch. Before installing, the app asks for one more
//! sync round so that what can be sent is sent; what cannot stays and is sent after.

use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt as _};
use vaidya_shared::api::{DesktopUpdate, DesktopUpdateQuery};

use crate::error::UiError;

/// The release key's public half (minisign, base64, as `tauri signer generate` prints it),
/// built in by the release workflow from the repository's `VAIDYA_UPDATER_PUBKEY` variable.
/// A build without it (a developer's, a fork's) announces updates but does not install them.
pub const RELEASE_PUBKEY: Option<&str> = option_env!("VAIDYA_UPDATER_PUBKEY");

/// How long the download of an installer may take on a slow clinic line.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// This build as the update announcement names it: the updater's OS and CPU names and the
/// kind of installer it came from (none for a plain `cargo build`); `None` on a platform no
/// release is built for.
pub fn this_build() -> Option<DesktopUpdateQuery> {
    use tauri::utils::{config::BundleType, platform::bundle_type};
    use vaidya_shared::api::{DesktopArch, DesktopBundle, DesktopOs};
    let platform = tauri_plugin_updater::target()?;
    let (target, arch) = platform.split_once('-')?;
    let bundle = bundle_type().and_then(|b| match b {
        BundleType::Msi => Some(DesktopBundle::Msi),
        BundleType::Nsis => Some(DesktopBundle::Nsis),
        BundleType::App | BundleType::Dmg => Some(DesktopBundle::App),
        BundleType::AppImage => Some(DesktopBundle::AppImage),
        BundleType::Deb => Some(DesktopBundle::Deb),
        BundleType::Rpm => Some(DesktopBundle::Rpm),
        #[allow(unreachable_patterns)]
        _ => None,
    });
    Some(DesktopUpdateQuery {
        target: DesktopOs::parse(target)?,
        arch: DesktopArch::parse(arch)?,
        bundle,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// What the banner shows.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateView {
    pub current_version: String,
    pub version: String,
    pub notes: Option<String>,
    /// This version can no longer sync: the banner stays until the update is installed.
    pub required: bool,
    /// This build carries the release key, so the app can install the update itself;
    /// otherwise the banner asks for the new version to be installed by hand.
    pub can_install: bool,
}

impl UpdateView {
    pub fn of(update: &DesktopUpdate) -> UpdateView {
        UpdateView {
            current_version: env!("CARGO_PKG_VERSION").to_owned(),
            version: update.version.clone(),
            notes: update.notes.clone(),
            required: update.required,
            can_install: RELEASE_PUBKEY.is_some_and(|k| !k.trim().is_empty()),
        }
    }
}

/// The announced update as the updater will install it, checked against `pubkey` before a
/// byte is installed. `None`: not newer than this build after all.
pub fn verified_update<R: Runtime>(
    app: &AppHandle<R>,
    server: &str,
    pubkey: &str,
    announced: &DesktopUpdate,
) -> Result<Option<Update>, UiError> {
    let manifest =
        serde_json::to_value(announced).map_err(|e| UiError::new("internal", e.to_string()))?;
    // The updater wants an address to ask; the announcement has been fetched already, so
    // this one is only recorded (restore_update makes no request).
    let endpoint = format!("{}/v1/desktop/update", server.trim_end_matches('/'))
        .parse()
        .map_err(|e| UiError::new("internal", format!("update address: {e}")))?;
    let updater = app
        .updater_builder()
        .pubkey(pubkey)
        .timeout(DOWNLOAD_TIMEOUT)
        .endpoints(vec![endpoint])
        .and_then(|b| b.build())
        .map_err(update_error)?;
    updater.restore_update(manifest).map_err(update_error)
}

/// Downloads, verifies and installs `update`. On Windows the installer takes over and the app
/// exits; elsewhere the caller restarts the app into the new version.
pub async fn install(
    update: Update,
    progress: impl FnMut(usize, Option<u64>),
) -> Result<(), UiError> {
    update
        .download_and_install(progress, || {})
        .await
        .map_err(update_error)
}

/// Updater errors as the UI's stable codes: a refused signature is never "try again".
fn update_error(e: tauri_plugin_updater::Error) -> UiError {
    use tauri_plugin_updater::Error as E;
    let code = match &e {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => "update_signature_invalid",
        E::SignedVersionMismatch { .. } | E::MissingSignedVersion => "update_signature_invalid",
        E::InsecureTransportProtocol => "update_needs_https",
        E::Reqwest(_) | E::Network(_) => "network",
        _ => "update_failed",
    };
    tracing::warn!(code, error = %e, "desktop update");
    UiError::new(code, e.to_string())
}
