//! Tauri commands: thin, async, each delegating to [`Core`]. Arguments arrive camelCased
//! from the UI (`patientId`), results and errors leave as JSON (`{code, message}`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tauri::{AppHandle, Emitter as _, Runtime, State, WebviewWindow};
use uuid::Uuid;
use vaidya_shared::api::{
    Appointment, AppointmentPatch, AuditEntry, AuditQuery, CollectionsQuery, CollectionsReport,
    Encounter, Invitation, Invoice, Member, MemberAdded, MemberDevice, NewAppointment, NewInvoice,
    NewMember, NewPatient, NewPayment, NewPrescription, Page, Patient, PatientPatch, Prescription,
    Role,
};

use vaidya_client::PatientChart;
use vaidya_shared::api::CancelInvoice;
use vaidya_shared::api::{Allergy, AllergyPatch, NewAllergy};
use vaidya_shared::gstr1::{Gstr1Query, Gstr1Report};
use vaidya_shared::rules::validation::AllergyWarning;

use crate::core::{
    AppointmentRow, ClinicView, ConflictView, Core, EncounterDraft, SessionChange, SessionView,
    SyncEvent, SyncStatusView, UnsentView,
};
use crate::error::UiError;
use crate::events;
use crate::updates;

type Result<T> = std::result::Result<T, UiError>;

#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    pub device: String,
}

#[tauri::command]
pub async fn app_info(core: State<'_, Core>) -> Result<AppInfo> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        device: core.device()?,
    })
}

/// The UI's first interactive screen is on screen: logs how long start-up took (the
/// desktop benchmark reads this line; support staff can too).
#[tauri::command]
pub fn ui_ready(screen: String) {
    let since_start = crate::STARTED.get().map(|t| t.elapsed().as_millis());
    tracing::info!(screen = %screen, ms = ?since_start, "first screen interactive");
    crate::startup::first_screen_drawn();
}

#[tauri::command]
pub async fn current_session<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
) -> Result<Option<SessionView>> {
    let emit = std::sync::Arc::new(move |change: SessionChange| {
        if let Err(e) = app.emit(events::SESSION, &change) {
            tracing::warn!(error = %e, "could not emit a session change");
        }
    });
    core.current_session(emit).await
}

#[tauri::command]
pub async fn sign_in(
    core: State<'_, Core>,
    server: String,
    email: String,
    password: String,
) -> Result<SessionView> {
    core.sign_in(&server, &email, &password).await
}

#[tauri::command]
pub async fn sign_out(core: State<'_, Core>) -> Result<()> {
    core.sign_out().await
}

#[tauri::command]
pub async fn open_clinic<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
    clinic_id: Uuid,
) -> Result<ClinicView> {
    let emit = std::sync::Arc::new(move |event: SyncEvent| {
        let result = match &event {
            SyncEvent::Status(s) => app.emit(events::STATUS, s),
            SyncEvent::Changed => app.emit(events::CHANGED, ()),
            SyncEvent::Conflicts(n) => app.emit(events::CONFLICTS, n),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not emit a sync event");
        }
    });
    core.open_clinic(clinic_id, emit).await
}

#[tauri::command]
pub async fn search_patients(
    core: State<'_, Core>,
    query: String,
    limit: Option<i64>,
) -> Result<Vec<Patient>> {
    core.search_patients(query, limit.unwrap_or(30)).await
}

#[tauri::command]
pub async fn get_patient(core: State<'_, Core>, id: Uuid) -> Result<Patient> {
    core.get_patient(id).await
}

#[tauri::command]
pub async fn create_patient(core: State<'_, Core>, patient: NewPatient) -> Result<Patient> {
    core.create_patient(patient).await
}

#[tauri::command]
pub async fn likely_duplicates(
    core: State<'_, Core>,
    patient: NewPatient,
) -> Result<Vec<vaidya_shared::rules::duplicates::LikelyDuplicate>> {
    core.likely_duplicates(patient).await
}

#[tauri::command]
pub async fn merge_patients(
    core: State<'_, Core>,
    survivor: Uuid,
    duplicate: Uuid,
) -> Result<Patient> {
    core.merge_patients(survivor, duplicate).await
}

/// Keeps what is typed in a form (`patient:new`, `patient:<id>`, `invoice:<patient id>`).
#[tauri::command]
pub async fn keep_form_draft(
    core: State<'_, Core>,
    form: String,
    data: serde_json::Value,
) -> Result<()> {
    core.keep_form_draft(form, data).await
}

