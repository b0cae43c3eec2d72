//! The bundle's icon set is complete: Windows shows 16, 24, 32 and 48 px frames in
//! Explorer, the taskbar and Alt+Tab and scales one 256 px frame badly; macOS wants an
//! `.icns`. Made with `npx tauri icon src-tauri/icons/icon.png -o src-tauri/icons` (from
//! `ui/`), keeping the desktop files.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bundle_icons() -> Vec<String> {
    let conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("tauri.conf.json")).unwrap()).unwrap();
    conf["bundle"]["icon"]
        .as_array()
        .expect("bundle.icon")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The pixel sizes of an `.ico` file's frames (ICONDIR, then one 16-byte entry per frame
/// whose first byte is the width, 0 meaning 256).
fn ico_sizes(bytes: &[u8]) -> Vec<u32> {
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "not an icon file");
    let count = usize::from(u16::from_le_bytes([bytes[4], bytes[5]]));
    (0..count)
        .map(|i| match bytes[6 + 16 * i] {
            0 => 256,
            w => u32::from(w),
        })
        .collect()
}

#[test]
fn every_listed_icon_exists() {
    for icon in bundle_icons() {
        assert!(repo().join(&icon).is_file(), "{icon} is listed but missing");
    }
}

#[test]
fn windows_icon_has_every_shell_size() {
    let icon = bundle_icons()
        .into_iter()
        .find(|i| i.ends_with(".ico"))
        .expect("an .ico for Windows");
    let sizes = ico_sizes(&std::fs::read(repo().join(icon)).unwrap());
    for size in [16, 24, 32, 48, 256] {
        assert!(
            sizes.contains(&size),
            "icon.ico has no {size} px frame: {sizes:?}"
        );
    }
}

#[test]
fn macos_icon_is_an_icns() {
    let icon = bundle_icons()
        .into_iter()
        .find(|i| i.ends_with(".icns"))
        .expect("an .icns for macOS");
    let bytes = std::fs::read(repo().join(icon)).unwrap();
    assert_eq!(&bytes[..4], b"icns");
}
