//! Credentials in the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service
//! on Linux): the refresh token and offline-lease metadata of a signed-in user, and the
//! SQLCipher key of each clinic partition. Nothing secret is ever written to a file.
//!
//! Entries are small UTF-8 JSON or hex values stored with `set_secret`, each at most
//! [`MAX_ENTRY_BYTES`] (Windows' credential blob limit). The limit is enforced on every OS,
//! so a value that works on a Linux developer machine cannot fail at a Windows front desk.
//!
//! Partition keys are per clinic, not per user: one file per clinic is shared by the users
//! of this OS account, and deleting a key destroys any unsynced work in that file. They are
//! removed with the partition (membership revoked), not at sign-out.

use chrono::{DateTime, Utc};
use keyring::Entry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vaidya_shared::api::Session;

use crate::partition::PartitionKey;

/// Keyring service name of the desktop app. Tests use their own, unique one.
pub const DEFAULT_SERVICE: &str = "in.vaidya.desktop";

/// Windows Credential Manager's `CRED_MAX_CREDENTIAL_BLOB_SIZE` (5 × 512 bytes).
pub const MAX_ENTRY_BYTES: usize = 2560;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no OS keyring is available: {0}")]
    KeyringUnavailable(String),
    #[error("keyring entry {entry} would be {size} bytes; the limit is {limit}")]
    EntryTooLarge {
        entry: String,
        size: usize,
        limit: usize,
    },
    #[error("keyring entry {entry} holds an unreadable value: {reason}")]
    InvalidEntry { entry: String, reason: String },
    #[error("keyring error: {0}")]
    Keyring(#[source] keyring::Error),
}

impl CredentialError {
    /// Stable machine-readable code; never renamed once shipped.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::KeyringUnavailable(_) => "keyring_unavailable",
            CredentialError::EntryTooLarge { .. } => "entry_too_large",
            CredentialError::InvalidEntry { .. } => "credential_invalid",
            CredentialError::Keyring(_) => "keyring_error",
        }
    }
}

impl From<keyring::Error> for CredentialError {
    fn from(err: keyring::Error) -> Self {
        match err {
            // No Secret Service / D-Bus session, a locked store, or the platform API failing:
            // in every case the keyring cannot be used right now.
            keyring::Error::NoStorageAccess(e) | keyring::Error::PlatformFailure(e) => {
                CredentialError::KeyringUnavailable(e.to_string())
            }
            other => CredentialError::Keyring(other),
        }
    }
}

/// What a device keeps of a session: enough to refresh it online and to unlock the
/// partitions offline until the lease ends. The access token is not kept (it is short-lived
/// and lives in memory only).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSession {
    /// Base URL of the sync server, without a trailing `/`.
    pub server: String,
    pub user_id: Uuid,
    pub email: String,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub offline_lease_until: DateTime<Utc>,
    /// The clinics of the user's memberships at the last online sign-in: the partitions
    /// this user may unlock offline.
    #[serde(default)]
    pub clinic_ids: Vec<Uuid>,
    /// The latest time known to be real: the server's clock at the last online sign-in, or
    /// the local clock at a later offline unlock. A local clock well before it has been
    /// turned back (see `session::CLOCK_TOLERANCE`).
    #[serde(default)]
    pub last_known_time: Option<DateTime<Utc>>,
}

impl StoredSession {
    pub fn from_session(server: &str, session: &Session) -> StoredSession {
        StoredSession {
            server: normalize_server(server),
            user_id: session.user.id,
            email: session.user.email.clone(),
            refresh_token: session.refresh_token.clone(),
            refresh_expires_at: session.refresh_expires_at,
            offline_lease_until: session.offline_lease_until,
            clinic_ids: session.memberships.iter().map(|m| m.clinic_id).collect(),
            last_known_time: None,
        }
    }

    /// Whether the partitions may be unlocked without reaching the server at `now`.
    pub fn offline_lease_valid_at(&self, now: DateTime<Utc>) -> bool {
        now < self.offline_lease_until
    }
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("server", &self.server)
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("refresh_token", &"<redacted>")
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("offline_lease_until", &self.offline_lease_until)
            .field("clinic_ids", &self.clinic_ids)
            .field("last_known_time", &self.last_known_time)
            .finish()
    }
}

fn normalize_server(server: &str) -> String {
    server.trim().trim_end_matches('/').to_owned()
}

fn session_entry_name(server: &str, user_id: Uuid) -> String {
    format!("session:{}:{user_id}", normalize_server(server))
}

fn known_clinics_entry_name(server: &str, user_id: Uuid) -> String {
    format!("clinics:{}:{user_id}", normalize_server(server))
}

/// Which user of which server was signed in last (not secret, but it belongs with the
/// session it points to).
const ACTIVE_ENTRY: &str = "active-session";

/// The user whose session a start without sign-in resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSession {
    pub server: String,
    pub user_id: Uuid,
}

fn partition_key_entry_name(clinic_id: Uuid) -> String {
    format!("partition-key:{clinic_id}")
}

/// Refuses values Windows would refuse, on every OS.
fn check_size(entry: &str, value: &[u8]) -> Result<(), CredentialError> {
    if value.len() > MAX_ENTRY_BYTES {
        return Err(CredentialError::EntryTooLarge {
            entry: entry.to_owned(),
            size: value.len(),
            limit: MAX_ENTRY_BYTES,
        });
    }
    Ok(())
}

/// The keyring entries of one service name.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    service: String,
}

