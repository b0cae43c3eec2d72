// The only door to the Rust core. The UI never talks to the server: every call is a Tauri
// command implemented in `src-tauri/src/commands.rs`, and every error arrives as
// `{code, message}`.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { en } from "../strings/en";
import type {
  Allergy, AllergyPatch, AllergyWarning, NewAllergy, AppInfo, CollectionsQuery, CollectionsReport, Gstr1Query, Gstr1Report, Invitation, MemberAdded, Appointment, AppointmentPatch, AppointmentRow, AuditEntry, AuditQuery, ClinicView, Conflict, Encounter, EncounterDraft, KeptDraft,
  LikelyDuplicate, CatalogueItem, CatalogueItemPatch, NewCatalogueItem, GroupCatalogue, GroupCatalogueItem, GroupCollectionsReport,
  Hub, Invoice, Member, MemberDevice, NewAppointment, NewCreditNoteLine, NewInvoice, NewMember, NewPatient, NewPayment, NewPrescription, Page, Patient,
  PatientChart, PatientPatch, Prescription, Role, SessionView, SyncStatus, UiError, UnsentView, UpdateView, Uuid,
} from "./types";

export class AppError extends Error {
  constructor(public readonly code: string, message: string, public readonly field: string | null = null) {
    super(message);
  }
}

/** Turns anything thrown by `invoke` into an AppError. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err && typeof err === "object" && "code" in err && "message" in err) {
    const e = err as UiError;
    return new AppError(String(e.code), String(e.message), e.field ?? null);
  }
  return new AppError("internal", typeof err === "string" ? err : String((err as Error)?.message ?? err));
}

/** A sentence a person can read for an error: our own wording per code, else Rust's message. */
export function readableError(err: unknown): string {
  const e = toAppError(err);
  return en.errors.byCode[e.code] ?? (e.message || en.errors.byCode.internal);
}

