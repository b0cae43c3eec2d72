//! The shell's ONE door to `vaidya-client`: every command goes through [`Core`], so changes
//! in the client's API stay local to this module (one file per domain: `patients`,
//! `clinical`, `billing`, `admin`, `unsent`; this file holds the state, sign-in, opening a
//! clinic and its background sync). No sync logic lives here: the client's
//! `SyncEngine` does the work; this module starts it, and turns its results into UI events.
//!
//! Server-only data (clinic details, members, the audit trail) is fetched through the
//! client's `ServerApi`; clinic details and the member list are also kept in the partition
//! so invoices and the doctor picker work offline.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex, Notify};
use uuid::Uuid;
use vaidya_client::partition::{Conflict, EntityKind};
use vaidya_client::sync::status_of;
use vaidya_client::{
    ApiError, Client, ClientConfig, ClinicPartition, CredentialStore, DataDir, Mode, OpenCheck,
    OpenClinic, PatientChart, Reconnect, ServerApi, SessionError, SyncEngine,
};
use vaidya_shared::api::Session;
use vaidya_shared::api::{
    Appointment, AppointmentPatch, AuditEntry, AuditQuery, Clinic, Encounter, Invoice, Member,
    MemberDevice, Membership, NewAppointment, NewEncounter, NewInvoice, NewMember, NewPayment,
    NewPrescription, Page, Patient, PatientPatch, Prescription, Role, UserSummary,
};
use vaidya_shared::rules::permissions::opens_clinical_store;
use vaidya_shared::rules::{self, Action, Resource};

use crate::error::UiError;
use keyring_wait::PendingLookup;

mod admin;
mod billing;
mod clinical;
mod keyring_wait;
mod patients;
mod unsent;

pub use clinical::KeptDraftView;
pub use unsent::{UnsentView, VoidedInvoiceView};

/// How often the background sync does a full round even without live notifications, so the
/// online/offline indicator stays true on a quiet day.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(60);

/// How long one call waits for the session's resume before telling the UI that the keyring
/// is waiting on a prompt (the resume goes on; the UI asks again).
pub const KEYRING_PATIENCE: Duration = Duration::from_secs(5);

/// While the server cannot be reached at start, the session shown from the keyring asks
/// again after this long, doubling up to [`GOING_ONLINE_MAX_WAIT`]: when the line comes
/// back, the session goes online in the same run (a role changed meanwhile applies, a
/// revoked session ends) without a restart.
pub const GOING_ONLINE_FIRST_WAIT: Duration = Duration::from_secs(5);
pub const GOING_ONLINE_MAX_WAIT: Duration = Duration::from_secs(60);

/// How long opening a clinic waits for its details from the server before using the
/// cached copy (a slow line must not keep the front desk on "Loading…").
pub const CLINIC_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------ shapes for the UI

