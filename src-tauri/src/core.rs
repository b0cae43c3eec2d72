//! The shell's ONE door to `vaidya-client`: every command goes through [`Core`], so changes
//! in the client's API stay local to this file. No sync logic lives here: the client's
//! `SyncEngine` does the work; this module starts it, and turns its results into UI events.
//!
//! FIXMEs below name what the client core does not offer yet; the matching commands answer
//! `{code: "not_available"}` until it does.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex, Notify};
use uuid::Uuid;
use vaidya_client::partition::Conflict;
use vaidya_client::sync::status_of;
use vaidya_client::{
    Client, ClientConfig, ClinicPartition, CredentialStore, DataDir, Mode, SessionError,
};
use vaidya_shared::api::{
    Appointment, AppointmentPatch, AuditEntry, AuditQuery, Clinic, Encounter, Invoice, Member,
    Membership, NewAppointment, NewEncounter, NewInvoice, NewMember, NewPayment, NewPrescription,
    Page, Patient, PatientPatch, Prescription, Role, UserSummary,
};
use vaidya_shared::sync::Resolution;

use crate::error::UiError;

/// How often the background sync does a full round even without live notifications, so the
/// online/offline indicator stays true on a quiet day.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(60);

/// How long the first keyring look-up may take before the UI is told the keyring is unusable.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------ shapes for the UI

