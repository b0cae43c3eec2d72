//! The UI's TypeScript types are generated from the Rust types, never hand-written: this
//! test fails when `ui/src/generated/types.ts` differs from `vaidya_shared::ts::typescript()`
//! and rewrites it when run with `VAIDYA_UPDATE_GENERATED=1`. It needs the `ts` feature
//! (which keeps ts-rs out of every other build):
//! `cargo test -p vaidya-shared --features ts --test ui_types`.
#![cfg(feature = "ts")]

use std::path::PathBuf;

#[test]
fn ui_types_file_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/types.ts");
    let fresh = vaidya_shared::ts::typescript();
    if std::env::var_os("VAIDYA_UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/generated/types.ts is stale: run `VAIDYA_UPDATE_GENERATED=1 cargo test -p vaidya-shared --features ts --test ui_types`"
    );
}
