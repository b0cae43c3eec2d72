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
use vaidya_shared::api::{Membership, Role, Session};
use vaidya_shared::authorship::DeviceSigner;

use crate::partition::{PartitionKey, PasswordKey};

/// Keyring service name of the desktop app. Tests use their own, unique one.
pub const DEFAULT_SERVICE: &str = "in.vaidya.desktop";

/// Keyring service name of a clinic hub's credentials (`vaidya-server hub`).
pub const HUB_SERVICE: &str = "in.vaidya.hub";

/// What a clinic hub machine keeps to reach the group server as the hub: its only
/// credential is the refresh token (a hub has no password), which it gets when a doctor
/// approves it; until then the registration alone.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HubCredential {
    pub server: String,
    pub clinic_id: Uuid,
    pub hub_id: Uuid,
    pub name: String,
    pub refresh_token: Option<String>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// The hub's TLS identity on the clinic's network: its certificate and private key
    /// (DER, base64), made at registration; the certificate's SHA-256 is pinned with the
    /// group server. Absent for a hub registered before hubs served TLS.
    #[serde(default)]
    pub tls: Option<HubTls>,
}

/// A clinic hub's TLS certificate and key (DER, base64 standard).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HubTls {
    pub certificate: String,
    pub private_key: String,
}

impl std::fmt::Debug for HubTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubTls").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for HubCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubCredential")
            .field("server", &self.server)
            .field("clinic_id", &self.clinic_id)
            .field("hub_id", &self.hub_id)
            .field("name", &self.name)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

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
    /// this user may unlock offline. Kept in entries of their own beside the session
    /// ([`CredentialStore::save_session`]), so a member of hundreds of clinics fits Windows'
    /// limit; read from the session entry itself when an older version wrote it there.
    #[serde(default, skip_serializing)]
    pub clinic_ids: Vec<Uuid>,
    /// The latest time known to be real: the server's clock at the last online sign-in, or
    /// the local clock at a later offline unlock. A local clock well before it has been
    /// turned back (see `session::CLOCK_TOLERANCE`).
    #[serde(default)]
    pub last_known_time: Option<DateTime<Utc>>,
    /// The user's name as the server knows it (shown offline), at most
    /// [`MAX_STORED_NAME_CHARS`] characters.
    #[serde(default)]
    pub display_name: String,
    /// Clinic names and roles of the memberships at the last online sign-in, so an offline
    /// start shows the right clinics and screens. Shrunk (names shortened, groups dropped,
    /// at worst left out) so the entry stays within [`MAX_ENTRY_BYTES`].
    #[serde(default)]
    pub memberships: Vec<StoredMembership>,
    /// An Argon2id hash of the user's password (PHC string), made at their last online
    /// sign-in, so they can sign in again on this PC without the network, with their
    /// password, while the lease lasts (a colleague took the PC in between). Never the
    /// password itself.
    #[serde(default)]
    pub password_verifier: Option<String>,
    /// Wrong passwords given offline since the last good one. At
    /// [`MAX_OFFLINE_PASSWORD_FAILURES`] the offline sign-in is closed until the user signs
    /// in online (where the server's throttle applies), so the verifier cannot be guessed at
    /// leisure on the PC.
    #[serde(default)]
    pub offline_failures: u32,
}

/// Wrong offline passwords allowed before an online sign-in is required.
pub const MAX_OFFLINE_PASSWORD_FAILURES: u32 = 5;

/// Longest clinic, group or user name kept in the keyring entry (longer ones end in `…`).
pub const MAX_STORED_NAME_CHARS: usize = 48;

/// Bytes kept free in a session entry for what is set after it is built (the last known time).
const SESSION_ENTRY_SLACK: usize = 96;

/// One membership as kept with the session: short keys, since the entry is size-limited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMembership {
    #[serde(rename = "c")]
    pub clinic_id: Uuid,
    #[serde(rename = "r")]
    pub role: Role,
    #[serde(rename = "n", default)]
    pub clinic_name: String,
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Uuid>,
    #[serde(rename = "gn", default, skip_serializing_if = "String::is_empty")]
    pub group_name: String,
}

impl StoredMembership {
    pub fn from_membership(m: &Membership) -> StoredMembership {
        StoredMembership {
            clinic_id: m.clinic_id,
            role: m.role,
            clinic_name: truncate_chars(&m.clinic_name, MAX_STORED_NAME_CHARS),
            group_id: Some(m.group_id),
            group_name: truncate_chars(&m.group_name, MAX_STORED_NAME_CHARS),
        }
    }

