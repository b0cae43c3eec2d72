//! Build script: Tauri's codegen inputs. The configuration's source of truth is the repo's
//! top-level `tauri.conf.json`; app commands are declared here so each gets an
//! `allow-<command>` permission and the capability grants exactly the listed set.

/// Every command the UI may invoke. Keep in step with `generate_handler!` in `src/lib.rs`
/// and the `allow-app-commands` set in `permissions/app.toml`.
const COMMANDS: &[&str] = &[
    "app_info",
    "ui_ready",
    "current_session",
    "sign_in",
    "sign_out",
    "open_clinic",
    "search_patients",
    "get_patient",
    "create_patient",
    "update_patient",
    "patient_chart",
    "list_appointments",
    "book_appointment",
    "update_appointment",
    "clinic_doctors",
    "save_encounter",
    "sign_encounter",
    "add_addendum",
    "issue_prescription",
    "prescription_warnings",
    "patient_allergies",
    "record_allergy",
    "update_allergy",
    "create_invoice",
    "add_payment",
    "list_members",
    "add_member",
    "set_member_role",
    "revoke_member",
    "audit_trail",
    "list_conflicts",
    "resolve_conflict",
    "sync_status",
    "sync_now",
    "record_print",
    "print_page",
    "unsent_changes",
    "resend_change",
    "discard_change",
];

/// `generate_context!` embeds `ui/dist` and fails to compile without it. A workspace build
/// (`cargo clippy --workspace`) must not need Node, so a missing UI gets a placeholder page
/// that says how to build it; `npm run build` in `ui/` replaces it.
fn ensure_ui_dist() {
    let dist = std::path::Path::new("../ui/dist");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(dist).expect("create ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><meta charset=\"utf-8\"><title>Vaidya</title>\n\
             <p>The Vaidya UI is not built. Run <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>, then rebuild.</p>\n",
        )
        .expect("write placeholder ui/dist/index.html");
    }
}

fn main() {
    ensure_ui_dist();
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
