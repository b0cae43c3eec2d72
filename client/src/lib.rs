//! Vaidya offline client core: the per-clinic encrypted SQLite cache with its outbox, the
//! sync engine and its HTTP client, sign-in with offline leases, and credentials in the OS
//! keyring. No Tauri code lives here.

pub mod api;
pub mod clinic;
pub mod credentials;
pub mod partition;
pub mod pinned_tls;
pub mod session;
pub mod sync;
pub mod wipes;

pub use api::{ApiError, ServerApi};
pub use clinic::{ClinicError, MemberUnsentChange, OpenClinic, PatientChart};
pub use credentials::{CredentialError, CredentialStore, StoredSession};
pub use partition::{ClinicPartition, DataDir, OpenCheck, PartitionError, PartitionKey};
pub use session::{Client, ClientConfig, Mode, Reconnect, SessionError};
pub use sync::{SyncEngine, SyncError, SyncOptions, SyncProgress, SyncReport, SyncStatus};

/// What the crate's own tests share.
#[cfg(test)]
mod test_support {
    /// Test input through the shared rules, as `OpenClinic` takes it (a fixture that breaks
    /// a rule fails here, not later at the server).
    pub fn valid<T: vaidya_shared::rules::Validate>(input: T) -> vaidya_shared::rules::Valid<T> {
        input
            .validate(chrono::Utc::now().date_naive())
            .expect("test input follows the shared rules")
    }
}