    /// The membership as the UI shows it; a name that had to be dropped reads
    /// "Clinic 1a2b3c4d".
    pub fn to_membership(&self) -> Membership {
        Membership {
            clinic_id: self.clinic_id,
            clinic_name: if self.clinic_name.is_empty() {
                format!("Clinic {}", &self.clinic_id.to_string()[..8])
            } else {
                self.clinic_name.clone()
            },
            group_id: self.group_id.unwrap_or(Uuid::nil()),
            group_name: self.group_name.clone(),
            role: self.role,
        }
    }
}

/// At most `max` characters (never cutting a character in half); `…` marks a cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
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
            display_name: truncate_chars(&session.user.display_name, MAX_STORED_NAME_CHARS),
            memberships: session
                .memberships
                .iter()
                .map(StoredMembership::from_membership)
                .collect(),
            password_verifier: None,
            offline_failures: 0,
        }
        .fitted()
    }

    /// What to keep after a token refresh of this session: the server's new session, with
    /// this one's password verifier (only a sign-in with the password makes a new one; it
    /// lets the member sign in offline) and the latest time known to be real.
    pub fn refreshed(
        &self,
        session: &Session,
        server_time: Option<DateTime<Utc>>,
    ) -> StoredSession {
        let mut next = StoredSession::from_session(&self.server, session)
            .with_verifier(self.password_verifier.clone());
        next.last_known_time = self.last_known_time.max(server_time);
        next
    }

    /// The session with this password verifier, shrunk again to fit the entry.
    pub fn with_verifier(mut self, verifier: Option<String>) -> StoredSession {
        self.password_verifier = verifier;
        self.fitted()
    }

    fn entry_size(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |v| v.len())
    }

    /// Shrinks what is kept for display until the entry fits the keyring's limit (with room
    /// for the last known time): shorter names, then no groups, then no names, then no
    /// memberships at all (the clinic ids, which unlock the partitions, always stay: they
    /// are stored apart).
    pub fn fitted(mut self) -> StoredSession {
        let budget = MAX_ENTRY_BYTES - SESSION_ENTRY_SLACK;
        let steps: [&dyn Fn(&mut StoredMembership); 4] = [
            &|m| m.clinic_name = truncate_chars(&m.clinic_name, 24),
            &|m| {
                m.group_id = None;
                m.group_name.clear();
            },
            &|m| m.clinic_name = truncate_chars(&m.clinic_name, 10),
            &|m| m.clinic_name.clear(),
        ];
        for step in steps {
            if self.entry_size() <= budget {
                return self;
            }
            self.memberships.iter_mut().for_each(step);
        }
        if self.entry_size() > budget {
            self.memberships.clear();
        }
        self
    }

    /// The memberships kept with the session, as the UI shows them.
    pub fn membership_list(&self) -> Vec<Membership> {
        self.memberships
            .iter()
            .filter(|m| self.clinic_ids.contains(&m.clinic_id))
            .map(StoredMembership::to_membership)
            .collect()
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
            .field("display_name", &self.display_name)
            .field("memberships", &self.memberships)
            .finish()
    }
}

fn normalize_server(server: &str) -> String {
    server.trim().trim_end_matches('/').to_owned()
}

fn session_entry_name(server: &str, user_id: Uuid) -> String {
    format!("session:{}:{user_id}", normalize_server(server))
}

/// A signing key as its keyring entry holds it.
#[derive(Serialize, Deserialize)]
struct StoredSigningKey {
    key_id: Uuid,
    secret: String,
}

fn signing_key_entry_name(server: &str, user_id: Uuid) -> String {
    format!("signing:{}:{user_id}", normalize_server(server))
}

fn password_key_entry_name(server: &str, user_id: Uuid) -> String {
    format!("clinical:{}:{user_id}", normalize_server(server))
}

fn device_token_entry_name(server: &str, email: &str) -> String {
    format!(
        "device:{}:{}",
        normalize_server(server),
        email.trim().to_lowercase()
    )
}

fn offline_user_entry_name(server: &str, email: &str) -> String {
    format!(
        "offline-user:{}:{}",
        normalize_server(server),
        email.trim().to_lowercase()
    )
}

fn known_clinics_entry_name(server: &str, user_id: Uuid) -> String {
    format!("clinics:{}:{user_id}", normalize_server(server))
}

