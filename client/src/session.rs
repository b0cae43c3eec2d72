//! Signing in and unlocking: an online sign-in against the server, or an offline start
//! from the keyring-held session while its lease lasts; which partitions the user may open;
//! and, when a member loses their place in a clinic, removing what was theirs on this PC
//! (and reporting that to the clinic's audit trail).
//!
//! Clock rules (a clinic PC's clock is not trusted):
//! - The lease is an absolute instant chosen by the server. A clock set far ahead only makes
//!   the lease look expired (locked, never extended); nothing is computed as "now + TTL" on
//!   the device.
//! - The keyring session remembers the latest time known to be real (the server's `Date` at
//!   the last online sign-in, or the local clock at a later offline unlock). A local clock
//!   more than [`CLOCK_TOLERANCE`] before it has been turned back, which would stretch the
//!   lease, so an offline start refuses with [`SessionError::ClockBehind`] until the server
//!   is reached again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use uuid::Uuid;
use vaidya_shared::api::{DeviceWipe, Membership, Session, WipeScope};

use crate::api::{ApiError, ServerApi};
use crate::credentials::{ActiveSession, CredentialError, CredentialStore, StoredSession};
use crate::partition::{
    ClinicPartition, ClinicalKey, DataDir, OpenCheck, PartitionError, PasswordKey,
};
use crate::sync::SyncEngine;
use crate::wipes;
use vaidya_shared::authorship::DeviceSigner;
use vaidya_shared::rules::permissions::opens_clinical_store;
use vaidya_shared::ErrorCode;

/// The one clock tolerance, shared with the server (`rules::clock`).
pub use vaidya_shared::rules::clock::CLOCK_TOLERANCE;

/// The time source; tests move it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Partition(#[from] PartitionError),
    #[error("nobody is signed in on this device")]
    NotSignedIn,
    #[error("the offline sign-in ended at {until}; connect to the server to sign in again")]
    LeaseExpired { until: DateTime<Utc> },
    #[error("this computer's clock ({now}) is behind the last known time ({known}); fix the clock or connect to the server")]
    ClockBehind {
        now: DateTime<Utc>,
        known: DateTime<Utc>,
    },
    #[error("you are not a member of clinic {0}")]
    NotAMember(Uuid),
    #[error("the email or password is wrong")]
    WrongPassword,
    #[error("too many wrong passwords on this computer; connect to the server to sign in")]
    OfflineLocked,
    #[error("{0} has not signed in online on this computer yet; connect to the server to sign in")]
    NoOfflineSession(String),
    #[error("file system error: {0}")]
    Io(#[from] std::io::Error),
}

impl SessionError {
    /// Stable machine-readable code; never renamed once shipped.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Api(e) => e.code(),
            SessionError::Credentials(e) => e.code(),
            SessionError::Partition(e) => e.code(),
            SessionError::NotSignedIn => "not_signed_in",
            SessionError::LeaseExpired { .. } => "lease_expired",
            SessionError::ClockBehind { .. } => "clock_behind",
            SessionError::NotAMember(_) => "not_a_member",
            SessionError::WrongPassword => "invalid_credentials",
            SessionError::OfflineLocked => "too_many_attempts",
            SessionError::NoOfflineSession(_) => "no_offline_session",
            SessionError::Io(_) => "io",
        }
    }
}

/// Where a client keeps things and which server it talks to.
#[derive(Clone)]
pub struct ClientConfig {
    pub server: String,
    pub data_dir: DataDir,
    pub credentials: CredentialStore,
    pub clock: Clock,
}

impl ClientConfig {
    pub fn new(server: &str, data_dir: DataDir, credentials: CredentialStore) -> ClientConfig {
        ClientConfig {
            server: server.trim().trim_end_matches('/').to_owned(),
            data_dir,
            credentials,
            clock: system_clock(),
        }
    }

    /// A random id for this installation, kept beside the partitions (not a secret; it
    /// names the device in the server's audit trail).
    pub fn device_name(&self) -> Result<String, SessionError> {
        let path = self.data_dir.root().join("device-id");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let text = text.trim();
            if text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit()) {
                return Ok(format!("vaidya-{text}"));
            }
        }
        std::fs::create_dir_all(self.data_dir.root())?;
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        std::fs::write(&path, &id)?;
        Ok(format!("vaidya-{id}"))
    }
}

