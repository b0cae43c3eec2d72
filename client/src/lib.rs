//! Vaidya offline client core: the per-clinic encrypted SQLite cache with its outbox, the
//! sync engine and its HTTP client, sign-in with offline leases, and credentials in the OS
//! keyring. No Tauri code lives here.

pub mod api;
pub mod clinic;
pub mod credentials;
pub mod partition;
pub mod session;
pub mod sync;

pub use api::{ApiError, ServerApi};
pub use clinic::{ClinicError, OpenClinic, PatientChart};
pub use credentials::{CredentialError, CredentialStore, StoredSession};
pub use partition::{ClinicPartition, DataDir, OpenCheck, PartitionError, PartitionKey};
pub use session::{Client, ClientConfig, Mode, SessionError};
pub use sync::{SyncEngine, SyncError, SyncOptions, SyncProgress, SyncReport, SyncStatus};