#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub server: String,
    pub user: UserSummary,
    pub memberships: Vec<Membership>,
    pub offline: bool,
    pub offline_lease_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClinicView {
    pub membership: Membership,
    /// Name, GSTIN, state code and address; `None` until the client can fetch it.
    pub clinic: Option<Clinic>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppointmentRow {
    pub appointment: Appointment,
    pub patient_name: Option<String>,
    pub patient_number: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientChart {
    pub patient: Patient,
    pub appointments: Vec<Appointment>,
    /// Empty for roles that may not read clinical notes (front desk, admin).
    pub encounters: Vec<Encounter>,
    pub prescriptions: Vec<Prescription>,
    pub invoices: Vec<Invoice>,
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
    pub pending: i64,
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

struct OpenClinic {
    membership: Membership,
    clinic: Option<Clinic>,
    /// The UI's connection to the partition. The sync engine has its own (WAL lets both work).
    partition: Arc<StdMutex<ClinicPartition>>,
    sync_now: Arc<Notify>,
    stop: watch::Sender<bool>,
    status: Arc<StdMutex<SyncStatusView>>,
}

impl Drop for OpenClinic {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    clinic: Option<OpenClinic>,
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
            match Client::resume(self.config(&active.server)).await {
                Ok(client) => state.client = Some(client),
                Err(SessionError::NotSignedIn) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(state.client.as_ref().map(session_view))
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
        let view = session_view(&client);
        let mut state = self.state.lock().await;
        state.clinic = None;
        state.client = Some(client);
        Ok(view)
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
    pub async fn open_clinic(&self, clinic_id: Uuid, emit: Emitter) -> Result<ClinicView, UiError> {
        let mut state = self.state.lock().await;
        state.clinic = None;
        let client = state.client.as_ref().ok_or_else(UiError::not_signed_in)?;
        let membership = membership_of(client, clinic_id)?;
        let partition = client.open_partition(clinic_id)?;
        let engine = client.sync_engine(clinic_id)?;
        let online = client.mode() == Mode::Online;
        let initial = {
            let s = status_of(&partition)?;
            SyncStatusView {
                online,
                syncing: false,
                pending: s.pending + s.failed,
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
            engine,
            partition: partition.clone(),
            emit,
            status: status.clone(),
            sync_now: sync_now.clone(),
            stop: stop_rx,
        }));
        // FIXME(client): no `ServerApi` call for `GET /v1/clinics/{id}` yet, so the clinic's
        // GSTIN, state code and address (needed on tax invoices) are unknown here.
        let clinic = None;
        state.clinic = Some(OpenClinic {
            membership: membership.clone(),
            clinic: clinic.clone(),
            partition,
            sync_now,
            stop,
            status,
        });
        Ok(ClinicView { membership, clinic })
    }

    /// Runs `f` on the open partition on a blocking thread (SQLite work never blocks the
    /// async runtime), with the user's id and role.
    async fn with_partition<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut ClinicPartition, Uuid, Role) -> Result<T, UiError> + Send + 'static,
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
        // A local write (or read, which is audited) waits in the outbox: push it soon.
        sync_now.notify_one();
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
        self.with_partition(move |p, _, _| Ok(p.search_patients(&query, limit.clamp(1, 200))?))
            .await
    }

    pub async fn get_patient(&self, id: Uuid) -> Result<Patient, UiError> {
        self.with_partition(move |p, _, _| {
            p.get_patient(id)?
                .ok_or_else(|| UiError::new("not_found", "no such patient"))
        })
        .await
    }

    pub async fn create_patient(
        &self,
        new: vaidya_shared::api::NewPatient,
    ) -> Result<Patient, UiError> {
        let new = clean_new_patient(new)?;
        self.with_partition(move |p, _, _| Ok(p.create_patient(new)?))
            .await
    }

    pub async fn update_patient(&self, id: Uuid, patch: PatientPatch) -> Result<Patient, UiError> {
        let patch = clean_patient_patch(patch)?;
        self.with_partition(move |p, _, _| Ok(p.update_patient(id, patch)?))
            .await
    }

    pub async fn patient_chart(&self, patient_id: Uuid) -> Result<PatientChart, UiError> {
        self.with_partition(move |p, _, role| {
            let patient = p
                .get_patient(patient_id)?
                .ok_or_else(|| UiError::new("not_found", "no such patient"))?;
            // Clinical notes only for clinicians (the server's RLS agrees).
            let encounters = if role.is_clinician() {
                p.encounters_for_patient(patient_id)?
            } else {
                Vec::new()
            };
            let prescriptions = if role.is_clinician() {
                p.prescriptions_for_patient(patient_id)?
            } else {
                Vec::new()
            };
            Ok(PatientChart {
                patient,
                appointments: p.appointments_for_patient(patient_id)?,
                encounters,
                prescriptions,
                invoices: p.invoices_for_patient(patient_id)?,
            })
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
        self.with_partition(move |p, _, _| {
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
        if new.ends_at <= new.starts_at {
            return Err(UiError::invalid(
                "ends_at",
                "The end must be after the start.",
            ));
        }
        self.with_partition(move |p, _, _| Ok(p.create_appointment(new)?))
            .await
    }

    pub async fn update_appointment(
        &self,
        id: Uuid,
        patch: AppointmentPatch,
    ) -> Result<Appointment, UiError> {
        self.with_partition(move |p, _, _| {
            if let Some(next) = patch.status {
                let current = p
                    .get_appointment(id)?
                    .ok_or_else(|| UiError::new("not_found", "no such appointment"))?;
                if !current.status.can_move_to(next) {
                    return Err(UiError::new(
                        "invalid_state",
                        format!(
                            "an appointment cannot go from {} to {}",
                            current.status.as_str(),
                            next.as_str()
                        ),
                    ));
                }
            }
            Ok(p.update_appointment(id, patch)?)
        })
        .await
    }

    /// Doctors of the open clinic.
    pub async fn clinic_doctors(&self) -> Result<Vec<Member>, UiError> {
        // FIXME(client): needs `ServerApi::members(clinic)` (GET /v1/clinics/{id}/members) and
        // a cached copy for offline use. Until then the UI falls back to the signed-in doctor.
        Err(UiError::not_available("The clinic's doctor list"))
    }

    // -------------------------------------------------------------- clinical

    pub async fn save_encounter(&self, draft: EncounterDraft) -> Result<Encounter, UiError> {
        self.with_partition(move |p, user, role| {
            if !role.is_clinician() {
                return Err(UiError::new("forbidden", "only clinicians write notes"));
            }
            match draft.id.and_then(|id| p.get_encounter(id).transpose()) {
                None => Ok(p.create_encounter(
                    NewEncounter {
                        id: draft.id,
                        patient_id: draft.patient_id,
                        appointment_id: draft.appointment_id,
                        chief_complaint: draft.chief_complaint,
                        notes: draft.notes,
                        diagnosis: draft.diagnosis,
                        vitals: draft.vitals,
                    },
                    user,
                )?),
                Some(existing) => {
                    let existing = existing?;
                    if existing.signed_at.is_some() {
                        return Err(UiError::new(
                            "invalid_state",
                            "a signed note cannot change; add an addendum",
                        ));
                    }
                    // FIXME(client): needs `ClinicPartition::update_encounter(id, EncounterPatch)`
                    // (local row + field-level outbox mutation) to edit a draft.
                    Err(UiError::not_available("Editing a saved draft"))
                }
            }
        })
        .await
    }

    pub async fn sign_encounter(&self, _id: Uuid) -> Result<Encounter, UiError> {
        // FIXME(client): needs `ClinicPartition::sign_encounter(id, signer)` and a sync
        // mutation for signing (the server has POST …/encounters/{id}/sign, the push protocol
        // has no sign operation yet).
        Err(UiError::not_available("Signing a note"))
    }

    pub async fn add_addendum(
        &self,
        encounter_id: Uuid,
        text: String,
    ) -> Result<Encounter, UiError> {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(UiError::invalid("text", "This field is required."));
        }
        self.with_partition(move |p, user, role| {
            if !role.is_clinician() {
                return Err(UiError::new("forbidden", "only clinicians write notes"));
            }
            Ok(p.add_addendum(encounter_id, &text, user)?)
        })
        .await
    }

    pub async fn issue_prescription(&self, _new: NewPrescription) -> Result<Prescription, UiError> {
        // FIXME(client): needs `ClinicPartition::create_prescription(new, doctor_id)` (like
        // `create_encounter`) so a prescription is written locally with its outbox entry.
        Err(UiError::not_available("Issuing a prescription"))
    }

    // -------------------------------------------------------------- billing

    pub async fn create_invoice(&self, new: NewInvoice) -> Result<Invoice, UiError> {
        let clinic_state = {
            let state = self.state.lock().await;
            let clinic = state.clinic.as_ref().ok_or_else(UiError::no_clinic)?;
            // FIXME(client): the clinic's own state code comes with `GET /v1/clinics/{id}`,
            // which the client cannot fetch yet; until then the place of supply stands in,
            // which makes every invoice intra-state (CGST+SGST).
            clinic
                .clinic
                .as_ref()
                .map(|c| c.state_code.clone())
                .or_else(|| new.place_of_supply.clone())
                .unwrap_or_else(|| "27".to_owned())
        };
        if new.lines.is_empty() {
            return Err(UiError::invalid(
                "lines",
                "An invoice needs at least one line.",
            ));
        }
        self.with_partition(move |p, _, _| Ok(p.create_invoice(new, &clinic_state)?))
            .await
    }

    pub async fn add_payment(
        &self,
        _invoice_id: Uuid,
        _payment: NewPayment,
    ) -> Result<Invoice, UiError> {
        // FIXME(client): needs `ClinicPartition::add_payment(invoice_id, NewPayment)` (the
        // invoice with the payment added plus a `payment` mutation).
        Err(UiError::not_available("Recording a payment"))
    }

    // -------------------------------------------------------------- admin (online only)

    pub async fn list_members(&self) -> Result<Vec<Member>, UiError> {
        // FIXME(client): needs `ServerApi::members(clinic)`.
        Err(UiError::not_available("The member list"))
    }

    pub async fn add_member(&self, _new: NewMember) -> Result<Member, UiError> {
        // FIXME(client): needs `ServerApi::add_member(clinic, NewMember)`.
        Err(UiError::not_available("Adding members"))
    }

    pub async fn set_member_role(&self, _member: Uuid, _role: Role) -> Result<Member, UiError> {
        // FIXME(client): needs `ServerApi::update_member(clinic, member, MemberPatch)`.
        Err(UiError::not_available("Changing roles"))
    }

    pub async fn revoke_member(&self, _member: Uuid) -> Result<(), UiError> {
        // FIXME(client): needs `ServerApi::revoke_member(clinic, member)`.
        Err(UiError::not_available("Revoking members"))
    }

    pub async fn audit_trail(&self, _query: AuditQuery) -> Result<Page<AuditEntry>, UiError> {
        // FIXME(client): needs `ServerApi::audit(clinic, AuditQuery)`.
        Err(UiError::not_available("The audit trail"))
    }

    // -------------------------------------------------------------- conflicts, printing

    pub async fn list_conflicts(&self) -> Result<Vec<ConflictView>, UiError> {
        self.with_partition(|p, _, _| {
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

    pub async fn record_print(&self, entity: String, id: Uuid) -> Result<(), UiError> {
        // Reading the row records the access locally; the print itself is not yet its own
        // audit action.
        // FIXME(client): needs `ClinicPartition::record_print(entity, id)` so prints reach
        // the audit trail as `print` (DESIGN.md: prints are audited).
        self.with_partition(move |p, _, _| {
            match entity.as_str() {
                "invoice" => {
                    p.get_invoice(id)?;
                }
                "prescription" => {
                    p.get_prescription(id)?;
                }
                _ => return Err(UiError::invalid("entity", "unknown print entity")),
            }
            Ok(())
        })
        .await
    }
}

fn session_view(client: &Client) -> SessionView {
    let memberships = if client.memberships().is_empty() {
        // FIXME(client): offline unlock knows only clinic ids, not names and roles; keep the
        // memberships with the session so an offline doctor keeps the doctor's screens.
        // Until then the least-privileged role is assumed.
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
            // FIXME(client): `Client` keeps no display name; the email stands in.
            display_name: client.email().to_owned(),
        },
        memberships,
        offline: client.mode() == Mode::Offline,
        offline_lease_until: Some(client.lease_until()),
    }
}

fn membership_of(client: &Client, clinic_id: Uuid) -> Result<Membership, UiError> {
    session_view(client)
        .memberships
        .into_iter()
        .find(|m| m.clinic_id == clinic_id)
        .ok_or_else(|| UiError::new("not_a_member", "you are not a member of this clinic"))
}

/// Same rules as the server (`shared::validate`), so nothing the server would refuse waits
/// in the outbox.
fn clean_new_patient(
    mut new: vaidya_shared::api::NewPatient,
) -> Result<vaidya_shared::api::NewPatient, UiError> {
    use vaidya_shared::validate::{clean_text, normalize_abha, normalize_phone};
    new.name = clean_text(&new.name, 200).map_err(|m| UiError::invalid("name", m))?;
    if new.name.is_empty() {
        return Err(UiError::invalid("name", "This field is required."));
    }
    new.phone = match new.phone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(normalize_phone(p).map_err(|m| UiError::invalid("phone", m))?),
    };
    new.abha_number = match new.abha_number.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(normalize_abha(a).map_err(|m| UiError::invalid("abha_number", m))?),
    };
    new.address = match new.address.as_deref() {
        None => None,
        Some(a) => Some(clean_text(a, 500).map_err(|m| UiError::invalid("address", m))?)
            .filter(|a| !a.is_empty()),
    };
    Ok(new)
}

fn clean_patient_patch(mut patch: PatientPatch) -> Result<PatientPatch, UiError> {
    use vaidya_shared::validate::{clean_text, normalize_abha, normalize_phone};
    if let Some(name) = &patch.name {
        let name = clean_text(name, 200).map_err(|m| UiError::invalid("name", m))?;
        if name.is_empty() {
            return Err(UiError::invalid("name", "This field is required."));
        }
        patch.name = Some(name);
    }
    // An empty string clears the field (PatientPatch convention).
    if let Some(p) = patch.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        patch.phone = Some(normalize_phone(p).map_err(|m| UiError::invalid("phone", m))?);
    }
    if let Some(a) = patch
        .abha_number
        .as_deref()
        .filter(|a| !a.trim().is_empty())
    {
        patch.abha_number =
            Some(normalize_abha(a).map_err(|m| UiError::invalid("abha_number", m))?);
    }
    if let Some(a) = &patch.address {
        patch.address = Some(clean_text(a, 500).map_err(|m| UiError::invalid("address", m))?);
    }
    Ok(patch)
}
