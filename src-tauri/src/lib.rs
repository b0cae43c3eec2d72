//! Vaidya's desktop shell: Tauri commands over the offline client core (`vaidya-client`),
//! background sync with events to the UI, and nothing else. Only this crate knows Tauri.
//!
//! [`run`] delegates to [`builder`], which is generic over the runtime so the smoke test
//! can drive the same app with `tauri::test::mock_builder()`.

pub mod commands;
pub mod core;
pub mod error;
pub mod sync;

use tauri::{Builder, Runtime};
use vaidya_client::{CredentialStore, DataDir};

/// Event names the UI listens to (`ui/src/lib/ipc.ts` → `EVENTS`).
pub mod events {
    /// `SyncStatusView`: online, pending count, last sync, progress, error.
    pub const STATUS: &str = "sync://status";
    /// Rows changed locally or from the server: screens reload.
    pub const CHANGED: &str = "sync://changed";
    /// The number of open conflicts changed.
    pub const CONFLICTS: &str = "sync://conflicts";
}

/// Where state lives. Tests pass their own directory and keyring service name.
pub struct Setup {
    pub data_dir: DataDir,
    pub credentials: CredentialStore,
}

impl Setup {
    /// The installed app's setup: `VAIDYA_DATA_DIR` (e2e runs, portable installs) or the
    /// platform's per-user data directory, and the OS keyring under the service name
    /// `VAIDYA_KEYRING_SERVICE` (two app instances side by side in e2e runs) or the default.
    pub fn from_env() -> Result<Setup, vaidya_client::PartitionError> {
        let data_dir = match std::env::var_os("VAIDYA_DATA_DIR") {
            Some(dir) => DataDir::new(dir),
            None => DataDir::platform_default()?,
        };
        Ok(Setup {
            data_dir,
            credentials: match std::env::var("VAIDYA_KEYRING_SERVICE") {
                Ok(service) if !service.is_empty() => CredentialStore::new(service),
                _ => CredentialStore::default(),
            },
        })
    }
}

/// The app without a runtime or context: commands and state.
pub fn builder<R: Runtime>(builder: Builder<R>, setup: Setup) -> Builder<R> {
    builder
        .manage(core::Core::new(setup.data_dir, setup.credentials))
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::ui_ready,
            commands::current_session,
            commands::sign_in,
            commands::sign_out,
            commands::open_clinic,
            commands::search_patients,
            commands::get_patient,
            commands::create_patient,
            commands::update_patient,
            commands::patient_chart,
            commands::list_appointments,
            commands::book_appointment,
            commands::update_appointment,
            commands::clinic_doctors,
            commands::save_encounter,
            commands::sign_encounter,
            commands::add_addendum,
            commands::issue_prescription,
            commands::prescription_warnings,
            commands::patient_allergies,
            commands::record_allergy,
            commands::update_allergy,
            commands::create_invoice,
            commands::add_payment,
            commands::list_members,
            commands::add_member,
            commands::set_member_role,
            commands::revoke_member,
            commands::member_devices,
            commands::audit_trail,
            commands::list_conflicts,
            commands::resolve_conflict,
            commands::sync_status,
            commands::sync_now,
            commands::record_print,
            commands::print_page,
            commands::unsent_changes,
            commands::resend_change,
            commands::discard_change,
        ])
}

/// When the process started, for the "first screen interactive" startup figure.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Entry point of the desktop binary.
pub fn run() {
    STARTED.get_or_init(std::time::Instant::now);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "vaidya_desktop=info,vaidya_client=info".into()),
        )
        .init();
    let setup = Setup::from_env().expect("no per-user data directory for Vaidya");
    builder(tauri::Builder::default(), setup)
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the Vaidya desktop app");
}