/// How the client was unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Signed in against the server in this run.
    Online,
    /// Unlocked from the keyring-held session; the server was not reached.
    Offline,
}

/// A signed-in (or offline-unlocked) user on this device.
pub struct Client {
    config: ClientConfig,
    api: ServerApi,
    user_id: Uuid,
    email: String,
    display_name: String,
    clinics: Vec<Uuid>,
    memberships: Vec<Membership>,
    mode: Mode,
    lease_until: DateTime<Utc>,
    /// This user's signing key on this device: every change they make is signed with it.
    signer: Option<DeviceSigner>,
    /// The key derived from this user's password that unwraps their clinical store keys
    /// (`partition::clinical_store`); `None` when they have not given their password since
    /// their last sign-out.
    password_key: Option<PasswordKey>,
    /// Clinical store keys fetched from the server in this run, by clinic: they open the
    /// store for a clinician who resumed without giving their password (no password key to
    /// unwrap with). Never stored unwrapped.
    clinical_keys: std::collections::HashMap<Uuid, ClinicalKey>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.config.server)
            .field("user_id", &self.user_id)
            .field("clinics", &self.clinics)
            .field("mode", &self.mode)
            .finish()
    }
}

/// Going online in the background for a client started offline from the keyring
/// ([`Client::reconnect`]): the same steps as [`Client::resume`], split where the caller
/// may need to act (close a clinic the user lost) between the refresh and the rest.
///
/// It works on the client's own API, shared with every sync engine that client made, so
/// the fresh access token reaches them. A sync engine that meets a 401 meanwhile presents
/// the same kept refresh token; the server answers a token presented again within its grace
/// period with the same rotated pair (migration 0008), so no rotated token is lost.
#[derive(Clone)]
pub struct Reconnect {
    config: ClientConfig,
    api: ServerApi,
    user_id: Uuid,
}

impl Reconnect {
    /// Trades the kept refresh token for a fresh session. `Ok(None)`: nothing to refresh
    /// (signed in offline with a password). A refusal signs the session out on this PC and
    /// answers `Unauthenticated`, as [`Client::resume`] does.
    pub async fn refresh(&self) -> Result<Option<Session>, SessionError> {
        let stored = self
            .config
            .credentials
            .session(&self.config.server, self.user_id)?
            .ok_or(SessionError::NotSignedIn)?;
        if stored.refresh_token.is_empty() {
            return Ok(None);
        }
        Client::refresh_kept(&self.config, &self.api, &stored)
            .await
            .map(Some)
    }

    /// The online client, from the session [`Reconnect::refresh`] gave.
    pub async fn finish(self, session: Session) -> Result<Client, SessionError> {
        Client::resumed_online(self.config, self.api, session).await
    }
}

impl Client {
    fn api_for(config: &ClientConfig) -> Result<ServerApi, SessionError> {
        Ok(ServerApi::new(&config.server, &config.device_name()?)?)
    }

    /// Signs in online with email and password.
    pub async fn sign_in(
        config: ClientConfig,
        email: &str,
        password: &str,
    ) -> Result<Client, SessionError> {
        let api = Client::api_for(&config)?;
        let known = config.credentials.device_token(&config.server, email)?;
        let session = api
            .login_from_device(email, password, known.as_deref())
            .await?;
        if let Some(token) = &session.device_token {
            if known.as_deref() != Some(token) {
                config
                    .credentials
                    .save_device_token(&config.server, email, token)?;
            }
        }
        let verifier = Client::password_verifier(password).await?;
        let password_key = Client::derive_password_key(password, session.user.id).await?;
        config
            .credentials
            .save_offline_user(&config.server, email, session.user.id)?;
        let mut client = Client::after_online(config, api, session, Some(verifier))?;
        client.keep_password_key(password_key)?;
        client.online_start_checks().await
    }

    /// An Argon2id verifier of the password (never the password), kept with the session so
    /// the user can sign in again here offline after a colleague used the PC. Hashed off the
    /// async workers (it takes tens of milliseconds).
    async fn password_verifier(password: &str) -> Result<String, SessionError> {
        let password = password.to_owned();
        Ok(
            tokio::task::spawn_blocking(move || vaidya_shared::password::hash(&password))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        )
    }