#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub server: String,
    pub user: UserSummary,
    pub memberships: Vec<Membership>,
    pub offline: bool,
    pub offline_lease_until: Option<DateTime<Utc>>,
    /// The clinic to reopen on start: the one this user last opened here, if still theirs.
    pub last_clinic_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClinicView {
    pub membership: Membership,
    /// Name, GSTIN, state code and address: from the server, or the copy kept from the
    /// last time it answered; `None` when it never has on this device.
    pub clinic: Option<Clinic>,
    /// The member's role reads clinical records, but this PC's clinical store did not open
    /// for them (no password since they last signed out, and the server not reached): the
    /// UI says how to open it.
    pub clinical_locked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppointmentRow {
    pub appointment: Appointment,
    pub patient_name: Option<String>,
    pub patient_number: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConflictView {
    pub id: Uuid,
    pub entity: String,
    pub entity_id: Uuid,
    pub field: Option<String>,
    pub local_value: Option<serde_json::Value>,
    pub server_value: Option<serde_json::Value>,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<Conflict> for ConflictView {
    fn from(c: Conflict) -> Self {
        ConflictView {
            id: c.id,
            entity: c.entity.as_str().to_owned(),
            entity_id: c.entity_id,
            field: c.field,
            local_value: c.local_value,
            server_value: c.server_value,
            kind: c.kind.as_str().to_owned(),
            created_at: c.created_at,
            resolved_at: c.resolved_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProgressView {
    pub done: u64,
    pub total: Option<i64>,
    /// Bytes received so far (compressed, as on the line).
    pub bytes: u64,
    /// Seconds left at the pace so far; `None` until it can be told.
    pub eta_secs: Option<f64>,
}

/// What the status bar shows; emitted as `sync://status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatusView {
    pub online: bool,
    pub syncing: bool,
    /// Changes still to push.
    pub pending: i64,
    /// Changes the server refused for good (the Unsent changes screen).
    pub rejected: i64,
    pub conflicts: i64,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub progress: Option<ProgressView>,
    pub error: Option<UiError>,
    /// Whose work is waiting on this shared PC.
    pub waiting: Vec<vaidya_client::partition::WaitingWork>,
    /// Minutes this PC's clock is ahead of the server's (negative: behind), when it is off
    /// by [`CLOCK_WARNING_MINUTES`] or more: the status bar asks for the clock to be set.
    pub clock_off_minutes: Option<i64>,
    /// The last sync went through the clinic's hub (issue 11): the group server could not
    /// be reached ("Synced with the clinic hub · group server unreachable since 10:42").
    pub via_hub: bool,
    pub group_server_unreachable_since: Option<DateTime<Utc>>,
    /// Changes the clinic hub took in whose group server answer has not come back yet.
    pub relayed: i64,
}

/// A PC clock this many minutes from the server's is worth a warning: appointments and
/// offline acts carry the PC's time.
pub const CLOCK_WARNING_MINUTES: i64 = 5;

/// [`SyncStatusView::clock_off_minutes`] for a measured offset.
pub fn clock_off_minutes(offset: Option<chrono::Duration>) -> Option<i64> {
    offset
        .map(|o| o.num_minutes())
        .filter(|m| m.abs() >= CLOCK_WARNING_MINUTES)
}

/// A draft note: a new encounter, or changes to an unsigned one.
#[derive(Debug, Clone, Deserialize)]
pub struct EncounterDraft {
    pub id: Option<Uuid>,
    pub patient_id: Uuid,
    pub appointment_id: Option<Uuid>,
    #[serde(default)]
    pub chief_complaint: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub diagnosis: String,
    #[serde(default)]
    pub vitals: vaidya_shared::api::Vitals,
}

/// Events the background sync reports; `lib.rs` turns them into Tauri events.
#[derive(Debug, Clone)]
pub enum SyncEvent {
    Status(Box<SyncStatusView>),
    /// Rows changed (pulled or pushed): screens reload.
    Changed,
    /// The conflict inbox changed.
    Conflicts(i64),
}

pub type Emitter = Arc<dyn Fn(SyncEvent) + Send + Sync>;

/// What became of a session shown from the keyring while it went online in the background;
/// emitted as `session://changed`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionChange {
    /// The server answered: the session as it now stands. `reopen`: the clinic that was open
    /// was closed (the user lost it, holds it in another role now, or its clinical store
    /// can open now), and the UI opens it again if it is still theirs.
    Online { session: SessionView, reopen: bool },
    /// The server refused the kept session (signed out on another device, or revoked):
    /// nothing is open any more, and the UI goes back to the sign-in.
    Ended { error: UiError },
}

pub type SessionEmitter = Arc<dyn Fn(SessionChange) + Send + Sync>;

// ------------------------------------------------------------------ state

/// The clinic open in this window: its partition connection and its background sync.
struct ClinicSlot {
    clinic_id: Uuid,
    membership: Membership,
    clinic: Option<Clinic>,
    /// The UI's connection to the partition. The sync engine has its own (WAL lets both work).
    partition: Arc<StdMutex<ClinicPartition>>,
    sync_now: Arc<Notify>,
    stop: watch::Sender<bool>,
    status: Arc<StdMutex<SyncStatusView>>,
    /// Opened without the clinical store the member's role reads.
    clinical_locked: bool,
}

impl Drop for ClinicSlot {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

type Resume = tauri::async_runtime::JoinHandle<Result<Option<Resumed>, UiError>>;

type Refresh = tauri::async_runtime::JoinHandle<Result<Option<Session>, SessionError>>;

/// The session found at launch.
struct Resumed {
    client: Client,
    /// Shown from the keyring before the server answered: going online, under way.
    going_online: Option<(Reconnect, Refresh)>,
    /// The clinic the app will reopen, already opened ([`prepare_last_clinic`]).
    prepared: Option<(Uuid, ClinicPartition)>,
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    clinic: Option<ClinicSlot>,
    /// The keyring-held session's resume, while it waits on the keyring.
    resuming: PendingLookup<Resume>,
    /// Changes with every session installed or removed, so work started for one session
    /// (going online in the background, a clinic's details) never lands in another.
    epoch: u64,
    /// While the session shown from the keyring goes online: `false` until the server has
    /// answered (or was not reached). The open clinic's sync waits on it (or on its sender
    /// going away), so one refresh of the kept token is under way at a time.
    going_online: Option<watch::Receiver<bool>>,
    /// The task taking the session online ([`go_online`]); a sign-out or sign-in stops it
    /// first, so it can never write the keyring after them.
    going_online_task: Option<tauri::async_runtime::JoinHandle<()>>,
    /// The clinic to reopen, opened by the resume for `open_clinic` to take.
    prepared: Option<(Uuid, ClinicPartition)>,
}

impl State {
    /// Installs (or removes) the session, closing any open clinic; returns the new epoch.
    fn set_client(&mut self, client: Option<Client>) -> u64 {
        self.clinic = None;
        self.client = client;
        self.going_online = None;
        if let Some(task) = self.going_online_task.take() {
            task.abort();
        }
        self.prepared = None;
        self.epoch += 1;
        self.epoch
    }
}

/// The keyring-held session; `None` when nobody is signed in.
///
/// Shown at once (issue 15, cold start): while its offline lease lasts, the session is
/// unlocked from the keyring without waiting for the server, and its token refresh starts
/// beside it; the rest of going online follows in the background ([`go_online`]). Only a
/// session that cannot unlock offline (lease over, clock turned back) waits for the server,
/// as before.
async fn resume_session(
    data_dir: DataDir,
    credentials: CredentialStore,
) -> Result<Option<Resumed>, UiError> {
    let started = std::time::Instant::now();
    // The keyring calls block: off the async runtime.
    let lookup = credentials.clone();
    let active = tauri::async_runtime::spawn_blocking(move || lookup.active())
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))??;
    let Some(active) = active else {
        return Ok(None);
    };
    let keyring_ms = started.elapsed().as_millis();
    let config = ClientConfig::new(&active.server, data_dir.clone(), credentials);
    let unlock = config.clone();
    let early = tauri::async_runtime::spawn_blocking(move || {
        Client::start_offline(unlock).map(|client| {
            let prepared = prepare_last_clinic(&data_dir, &client);
            (client, prepared)
        })
    })
    .await
    .map_err(|e| UiError::new("internal", e.to_string()))?;
    let resumed = match early {
        Ok((client, prepared)) => {
            let reconnect = client.reconnect();
            let refreshing = reconnect.clone();
            let refresh = tauri::async_runtime::spawn(async move { refreshing.refresh().await });
            tracing::info!(
                keyring_ms,
                total_ms = started.elapsed().as_millis(),
                "kept session shown; going online in the background"
            );
            return Ok(Some(Resumed {
                client,
                going_online: Some((reconnect, refresh)),
                prepared,
            }));
        }
        Err(SessionError::NotSignedIn) => return Ok(None),
        // The lease is over or the clock was turned back: only the server can say.
        Err(_) => Client::resume(config).await,
    };
    match resumed {
        Ok(client) => {
            tracing::info!(
                keyring_ms,
                total_ms = started.elapsed().as_millis(),
                online = client.mode() == Mode::Online,
                "session resumed"
            );
            Ok(Some(Resumed {
                client,
                going_online: None,
                prepared: None,
            }))
        }
        Err(SessionError::NotSignedIn) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Opens the clinic the app will reopen, as part of the resume: the UI finds it open, and
/// the first start after an update converts its file here, while the start screen says so
/// (`local_data_upgrading`), rather than under the clinic screen and beside the background
/// resume's own opening of it. A file that does not open is left to `open_clinic`, which
/// reports why.
fn prepare_last_clinic(data_dir: &DataDir, client: &Client) -> Option<(Uuid, ClinicPartition)> {
    let clinic = last_clinic(data_dir, client)?;
    match client.open_partition_with(clinic, OpenCheck::PagesAsRead) {
        Ok(partition) => Some((clinic, partition)),
        Err(e) => {
            tracing::warn!(%clinic, "the clinic to reopen did not open at start: {e}");
            None
        }
    }
}

/// Takes a session shown from the keyring online once its refresh answers, in the
/// background. A clinic the user lost (or holds in another role now) is closed first, then
/// the rest of the resume runs (`Reconnect::finish`) and the online client replaces the
/// early one. A refused session ends here, and nothing stays open. A server that cannot be
/// reached leaves the session offline, as a resume without the server always has; the
/// open clinic's sync goes online by itself when the server answers.
async fn go_online(
    state: Arc<Mutex<State>>,
    data_dir: DataDir,
    epoch: u64,
    (reconnect, refresh): (Reconnect, Refresh),
    done: watch::Sender<bool>,
    emit: SessionEmitter,
) {
    let mut refreshed = match refresh.await {
        Ok(r) => r,
        Err(e) => Err(SessionError::Io(std::io::Error::other(e.to_string()))),
    };
    let mut wait = GOING_ONLINE_FIRST_WAIT;
    let session = loop {
        match refreshed {
            Ok(Some(session)) => break session,
            Ok(None) => return,
            Err(SessionError::Api(ApiError::Unauthenticated)) => {
                let mut st = state.lock().await;
                if st.epoch == epoch {
                    // This very task: let go of its handle first, so that `set_client` does
                    // not stop it.
                    st.going_online_task = None;
                    st.set_client(None);
                    drop(st);
                    tracing::info!("the server refused the kept session; signed out");
                    emit(SessionChange::Ended {
                        error: SessionError::Api(ApiError::Unauthenticated).into(),
                    });
                }
                return;
            }
            Err(SessionError::Api(e)) if e.is_retryable() => {
                // The clinic works offline meanwhile (its sync starts now), and the server is
                // asked again until it answers.
                let _ = done.send(true);
                tracing::info!(
                    "the server was not reached at start; asking again in {wait:?}: {e}"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(GOING_ONLINE_MAX_WAIT);
                refreshed = reconnect.refresh().await;
            }
            Err(e) => {
                tracing::warn!("the kept session could not go online; working offline: {e}");
                return;
            }
        }
    };
    // Before the resume forgets the user in a clinic they lost, that clinic closes.
    let mut reopen = false;
    {
        let mut st = state.lock().await;
        if st.epoch != epoch {
            return;
        }
        let kept = st.clinic.as_ref().map(|slot| {
            session
                .memberships
                .iter()
                .any(|m| m.clinic_id == slot.clinic_id && m.role == slot.membership.role)
        });
        if kept == Some(false) {
            st.clinic = None;
            reopen = true;
        }
        // Nor may the clinic opened for the UI stay open on a file that is about to go.
        let lost = |clinic: Uuid| !session.memberships.iter().any(|m| m.clinic_id == clinic);
        if st
            .prepared
            .as_ref()
            .is_some_and(|(clinic, _)| lost(*clinic))
        {
            st.prepared = None;
        }
    }
    let client = match reconnect.finish(session).await {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!("going online at start failed; working offline: {e}");
            return;
        }
    };
    let mut st = state.lock().await;
    if st.epoch != epoch {
        return;
    }
    // A clinician whose store did not open offline (no password key here) has its key
    // from the server now: the clinic opens again with it. And a clinic that was being
    // opened while the check above ran is checked again, now that it is in place.
    let stale = st.clinic.as_ref().is_some_and(|slot| {
        slot.clinical_locked
            || !client
                .memberships()
                .iter()
                .any(|m| m.clinic_id == slot.clinic_id && m.role == slot.membership.role)
    });
    if stale {
        st.clinic = None;
        reopen = true;
    }
    let session = view_of(&data_dir, &client);
    st.client = Some(client);
    st.going_online = None;
    st.going_online_task = None; // this task, about to end
    drop(st);
    let _ = done.send(true);
    tracing::info!(reopen, "the kept session is online");
    emit(SessionChange::Online { session, reopen });
}

/// The desktop app's state, managed by Tauri and shared by all commands.
pub struct Core {
    data_dir: DataDir,
    credentials: CredentialStore,
    state: Arc<Mutex<State>>,
}

impl Core {
    pub fn new(data_dir: DataDir, credentials: CredentialStore) -> Core {
        Core {
            data_dir,
            credentials,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn config(&self, server: &str) -> ClientConfig {
        ClientConfig::new(server, self.data_dir.clone(), self.credentials.clone())
    }

    pub fn device(&self) -> Result<String, UiError> {
        Ok(self.config("").device_name()?)
    }

    // -------------------------------------------------------------- session

    /// Starts resuming the keyring-held session at launch, while the window and its UI
    /// load (about 0.6 s here), instead of when the UI first asks: the token refresh and
    /// the checks of the resume (~0.1–0.2 s) then leave the way to the first screen. The
    /// UI's first [`current_session`](Self::current_session) waits on this same resume.
    /// Call it only once this process holds the data directory (`startup::lock_instance`):
    /// the resume opens clinic files.
    pub fn start_resume(&self) {
        // Nobody else holds the state this early; if someone does, the UI's first call
        // starts the resume as before.
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        if state.client.is_some() {
            return;
        }
        let (data_dir, credentials) = (self.data_dir.clone(), self.credentials.clone());
        state
            .resuming
            .start(|| tauri::async_runtime::spawn(resume_session(data_dir, credentials)));
    }

    /// The signed-in user, resuming the keyring-held session on first call (shown from the
    /// keyring within its lease while it goes online in the background; what became of it
    /// is sent through `emit`). `None` when nobody is signed in.
    pub async fn current_session(
        &self,
        emit: SessionEmitter,
    ) -> Result<Option<SessionView>, UiError> {
        let mut state = self.state.lock().await;
        if state.client.is_none() {
            // Resuming reads the keyring, which may wait on a prompt the user has not
            // answered yet (macOS after an update, a locked Secret Service): the resume runs
            // as its own task, kept across calls, and the UI is told it waits.
            let start = || {
                tauri::async_runtime::spawn(resume_session(
                    self.data_dir.clone(),
                    self.credentials.clone(),
                ))
            };
            let Some(resumed) = state.resuming.wait(start, KEYRING_PATIENCE).await else {
                // The first start after an update may be converting this PC's clinic files
                // (seconds for a big clinic): not the keychain's fault, and said as such.
                if vaidya_client::partition::upgrading() {
                    return Err(UiError::new(
                        "local_data_upgrading",
                        "converting this PC's clinic data to the updated version",
                    ));
                }
                return Err(UiError::new(
                    "keyring_waiting",
                    "waiting for the OS keyring to answer (a prompt may be open)",
                ));
            };
            let Some(resumed) = resumed.map_err(|e| UiError::new("internal", e.to_string()))??
            else {
                return Ok(None);
            };
            let epoch = state.set_client(Some(resumed.client));
            state.prepared = resumed.prepared;
            if let Some(going_online) = resumed.going_online {
                let (done, waiting) = watch::channel(false);
                state.going_online = Some(waiting);
                state.going_online_task = Some(tauri::async_runtime::spawn(go_online(
                    self.state.clone(),
                    self.data_dir.clone(),
                    epoch,
                    going_online,
                    done,
                    emit,
                )));
            }
        }
        Ok(state.client.as_ref().map(|c| view_of(&self.data_dir, c)))
    }

    pub async fn sign_in(
        &self,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<SessionView, UiError> {
        if server.trim().is_empty() {
            return Err(UiError::invalid("server", "Enter the server address."));
        }
        self.stop_going_online().await;
        let client = match Client::sign_in(self.config(server), email.trim(), password).await {
            Ok(client) => client,
            // No network: a member who signed in online on this PC before signs in again
            // with their password while their offline lease lasts (a shared PC in an
            // outage: the front desk hands over to the doctor and back).
            // Only when the server cannot be reached at all: a refusal (429 after too many
            // wrong passwords, 401) must never be retried against the local verifier.
            Err(SessionError::Api(ApiError::Network(_))) => {
                Client::sign_in_offline(self.config(server), email.trim(), password).await?
            }
            Err(e) => return Err(e.into()),
        };
        let view = view_of(&self.data_dir, &client);
        self.state.lock().await.set_client(Some(client));
        Ok(view)
    }

    pub async fn sign_out(&self) -> Result<(), UiError> {
        self.stop_going_online().await;
        let mut state = self.state.lock().await;
        let client = state.client.take();
        state.set_client(None); // the clinic's slot goes too, which stops its sync task
        if let Some(client) = client {
            client.sign_out().await?;
        }
        Ok(())
    }

    /// Stops the session shown from the keyring from going online: it writes the keyring
    /// (the rotated token, the session), and a sign-out or a colleague's sign-in must come
    /// after it and never be undone by it. It stops at an await, never inside a keyring
    /// write; the sign-out or sign-in that follows writes last.
    async fn stop_going_online(&self) {
        let task = self.state.lock().await.going_online_task.take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Opens a clinic's partition for the UI and starts its background sync.
    ///
    /// The state lock is held only while the partition opens, not while the clinic's
    /// details are fetched (up to [`CLINIC_FETCH_TIMEOUT`]): other commands stay responsive.
    pub async fn open_clinic(&self, clinic_id: Uuid, emit: Emitter) -> Result<ClinicView, UiError> {
        let started = std::time::Instant::now();
        let (
            membership,
            partition,
            engine,
            online,
            api,
            user_id,
            clinical_locked,
            epoch,
            going_online,
        ) = {
            let mut state = self.state.lock().await;
            state.clinic = None;
            let prepared = state.prepared.take();
            let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
            let membership = membership_of(client, clinic_id)?;
            // The UI's connection skips the whole-file page check (SQLCipher still checks
            // each page as it is read); the engine's connection, opened in the sync task
            // right after, does the full check and reports a damaged file in the status
            // bar. A large clinic opens without reading its whole file first.
            let partition = match prepared {
                Some((prepared, partition)) if prepared == clinic_id => partition,
                _ => client.open_partition_with(clinic_id, OpenCheck::PagesAsRead)?,
            };
            let clinical_locked =
                opens_clinical_store(membership.role) && !partition.clinical_store_open();
            let (api, data_dir, credentials) = (
                client.api().clone(),
                self.data_dir.clone(),
                self.credentials.clone(),
            );
            let role = membership.role;
            // The member's device key signs them in to the clinic's hub when the group
            // server cannot be reached (issue 11).
            let signer = client.signer().cloned();
            // A clinician's session opened the clinical store; the engine's connection
            // opens it with the same key, so pulled notes land in it.
            let clinical_key = partition.clinical_key();
            let engine: crate::sync::OpenEngine = Box::new(move || {
                let key = credentials.partition_key_or_create(clinic_id)?;
                let mut partition = ClinicPartition::open(&data_dir, clinic_id, &key)?;
                if let Some(clinical_key) = &clinical_key {
                    partition.open_clinical_store(clinical_key)?;
                }
                // Pull with the cursor of what this member's role may see.
                partition.set_reader(role);
                Ok(SyncEngine::new(api, partition)
                    .with_options(crate::sync::retry_options())
                    .with_device_signer(signer.clone()))
            });
            let online = client.mode() == Mode::Online;
            (
                membership,
                partition,
                engine,
                online,
                client.api().clone(),
                client.user_id(),
                clinical_locked,
                state.epoch,
                state.going_online.clone(),
            )
        };
        let initial = {
            let s = status_of(&partition)?;
            SyncStatusView {
                online,
                // Shown from the keyring while the server is asked: "syncing", not "offline".
                syncing: going_online.is_some(),
                pending: s.pending,
                rejected: s.rejected,
                conflicts: s.conflicts,
                last_synced_at: s.last_synced_at,
                progress: None,
                error: None,
                waiting: s.waiting,
                clock_off_minutes: clock_off_minutes(api.clock_offset()),
                via_hub: false,
                group_server_unreachable_since: None,
                relayed: s.relayed,
            }
        };
        let status = Arc::new(StdMutex::new(initial.clone()));
        let sync_now = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        emit(SyncEvent::Status(Box::new(initial)));
        let partition = Arc::new(StdMutex::new(partition));
        tauri::async_runtime::spawn(crate::sync::run(crate::sync::SyncTask {
            open_engine: engine,
            partition: partition.clone(),
            emit,
            status: status.clone(),
            sync_now: sync_now.clone(),
            stop: stop_rx,
            going_online: going_online.clone(),
        }));
        let opened_ms = started.elapsed().as_millis();
        // The clinic opens at once on the copy of its details kept from the last time; the
        // server's answer replaces it in the background. Only a PC that never had them waits
        // for the server (up to CLINIC_FETCH_TIMEOUT), since billing needs them.
        let kept = partition
            .lock()
            .ok()
            .and_then(|p| p.cached_clinic().ok().flatten());
        let clinic = match kept {
            Some(kept) => Some(kept),
            None => {
                let clinic = fetch_clinic_details(&api, clinic_id, &partition).await;
                allocate_invoice_series(&api, clinic_id, &partition).await;
                clinic
            }
        };
        tracing::info!(
            opened_ms,
            total_ms = started.elapsed().as_millis(),
            "clinic opened"
        );
        let opened = ClinicSlot {
            clinic_id,
            membership: membership.clone(),
            clinic: clinic.clone(),
            partition: partition.clone(),
            sync_now,
            stop,
            status,
            clinical_locked,
        };
        let mut state = self.state.lock().await;
        // Signed out (or in as someone else) while the details were fetched: dropping
        // `opened` stops its sync task.
        if state.client.as_ref().map(Client::user_id) != Some(user_id) || state.epoch != epoch {
            return Err(UiError::not_signed_in());
        }
        state.clinic = Some(opened);
        drop(state);
        tauri::async_runtime::spawn(refresh_clinic_details(
            self.state.clone(),
            epoch,
            going_online,
            api,
            clinic_id,
            partition,
        ));
        self.remember_last_clinic(user_id, clinic_id);
        Ok(ClinicView {
            membership,
            clinic,
            clinical_locked,
        })
    }

    fn remember_last_clinic(&self, user: Uuid, clinic: Uuid) {
        // Best effort: without it the app shows the clinic list on the next start.
        if let Err(e) = std::fs::write(
            last_clinic_file(&self.data_dir),
            format!("{user} {clinic}\n"),
        ) {
            tracing::warn!(error = %e, "could not remember the last clinic");
        }
    }

    /// Runs a local write on the open partition (see [`Core::on_partition`]) and nudges the
    /// background sync: the new outbox entry goes to the server at once when online.
    async fn with_partition<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut ClinicPartition, Uuid, Role) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        self.on_partition(f, true).await
    }

    /// Runs one of the clinic's operations (`vaidya_client::OpenClinic`, which applies the
    /// shared rules) as the signed-in member, then nudges sync.
    async fn with_clinic<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut OpenClinic<'_>) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        self.with_partition(move |p, user, role| f(&mut OpenClinic::new(p, user, role)))
            .await
    }

    /// Runs one of the clinic's read operations as the signed-in member (no sync nudge).
    async fn with_clinic_reading<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut OpenClinic<'_>) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        self.read_partition(move |p, user, role| f(&mut OpenClinic::new(p, user, role)))
            .await
    }

    /// Runs a local read on the open partition. Reads of patient data are recorded for the
    /// audit trail and go up with the next push; they do not start a sync round of their
    /// own, or every keystroke of a search would compete with one for the partition.
    async fn read_partition<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut ClinicPartition, Uuid, Role) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        self.on_partition(f, false).await
    }

    /// Runs `f` on the open partition on a blocking thread (SQLite work never blocks the
    /// async runtime), with the user's id and role.
    async fn on_partition<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut ClinicPartition, Uuid, Role) -> Result<T, UiError> + Send + 'static,
        nudge_sync: bool,
    ) -> Result<T, UiError> {
        let (partition, user, role, signer, sync_now) = {
            let state = self.state.lock().await;
            let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
            let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
            (
                clinic.partition.clone(),
                client.user_id(),
                clinic.membership.role,
                client.signer().cloned(),
                clinic.sync_now.clone(),
            )
        };
        let result = tauri::async_runtime::spawn_blocking(move || {
            let mut p = partition
                .lock()
                .map_err(|_| UiError::new("internal", "the partition lock was poisoned"))?;
            // The signed-in member's device key signs what they change (a shared PC's next
            // user gets their own).
            p.set_author(signer);
            f(&mut p, user, role)
        })
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))?;
        if nudge_sync {
            sync_now.notify_one();
        }
        result
    }

    pub async fn sync_status(&self) -> Result<SyncStatusView, UiError> {
        let state = self.state.lock().await;
        let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
        let view = clinic
            .status
            .lock()
            .map_err(|_| UiError::new("internal", "status lock poisoned"))?
            .clone();
        Ok(view)
    }

    pub async fn sync_now(&self) -> Result<(), UiError> {
        let state = self.state.lock().await;
        let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
        clinic.sync_now.notify_one();
        Ok(())
    }

    // -------------------------------------------------------------- updates

    /// The desktop release the signed-in user's server announces for this build, with the
    /// server's address; `None` when signed out or up to date.
    pub async fn announced_update(
        &self,
    ) -> Result<Option<(String, vaidya_shared::api::DesktopUpdate)>, UiError> {
        let Some(build) = crate::updates::this_build() else {
            return Ok(None);
        };
        let api = {
            let state = self.state.lock().await;
            match &state.client {
                Some(client) => client.api().clone(),
                None => return Ok(None),
            }
        };
        let update = api.desktop_update(&build).await?;
        Ok(update.map(|u| (api.base().to_owned(), u)))
    }

    /// Before an update: one more sync round, waiting up to `within` for the outbox to empty.
    /// Returns the changes still waiting (kept on this PC, sent after the update).
    pub async fn send_waiting_work(&self, within: Duration) -> i64 {
        let deadline = tokio::time::Instant::now() + within;
        let mut nudged = false;
        loop {
            let (status, sync_now) = {
                let state = self.state.lock().await;
                let Some(clinic) = state.clinic.as_ref() else {
                    return 0;
                };
                let status = clinic.status.lock().map(|s| s.clone()).ok();
                (status, clinic.sync_now.clone())
            };
            let Some(status) = status else { return 0 };
            if nudged && status.pending == 0 && !status.syncing {
                return 0;
            }
            if tokio::time::Instant::now() >= deadline || (nudged && !status.online) {
                return status.pending;
            }
            if !nudged {
                sync_now.notify_one();
                nudged = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The session as the UI sees it, with the clinic to reopen.
fn view_of(data_dir: &DataDir, client: &Client) -> SessionView {
    SessionView {
        last_clinic_id: last_clinic(data_dir, client),
        ..session_view(client)
    }
}

/// The clinic this user last opened on this computer, if it is still one of theirs: the
/// app reopens it on start. Only ids are stored (no patient data, nothing secret).
fn last_clinic(data_dir: &DataDir, client: &Client) -> Option<Uuid> {
    let text = std::fs::read_to_string(last_clinic_file(data_dir)).ok()?;
    let (user, clinic) = text.trim().split_once(' ')?;
    let (user, clinic) = (user.parse::<Uuid>().ok()?, clinic.parse::<Uuid>().ok()?);
    (user == client.user_id() && client.clinics().contains(&clinic)).then_some(clinic)
}

fn last_clinic_file(data_dir: &DataDir) -> std::path::PathBuf {
    data_dir.root().join("last-clinic")
}

fn session_view(client: &Client) -> SessionView {
    let memberships = if client.memberships().is_empty() {
        // A session stored by an older version kept only clinic ids: the least-privileged
        // role is assumed until the next online sign-in.
        client
            .clinics()
            .iter()
            .map(|id| Membership {
                clinic_id: *id,
                clinic_name: format!("Clinic {}", &id.to_string()[..8]),
                group_id: Uuid::nil(),
                group_name: String::new(),
                role: Role::FrontDesk,
            })
            .collect()
    } else {
        client.memberships().to_vec()
    };
    SessionView {
        server: client.config().server.clone(),
        user: UserSummary {
            id: client.user_id(),
            email: client.email().to_owned(),
            // A session stored by an older version has no name; the email stands in.
            display_name: if client.display_name().is_empty() {
                client.email().to_owned()
            } else {
                client.display_name().to_owned()
            },
        },
        memberships,
        offline: client.mode() == Mode::Offline,
        offline_lease_until: Some(client.lease_until()),
        last_clinic_id: None,
    }
}

fn membership_of(client: &Client, clinic_id: Uuid) -> Result<Membership, UiError> {
    session_view(client)
        .memberships
        .into_iter()
        .find(|m| m.clinic_id == clinic_id)
        .ok_or_else(|| UiError::new("not_a_member", "you are not a member of this clinic"))
}

/// The clinic's details from the server (kept in the partition), or the kept copy when
/// the server does not answer in time.
async fn fetch_clinic_details(
    api: &ServerApi,
    clinic_id: Uuid,
    partition: &StdMutex<ClinicPartition>,
) -> Option<Clinic> {
    let fetched = tokio::time::timeout(CLINIC_FETCH_TIMEOUT, api.clinic(clinic_id)).await;
    let mut p = partition.lock().ok()?;
    match fetched {
        Ok(Ok(clinic)) if clinic.id == clinic_id => {
            let _ = p.set_cached_clinic(&clinic);
            Some(clinic)
        }
        _ => p.cached_clinic().ok().flatten(),
    }
}

/// Asks the server, once per clinic file, for the code this PC numbers its invoices under
/// (`numbering`), before the first bill; best effort. Until a file has one it numbers in
/// its old series (no year), as a file from an older version did.
async fn allocate_invoice_series(
    api: &ServerApi,
    clinic_id: Uuid,
    partition: &StdMutex<ClinicPartition>,
) {
    let partition_id = {
        let Ok(mut p) = partition.lock() else { return };
        match p.invoice_series_code() {
            Ok(None) => match p.device_id() {
                Ok(id) => id,
                Err(_) => return,
            },
            _ => return,
        }
    };
    let asked = tokio::time::timeout(
        CLINIC_FETCH_TIMEOUT,
        api.invoice_series(clinic_id, &partition_id),
    )
    .await;
    match asked {
        Ok(Ok(code)) => {
            if let Ok(mut p) = partition.lock() {
                if let Err(e) = p.set_invoice_series_code(&code) {
                    tracing::warn!(error = %e, "invoice series code not kept");
                }
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "no invoice series code from the server"),
        Err(_) => tracing::warn!("the server did not allocate an invoice series in time"),
    }
}

/// After a clinic opened: its details from the server (kept, and given to the open slot,
/// which bills with them), this PC's invoice series if it has none yet, and the member list
/// for the doctor picker offline. Best effort, once the session is online.
async fn refresh_clinic_details(
    state: Arc<Mutex<State>>,
    epoch: u64,
    going_online: Option<watch::Receiver<bool>>,
    api: ServerApi,
    clinic_id: Uuid,
    partition: Arc<StdMutex<ClinicPartition>>,
) {
    if let Some(mut online) = going_online {
        let _ = online.wait_for(|done| *done).await;
    }
    let details = fetch_clinic_details(&api, clinic_id, &partition).await;
    {
        let mut st = state.lock().await;
        if st.epoch != epoch {
            return;
        }
        if let Some(slot) = st.clinic.as_mut().filter(|c| c.clinic_id == clinic_id) {
            if details.is_some() {
                slot.clinic = details;
            }
        }
    }
    allocate_invoice_series(&api, clinic_id, &partition).await;
    refresh_members(api, clinic_id, partition).await;
}

/// Fetches the member list and keeps it for the doctor picker offline; best effort.
async fn refresh_members(
    api: ServerApi,
    clinic_id: Uuid,
    partition: Arc<StdMutex<ClinicPartition>>,
) {
    let members: Result<Vec<Member>, ApiError> = api.members(clinic_id).await;
    if let Ok(members) = members {
        if let Ok(mut p) = partition.lock() {
            let _ = p.set_cached_members(&members);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_minutes_off_is_reported_and_seconds_are_not() {
        let minutes = |m: i64| clock_off_minutes(Some(chrono::Duration::minutes(m)));
        assert_eq!(clock_off_minutes(None), None);
        assert_eq!(minutes(0), None);
        assert_eq!(minutes(4), None);
        assert_eq!(minutes(5), Some(5));
        assert_eq!(minutes(-90), Some(-90));
        assert_eq!(
            clock_off_minutes(Some(chrono::Duration::seconds(299))),
            None
        );
    }
}
