//! The shell's ONE door to `vaidya-client`: every command goes through [`Core`], so changes
//! in the client's API stay local to this file. No sync logic lives here: the client's
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
    OpenClinic, PatientChart, ServerApi, SessionError, SyncEngine,
};
use vaidya_shared::api::{
    Appointment, AppointmentPatch, AuditEntry, AuditQuery, Clinic, Encounter, Invoice, Member,
    Membership, NewAppointment, NewEncounter, NewInvoice, NewMember, NewPayment, NewPrescription,
    Page, Patient, PatientPatch, Prescription, Role, UserSummary,
};
use vaidya_shared::rules::{self, Action, Resource};
use vaidya_shared::sync::Resolution;

use crate::error::UiError;

/// How often the background sync does a full round even without live notifications, so the
/// online/offline indicator stays true on a quiet day.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(60);

/// How long the first keyring look-up may take before the UI is told the keyring is unusable.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(15);

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
    Status(SyncStatusView),
    /// Rows changed (pulled or pushed): screens reload.
    Changed,
    /// The conflict inbox changed.
    Conflicts(i64),
}

pub type Emitter = Arc<dyn Fn(SyncEvent) + Send + Sync>;

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
}

impl Drop for ClinicSlot {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    clinic: Option<ClinicSlot>,
}

/// The desktop app's state, managed by Tauri and shared by all commands.
pub struct Core {
    data_dir: DataDir,
    credentials: CredentialStore,
    state: Mutex<State>,
}

impl Core {
    pub fn new(data_dir: DataDir, credentials: CredentialStore) -> Core {
        Core {
            data_dir,
            credentials,
            state: Mutex::new(State::default()),
        }
    }

    fn config(&self, server: &str) -> ClientConfig {
        ClientConfig::new(server, self.data_dir.clone(), self.credentials.clone())
    }

    pub fn device(&self) -> Result<String, UiError> {
        Ok(self.config("").device_name()?)
    }

    // -------------------------------------------------------------- session

