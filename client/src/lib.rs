//! Vaidya offline client core: the per-clinic encrypted SQLite cache with its outbox, and
//! credentials in the OS keyring. No Tauri and no network code lives here.

pub mod credentials;
pub mod partition;

pub use credentials::{CredentialError, CredentialStore, StoredSession};
pub use partition::{ClinicPartition, DataDir, PartitionError, PartitionKey};
