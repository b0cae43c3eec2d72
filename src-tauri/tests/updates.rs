//! The update path's one security claim, tried on the real updater plugin: nothing is
//! installed unless its signature, by the release key built into the app, names the version
//! that was announced. Test installers are signed as `tauri signer sign` signs them
//! (minisign, the version in the trusted comment).

use std::io::Cursor;

use base64::Engine as _;
use tauri::test::{mock_builder, MockRuntime};
use vaidya_desktop::updates::verified_update;
use vaidya_shared::api::DesktopUpdate;

const SERVER: &str = "https://sync.example.in";

fn app() -> tauri::App<MockRuntime> {
    mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(tauri::generate_context!("../tauri.conf.json", test = true))
        .expect("the app builds with the updater plugin and the real configuration")
}

fn b64(text: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

struct ReleaseKey(minisign::KeyPair);

impl ReleaseKey {
    fn new() -> ReleaseKey {
        ReleaseKey(minisign::KeyPair::generate_unencrypted_keypair().unwrap())
    }

    /// The public key as `tauri signer generate` prints it (what the app has built in).
    fn public(&self) -> String {
        b64(self.0.pk.to_box().unwrap().to_string())
    }

    /// A signature of `bytes` as the release workflow makes it; `version: None` as older
    /// Tauri CLIs signed (no version in the trusted comment).
    fn sign(&self, bytes: &[u8], version: Option<&str>) -> String {
        let comment = match version {
            Some(v) => format!("timestamp:1764583200\tfile:Vaidya.AppImage\tversion:{v}"),
            None => "timestamp:1764583200\tfile:Vaidya.AppImage".to_owned(),
        };
        let signature = minisign::sign(
            Some(&self.0.pk),
            &self.0.sk,
            Cursor::new(bytes),
            Some(&comment),
            Some("signature from tauri secret key"),
        )
        .unwrap();
        b64(signature.to_string())
    }
}

fn announced(version: &str, signature: String) -> DesktopUpdate {
    DesktopUpdate {
        version: version.to_owned(),
        notes: Some("test release".into()),
        pub_date: Some("2026-12-01T10:00:00Z".into()),
        url: "https://releases.example.in/Vaidya.AppImage".into(),
        signature,
        required: false,
    }
}

#[test]
fn only_an_installer_signed_for_the_announced_version_is_accepted() {
    let app = app();
    let key = ReleaseKey::new();
    let installer = b"Vaidya 0.2.0 installer".to_vec();

    // The genuine release: accepted.
    let update = verified_update(
        app.handle(),
        SERVER,
        &key.public(),
        &announced("0.2.0", key.sign(&installer, Some("0.2.0"))),
    )
    .expect("a well-formed announcement")
    .expect("0.2.0 is newer than this build");
    update
        .verify(&installer)
        .expect("the genuine installer verifies");

    // A changed byte: refused.
    let mut tampered = installer.clone();
    tampered[0] ^= 1;
    assert!(update.verify(&tampered).is_err(), "a tampered installer");

    // Signed by another key (an attacker's, or a fork's release key): refused.
    let stranger = ReleaseKey::new();
    let foreign = verified_update(
        app.handle(),
        SERVER,
        &key.public(),
        &announced("0.2.0", stranger.sign(&installer, Some("0.2.0"))),
    )
    .unwrap()
    .unwrap();
    assert!(
        foreign.verify(&installer).is_err(),
        "another key's signature"
    );

    // An old, genuinely signed installer announced as a newer version (a downgrade to a
    // release with known flaws): refused.
    let old = b"Vaidya 0.1.5 installer".to_vec();
    let downgrade = verified_update(
        app.handle(),
        SERVER,
        &key.public(),
        &announced("0.2.0", key.sign(&old, Some("0.1.5"))),
    )
    .unwrap()
    .unwrap();
    assert!(
        downgrade.verify(&old).is_err(),
        "a version the signature does not name"
    );

    // A signature that names no version cannot vouch for one: refused.
    let unversioned = verified_update(
        app.handle(),
        SERVER,
        &key.public(),
        &announced("0.2.0", key.sign(&installer, None)),
    )
    .unwrap()
    .unwrap();
    assert!(unversioned.verify(&installer).is_err(), "no signed version");

    // A build without the release key verifies nothing.
    let keyless = verified_update(
        app.handle(),
        SERVER,
        "",
        &announced("0.2.0", key.sign(&installer, Some("0.2.0"))),
    )
    .unwrap()
    .unwrap();
    assert!(keyless.verify(&installer).is_err(), "no release key");

    // Not newer than this build (0.1.0): nothing to install.
    let current = verified_update(
        app.handle(),
        SERVER,
        &key.public(),
        &announced("0.1.0", key.sign(&installer, Some("0.1.0"))),
    )
    .unwrap();
    assert!(current.is_none(), "the running version is no update");
}
