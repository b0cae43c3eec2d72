//! Vaidya's desktop shell: Tauri commands over the offline client core (`vaidya-client`),
//! background sync with events to the UI, and nothing else. Only this crate knows Tauri.
//!
//! [`run`] delegates to [`builder`], which is generic over the runtime so the smoke test
//! can drive the same app with `tauri::test::mock_builder()`.

pub mod commands;
pub mod core;
pub mod error;
pub mod pdf;
pub mod startup;
pub mod sync;
pub mod updates;

use tauri::{Builder, LogicalSize, Manager, Runtime};
use vaidya_client::{CredentialStore, DataDir};

/// Event names the UI listens to (`ui/src/lib/ipc.ts` → `EVENTS`).
pub mod events {
    /// `SyncStatusView`: online, pending count, last sync, progress, error.
    pub const STATUS: &str = "sync://status";
    /// Rows changed locally or from the server: screens reload.
    pub const CHANGED: &str = "sync://changed";
    /// The number of open conflicts changed.
    pub const CONFLICTS: &str = "sync://conflicts";
    /// `SessionChange`: the session shown from the keyring at start went online (perhaps
    /// closing the open clinic to reopen it), or the server refused it.
    pub const SESSION: &str = "session://changed";
    /// `UpdateProgress`: bytes of the update's installer received so far.
    pub const UPDATE_PROGRESS: &str = "update://progress";
}

/// Where state lives. Tests pass their own directory and keyring service name.
pub struct Setup {
    pub data_dir: DataDir,
    pub credentials: CredentialStore,
    /// The platform's own data directory (not `VAIDYA_DATA_DIR`): the installed app, one per
    /// OS account, whose second launch focuses the first window.
    pub installed: bool,
}

impl Setup {
    /// The installed app's setup: `VAIDYA_DATA_DIR` (e2e runs, portable installs) or the
    /// platform's per-user data directory, and the OS keyring under the service name
    /// `VAIDYA_KEYRING_SERVICE` (two app instances side by side in e2e runs) or the default.
    pub fn from_env() -> Result<Setup, vaidya_client::PartitionError> {
        let override_dir = std::env::var_os("VAIDYA_DATA_DIR");
        let installed = override_dir.is_none();
        let data_dir = match override_dir {
            Some(dir) => DataDir::new(dir),
            None => DataDir::platform_default()?,
        };
        Ok(Setup {
            data_dir,
            installed,
            credentials: match std::env::var("VAIDYA_KEYRING_SERVICE") {
                Ok(service) if !service.is_empty() => CredentialStore::new(service),
                _ => CredentialStore::default(),
            },
        })
    }
}

include!("command_list.rs");

/// Registers every listed command (`commands::<name>`) with Tauri.
macro_rules! app_handler {
    ($($command:ident),* $(,)?) => { tauri::generate_handler![$(commands::$command),*] };
}

/// The app without a runtime or context: commands and state.
pub fn builder<R: Runtime>(builder: Builder<R>, setup: Setup) -> Builder<R> {
    builder
        .manage(core::Core::new(setup.data_dir, setup.credentials))
        .invoke_handler(with_app_commands!(app_handler))
}

/// When the process started, for the "first screen interactive" startup figure.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Entry point of the desktop binary: logging to a file, panics logged, one app per data
/// directory (see [`startup`]), then the app.
pub fn run() {
    STARTED.get_or_init(std::time::Instant::now);
    let setup = Setup::from_env();
    let log_dir = startup::init_logging(setup.as_ref().ok().map(|s| &s.data_dir));
    startup::log_panics();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        logs = %log_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default(),
        "Vaidya starting"
    );
    let setup = setup.unwrap_or_else(|e| exit_with(&format!("no per-user data directory: {e}")));
    let data_dir = setup.data_dir.clone();
    let mut app = tauri::Builder::default();
    if setup.installed {
        // Registered first: a second launch hands over to the running app (its window comes
        // to the front) and exits before it builds anything.
        app = app.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }));
    }
    // Installs only installers signed with the release key (`updates::RELEASE_PUBKEY`).
    app = app.plugin(tauri_plugin_updater::Builder::new().build());
    builder(app, setup)
        .setup(move |app| {
            // After the plugins (the hand-over above), before any partition is opened.
            match startup::lock_instance(&data_dir) {
                Ok(lock) => {
                    app.manage(lock);
                    // The data directory is ours now: resume the session while the
                    // window loads.
                    app.state::<core::Core>().start_resume();
                    let configured = app
                        .config()
                        .app
                        .windows
                        .iter()
                        .find(|w| w.label == "main")
                        .map(|w| LogicalSize::new(w.width, w.height));
                    if let (Some(window), Some(size)) = (app.get_webview_window("main"), configured)
                    {
                        startup::fit_to_screen(&window, size);
                    }
                    Ok(())
                }
                Err(startup::InstanceError::AlreadyRunning(dir)) => {
                    let message = format!(
                        "Vaidya is already open on this computer (data directory {}); \
                         this second window closes",
                        dir.display()
                    );
                    tracing::warn!("{message}");
                    eprintln!("{message}");
                    std::process::exit(0)
                }
                Err(e) => Err(e.into()),
            }
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .unwrap_or_else(|e| exit_with(&format!("the app stopped with an error: {e}")));
}

/// Logs why the app cannot go on (the Windows build has no console) and exits.
fn exit_with(reason: &str) -> ! {
    tracing::error!("{reason}");
    eprintln!("Vaidya: {reason}");
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    macro_rules! command_names {
        ($($command:ident),* $(,)?) => { &[$(stringify!($command)),*] };
    }
    const COMMANDS: &[&str] = with_app_commands!(command_names);

    /// The commands `ui/src/lib/ipc.ts` invokes: every `call<…>("name"` or `call("name"`.
    fn commands_the_ui_calls() -> Vec<&'static str> {
        let ipc = include_str!("../../ui/src/lib/ipc.ts");
        let mut names = Vec::new();
        for (at, _) in ipc.match_indices("call") {
            let rest = &ipc[at + 4..];
            if !(rest.starts_with('<') || rest.starts_with('(')) {
                continue;
            }
            // The command name is the first argument: `call<T>("name"`, not a later `("`.
            let Some(open) = rest.find('(') else { continue };
            let Some(name) = rest[open + 1..].strip_prefix('"') else {
                continue;
            };
            if let Some(end) = name.find('"') {
                names.push(&name[..end]);
            }
        }
        names
    }

    /// A command the UI calls but the app does not register or allow fails only at run time,
    /// as "an unexpected error" on screen; this catches it at test time.
    #[test]
    fn the_ui_calls_exactly_the_registered_and_allowed_commands() {
        let called = commands_the_ui_calls();
        assert!(called.len() > 30, "found only {called:?} in ipc.ts");
        for name in &called {
            assert!(
                COMMANDS.contains(name),
                "the UI calls `{name}`, which is not in src/command_list.rs"
            );
        }
        for name in COMMANDS {
            assert!(
                called.contains(name),
                "`{name}` is registered but the UI never calls it"
            );
        }
        let allowed = include_str!("../permissions/app.toml");
        for name in COMMANDS {
            let permission = format!("\"allow-{}\"", name.replace('_', "-"));
            assert!(
                allowed.contains(&permission),
                "permissions/app.toml lacks {permission}"
            );
        }
    }
}