function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  if (!inTauri()) throw new AppError("not_available", "Vaidya's UI runs inside the desktop app only.");
  try {
    return await invoke<T>(cmd, args);
  } catch (err) {
    throw toAppError(err);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  /** The update the server announces for this build, if any. */
  checkUpdate: () => call<UpdateView | null>("check_update"),
  /** Sends waiting work, installs the announced update (signature checked) and restarts. */
  installUpdate: () => call<void>("install_update"),
  uiReady: (screen: string) => call<void>("ui_ready", { screen }),
  currentSession: () => call<SessionView | null>("current_session"),
  signIn: (server: string, email: string, password: string) => call<SessionView>("sign_in", { server, email, password }),
  signOut: () => call<void>("sign_out"),
  openClinic: (clinicId: Uuid) => call<ClinicView>("open_clinic", { clinicId }),

  searchPatients: (query: string, limit = 30) => call<Patient[]>("search_patients", { query, limit }),
  getPatient: (id: Uuid) => call<Patient>("get_patient", { id }),
  createPatient: (patient: NewPatient) => call<Patient>("create_patient", { patient }),
  /** Patients on this PC who are probably the one about to be registered (offline too). */
  likelyDuplicates: (patient: NewPatient) => call<LikelyDuplicate[]>("likely_duplicates", { patient }),
  /** Merges the duplicate record into the patient who stays (clinic admins; online). */
  mergePatients: (survivor: Uuid, duplicate: Uuid) => call<Patient>("merge_patients", { survivor, duplicate }),
  updatePatient: (id: Uuid, patch: PatientPatch) => call<Patient>("update_patient", { id, patch }),
  patientChart: (patientId: Uuid) => call<PatientChart>("patient_chart", { patientId }),

  listAppointments: (from: string, to: string, doctorId: Uuid | null = null) =>
    call<AppointmentRow[]>("list_appointments", { from, to, doctorId }),
  /** The appointments a double-booking conflict names, with their patients. */
  appointmentsById: (ids: Uuid[]) => call<AppointmentRow[]>("appointments_by_id", { ids }),
  bookAppointment: (appointment: NewAppointment) => call<Appointment>("book_appointment", { appointment }),
  updateAppointment: (id: Uuid, patch: AppointmentPatch) => call<Appointment>("update_appointment", { id, patch }),
  clinicDoctors: () => call<Member[]>("clinic_doctors"),

  saveEncounter: (draft: EncounterDraft) => call<Encounter>("save_encounter", { draft }),
  /** Keeps what is being typed on this PC (not a save: nothing syncs). */
  keepNoteDraft: (patientId: Uuid, data: unknown) => call<void>("keep_note_draft", { patientId, data }),
  /** Keeps what is typed in a form on this PC (`patient:new`, `patient:<id>`, `invoice:<patient id>`). */
  keepFormDraft: (form: string, data: unknown) => call<void>("keep_form_draft", { form, data }),
  formDraft: (form: string) => call<KeptDraft | null>("form_draft", { form }),
  dropFormDraft: (form: string) => call<void>("drop_form_draft", { form }),
  noteDraft: (patientId: Uuid) => call<KeptDraft | null>("note_draft", { patientId }),
  dropNoteDraft: (patientId: Uuid) => call<void>("drop_note_draft", { patientId }),
  signEncounter: (id: Uuid) => call<Encounter>("sign_encounter", { id }),
  addAddendum: (encounterId: Uuid, text: string) => call<Encounter>("add_addendum", { encounterId, text }),
  issuePrescription: (prescription: NewPrescription) => call<Prescription>("issue_prescription", { prescription }),
  prescriptionWarnings: (prescription: NewPrescription) => call<AllergyWarning[]>("prescription_warnings", { prescription }),
  patientAllergies: (patientId: Uuid) => call<Allergy[]>("patient_allergies", { patientId }),
  recordAllergy: (allergy: NewAllergy) => call<Allergy>("record_allergy", { allergy }),
  updateAllergy: (id: Uuid, patch: AllergyPatch) => call<Allergy>("update_allergy", { id, patch }),

  createInvoice: (invoice: NewInvoice) => call<Invoice>("create_invoice", { invoice }),
  addPayment: (invoiceId: Uuid, payment: NewPayment) => call<Invoice>("add_payment", { invoiceId, payment }),
  listCatalogue: () => call<CatalogueItem[]>("list_catalogue"),
  addCatalogueItem: (item: NewCatalogueItem) => call<CatalogueItem>("add_catalogue_item", { item }),
  updateCatalogueItem: (id: Uuid, patch: CatalogueItemPatch) => call<CatalogueItem>("update_catalogue_item", { id, patch }),
  /** The group's catalogue over the branches this admin administers (online). */
  groupCatalogue: () => call<GroupCatalogue>("group_catalogue"),
  /** Adds an item to branches of the group, or copies one (with its id) to more (online). */
  addGroupCatalogueItem: (item: NewCatalogueItem, clinics: Uuid[] | null) =>
    call<GroupCatalogueItem>("add_group_catalogue_item", { new: { item, clinics } }),
  /** Changes an item in every branch of the group that holds it (online). */
  updateGroupCatalogueItem: (id: Uuid, patch: CatalogueItemPatch) => call<GroupCatalogueItem>("update_group_catalogue_item", { id, patch }),
  /** Saves the document laid out for printing as a PDF in Downloads; returns its path. */
  savePdf: (name: string, page: { widthMm: number; heightMm: number; marginMm: number }) => call<string>("save_pdf", { name, page }),
  cancelInvoice: (invoiceId: Uuid, reason: string) => call<Invoice>("cancel_invoice", { invoiceId, cancel: { reason } }),
  /** A credit note against the invoice's lines (taxable value per line, in paise). */
  issueCreditNote: (invoiceId: Uuid, reason: string, lines: NewCreditNoteLine[]) =>
    call<Invoice>("issue_credit_note", { invoiceId, note: { id: null, series: null, number: null, reason, lines } }),
  collectionsReport: (query: CollectionsQuery) => call<CollectionsReport>("collections_report", { query }),
  /** The group's branches this member administers, branch by branch (online). */
  groupCollectionsReport: (query: CollectionsQuery) => call<GroupCollectionsReport>("group_collections_report", { query }),
  /** Saves the report as CSV in the Downloads folder; returns the file's path. */
  exportCollectionsCsv: (query: CollectionsQuery) => call<string>("export_collections_csv", { query }),
  gstr1Report: (query: Gstr1Query) => call<Gstr1Report>("gstr1_report", { query }),
  exportGstr1: (query: Gstr1Query) => call<string[]>("export_gstr1", { query }),

  listMembers: () => call<Member[]>("list_members"),
  /** Adds a colleague of the clinic's group at once, or invites anyone else. */
  addMember: (member: NewMember) => call<MemberAdded>("add_member", { member }),
  myInvitations: () => call<Invitation[]>("my_invitations"),
  clinicInvitations: () => call<Invitation[]>("clinic_invitations"),
  withdrawInvitation: (id: Uuid) => call<void>("withdraw_invitation", { id }),
  /** Accepting answers the session with the new clinic in it. */
  answerInvitation: (id: Uuid, accept: boolean) => call<SessionView>("answer_invitation", { id, accept }),
  setMemberRole: (memberId: Uuid, role: Role) => call<Member>("set_member_role", { memberId, role }),
  /** A doctor's registration number and qualifications for this clinic (printed with their name). */
  setMemberRegistration: (memberId: Uuid, number: string, qualifications: string) =>
    call<Member>("set_member_registration", { memberId, registration: { number, qualifications } }),
  revokeMember: (memberId: Uuid) => call<void>("revoke_member", { memberId }),
  listHubs: () => call<Hub[]>("list_hubs"),
  revokeHub: (hubId: Uuid) => call<void>("revoke_hub", { hubId }),
  memberDevices: () => call<MemberDevice[]>("member_devices"),
  auditTrail: (query: AuditQuery) => call<Page<AuditEntry>>("audit_trail", { query }),

  listConflicts: () => call<Conflict[]>("list_conflicts"),
  /** Decides a conflict: the server's value stays (default), or this device's is applied. */
  resolveConflict: (id: Uuid, resolution: "keep_server" | "use_client" = "keep_server") => call<void>("resolve_conflict", { id, resolution }),
  syncStatus: () => call<SyncStatus>("sync_status"),
  syncNow: () => call<void>("sync_now"),
  recordPrint: (entity: string, id: Uuid) => call<void>("record_print", { entity, id }),
  printPage: () => call<void>("print_page"),

  unsentChanges: () => call<UnsentView>("unsent_changes"),
  resendChange: (mutationId: Uuid, corrections: Record<string, unknown>) =>
    call<Uuid>("resend_change", { mutationId, corrections }),
  discardChange: (mutationId: Uuid) => call<string | null>("discard_change", { mutationId }),
};

/** Events the Rust side emits (see `src-tauri/src/sync.rs`). */
export const EVENTS = {
  status: "sync://status",
  changed: "sync://changed",
  conflicts: "sync://conflicts",
  updateProgress: "update://progress",
  session: "session://changed",
} as const;

export async function onEvent<T>(name: string, handler: (payload: T) => void): Promise<UnlistenFn> {
  if (!inTauri()) return () => {};
  return listen<T>(name, (e) => handler(e.payload));
}
