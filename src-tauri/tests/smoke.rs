//! Smoke test of the real app on Tauri's mock runtime: the real configuration and
//! capabilities (so a command missing from `allow-app-commands` fails here), the real
//! command set, and errors reaching the UI as `{code, message}`.

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;
use vaidya_client::{CredentialStore, DataDir};
use vaidya_desktop::{builder, Setup};

/// The origin of the app's own pages, which the `local` capability is granted to.
#[cfg(windows)]
const APP_ORIGIN: &str = "http://tauri.localhost";
#[cfg(not(windows))]
const APP_ORIGIN: &str = "tauri://localhost";

struct TestApp {
    _app: tauri::App<MockRuntime>,
    window: tauri::WebviewWindow<MockRuntime>,
    _dir: tempfile::TempDir,
}

fn app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        data_dir: DataDir::new(dir.path()),
        // A service name of its own, so the test never sees a developer's real sessions.
        credentials: CredentialStore::new(format!(
            "in.vaidya.desktop.smoke-{}",
            uuid::Uuid::new_v4()
        )),
        installed: false,
    };
    let app = builder(mock_builder(), setup)
        .build(tauri::generate_context!("../tauri.conf.json", test = true))
        .expect("the app builds on the mock runtime");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    TestApp {
        _app: app,
        window,
        _dir: dir,
    }
}

fn invoke(app: &TestApp, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        &app.window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: APP_ORIGIN.parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn app_info_names_version_and_device() {
    let app = app();
    let info = invoke(&app, "app_info", json!({})).expect("app_info works");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert!(info["device"].as_str().unwrap().starts_with("vaidya-"));
}

#[test]
fn clinic_commands_need_a_signed_in_user() {
    let app = app();
    let err = invoke(
        &app,
        "search_patients",
        json!({"query": "asha", "limit": 5}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_signed_in");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));

    let err = invoke(&app, "sync_status", json!({})).unwrap_err();
    assert_eq!(err["code"], "no_clinic");

    // The Unsent changes commands are granted by the capability and reach the core.
    let id = "0190d1a2-0000-7000-8000-000000000001";
    for (command, args) in [
        ("unsent_changes", json!({})),
        (
            "resend_change",
            json!({"mutationId": id, "corrections": {"phone": "9845012345"}}),
        ),
        ("discard_change", json!({"mutationId": id})),
    ] {
        let err = invoke(&app, command, args).unwrap_err();
        assert_eq!(err["code"], "not_signed_in", "{command}: {err}");
    }
}

#[test]
fn bad_arguments_are_refused_before_any_work() {
    let app = app();
    // A malformed id never reaches the core.
    let err = invoke(&app, "get_patient", json!({"id": "not-a-uuid"})).unwrap_err();
    assert!(err.as_str().is_some_and(|m| m.contains("id")), "{err}");
}

#[test]
fn current_session_is_empty_or_reports_the_keyring() {
    let app = app();
    match invoke(&app, "current_session", json!({})) {
        // A desktop with a Secret Service: nobody is signed in under the test's service name.
        Ok(v) => assert_eq!(v, Value::Null),
        // CI containers have no keyring; the UI gets a code it can explain.
        Err(e) => assert_eq!(e["code"], "keyring_unavailable", "{e}"),
    }
}

#[test]
fn sign_in_without_a_server_address_names_the_field() {
    let app = app();
    let err = invoke(
        &app,
        "sign_in",
        json!({"server": " ", "email": "a@b.in", "password": "x"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_field");
    assert_eq!(err["field"], "server");
}

#[test]
fn commands_outside_the_capability_are_refused() {
    let app = app();
    // Core plugins the UI does not need (here: opening a second window) are not granted.
    let err = invoke(&app, "plugin:webview|create_webview_window", json!({})).unwrap_err();
    assert!(
        err.as_str().is_some_and(|m| m.contains("not allowed")),
        "{err}"
    );
}