#[tauri::command]
pub async fn form_draft(
    core: State<'_, Core>,
    form: String,
) -> Result<Option<crate::core::KeptDraftView>> {
    core.form_draft(form).await
}

#[tauri::command]
pub async fn drop_form_draft(core: State<'_, Core>, form: String) -> Result<()> {
    core.drop_form_draft(form).await
}

#[tauri::command]
pub async fn keep_note_draft(
    core: State<'_, Core>,
    patient_id: Uuid,
    data: serde_json::Value,
) -> Result<()> {
    core.keep_note_draft(patient_id, data).await
}

#[tauri::command]
pub async fn note_draft(
    core: State<'_, Core>,
    patient_id: Uuid,
) -> Result<Option<crate::core::KeptDraftView>> {
    core.note_draft(patient_id).await
}

#[tauri::command]
pub async fn drop_note_draft(core: State<'_, Core>, patient_id: Uuid) -> Result<()> {
    core.drop_note_draft(patient_id).await
}

#[tauri::command]
pub async fn update_patient(
    core: State<'_, Core>,
    id: Uuid,
    patch: PatientPatch,
) -> Result<Patient> {
    core.update_patient(id, patch).await
}

#[tauri::command]
pub async fn patient_chart(core: State<'_, Core>, patient_id: Uuid) -> Result<PatientChart> {
    core.patient_chart(patient_id).await
}

#[tauri::command]
pub async fn patient_allergies(core: State<'_, Core>, patient_id: Uuid) -> Result<Vec<Allergy>> {
    core.patient_allergies(patient_id).await
}

#[tauri::command]
pub async fn record_allergy(core: State<'_, Core>, allergy: NewAllergy) -> Result<Allergy> {
    core.record_allergy(allergy).await
}

#[tauri::command]
pub async fn update_allergy(
    core: State<'_, Core>,
    id: Uuid,
    patch: AllergyPatch,
) -> Result<Allergy> {
    core.update_allergy(id, patch).await
}

#[tauri::command]
pub async fn prescription_warnings(
    core: State<'_, Core>,
    prescription: NewPrescription,
) -> Result<Vec<AllergyWarning>> {
    core.prescription_warnings(prescription).await
}

#[tauri::command]
pub async fn list_appointments(
    core: State<'_, Core>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    doctor_id: Option<Uuid>,
) -> Result<Vec<AppointmentRow>> {
    core.list_appointments(from, to, doctor_id).await
}

/// The appointments a double-booking conflict names (`ids`), with their patients.
#[tauri::command]
pub async fn appointments_by_id(
    core: State<'_, Core>,
    ids: Vec<Uuid>,
) -> Result<Vec<AppointmentRow>> {
    core.appointments_by_id(ids).await
}

#[tauri::command]
pub async fn book_appointment(
    core: State<'_, Core>,
    appointment: NewAppointment,
) -> Result<Appointment> {
    core.book_appointment(appointment).await
}

#[tauri::command]
pub async fn update_appointment(
    core: State<'_, Core>,
    id: Uuid,
    patch: AppointmentPatch,
) -> Result<Appointment> {
    core.update_appointment(id, patch).await
}

#[tauri::command]
pub async fn clinic_doctors(core: State<'_, Core>) -> Result<Vec<Member>> {
    core.clinic_doctors().await
}

#[tauri::command]
pub async fn save_encounter(core: State<'_, Core>, draft: EncounterDraft) -> Result<Encounter> {
    core.save_encounter(draft).await
}

#[tauri::command]
pub async fn sign_encounter(core: State<'_, Core>, id: Uuid) -> Result<Encounter> {
    core.sign_encounter(id).await
}

#[tauri::command]
pub async fn add_addendum(
    core: State<'_, Core>,
    encounter_id: Uuid,
    text: String,
) -> Result<Encounter> {
    core.add_addendum(encounter_id, text).await
}

#[tauri::command]
pub async fn issue_prescription(
    core: State<'_, Core>,
    prescription: NewPrescription,
) -> Result<Prescription> {
    core.issue_prescription(prescription).await
}

#[tauri::command]
pub async fn create_invoice(core: State<'_, Core>, invoice: NewInvoice) -> Result<Invoice> {
    core.create_invoice(invoice).await
}