impl Default for CredentialStore {
    fn default() -> Self {
        CredentialStore::new(DEFAULT_SERVICE)
    }
}

impl CredentialStore {
    pub fn new(service: impl Into<String>) -> CredentialStore {
        CredentialStore {
            service: service.into(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Ok when the OS keyring answers; `KeyringUnavailable` otherwise. Reads an entry that
    /// does not exist, so it changes nothing.
    pub fn check_available(&self) -> Result<(), CredentialError> {
        self.read("availability-probe").map(|_| ())
    }

    /// Stores (or replaces) the session of `session.user_id` on `session.server`.
    pub fn save_session(&self, session: &StoredSession) -> Result<(), CredentialError> {
        let name = session_entry_name(&session.server, session.user_id);
        let value = serde_json::to_vec(session).map_err(|e| CredentialError::InvalidEntry {
            entry: name.clone(),
            reason: e.to_string(),
        })?;
        self.write(&name, &value)
    }

    pub fn session(
        &self,
        server: &str,
        user_id: Uuid,
    ) -> Result<Option<StoredSession>, CredentialError> {
        let name = session_entry_name(server, user_id);
        match self.read(&name)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                CredentialError::InvalidEntry {
                    entry: name,
                    reason: e.to_string(),
                }
            }),
        }
    }

    /// Removes everything kept for this user on this server (the session entry with its
    /// refresh token and lease), so the partitions stay locked until the next online sign-in.
    pub fn sign_out(&self, server: &str, user_id: Uuid) -> Result<(), CredentialError> {
        self.delete(&session_entry_name(server, user_id))
    }

    /// Points later starts at this user's session.
    pub fn set_active(&self, active: &ActiveSession) -> Result<(), CredentialError> {
        let value = serde_json::to_vec(active).map_err(|e| CredentialError::InvalidEntry {
            entry: ACTIVE_ENTRY.to_owned(),
            reason: e.to_string(),
        })?;
        self.write(ACTIVE_ENTRY, &value)
    }

    pub fn active(&self) -> Result<Option<ActiveSession>, CredentialError> {
        match self.read(ACTIVE_ENTRY)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                CredentialError::InvalidEntry {
                    entry: ACTIVE_ENTRY.to_owned(),
                    reason: e.to_string(),
                }
            }),
        }
    }

    pub fn clear_active(&self) -> Result<(), CredentialError> {
        self.delete(ACTIVE_ENTRY)
    }

    /// Clinics whose partitions this user has had on this device. Kept across sign-out,
    /// so a membership revoked while signed out is still noticed at the next sign-in.
    pub fn known_clinics(&self, server: &str, user_id: Uuid) -> Result<Vec<Uuid>, CredentialError> {
        let name = known_clinics_entry_name(server, user_id);
        match self.read(&name)? {
            None => Ok(Vec::new()),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| CredentialError::InvalidEntry {
                    entry: name,
                    reason: e.to_string(),
                })
            }
        }
    }

    pub fn save_known_clinics(
        &self,
        server: &str,
        user_id: Uuid,
        clinics: &[Uuid],
    ) -> Result<(), CredentialError> {
        let name = known_clinics_entry_name(server, user_id);
        let value = serde_json::to_vec(clinics).map_err(|e| CredentialError::InvalidEntry {
            entry: name.clone(),
            reason: e.to_string(),
        })?;
        self.write(&name, &value)
    }

    /// Forgets everything of this service: sessions are per user, so the caller names them.
    pub fn forget_known_clinics(&self, server: &str, user_id: Uuid) -> Result<(), CredentialError> {
        self.delete(&known_clinics_entry_name(server, user_id))
    }

    pub fn save_partition_key(
        &self,
        clinic_id: Uuid,
        key: &PartitionKey,
    ) -> Result<(), CredentialError> {
        self.write(
            &partition_key_entry_name(clinic_id),
            key.to_hex().as_bytes(),
        )
    }

    pub fn partition_key(&self, clinic_id: Uuid) -> Result<Option<PartitionKey>, CredentialError> {
        let name = partition_key_entry_name(clinic_id);
        match self.read(&name)? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(PartitionKey::from_hex)
                .map(Some)
                .ok_or(CredentialError::InvalidEntry {
                    entry: name,
                    reason: "not a 64-digit hex key".to_owned(),
                }),
        }
    }

    /// The clinic's key, generating and storing a new one on first use.
    pub fn partition_key_or_create(
        &self,
        clinic_id: Uuid,
    ) -> Result<PartitionKey, CredentialError> {
        if let Some(key) = self.partition_key(clinic_id)? {
            return Ok(key);
        }
        let key = PartitionKey::generate();
        self.save_partition_key(clinic_id, &key)?;
        Ok(key)
    }

    /// Forgets a clinic's key; do this together with wiping its partition.
    pub fn delete_partition_key(&self, clinic_id: Uuid) -> Result<(), CredentialError> {
        self.delete(&partition_key_entry_name(clinic_id))
    }

    fn entry(&self, name: &str) -> Result<Entry, CredentialError> {
        Ok(Entry::new(&self.service, name)?)
    }

    fn write(&self, name: &str, value: &[u8]) -> Result<(), CredentialError> {
        check_size(name, value)?;
        Ok(self.entry(name)?.set_secret(value)?)
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, CredentialError> {
        match self.entry(name)?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Deleting an entry that does not exist is not an error: the outcome is the same.
    fn delete(&self, name: &str) -> Result<(), CredentialError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests;