    /// The key that unwraps this user's clinical store keys (see `clinical_store`), derived
    /// off the async workers like the verifier.
    async fn derive_password_key(password: &str, user: Uuid) -> Result<PasswordKey, SessionError> {
        let password = password.to_owned();
        Ok(
            tokio::task::spawn_blocking(move || PasswordKey::derive(&password, user))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        )
    }

    /// Keeps the password key for this session, and in the keyring while this session is
    /// the active one (an app restart resumes it; sign-out deletes it).
    fn keep_password_key(&mut self, key: PasswordKey) -> Result<(), SessionError> {
        self.config
            .credentials
            .save_password_key(&self.config.server, self.user_id, &key)?;
        self.password_key = Some(key);
        Ok(())
    }

    /// Signs in without the network: the user signed in online on this PC before (their
    /// lease, clinics and password verifier are in the keyring) and gives their password
    /// again. The lease and clock rules of an offline start apply.
    pub async fn sign_in_offline(
        config: ClientConfig,
        email: &str,
        password: &str,
    ) -> Result<Client, SessionError> {
        let creds = &config.credentials;
        let unknown = || SessionError::NoOfflineSession(email.trim().to_owned());
        let user = creds
            .offline_user(&config.server, email)?
            .ok_or_else(unknown)?;
        let mut stored = creds.session(&config.server, user)?.ok_or_else(unknown)?;
        let verifier = stored.password_verifier.clone().ok_or_else(unknown)?;
        if stored.offline_failures >= crate::credentials::MAX_OFFLINE_PASSWORD_FAILURES {
            return Err(SessionError::OfflineLocked);
        }
        let given = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            vaidya_shared::password::verify(&given, Some(&verifier))
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        if !ok {
            // Counted before answering, so a crash cannot hand out free guesses.
            stored.offline_failures += 1;
            creds.save_session(&stored)?;
            return Err(SessionError::WrongPassword);
        }
        if stored.offline_failures > 0 {
            stored.offline_failures = 0;
            creds.save_session(&stored)?;
        }
        let password_key = Client::derive_password_key(password, user).await?;
        let api = Client::api_for(&config)?;
        let mut client = Client::unlock_offline(config, api, stored)?;
        client.keep_password_key(password_key)?;
        Client::hand_over(&client.config, client.user_id)?;
        client.config.credentials.set_active(&ActiveSession {
            server: client.config.server.clone(),
            user_id: client.user_id,
        })?;
        Ok(client)
    }

    /// Starts from the session kept in the keyring: refreshes it online when the server
    /// answers, and otherwise unlocks offline while the lease lasts.
    pub async fn resume(config: ClientConfig) -> Result<Client, SessionError> {
        let active = config
            .credentials
            .active()?
            .filter(|a| a.server == config.server)
            .ok_or(SessionError::NotSignedIn)?;
        let stored = config
            .credentials
            .session(&config.server, active.user_id)?
            .ok_or(SessionError::NotSignedIn)?;
        let api = Client::api_for(&config)?;
        if stored.refresh_token.is_empty() {
            // Signed in offline with a password (no server session to refresh): the same
            // offline start as before the restart; the status bar asks for the password when
            // the server answers.
            return Client::unlock_offline(config, api, stored);
        }
        match Client::refresh_kept(&config, &api, &stored).await {
            Ok(session) => Client::resumed_online(config, api, session).await,
            Err(SessionError::Api(e)) if e.is_retryable() => {
                Client::unlock_offline(config, api, stored)
            }
            Err(e) => Err(e),
        }
    }