#[tauri::command]
pub async fn add_payment(
    core: State<'_, Core>,
    invoice_id: Uuid,
    payment: NewPayment,
) -> Result<Invoice> {
    core.add_payment(invoice_id, payment).await
}

#[tauri::command]
pub async fn list_catalogue(
    core: State<'_, Core>,
) -> Result<Vec<vaidya_shared::api::CatalogueItem>> {
    core.list_catalogue().await
}

#[tauri::command]
pub async fn add_catalogue_item(
    core: State<'_, Core>,
    item: vaidya_shared::api::NewCatalogueItem,
) -> Result<vaidya_shared::api::CatalogueItem> {
    core.add_catalogue_item(item).await
}

#[tauri::command]
pub async fn update_catalogue_item(
    core: State<'_, Core>,
    id: Uuid,
    patch: vaidya_shared::api::CatalogueItemPatch,
) -> Result<vaidya_shared::api::CatalogueItem> {
    core.update_catalogue_item(id, patch).await
}

#[tauri::command]
pub async fn group_catalogue(core: State<'_, Core>) -> Result<vaidya_shared::api::GroupCatalogue> {
    core.group_catalogue().await
}

#[tauri::command]
pub async fn add_group_catalogue_item(
    core: State<'_, Core>,
    new: vaidya_shared::api::NewGroupCatalogueItem,
) -> Result<vaidya_shared::api::GroupCatalogueItem> {
    core.add_group_catalogue_item(new).await
}

#[tauri::command]
pub async fn update_group_catalogue_item(
    core: State<'_, Core>,
    id: Uuid,
    patch: vaidya_shared::api::CatalogueItemPatch,
) -> Result<vaidya_shared::api::GroupCatalogueItem> {
    core.update_group_catalogue_item(id, patch).await
}

#[tauri::command]
pub async fn issue_credit_note(
    core: State<'_, Core>,
    invoice_id: Uuid,
    note: vaidya_shared::api::NewCreditNote,
) -> Result<Invoice> {
    core.issue_credit_note(invoice_id, note).await
}

#[tauri::command]
pub async fn cancel_invoice(
    core: State<'_, Core>,
    invoice_id: Uuid,
    cancel: CancelInvoice,
) -> Result<Invoice> {
    core.cancel_invoice(invoice_id, cancel).await
}

#[tauri::command]
pub async fn list_members(core: State<'_, Core>) -> Result<Vec<Member>> {
    core.list_members().await
}

#[tauri::command]
pub async fn member_devices(core: State<'_, Core>) -> Result<Vec<MemberDevice>> {
    core.member_devices().await
}

#[tauri::command]
pub async fn add_member(core: State<'_, Core>, member: NewMember) -> Result<MemberAdded> {
    core.add_member(member).await
}

#[tauri::command]
pub async fn clinic_invitations(core: State<'_, Core>) -> Result<Vec<Invitation>> {
    core.clinic_invitations().await
}

#[tauri::command]
pub async fn withdraw_invitation(core: State<'_, Core>, id: Uuid) -> Result<()> {
    core.withdraw_invitation(id).await
}

#[tauri::command]
pub async fn my_invitations(core: State<'_, Core>) -> Result<Vec<Invitation>> {
    core.my_invitations().await
}

#[tauri::command]
pub async fn answer_invitation(
    core: State<'_, Core>,
    id: Uuid,
    accept: bool,
) -> Result<SessionView> {
    core.answer_invitation(id, accept).await
}

#[tauri::command]
pub async fn set_member_role(core: State<'_, Core>, member_id: Uuid, role: Role) -> Result<Member> {
    core.set_member_role(member_id, role).await
}

#[tauri::command]
pub async fn set_member_registration(
    core: State<'_, Core>,
    member_id: Uuid,
    registration: vaidya_shared::api::MedicalRegistration,
) -> Result<Member> {
    core.set_member_registration(member_id, registration).await
}

#[tauri::command]
pub async fn list_hubs(core: State<'_, Core>) -> Result<Vec<vaidya_shared::api::Hub>> {
    core.list_hubs().await
}

#[tauri::command]
pub async fn revoke_hub(core: State<'_, Core>, hub_id: Uuid) -> Result<()> {
    core.revoke_hub(hub_id).await
}

#[tauri::command]
pub async fn revoke_member(core: State<'_, Core>, member_id: Uuid) -> Result<()> {
    core.revoke_member(member_id).await
}