    /// The signed-in user, resuming the keyring-held session on first call (online when the
    /// server answers, else offline within the lease). `None` when nobody is signed in.
    pub async fn current_session(&self) -> Result<Option<SessionView>, UiError> {
        let mut state = self.state.lock().await;
        if state.client.is_none() {
            let started = std::time::Instant::now();
            // The keyring call blocks (a locked Secret Service may wait on an unlock prompt):
            // run it off the async runtime, and give up after a while instead of leaving the
            // UI on "Loading…".
            let credentials = self.credentials.clone();
            let lookup = tauri::async_runtime::spawn_blocking(move || credentials.active());
            let active = match tokio::time::timeout(KEYRING_TIMEOUT, lookup).await {
                Ok(joined) => joined.map_err(|e| UiError::new("internal", e.to_string()))??,
                Err(_) => {
                    return Err(UiError::new(
                        "keyring_unavailable",
                        "the OS keyring did not answer; is it locked?",
                    ))
                }
            };
            let Some(active) = active else {
                return Ok(None);
            };
            let keyring_ms = started.elapsed().as_millis();
            match Client::resume(self.config(&active.server)).await {
                Ok(client) => {
                    tracing::info!(
                        keyring_ms,
                        total_ms = started.elapsed().as_millis(),
                        online = client.mode() == Mode::Online,
                        "session resumed"
                    );
                    state.client = Some(client)
                }
                Err(SessionError::NotSignedIn) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(state.client.as_ref().map(|c| self.view_of(c)))
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
        let client = Client::sign_in(self.config(server), email.trim(), password).await?;
        let view = self.view_of(&client);
        let mut state = self.state.lock().await;
        state.clinic = None;
        state.client = Some(client);
        Ok(view)
    }

    /// The session as the UI sees it, with the clinic to reopen.
    fn view_of(&self, client: &Client) -> SessionView {
        SessionView {
            last_clinic_id: self.last_clinic(client),
            ..session_view(client)
        }
    }

    pub async fn sign_out(&self) -> Result<(), UiError> {
        let mut state = self.state.lock().await;
        state.clinic = None; // stops its sync task
        if let Some(client) = state.client.take() {
            client.sign_out().await?;
        }
        Ok(())
    }

    /// Opens a clinic's partition for the UI and starts its background sync.
    ///
    /// The state lock is held only while the partition opens, not while the clinic's
    /// details are fetched (up to [`CLINIC_FETCH_TIMEOUT`]): other commands stay responsive.
    pub async fn open_clinic(&self, clinic_id: Uuid, emit: Emitter) -> Result<ClinicView, UiError> {
        let started = std::time::Instant::now();
        let (membership, partition, engine, online, api, user_id) = {
            let mut state = self.state.lock().await;
            state.clinic = None;
            let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
            let membership = membership_of(client, clinic_id)?;
            // The UI's connection skips the whole-file page check (SQLCipher still checks
            // each page as it is read); the engine's connection, opened in the sync task
            // right after, does the full check and reports a damaged file in the status
            // bar. A large clinic opens without reading its whole file first.
            let partition = client.open_partition_with(clinic_id, OpenCheck::PagesAsRead)?;
            let (api, data_dir, credentials) = (
                client.api().clone(),
                self.data_dir.clone(),
                self.credentials.clone(),
            );
            let engine: crate::sync::OpenEngine = Box::new(move || {
                let key = credentials.partition_key_or_create(clinic_id)?;
                let partition = ClinicPartition::open(&data_dir, clinic_id, &key)?;
                Ok(SyncEngine::new(api, partition).with_options(crate::sync::retry_options()))
            });
            let online = client.mode() == Mode::Online;
            (
                membership,
                partition,
                engine,
                online,
                client.api().clone(),
                client.user_id(),
            )
        };
        let initial = {
            let s = status_of(&partition)?;
            SyncStatusView {
                online,
                syncing: false,
                pending: s.pending,
                rejected: s.rejected,
                conflicts: s.conflicts,
                last_synced_at: s.last_synced_at,
                progress: None,
                error: None,
            }
        };
        let status = Arc::new(StdMutex::new(initial.clone()));
        let sync_now = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        emit(SyncEvent::Status(initial));
        let partition = Arc::new(StdMutex::new(partition));
        tauri::async_runtime::spawn(crate::sync::run(crate::sync::SyncTask {
            open_engine: engine,
            partition: partition.clone(),
            emit,
            status: status.clone(),
            sync_now: sync_now.clone(),
            stop: stop_rx,
        }));
        let opened_ms = started.elapsed().as_millis();
        let clinic = fetch_clinic_details(&api, clinic_id, &partition).await;
        tracing::info!(
            opened_ms,
            total_ms = started.elapsed().as_millis(),
            "clinic opened"
        );
        // The member list (doctor picker) is refreshed in the background and kept for
        // offline booking.
        tauri::async_runtime::spawn(refresh_members(api, clinic_id, partition.clone()));
        let opened = ClinicSlot {
            clinic_id,
            membership: membership.clone(),
            clinic: clinic.clone(),
            partition,
            sync_now,
            stop,
            status,
        };
        let mut state = self.state.lock().await;
        // Signed out (or in as someone else) while the details were fetched: dropping
        // `opened` stops its sync task.
        if state.client.as_ref().map(Client::user_id) != Some(user_id) {
            return Err(UiError::not_signed_in());
        }
        state.clinic = Some(opened);
        drop(state);
        self.remember_last_clinic(user_id, clinic_id);
        Ok(ClinicView { membership, clinic })
    }

    /// The clinic this user last opened on this computer, if it is still one of theirs: the
    /// app reopens it on start. Only ids are stored (no patient data, nothing secret).
    fn last_clinic(&self, client: &Client) -> Option<Uuid> {
        let text = std::fs::read_to_string(self.last_clinic_file()).ok()?;
        let (user, clinic) = text.trim().split_once(' ')?;
        let (user, clinic) = (user.parse::<Uuid>().ok()?, clinic.parse::<Uuid>().ok()?);
        (user == client.user_id() && client.clinics().contains(&clinic)).then_some(clinic)
    }

    fn remember_last_clinic(&self, user: Uuid, clinic: Uuid) {
        // Best effort: without it the app shows the clinic list on the next start.
        if let Err(e) = std::fs::write(self.last_clinic_file(), format!("{user} {clinic}\n")) {
            tracing::warn!(error = %e, "could not remember the last clinic");
        }
    }

    fn last_clinic_file(&self) -> std::path::PathBuf {
        self.data_dir.root().join("last-clinic")
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
        let (partition, user, role, sync_now) = {
            let state = self.state.lock().await;
            let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
            let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
            (
                clinic.partition.clone(),
                client.user_id(),
                clinic.membership.role,
                clinic.sync_now.clone(),
            )
        };
        let result = tauri::async_runtime::spawn_blocking(move || {
            let mut p = partition
                .lock()
                .map_err(|_| UiError::new("internal", "the partition lock was poisoned"))?;
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

    // -------------------------------------------------------------- patients

    pub async fn search_patients(
        &self,
        query: String,
        limit: i64,
    ) -> Result<Vec<Patient>, UiError> {
        self.read_partition(move |p, _, _| Ok(p.search_patients(&query, limit.clamp(1, 200))?))
            .await
    }

    pub async fn get_patient(&self, id: Uuid) -> Result<Patient, UiError> {
        self.read_partition(move |p, _, _| {
            p.get_patient(id)?
                .ok_or_else(|| UiError::new("not_found", "no such patient"))
        })
        .await
    }

    pub async fn create_patient(
        &self,
        new: vaidya_shared::api::NewPatient,
    ) -> Result<Patient, UiError> {
        self.with_clinic(move |c| Ok(c.register_patient(new)?))
            .await
    }

    pub async fn update_patient(&self, id: Uuid, patch: PatientPatch) -> Result<Patient, UiError> {
        self.with_clinic(move |c| Ok(c.update_patient(id, patch)?))
            .await
    }

    pub async fn patient_chart(&self, patient_id: Uuid) -> Result<PatientChart, UiError> {
        self.read_partition(move |p, user, role| {
            Ok(OpenClinic::new(p, user, role).patient_chart(patient_id)?)
        })
        .await
    }

    // -------------------------------------------------------------- appointments

    pub async fn list_appointments(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        doctor_id: Option<Uuid>,
    ) -> Result<Vec<AppointmentRow>, UiError> {
        self.read_partition(move |p, _, _| {
            let appointments = p.appointments_between(from, to, doctor_id)?;
            let mut rows = Vec::with_capacity(appointments.len());
            for a in appointments {
                let patient = p.get_patient(a.patient_id)?;
                rows.push(AppointmentRow {
                    patient_name: patient.as_ref().map(|x| x.name.clone()),
                    patient_number: patient.map(|x| x.patient_number),
                    appointment: a,
                });
            }
            Ok(rows)
        })
        .await
    }

    pub async fn book_appointment(&self, new: NewAppointment) -> Result<Appointment, UiError> {
        self.with_clinic(move |c| Ok(c.book_appointment(new)?))
            .await
    }

    pub async fn update_appointment(
        &self,
        id: Uuid,
        patch: AppointmentPatch,
    ) -> Result<Appointment, UiError> {
        self.with_clinic(move |c| Ok(c.update_appointment(id, patch)?))
            .await
    }

    /// Doctors of the open clinic.
    pub async fn clinic_doctors(&self) -> Result<Vec<Member>, UiError> {
        let (api, clinic, _) = self.online().await?;
        let members = match api.members(clinic).await {
            Ok(members) => {
                let kept = members.clone();
                self.with_partition(move |p, _, _| Ok(p.set_cached_members(&kept)?))
                    .await?;
                members
            }
            // Offline (or the server is unwell): the list kept from the last fetch.
            Err(e) if e.is_retryable() || matches!(e, ApiError::Unauthenticated) => {
                match self
                    .read_partition(|p, _, _| Ok(p.cached_members()?))
                    .await?
                {
                    Some(members) => members,
                    None => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        Ok(members
            .into_iter()
            .filter(|m| m.role == Role::Doctor && m.revoked_at.is_none())
            .collect())
    }

    // -------------------------------------------------------------- clinical

    pub async fn save_encounter(&self, draft: EncounterDraft) -> Result<Encounter, UiError> {
        let new = NewEncounter {
            id: draft.id,
            patient_id: draft.patient_id,
            appointment_id: draft.appointment_id,
            chief_complaint: draft.chief_complaint,
            notes: draft.notes,
            diagnosis: draft.diagnosis,
            vitals: draft.vitals,
        };
        self.with_clinic(move |c| Ok(c.save_note(new)?)).await
    }

    /// Signs a note as the signed-in doctor (offline too: the server signs it as the
    /// doctor who pushes the change).
    pub async fn sign_encounter(&self, id: Uuid) -> Result<Encounter, UiError> {
        self.with_clinic(move |c| Ok(c.sign_note(id)?)).await
    }

    pub async fn add_addendum(
        &self,
        encounter_id: Uuid,
        text: String,
    ) -> Result<Encounter, UiError> {
        self.with_clinic(move |c| Ok(c.add_addendum(encounter_id, text)?))
            .await
    }

    pub async fn issue_prescription(&self, new: NewPrescription) -> Result<Prescription, UiError> {
        self.with_clinic(move |c| Ok(c.issue_prescription(new)?))
            .await
    }

    /// The allergy warnings for the drugs on the pad so far (the pad asks for an
    /// acknowledgement of each before it issues).
    pub async fn prescription_warnings(
        &self,
        draft: NewPrescription,
    ) -> Result<Vec<vaidya_shared::rules::validation::AllergyWarning>, UiError> {
        self.read_partition(move |p, user, role| {
            Ok(OpenClinic::new(p, user, role).prescription_warnings(&draft)?)
        })
        .await
    }

    /// A patient's allergies (every role: the front desk's card shows a badge).
    pub async fn patient_allergies(
        &self,
        patient_id: Uuid,
    ) -> Result<Vec<vaidya_shared::api::Allergy>, UiError> {
        self.read_partition(move |p, user, role| {
            Ok(OpenClinic::new(p, user, role).allergies(patient_id)?)
        })
        .await
    }

    pub async fn record_allergy(
        &self,
        new: vaidya_shared::api::NewAllergy,
    ) -> Result<vaidya_shared::api::Allergy, UiError> {
        self.with_clinic(move |c| Ok(c.record_allergy(new)?)).await
    }

    pub async fn update_allergy(
        &self,
        id: Uuid,
        patch: vaidya_shared::api::AllergyPatch,
    ) -> Result<vaidya_shared::api::Allergy, UiError> {
        self.with_clinic(move |c| Ok(c.update_allergy(id, patch)?))
            .await
    }

    // -------------------------------------------------------------- billing

    pub async fn create_invoice(&self, new: NewInvoice) -> Result<Invoice, UiError> {
        let clinic_state = {
            let state = self.state.lock().await;
            let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
            // The clinic's own state (from the server or its cached copy) decides CGST+SGST
            // or IGST. Never a guess: a PC that has not yet loaded the clinic's details
            // bills only with an explicit place of supply.
            clinic
                .clinic
                .as_ref()
                .map(|c| c.state_code.clone())
                .or_else(|| new.place_of_supply.clone())
                .ok_or_else(|| {
                    UiError::invalid(
                        "place_of_supply",
                        "This PC has not loaded the clinic's GST details yet; connect once or choose the place of supply.",
                    )
                })?
        };
        self.with_clinic(move |c| Ok(c.issue_invoice(new, &clinic_state)?))
            .await
    }

    pub async fn add_payment(
        &self,
        invoice_id: Uuid,
        payment: NewPayment,
    ) -> Result<Invoice, UiError> {
        self.with_clinic(move |c| Ok(c.take_payment(invoice_id, payment)?))
            .await
    }

    // -------------------------------------------------------------- admin (online only)

    /// The server API, the open clinic and the user's role there.
    async fn online(&self) -> Result<(ServerApi, Uuid, Role), UiError> {
        let state = self.state.lock().await;
        let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
        let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
        Ok((
            client.api().clone(),
            clinic.clinic_id,
            clinic.membership.role,
        ))
    }

    /// The server API, if the permission table lets this member do `action` to `resource`.
    async fn api_for(
        &self,
        resource: Resource,
        action: Action,
    ) -> Result<(ServerApi, Uuid), UiError> {
        let (api, clinic, role) = self.online().await?;
        rules::authorize(role, resource, action)?;
        Ok((api, clinic))
    }

    /// The member list from the server, kept in the partition for offline use.
    async fn fetch_members(&self) -> Result<Vec<Member>, UiError> {
        let (api, clinic, _) = self.online().await?;
        let members = api.members(clinic).await?;
        let kept = members.clone();
        self.with_partition(move |p, _, _| Ok(p.set_cached_members(&kept)?))
            .await?;
        Ok(members)
    }

    /// Members and roles (online only: admins act on the server's current list).
    pub async fn list_members(&self) -> Result<Vec<Member>, UiError> {
        self.fetch_members().await
    }

    pub async fn add_member(&self, mut new: NewMember) -> Result<Member, UiError> {
        new.email = new.email.trim().to_owned();
        if new.email.is_empty() {
            return Err(UiError::invalid("email", "This field is required."));
        }
        let (api, clinic) = self.api_for(Resource::Member, Action::Create).await?;
        let member = api.add_member(clinic, &new).await?;
        let _ = self.fetch_members().await; // keeps the cached list current; best effort
        Ok(member)
    }

    pub async fn set_member_role(&self, member: Uuid, role: Role) -> Result<Member, UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Update).await?;
        let member = api.update_member(clinic, member, role).await?;
        let _ = self.fetch_members().await;
        Ok(member)
    }

    pub async fn revoke_member(&self, member: Uuid) -> Result<(), UiError> {
        let (api, clinic) = self.api_for(Resource::Member, Action::Delete).await?;
        api.revoke_member(clinic, member).await?;
        let _ = self.fetch_members().await;
        Ok(())
    }

    /// One page of the audit trail (online only; the server allows clinic admins).
    pub async fn audit_trail(&self, mut query: AuditQuery) -> Result<Page<AuditEntry>, UiError> {
        let (api, clinic) = self.api_for(Resource::AuditLog, Action::Read).await?;
        if let (Some(from), Some(to)) = (query.from, query.to) {
            if to < from {
                return Err(UiError::invalid("to", "The end must be after the start."));
            }
        }
        query.limit = Some(query.limit.unwrap_or(50).clamp(1, 200));
        query.offset = query.offset.map(|o| o.max(0));
        Ok(api.audit(clinic, &query).await?)
    }

    // -------------------------------------------------------------- conflicts, printing

    pub async fn list_conflicts(&self) -> Result<Vec<ConflictView>, UiError> {
        self.read_partition(|p, _, _| {
            Ok(p.open_conflicts()?
                .into_iter()
                .map(ConflictView::from)
                .collect())
        })
        .await
    }

    /// "Mark resolved" keeps the server's value (the device's value stays on record).
    pub async fn resolve_conflict(&self, id: Uuid) -> Result<bool, UiError> {
        self.with_partition(move |p, _, _| {
            p.resolve_conflict_with(id, Resolution::KeepServer)?;
            Ok(p.resolve_conflict(id)?)
        })
        .await
    }

    /// Records a print in the local access log; it reaches the audit trail as `print`
    /// with the next push (offline prints too).
    pub async fn record_print(&self, entity: String, id: Uuid) -> Result<(), UiError> {
        let entity = match entity.as_str() {
            "invoice" | "receipt" => EntityKind::Invoice,
            "prescription" => EntityKind::Prescription,
            "encounter" => EntityKind::Encounter,
            _ => return Err(UiError::invalid("entity", "unknown print entity")),
        };
        self.read_partition(move |p, _, _| Ok(p.record_print(entity, id)?))
            .await
    }

    // -------------------------------------------------------------- unsent changes

    /// The changes the server rejected, described for a person, and the device invoice
    /// numbers cancelled by discarding. Clinical changes (notes, prescriptions) show their
    /// values only to clinicians, as the chart does.
    pub async fn unsent_changes(&self) -> Result<UnsentView, UiError> {
        self.read_partition(|p, _, role| {
            let changes = p
                .rejected_changes()?
                .into_iter()
                .map(|c| UnsentChangeView::new(c, role))
                .collect();
            let voided = p
                .voided_invoice_numbers()?
                .into_iter()
                .map(VoidedInvoiceView::from)
                .collect();
            Ok(UnsentView { changes, voided })
        })
        .await
    }

    /// Corrects a rejected change and queues it again (a new mutation id, same place in
    /// the outbox); the background sync is nudged to send it at once.
    pub async fn resend_change(
        &self,
        mutation_id: Uuid,
        corrections: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Uuid, UiError> {
        self.with_partition(move |p, _, role| {
            check_unsent_access(p, mutation_id, role)?;
            Ok(p.resend_change(mutation_id, &corrections)?
                .mutation
                .mutation_id)
        })
        .await
    }

    /// Discards a rejected change (audited as `discard` with the next push); returns the
    /// device invoice number recorded as cancelled, if the change used one.
    pub async fn discard_change(&self, mutation_id: Uuid) -> Result<Option<String>, UiError> {
        self.with_partition(move |p, _, role| {
            check_unsent_access(p, mutation_id, role)?;
            let outcome = p.discard_change(mutation_id)?;
            if !outcome.discarded {
                return Err(UiError::new("not_found", "no such rejected change"));
            }
            Ok(outcome.voided_invoice_number)
        })
        .await
    }
}

// ------------------------------------------------------------------ unsent changes: shapes

/// Notes, addenda and prescriptions are clinical: only clinicians see or change them.
fn is_clinical(entity: EntityKind) -> bool {
    matches!(
        entity,
        EntityKind::Encounter | EntityKind::Addendum | EntityKind::Prescription
    )
}

fn may_read_clinical(role: Role) -> bool {
    matches!(role, Role::Doctor | Role::Nurse)
}

/// A front desk or admin user may not correct or discard a clinician's rejected note.
fn check_unsent_access(p: &ClinicPartition, mutation_id: Uuid, role: Role) -> Result<(), UiError> {
    let entity = p
        .outbox()?
        .into_iter()
        .find(|e| e.mutation.mutation_id == mutation_id)
        .map(|e| e.mutation.entity);
    match entity {
        Some(entity) if is_clinical(entity) && !may_read_clinical(role) => Err(UiError::new(
            "forbidden",
            "only doctors and nurses may change clinical notes",
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EditableFieldView {
    pub name: String,
    pub value: serde_json::Value,
}

/// One rejected change for the Unsent changes screen.
#[derive(Debug, Clone, Serialize)]
pub struct UnsentChangeView {
    pub mutation_id: Uuid,
    pub entity: String,
    pub entity_id: Uuid,
    pub op: String,
    pub patient_id: Option<Uuid>,
    pub patient_name: Option<String>,
    pub patient_number: Option<i64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub doctor_id: Option<Uuid>,
    pub invoice_number: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub field: Option<String>,
    pub made_at: DateTime<Utc>,
    pub attempts: i64,
    pub editable: Vec<EditableFieldView>,
    /// False for a clinical change shown to a non-clinician: listed, not opened.
    pub may_change: bool,
}

impl UnsentChangeView {
    fn new(c: vaidya_client::partition::UnsentChange, role: Role) -> UnsentChangeView {
        let may_change = !is_clinical(c.entity) || may_read_clinical(role);
        let op = match c.op {
            vaidya_client::partition::Operation::Create => "create",
            vaidya_client::partition::Operation::Update => "update",
            vaidya_client::partition::Operation::Delete => "delete",
        };
        UnsentChangeView {
            mutation_id: c.mutation_id,
            entity: c.entity.as_str().to_owned(),
            entity_id: c.entity_id,
            op: op.to_owned(),
            patient_id: c.patient_id,
            patient_name: c.patient_name,
            patient_number: c.patient_number,
            starts_at: c.starts_at,
            doctor_id: c.doctor_id,
            invoice_number: c.invoice_number,
            code: c.code,
            message: c.message,
            field: c.field,
            made_at: c.made_at,
            attempts: c.attempts,
            editable: if may_change {
                c.editable
                    .into_iter()
                    .map(|f| EditableFieldView {
                        name: f.name,
                        value: f.value,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            may_change,
        }
    }
}

/// A device invoice number cancelled because its invoice was discarded.
#[derive(Debug, Clone, Serialize)]
pub struct VoidedInvoiceView {
    pub invoice_number: String,
    pub invoice_id: Uuid,
    pub voided_at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl From<vaidya_client::partition::VoidedInvoiceNumber> for VoidedInvoiceView {
    fn from(v: vaidya_client::partition::VoidedInvoiceNumber) -> Self {
        VoidedInvoiceView {
            invoice_number: v.invoice_number,
            invoice_id: v.invoice_id,
            voided_at: v.voided_at,
            reason: v.reason,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UnsentView {
    pub changes: Vec<UnsentChangeView>,
    pub voided: Vec<VoidedInvoiceView>,
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