    /// Trades the keyring-held refresh token for a fresh session, and keeps the rotated
    /// token at once: whatever happens next (a crash, a failed step of the resume), the
    /// keyring never holds a token the server has replaced. A refusal ends the session on
    /// this PC (its keyring entry is signed out) and answers `Unauthenticated`.
    async fn refresh_kept(
        config: &ClientConfig,
        api: &ServerApi,
        stored: &StoredSession,
    ) -> Result<Session, SessionError> {
        match api.refresh(&stored.refresh_token).await {
            Ok(session) => {
                config
                    .credentials
                    .save_session(&stored.refreshed(&session, api.server_time()))?;
                Ok(session)
            }
            Err(ApiError::Server {
                code: ErrorCode::Unauthenticated,
                ..
            }) => {
                config
                    .credentials
                    .sign_out(&config.server, stored.user_id)?;
                Err(SessionError::Api(ApiError::Unauthenticated))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The rest of an online resume once the refresh has answered: the session kept, this
    /// device's key checked, clinical keys, colleagues revoked while away, wipe reports.
    async fn resumed_online(
        config: ClientConfig,
        api: ServerApi,
        session: Session,
    ) -> Result<Client, SessionError> {
        Client::after_online(config, api, session, None)?
            .online_start_checks()
            .await
    }

    /// What every online start does once the session is kept, sign-in or resume alike:
    /// this device's key checked with the server, clinical keys, colleagues revoked while
    /// away, and the wipe reports.
    async fn online_start_checks(self) -> Result<Client, SessionError> {
        self.ensure_signer()
            .await?
            .ensure_clinical_keys()
            .await
            .forget_revoked_colleagues()
            .await?
            .report_wipes()
            .await
    }

    /// What going online takes for a session started offline from the keyring
    /// ([`Client::start_offline`]) so that the app could show it at once; the app keeps
    /// using this client meanwhile.
    pub fn reconnect(&self) -> Reconnect {
        Reconnect {
            config: self.config.clone(),
            api: self.api.clone(),
            user_id: self.user_id,
        }
    }

    /// Unlocks from the keyring without trying the network.
    pub fn start_offline(config: ClientConfig) -> Result<Client, SessionError> {
        let active = config
            .credentials
            .active()?
            .filter(|a| a.server == config.server)
            .ok_or(SessionError::NotSignedIn)?;
        let stored = config
            .credentials
            .session(&config.server, active.user_id)?
            .ok_or(SessionError::NotSignedIn)?;
        let api = Client::api_for(&config)?;
        Client::unlock_offline(config, api, stored)
    }

    fn unlock_offline(
        config: ClientConfig,
        api: ServerApi,
        mut stored: StoredSession,
    ) -> Result<Client, SessionError> {
        let now = (config.clock)();
        if let Some(known) = stored.last_known_time {
            if now + CLOCK_TOLERANCE < known {
                return Err(SessionError::ClockBehind { now, known });
            }
        }
        if !stored.offline_lease_valid_at(now) {
            return Err(SessionError::LeaseExpired {
                until: stored.offline_lease_until,
            });
        }
        // Only a time inside a valid lease is remembered, so a clock set far ahead is never
        // stored as "known".
        stored.last_known_time = Some(stored.last_known_time.map_or(now, |k| k.max(now)));
        config.credentials.save_session(&stored)?;
        api.set_refresher(config.credentials.clone(), stored.user_id);
        Ok(Client {
            api,
            user_id: stored.user_id,
            email: stored.email.clone(),
            display_name: stored.display_name.clone(),
            clinics: stored.clinic_ids.clone(),
            memberships: stored.membership_list(),
            mode: Mode::Offline,
            lease_until: stored.offline_lease_until,
            signer: config
                .credentials
                .signing_key(&config.server, stored.user_id)?,
            password_key: config
                .credentials
                .password_key(&config.server, stored.user_id)?,
            clinical_keys: Default::default(),
            config,
        })
    }

    /// `user` is no longer a member of `clinic`. The clinic's file on this PC is shared: it
    /// is wiped (with its key) only when no other member uses it here and it holds nobody
    /// else's pending work; otherwise only the user and what only they could read are
    /// removed, and the others keep their cache and their unsent changes. A file that cannot
    /// be opened is left alone: it may hold someone's work, and its key stays with it.
    /// Returns what was removed, if anything.
    fn leave_clinic(
        config: &ClientConfig,
        clinic: Uuid,
        user: Uuid,
    ) -> Result<Option<WipeScope>, SessionError> {
        let creds = &config.credentials;
        let file = config.data_dir.partition_file(clinic);
        let existed = file.exists();
        let Some(key) = creds.partition_key(clinic)? else {
            // Nothing here can be read without the key: remove what is left of it.
            ClinicPartition::wipe_files(&config.data_dir, clinic)?;
            return Ok(existed.then_some(WipeScope::File));
        };
        if existed {
            let remaining = match ClinicPartition::open(&config.data_dir, clinic, &key) {
                Ok(mut partition) => partition.forget_member(user)?,
                Err(e) => {
                    tracing::warn!(%clinic, "a former clinic's file could not be opened; kept: {e}");
                    return Ok(None);
                }
            };
            if !remaining.nobody() {
                tracing::info!(%clinic, ?remaining, "former member forgotten; the clinic's file stays for the others");
                return Ok(Some(WipeScope::Member));
            }
        }
        ClinicPartition::wipe_files(&config.data_dir, clinic)?;
        creds.delete_partition_key(clinic)?;
        Ok(existed.then_some(WipeScope::File))
    }

    /// Keeps the report of a wipe beside the partitions until the server has it in the
    /// clinic's audit trail (reported at this or a later online start). The wipe is done; a
    /// report that cannot be kept is logged, never a reason to refuse a sign-in (which would
    /// repeat the wipe at every attempt).
    fn queue_wipe_report(config: &ClientConfig, clinic: Uuid, user: Uuid, scope: WipeScope) {
        let wipe = DeviceWipe {
            id: Uuid::now_v7(),
            clinic_id: clinic,
            user_id: user,
            wiped_at: (config.clock)(),
            scope,
        };
        if let Err(e) = wipes::record(&config.data_dir, &config.server, wipe) {
            tracing::error!(%clinic, "a wipe could not be queued for the audit trail: {e}");
        }
    }

    /// Colleagues who used this PC but lost their place in one of this user's clinics (an
    /// account disabled or revoked that never signs in here again): forgotten here as at
    /// their own sign-in (what only they could read leaves the file, the wipe is reported),
    /// and that clinic leaves their offline sign-in, so they cannot open it here offline.
    /// Best effort at each online start: a failure is logged and tried again next time.
    async fn forget_revoked_colleagues(self) -> Result<Client, SessionError> {
        for &clinic in &self.clinics {
            if !self.config.data_dir.partition_file(clinic).exists() {
                continue;
            }
            if let Err(e) = self.forget_revoked_in(clinic).await {
                tracing::warn!(%clinic, "revoked colleagues could not be checked: {e}");
            }
        }
        Ok(self)
    }

    async fn forget_revoked_in(&self, clinic: Uuid) -> Result<(), SessionError> {
        // Opening records this user as one of the file's members, so forgetting the others
        // never wipes a file a current member is about to use. This runs at every online
        // start, in the way of the first screen: the whole-file page check (0.2 s and more
        // at 100k patients) is left to the sync task's connection, as when a clinic opens.
        let on_pc = self
            .open_partition_with(clinic, OpenCheck::PagesAsRead)?
            .members()?;
        if on_pc.iter().all(|u| *u == self.user_id) {
            return Ok(());
        }
        let current: Vec<Uuid> = self
            .api
            .members(clinic)
            .await?
            .into_iter()
            .filter(|m| m.revoked_at.is_none())
            .map(|m| m.user.id)
            .collect();
        let creds = &self.config.credentials;
        for user in on_pc.into_iter().filter(|u| !current.contains(u)) {
            if let Some(scope) = Self::leave_clinic(&self.config, clinic, user)? {
                Self::queue_wipe_report(&self.config, clinic, user, scope);
            }
            if let Some(mut stored) = creds.session(&self.config.server, user)? {
                stored.clinic_ids.retain(|c| *c != clinic);
                stored.memberships.retain(|m| m.clinic_id != clinic);
                if stored.clinic_ids.is_empty() {
                    creds.sign_out(&self.config.server, user)?;
                    creds.delete_signing_key(&self.config.server, user)?;
                } else {
                    creds.save_session(&stored)?;
                }
            }
            tracing::info!(%clinic, %user, "a revoked colleague was forgotten on this PC");
        }
        Ok(())
    }

    /// The PC passes to `user`: a colleague's session that was still the active one is
    /// locked as at their sign-out (refresh token and password key gone; lease and verifier
    /// kept for their next offline sign-in with their password), so nothing in the keyring
    /// lets the new user act as them or open their clinical stores.
    fn hand_over(config: &ClientConfig, user: Uuid) -> Result<(), SessionError> {
        let creds = &config.credentials;
        if let Some(previous) = creds.active()? {
            if previous.server == config.server && previous.user_id != user {
                creds.lock_session(&config.server, previous.user_id)?;
            }
        }
        Ok(())
    }

    /// `verifier`: the password's, at a sign-in with the password; `None` on a refresh, which
    /// keeps the one made at the last sign-in with a password.
    fn after_online(
        config: ClientConfig,
        api: ServerApi,
        session: Session,
        verifier: Option<String>,
    ) -> Result<Client, SessionError> {
        let creds = &config.credentials;
        let verifier = match verifier {
            Some(v) => Some(v),
            None => creds
                .session(&config.server, session.user.id)?
                .and_then(|s| s.password_verifier),
        };
        let mut stored =
            StoredSession::from_session(&config.server, &session).with_verifier(verifier);
        stored.last_known_time = api.server_time();
        creds.save_session(&stored)?;
        Client::hand_over(&config, session.user.id)?;
        creds.set_active(&ActiveSession {
            server: config.server.clone(),
            user_id: session.user.id,
        })?;
        api.set_refresher(creds.clone(), session.user.id);

        // Clinics the user had here but is no longer a member of: forget the user there, and
        // wipe the clinic's file only when nobody else on this PC uses it.
        let current: Vec<Uuid> = stored.clinic_ids.clone();
        let known = creds.known_clinics(&config.server, session.user.id)?;
        for clinic in known.iter().filter(|c| !current.contains(c)) {
            if let Some(scope) = Self::leave_clinic(&config, *clinic, session.user.id)? {
                Self::queue_wipe_report(&config, *clinic, session.user.id, scope);
            }
        }
        creds.save_known_clinics(&config.server, session.user.id, &current)?;
        if current.is_empty() {
            // A member of no clinic any more: their signing key on this PC goes too (a new
            // one is made if they come back).
            creds.delete_signing_key(&config.server, session.user.id)?;
        }

        Ok(Client {
            api,
            user_id: session.user.id,
            email: session.user.email.clone(),
            display_name: session.user.display_name.clone(),
            clinics: current,
            memberships: session.memberships.clone(),
            mode: Mode::Online,
            lease_until: session.offline_lease_until,
            signer: None,
            // A refresh keeps the key of the last sign-in with the password (in the keyring
            // while that session is active); a sign-in replaces it.
            password_key: creds.password_key(&config.server, session.user.id)?,
            clinical_keys: Default::default(),
            config,
        })
    }

    /// This user's signing key on this device, if there is one.
    pub fn signer(&self) -> Option<&DeviceSigner> {
        self.signer.as_ref()
    }

    /// This user's signing key on this device, checked with the server at every online
    /// start: the stored key is registered again (idempotent) so the server knows it even
    /// after a restore; a revoked or unknown-to-keep key is replaced by a new one, registered
    /// before it is kept, so the device never signs with a key the server cannot check.
    /// Offline, the next online start does this.
    async fn ensure_signer(mut self) -> Result<Client, SessionError> {
        if self.clinics.is_empty() {
            // A member of no clinic has nothing to sign (and their key was just removed).
            return Ok(self);
        }
        let creds = &self.config.credentials;
        if let Some(key) = creds.signing_key(&self.config.server, self.user_id)? {
            match self
                .api
                .register_device_key(key.key_id, &key.public_key())
                .await
            {
                // Revoked (or its id taken): make a new key below.
                Err(ApiError::Server { .. }) => {}
                // In force, or the server could not say (unreachable): keep it.
                Ok(()) | Err(_) => {
                    self.signer = Some(key);
                    return Ok(self);
                }
            }
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let key = DeviceSigner::from_secret(self.user_id, Uuid::now_v7(), secret);
        // Without a registered key the member still works: their changes go unsigned and
        // the pushing user vouches for them. A key problem never blocks sign-in; the next
        // online start tries again.
        if self
            .api
            .register_device_key(key.key_id, &key.public_key())
            .await
            .is_ok()
        {
            creds.save_signing_key(&self.config.server, &key)?;
            self.signer = Some(key);
        }
        Ok(self)
    }

    /// Reports the wipes this PC did that the server has not recorded yet, those this user
    /// may report: their own, or a former colleague's in a clinic they are a member of.
    /// Others wait for someone who may. A report is dropped once recorded or refused for
    /// good; one the server could not take now waits for the next online start. Never
    /// blocks the sign-in.
    async fn report_wipes(self) -> Result<Client, SessionError> {
        let (data, server) = (&self.config.data_dir, &self.config.server);
        let pending = match wipes::pending(data, server) {
            Ok(pending) => pending,
            Err(e) => {
                tracing::error!("the list of wipes to report could not be read: {e}");
                return Ok(self);
            }
        };
        let mut done = Vec::new();
        for wipe in pending
            .iter()
            .filter(|w| w.user_id == self.user_id || self.clinics.contains(&w.clinic_id))
        {
            match self.api.report_wipe(wipe).await {
                Ok(()) => done.push(wipe.id),
                // Refused for good: this report can never be recorded (not a revoked
                // member's, or malformed); keeping it would only send it forever.
                Err(
                    e @ ApiError::Server {
                        code:
                            ErrorCode::Forbidden | ErrorCode::MalformedBody | ErrorCode::InvalidField,
                        ..
                    },
                ) => {
                    tracing::warn!(wipe = %wipe.id, "the server refused a wipe report: {e}");
                    done.push(wipe.id);
                }
                // Unreachable, busy, signed out meanwhile: the next online start tries again.
                Err(_) => break,
            }
        }
        if let Err(e) = wipes::remove(data, &done) {
            tracing::error!("reported wipes could not be struck off the list: {e}");
        }
        Ok(self)
    }

    pub fn api(&self) -> &ServerApi {
        &self.api
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    pub fn email(&self) -> &str {
        &self.email
    }

    /// The user's name; after an offline start, as kept with the session (may be empty
    /// for a session stored by an older version).
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn lease_until(&self) -> DateTime<Utc> {
        self.lease_until
    }

    /// Clinics this user may open.
    pub fn clinics(&self) -> &[Uuid] {
        &self.clinics
    }

    /// Memberships with names and roles: from the server when online, as kept with the
    /// session when offline (names may be shortened; empty for an old stored session).
    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// The memberships as the server answered them just now (an invitation accepted): the
    /// clinics this user may open, here and in the session kept for offline starts.
    pub fn set_memberships(&mut self, memberships: Vec<Membership>) -> Result<(), SessionError> {
        self.clinics = memberships.iter().map(|m| m.clinic_id).collect();
        let creds = &self.config.credentials;
        if let Some(mut stored) = creds.session(&self.config.server, self.user_id)? {
            stored.clinic_ids = self.clinics.clone();
            stored.memberships = memberships
                .iter()
                .map(crate::credentials::StoredMembership::from_membership)
                .collect();
            creds.save_session(&stored.fitted())?;
        }
        self.memberships = memberships;
        Ok(())
    }

    /// Opens (creating on first use) the clinic's partition with its keyring-held key.
    /// Clinics the user is not a member of are refused before any file is touched.
    pub fn open_partition(&self, clinic: Uuid) -> Result<ClinicPartition, SessionError> {
        self.open_partition_with(clinic, OpenCheck::EveryPage)
    }

    /// [`open_partition`](Self::open_partition) with a choice of up-front file check (see
    /// [`ClinicPartition::open_with`]).
    pub fn open_partition_with(
        &self,
        clinic: Uuid,
        check: OpenCheck,
    ) -> Result<ClinicPartition, SessionError> {
        if !self.clinics.contains(&clinic) {
            return Err(SessionError::NotAMember(clinic));
        }
        let key = self.config.credentials.partition_key_or_create(clinic)?;
        let mut partition = ClinicPartition::open_with(&self.config.data_dir, clinic, &key, check)?;
        // The file is shared by whoever signs in on this PC: record that this user uses it,
        // and pull with the cursor of what their role may see.
        let role = self
            .memberships
            .iter()
            .find(|m| m.clinic_id == clinic)
            .map(|m| m.role);
        partition.note_member(self.user_id, role)?;
        if let Some(role) = role {
            partition.set_reader(role);
            if opens_clinical_store(role) {
                self.open_clinical_store(&mut partition);
            }
        }
        // The name this PC gives the server, signed into each change (a relay shows it).
        partition.set_device(Some(self.config.device_name()?));
        // Remember it, so a later revocation is handled even after a sign-out.
        let mut known = self
            .config
            .credentials
            .known_clinics(&self.config.server, self.user_id)?;
        if !known.contains(&clinic) {
            known.push(clinic);
            self.config.credentials.save_known_clinics(
                &self.config.server,
                self.user_id,
                &known,
            )?;
        }
        Ok(partition)
    }

    /// Opens the partition's clinical store with this user's wrap of its key, when they have
    /// one here and their password key opens it. Without it the clinic file still opens
    /// (patients, the day's list, billing), and clinical records come back once an online
    /// start fetches the key again ([`ensure_clinical_keys`](Self::ensure_clinical_keys)).
    fn open_clinical_store(&self, partition: &mut ClinicPartition) {
        let clinic = partition.clinic_id();
        let key = match (self.clinical_keys.get(&clinic), &self.password_key) {
            (Some(key), _) => Some(key.clone()),
            (None, None) => None,
            (None, Some(password_key)) => match partition.clinical_key_wrap(self.user_id) {
                Ok(Some(wrapped)) => password_key.unwrap(&wrapped, clinic),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(%clinic, "the clinical store key's wrap could not be read: {e}");
                    None
                }
            },
        };
        if let Some(key) = key {
            if let Err(e) = partition.open_clinical_store(&key) {
                tracing::error!(%clinic, "the clinical store could not be opened: {e}");
            }
        }
    }

    /// For each clinic where this user's role reads clinical records: makes sure they hold
    /// a wrap of the clinic file's clinical store key here, fetching the key from the server
    /// (which gives it only to those roles) and wrapping it under their password key. Best
    /// effort at each online start: a clinic that fails is logged and tried again next time,
    /// and its clinical records stay closed on this PC until then.
    async fn ensure_clinical_keys(mut self) -> Client {
        let clinics: Vec<Uuid> = self
            .memberships
            .iter()
            .filter(|m| opens_clinical_store(m.role))
            .map(|m| m.clinic_id)
            .collect();
        for clinic in clinics {
            match self.ensure_clinical_key(clinic).await {
                Ok(Some(key)) => {
                    self.clinical_keys.insert(clinic, key);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%clinic, "the clinical store key could not be fetched: {e}")
                }
            }
        }
        self
    }

    /// The key fetched for `clinic`'s store, when this PC's wraps did not open it.
    async fn ensure_clinical_key(&self, clinic: Uuid) -> Result<Option<ClinicalKey>, SessionError> {
        // Runs at every online start: the whole-file page check is left to the sync task's
        // connection, as when the app opens a clinic.
        let mut partition = self.open_partition_with(clinic, OpenCheck::PagesAsRead)?;
        if partition.clinical_store_open() {
            return Ok(None);
        }
        let device_id = partition.device_id()?;
        let key = self.api.clinical_store_key(clinic, &device_id).await?;
        let key = ClinicalKey::from_hex(&key.key).ok_or_else(|| {
            SessionError::Partition(PartitionError::InvalidPulled(
                "the server's clinical store key is not 32 bytes of hex".to_owned(),
            ))
        })?;
        partition.open_clinical_store(&key)?;
        if let Some(password_key) = &self.password_key {
            partition.save_clinical_key_wrap(self.user_id, &password_key.wrap(&key, clinic))?;
        }
        Ok(Some(key))
    }

    /// A sync engine over the clinic's partition.
    pub fn sync_engine(&self, clinic: Uuid) -> Result<SyncEngine, SessionError> {
        Ok(
            SyncEngine::new(self.api.clone(), self.open_partition(clinic)?)
                .with_device_signer(self.signer.clone()),
        )
    }

    /// Signs out: ends the server session (best effort) and removes the refresh token from
    /// the keyring, so the app does not resume this user. The offline lease stays with the
    /// password verifier: on a shared PC the user signs in again, offline, with their
    /// password (`sign_in_offline`) until the lease ends. Partitions and their keys stay:
    /// unsynced work in them is not lost.
    pub async fn sign_out(self) -> Result<(), SessionError> {
        // Offline sign-out still has to lock the device; the server session then simply
        // expires.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.api.logout()).await;
        self.config
            .credentials
            .lock_session(&self.config.server, self.user_id)?;
        self.config.credentials.clear_active()?;
        Ok(())
    }
}