fn session_clinics_entry_name(server: &str, user_id: Uuid) -> String {
    format!("session-clinics:{}:{user_id}", normalize_server(server))
}

/// Ids per entry of a list kept over several entries: 60 × 39 bytes (a quoted id and its
/// comma) stays well inside [`MAX_ENTRY_BYTES`].
const IDS_PER_ENTRY: usize = 60;

/// The entry that names a list's parts. Each write makes a new generation of parts and
/// then points here at it, so a reader never sees half of one write and half of another.
#[derive(Serialize, Deserialize)]
struct ListHeader {
    generation: String,
    parts: usize,
}

/// What a list's entry holds: a header, or (written by older versions) the ids themselves.
#[derive(Deserialize)]
#[serde(untagged)]
enum ListEntry {
    Header(ListHeader),
    Inline(Vec<Uuid>),
}

fn list_part_name(name: &str, generation: &str, part: usize) -> String {
    format!("{name}#{generation}.{part}")
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

fn hub_entry_name(clinic_id: Uuid) -> String {
    format!("hub:{clinic_id}")
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

    /// Stores (or replaces) the session of `session.user_id` on `session.server`: its
    /// clinic ids first (entries of their own, as many as they need), then the session.
    pub fn save_session(&self, session: &StoredSession) -> Result<(), CredentialError> {
        self.write_id_list(
            &session_clinics_entry_name(&session.server, session.user_id),
            &session.clinic_ids,
        )?;
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
        let Some(mut session) =
            self.read_json::<StoredSession>(&session_entry_name(server, user_id))?
        else {
            return Ok(None);
        };
        // An older version kept the ids in the session entry itself.
        if session.clinic_ids.is_empty() {
            session.clinic_ids = self
                .read_id_list(&session_clinics_entry_name(server, user_id))?
                .unwrap_or_default();
        }
        Ok(Some(session))
    }

    /// Removes everything kept for this user on this server (the session entry with its
    /// refresh token and lease, and its clinic ids), so the partitions stay locked until the
    /// next online sign-in.
    pub fn sign_out(&self, server: &str, user_id: Uuid) -> Result<(), CredentialError> {
        self.delete_password_key(server, user_id)?;
        self.delete(&session_entry_name(server, user_id))?;
        self.delete_id_list(&session_clinics_entry_name(server, user_id))
    }

    /// Locks the user's session on sign-out without ending their offline lease: the refresh
    /// token goes (the next online start needs the password), the lease, clinics and
    /// password verifier stay, so the user can sign in again here offline, with their
    /// password, after a colleague used the PC.
    pub fn lock_session(&self, server: &str, user_id: Uuid) -> Result<(), CredentialError> {
        // Like the refresh token, the key that opens their clinical stores goes: only their
        // password derives it again.
        self.delete_password_key(server, user_id)?;
        match self.session(server, user_id)? {
            Some(mut session) => {
                session.refresh_token.clear();
                self.save_session(&session)
            }
            None => Ok(()),
        }
    }

    /// Remembers which user an email is on this PC, for an offline sign-in by email.
    pub fn save_offline_user(
        &self,
        server: &str,
        email: &str,
        user_id: Uuid,
    ) -> Result<(), CredentialError> {
        self.write(
            &offline_user_entry_name(server, email),
            user_id.to_string().as_bytes(),
        )
    }

    /// The user an email signed in as on this PC, if any.
    pub fn offline_user(&self, server: &str, email: &str) -> Result<Option<Uuid>, CredentialError> {
        let name = offline_user_entry_name(server, email);
        match self.read(&name)? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or(CredentialError::InvalidEntry {
                    entry: name,
                    reason: "not a user id".to_owned(),
                }),
        }
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
        self.read_json(ACTIVE_ENTRY)
    }

    pub fn clear_active(&self) -> Result<(), CredentialError> {
        self.delete(ACTIVE_ENTRY)
    }

    /// Clinics whose partitions this user has had on this device. Kept across sign-out,
    /// so a membership revoked while signed out is still noticed at the next sign-in.
    pub fn known_clinics(&self, server: &str, user_id: Uuid) -> Result<Vec<Uuid>, CredentialError> {
        Ok(self
            .read_id_list(&known_clinics_entry_name(server, user_id))?
            .unwrap_or_default())
    }

    pub fn save_known_clinics(
        &self,
        server: &str,
        user_id: Uuid,
        clinics: &[Uuid],
    ) -> Result<(), CredentialError> {
        self.write_id_list(&known_clinics_entry_name(server, user_id), clinics)
    }

    /// Forgets everything of this service: sessions are per user, so the caller names them.
    pub fn forget_known_clinics(&self, server: &str, user_id: Uuid) -> Result<(), CredentialError> {
        self.delete_id_list(&known_clinics_entry_name(server, user_id))
    }

    /// This device's token for an account (see `LoginRequest::device_token`). Kept across
    /// sign-out: it is what makes this computer a known device of the account.
    pub fn device_token(
        &self,
        server: &str,
        email: &str,
    ) -> Result<Option<String>, CredentialError> {
        let name = device_token_entry_name(server, email);
        match self.read(&name)? {
            None => Ok(None),
            Some(bytes) => {
                String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|e| CredentialError::InvalidEntry {
                        entry: name,
                        reason: e.to_string(),
                    })
            }
        }
    }

    pub fn save_device_token(
        &self,
        server: &str,
        email: &str,
        token: &str,
    ) -> Result<(), CredentialError> {
        self.write(&device_token_entry_name(server, email), token.as_bytes())
    }

    /// This user's signing key on this device (see `vaidya_shared::authorship`): the key id
    /// and the secret, only in this user's keyring entry.
    pub fn signing_key(
        &self,
        server: &str,
        user_id: Uuid,
    ) -> Result<Option<DeviceSigner>, CredentialError> {
        let name = signing_key_entry_name(server, user_id);
        let Some(stored) = self.read_json::<StoredSigningKey>(&name)? else {
            return Ok(None);
        };
        let invalid = |reason: String| CredentialError::InvalidEntry {
            entry: name.clone(),
            reason,
        };
        let secret = <[u8; 32]>::try_from(
            hex::decode(&stored.secret)
                .map_err(|e| invalid(e.to_string()))?
                .as_slice(),
        )
        .map_err(|_| invalid("not a 32-byte key".to_owned()))?;
        Ok(Some(DeviceSigner::from_secret(
            user_id,
            stored.key_id,
            secret,
        )))
    }

    pub fn save_signing_key(
        &self,
        server: &str,
        key: &DeviceSigner,
    ) -> Result<(), CredentialError> {
        let name = signing_key_entry_name(server, key.user_id);
        let value = serde_json::to_vec(&StoredSigningKey {
            key_id: key.key_id,
            secret: hex::encode(key.secret()),
        })
        .map_err(|e| CredentialError::InvalidEntry {
            entry: name.clone(),
            reason: e.to_string(),
        })?;
        self.write(&name, &value)
    }

    /// Forgets this user's signing key on this device (they are no longer a member of any
    /// clinic here; a new key is made if they come back).
    pub fn delete_signing_key(&self, server: &str, user_id: Uuid) -> Result<(), CredentialError> {
        self.delete(&signing_key_entry_name(server, user_id))
    }

    /// The active session's password key (`partition::PasswordKey`), which unwraps the
    /// clinical store keys of this user's clinic files here. Kept only while the user's
    /// session is the one an app restart resumes; [`lock_session`](Self::lock_session) and
    /// [`sign_out`](Self::sign_out) delete it, so a colleague who signs in next finds no way
    /// into the clinical stores in the keyring.
    pub fn password_key(
        &self,
        server: &str,
        user_id: Uuid,
    ) -> Result<Option<PasswordKey>, CredentialError> {
        let name = password_key_entry_name(server, user_id);
        match self.read(&name)? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(PasswordKey::from_hex)
                .map(Some)
                .ok_or(CredentialError::InvalidEntry {
                    entry: name,
                    reason: "not a 64-digit hex key".to_owned(),
                }),
        }
    }

    pub fn save_password_key(
        &self,
        server: &str,
        user_id: Uuid,
        key: &PasswordKey,
    ) -> Result<(), CredentialError> {
        self.write(
            &password_key_entry_name(server, user_id),
            key.to_hex().as_bytes(),
        )
    }

    pub fn delete_password_key(&self, server: &str, user_id: Uuid) -> Result<(), CredentialError> {
        self.delete(&password_key_entry_name(server, user_id))
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

    /// Keeps a clinic hub's credential (issue 11), on the hub machine: one per clinic it is
    /// the hub of. Saved again at every refresh, since the server rotates the token.
    pub fn save_hub_credential(&self, hub: &HubCredential) -> Result<(), CredentialError> {
        let name = hub_entry_name(hub.clinic_id);
        let value = serde_json::to_vec(hub).map_err(|e| CredentialError::InvalidEntry {
            entry: name.clone(),
            reason: e.to_string(),
        })?;
        self.write(&name, &value)
    }

    pub fn hub_credential(
        &self,
        clinic_id: Uuid,
    ) -> Result<Option<HubCredential>, CredentialError> {
        self.read_json(&hub_entry_name(clinic_id))
    }

    pub fn delete_hub_credential(&self, clinic_id: Uuid) -> Result<(), CredentialError> {
        self.delete(&hub_entry_name(clinic_id))
    }

    /// Forgets a clinic's key; do this together with wiping its partition.
    pub fn delete_partition_key(&self, clinic_id: Uuid) -> Result<(), CredentialError> {
        self.delete(&partition_key_entry_name(clinic_id))
    }

    /// Stores `ids` under `name`, over as many entries as they need (see [`ListHeader`]):
    /// the new parts, then the header pointing at them, then the old parts go.
    fn write_id_list(&self, name: &str, ids: &[Uuid]) -> Result<(), CredentialError> {
        let old = self.list_header(name)?;
        let generation = Uuid::new_v4().simple().to_string()[..8].to_owned();
        let parts: Vec<&[Uuid]> = ids.chunks(IDS_PER_ENTRY).collect();
        for (i, part) in parts.iter().enumerate() {
            let value = serde_json::to_vec(part).expect("ids serialize");
            self.write(&list_part_name(name, &generation, i), &value)?;
        }
        let header = ListHeader {
            generation,
            parts: parts.len(),
        };
        self.write(
            name,
            &serde_json::to_vec(&header).expect("header serializes"),
        )?;
        if let Some(old) = old {
            for i in 0..old.parts {
                self.delete(&list_part_name(name, &old.generation, i))?;
            }
        }
        Ok(())
    }

    /// The ids stored under `name`, `None` when there is no list.
    fn read_id_list(&self, name: &str) -> Result<Option<Vec<Uuid>>, CredentialError> {
        let invalid = |reason: String| CredentialError::InvalidEntry {
            entry: name.to_owned(),
            reason,
        };
        let header = match self.read_json(name)? {
            None => return Ok(None),
            Some(ListEntry::Inline(ids)) => return Ok(Some(ids)),
            Some(ListEntry::Header(header)) => header,
        };
        let mut ids = Vec::new();
        for i in 0..header.parts {
            let part = list_part_name(name, &header.generation, i);
            let chunk: Vec<Uuid> = self
                .read_json(&part)?
                .ok_or_else(|| invalid(format!("part {part} is missing")))?;
            ids.extend(chunk);
        }
        Ok(Some(ids))
    }

    fn delete_id_list(&self, name: &str) -> Result<(), CredentialError> {
        if let Some(header) = self.list_header(name)? {
            for i in 0..header.parts {
                self.delete(&list_part_name(name, &header.generation, i))?;
            }
        }
        self.delete(name)
    }

    fn list_header(&self, name: &str) -> Result<Option<ListHeader>, CredentialError> {
        Ok(match self.read_json(name)? {
            Some(ListEntry::Header(header)) => Some(header),
            _ => None,
        })
    }

    /// On Linux, an entry over the process's one Secret Service connection (see
    /// [`secret_service`]); elsewhere keyring's native store.
    fn entry(&self, name: &str) -> Result<Entry, CredentialError> {
        #[cfg(target_os = "linux")]
        return Ok(Entry::new_with_credential(Box::new(
            secret_service::SharedSsCredential::new(&self.service, name),
        )));
        #[cfg(not(target_os = "linux"))]
        return Ok(Entry::new(&self.service, name)?);
    }

    fn write(&self, name: &str, value: &[u8]) -> Result<(), CredentialError> {
        check_size(name, value)?;
        Ok(self.entry(name)?.set_secret(value)?)
    }

    /// A JSON entry, `None` when there is none; one that does not parse is `InvalidEntry`.
    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, CredentialError> {
        let Some(bytes) = self.read(name)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CredentialError::InvalidEntry {
                entry: name.to_owned(),
                reason: e.to_string(),
            })
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

#[cfg(target_os = "linux")]
mod secret_service;
#[cfg(test)]
mod tests;