#[tauri::command]
pub async fn group_collections_report(
    core: State<'_, Core>,
    query: CollectionsQuery,
) -> Result<vaidya_shared::api::GroupCollectionsReport> {
    core.group_collections(query).await
}

#[tauri::command]
pub async fn collections_report(
    core: State<'_, Core>,
    query: CollectionsQuery,
) -> Result<CollectionsReport> {
    core.collections_report(query).await
}

/// Saves the collections report as CSV in the user's Downloads folder and returns the
/// file's path.
#[tauri::command]
pub async fn export_collections_csv<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
    query: CollectionsQuery,
) -> Result<String> {
    let report = core.collections_report(query).await?;
    let name = format!("vaidya-collections-{}-to-{}.csv", report.from, report.to);
    // Doctors by name, from the member list (the report names them by id).
    let doctors = core.list_members().await.unwrap_or_default();
    let doctor_name = |id: Option<Uuid>| match id {
        None => "No doctor named".to_owned(),
        Some(id) => doctors
            .iter()
            .find(|m| m.user.id == id)
            .map_or_else(|| id.to_string(), |m| m.user.display_name.clone()),
    };
    save_report(&app, &name, &report.to_csv(doctor_name))
}

#[tauri::command]
pub async fn gstr1_report(core: State<'_, Core>, query: Gstr1Query) -> Result<Gstr1Report> {
    core.gstr1_report(query).await
}

/// Saves the GSTR-1 in the Downloads folder twice: the JSON the GST offline tool imports
/// and a CSV for the accountant. Returns both paths.
#[tauri::command]
pub async fn export_gstr1<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
    query: Gstr1Query,
) -> Result<Vec<String>> {
    let report = core.gstr1_report(query).await?;
    let stem = format!("vaidya-gstr1-{}-{}", report.gstin, report.return_period);
    let json = serde_json::to_string_pretty(&report.offline_tool_json())
        .map_err(|e| UiError::new("io_error", format!("the return could not be written: {e}")))?;
    Ok(vec![
        save_report(&app, &format!("{stem}.json"), &json)?,
        save_report(&app, &format!("{stem}.csv"), &report.to_csv())?,
    ])
}

/// Writes a report into the user's Downloads folder (Documents, or the home folder, where
/// there is none) and returns its path. Written aside and renamed, so a half-written report
/// never carries the final name.
fn save_report<R: Runtime>(app: &AppHandle<R>, name: &str, contents: &str) -> Result<String> {
    use tauri::Manager as _;
    let paths = app.path();
    let dir = paths
        .download_dir()
        .or_else(|_| paths.document_dir())
        .or_else(|_| paths.home_dir())
        .map_err(|e| UiError::new("io_error", format!("no folder to save the report in: {e}")))?;
    let path = dir.join(name);
    let aside = dir.join(format!("{name}.part"));
    std::fs::write(&aside, contents)
        .and_then(|()| std::fs::rename(&aside, &path))
        .map_err(|e| UiError::new("io_error", format!("the report could not be saved: {e}")))?;
    Ok(path.display().to_string())
}

#[tauri::command]
pub async fn audit_trail(core: State<'_, Core>, query: AuditQuery) -> Result<Page<AuditEntry>> {
    core.audit_trail(query).await
}

#[tauri::command]
pub async fn list_conflicts(core: State<'_, Core>) -> Result<Vec<ConflictView>> {
    core.list_conflicts().await
}

#[tauri::command]
pub async fn resolve_conflict(
    core: State<'_, Core>,
    id: Uuid,
    resolution: Option<vaidya_shared::sync::Resolution>,
) -> Result<()> {
    let resolution = resolution.unwrap_or(vaidya_shared::sync::Resolution::KeepServer);
    core.resolve_conflict(id, resolution).await
}

#[tauri::command]
pub async fn sync_status(core: State<'_, Core>) -> Result<SyncStatusView> {
    core.sync_status().await
}

#[tauri::command]
pub async fn sync_now(core: State<'_, Core>) -> Result<()> {
    core.sync_now().await
}

/// The update the server announces for this build, if any (the banner).
#[tauri::command]
pub async fn check_update(core: State<'_, Core>) -> Result<Option<updates::UpdateView>> {
    Ok(core
        .announced_update()
        .await?
        .map(|(_, update)| updates::UpdateView::of(&update)))
}

