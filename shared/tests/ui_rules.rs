//! The UI's copy of the rule set is generated, never hand-written: this test fails when
//! `ui/src/generated/rules.json` differs from `shared::rules::rules_for_ui()`, and rewrites
//! it when run with `VAIDYA_UPDATE_GENERATED=1`.

use std::path::PathBuf;

#[test]
fn ui_rules_file_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/rules.json");
    let fresh = serde_json::to_string_pretty(&vaidya_shared::rules::rules_for_ui()).unwrap() + "\n";
    if std::env::var_os("VAIDYA_UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/generated/rules.json is stale: run `VAIDYA_UPDATE_GENERATED=1 cargo test -p vaidya-shared --test ui_rules`"
    );
}