/// Sends what it can, then downloads, verifies and installs the announced update, and
/// restarts into it. Progress arrives as [`events::UPDATE_PROGRESS`].
#[tauri::command]
pub async fn install_update<R: Runtime>(app: AppHandle<R>, core: State<'_, Core>) -> Result<()> {
    let Some(pubkey) = updates::RELEASE_PUBKEY.filter(|k| !k.trim().is_empty()) else {
        return Err(UiError::new(
            "update_not_configured",
            "this build was made without the release key and cannot install updates itself",
        ));
    };
    let Some((server, announced)) = core.announced_update().await? else {
        return Err(UiError::new("update_none", "this version is up to date"));
    };
    let waiting = core.send_waiting_work(SEND_BEFORE_UPDATE).await;
    tracing::info!(version = %announced.version, waiting, "installing a desktop update");
    let Some(update) = updates::verified_update(&app, &server, pubkey, &announced)? else {
        return Err(UiError::new("update_none", "this version is up to date"));
    };
    let mut received = 0u64;
    let progress = |chunk: usize, total: Option<u64>| {
        received += chunk as u64;
        let _ = app.emit(events::UPDATE_PROGRESS, UpdateProgress { received, total });
    };
    updates::install(update, progress).await?;
    app.restart()
}

/// How long an update waits for the outbox to be sent first.
const SEND_BEFORE_UPDATE: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Debug, Clone, Serialize)]
pub struct UpdateProgress {
    pub received: u64,
    pub total: Option<u64>,
}

#[tauri::command]
pub async fn record_print(core: State<'_, Core>, entity: String, id: Uuid) -> Result<()> {
    core.record_print(entity, id).await
}

/// Rejected changes and cancelled device invoice numbers (the Unsent changes screen).
#[tauri::command]
pub async fn unsent_changes(core: State<'_, Core>) -> Result<UnsentView> {
    core.unsent_changes().await
}

/// Corrects a rejected change and sends it again; returns its new mutation id.
#[tauri::command]
pub async fn resend_change(
    core: State<'_, Core>,
    mutation_id: Uuid,
    corrections: serde_json::Map<String, serde_json::Value>,
) -> Result<Uuid> {
    core.resend_change(mutation_id, corrections).await
}

/// Discards a rejected change; returns the device invoice number it cancelled, if any.
#[tauri::command]
pub async fn discard_change(core: State<'_, Core>, mutation_id: Uuid) -> Result<Option<String>> {
    core.discard_change(mutation_id).await
}

/// Saves the document laid out for printing as `<name>.pdf` in Downloads (the webview's own
/// print engine, `pdf`); returns its path. Written aside and renamed, so a half-written PDF
/// never carries the final name.
#[tauri::command]
pub async fn save_pdf<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    name: String,
    page: crate::pdf::PageSize,
) -> Result<String> {
    use tauri::Manager as _;
    let page = page.check().map_err(|m| UiError::invalid("page", m))?;
    // A file name from the document's title and number: letters, digits, spaces, dashes.
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(120)
        .collect();
    let stem = stem.trim();
    if stem.is_empty() {
        return Err(UiError::invalid("name", "Name the PDF."));
    }
    let paths = app.path();
    let dir = paths
        .download_dir()
        .or_else(|_| paths.document_dir())
        .or_else(|_| paths.home_dir())
        .map_err(|e| UiError::new("io_error", format!("no folder to save the PDF in: {e}")))?;
    let path = dir.join(format!("{stem}.pdf"));
    let aside = dir.join(format!("{stem}.pdf.part"));
    crate::pdf::save(&window, &aside, page)
        .await
        .map_err(|e| match e {
            crate::pdf::PdfError::Unavailable => UiError::new("pdf_unavailable", e.to_string()),
            crate::pdf::PdfError::Failed(_) => UiError::new("pdf_failed", e.to_string()),
        })?;
    std::fs::rename(&aside, &path)
        .map_err(|e| UiError::new("io_error", format!("the PDF could not be saved: {e}")))?;
    Ok(path.display().to_string())
}

/// Opens the system print dialog for the window (PDF is one of its printers).
#[tauri::command]
pub async fn print_page<R: Runtime>(window: WebviewWindow<R>) -> Result<()> {
    window
        .print()
        .map_err(|e| UiError::new("print_failed", e.to_string()))
}
