// The wire types of `shared/src/{api,sync,gst,error}.rs` come from `../generated/types.ts`,
// which ts-rs generates from the Rust types (never edit or mirror them here). What is left
// below are the UI's own shapes: what the desktop shell (`src-tauri`) returns, which is not
// part of vaidya-shared, and view models. Money in paise, dates ISO.

import type { Allergy, Appointment, Clinic, Encounter, Invoice, Membership, NewEncounter, Patient, Prescription, UserSummary } from "../generated/types";

export type {
  Allergy, AllergyPatch, AllergySeverity, AllergyStatus, AllergyWarning, NewAllergy,
  Addendum, ApiError, Appointment, AppointmentPatch, AppointmentStatus, AuditAction, AuditEntry, AuditQuery, Clinic,
  Encounter, EncounterPatch, ErrorCode, Invoice, InvoiceLine, LineTax, Member, MemberDevice, MemberPatch, Membership, NewAddendum,
  NewAppointment, NewEncounter, NewInvoice, NewInvoiceLine, NewMember, NewPatient, NewPayment, NewPrescription,
  NewPrescriptionItem, Page, Patient, PatientPatch, Payment, PaymentMethod, Prescription, PrescriptionItem, Role, Sex,
  SupplyKind, UserSummary, Vitals, CollectionsQuery, CollectionsReport, DoctorTotal, GroupCollectionsReport, BranchCollections, DayCollections, MethodTotal,
  Gstr1Query, Gstr1Report, RateAmounts, InvoiceRecipient, TaxTreatment, MedicalRegistration, CatalogueItem, CatalogueItemPatch, NewCatalogueItem, GroupCatalogue, GroupCatalogueItem, GroupBranch, NewGroupCatalogueItem, CreditNote, CreditNoteLine, NewCreditNote, NewCreditNoteLine,
  Invitation, MemberAdded, LikelyDuplicate, DuplicateReason, Hub,
} from "../generated/types";

export type Uuid = string;

/** The doctor's note as the form holds it before it is saved: the create body. */
export type EncounterDraft = NewEncounter;

// ---- shapes of the desktop shell

export interface SessionView {
  server: string;
  user: UserSummary;
  memberships: Membership[];
  /** Signed in from the keyring-held session without reaching the server. */
  offline: boolean;
  offline_lease_until: string | null;
  /** The clinic to reopen on start (last opened here, still a membership). */
  last_clinic_id: Uuid | null;
}

/** What became of a session shown from the keyring at start while it went online
 * (`session://changed`; the desktop's `SessionChange`). */
export type SessionChange =
  | { kind: "online"; session: SessionView; reopen: boolean }
  | { kind: "ended"; error: UiError };

/** `clinical_locked`: the member's role reads clinical records, but this PC's clinical
 * store did not open for them (see the desktop's `ClinicView`). */
export interface ClinicView { membership: Membership; clinic: Clinic | null; clinical_locked: boolean }

/** A note being typed, kept on this PC (the clinical store) until it is saved or signed. */
export interface KeptDraft { data: unknown; saved_at: string }

export interface Conflict {
  id: Uuid; entity: string; entity_id: Uuid; field: string | null;
  local_value: unknown; server_value: unknown; kind: string; created_at: string; resolved_at: string | null;
}

export interface PatientChart {
  patient: Patient;
  /** Every member sees allergies (active first). */
  allergies: Allergy[];
  appointments: Appointment[];
  /** Empty for roles that may not read clinical notes. */
  encounters: Encounter[];
  prescriptions: Prescription[];
  invoices: Invoice[];
}

/** A sync's progress: rows and bytes so far (a first fill cut off counts on from where it
 * stopped), the server's estimate of all rows, and the seconds left at the pace so far. */
export interface SyncProgress { done: number; total: number | null; bytes: number; eta_secs: number | null }
export interface SyncStatus {
  online: boolean;
  syncing: boolean;
  /** Changes still to push. */
  pending: number;
  /** Changes the server refused for good (the Unsent changes screen). */
  rejected: number;
  conflicts: number;
  last_synced_at: string | null;
  progress: SyncProgress | null;
  error: UiError | null;
  /** Whose work is waiting on this shared PC (oldest author first). */
  waiting?: WaitingWork[];
  /** Minutes this PC's clock is ahead of the server's (negative: behind), when 5 or more. */
  clock_off_minutes?: number | null;
  /** The last sync went through the clinic's hub: the group server could not be reached. */
  via_hub?: boolean;
  group_server_unreachable_since?: string | null;
  /** Changes the clinic hub took in whose group server answer has not come back yet. */
  relayed?: number;
}

/** Changes waiting on this PC by one author (`WaitingWork` in the client core). */
export interface WaitingWork { author_id: Uuid | null; author_name: string | null; pending: number; rejected: number }

/** Every error from Rust reaches the UI in this shape; screens switch on `code`. */
export interface UiError { code: string; message: string; field?: string | null }

export interface AppInfo { version: string; device: string }

/** A newer Vaidya announced by the server (`src-tauri/src/updates.rs` → `UpdateView`). */
export interface UpdateView { current_version: string; version: string; notes: string | null; required: boolean; can_install: boolean }

/** Bytes of an update's installer received so far (`UpdateProgress`). */
export interface UpdateProgress { received: number; total: number | null }

/** An appointment with the patient's name, as the queue and calendar show it. */
export interface AppointmentRow { appointment: Appointment; patient_name: string | null; patient_number: number | null }

/** A value of a rejected change that may be corrected (`src-tauri/src/core.rs` → `EditableFieldView`). */
export interface EditableField { name: string; value: string | number | boolean | null }

/** One change the server rejected (`UnsentChangeView`). */
export interface UnsentChange {
  mutation_id: Uuid;
  entity: string;
  entity_id: Uuid;
  op: "create" | "update" | "delete";
  patient_id: Uuid | null;
  patient_name: string | null;
  patient_number: number | null;
  starts_at: string | null;
  doctor_id: Uuid | null;
  invoice_number: string | null;
  code: string | null;
  message: string | null;
  field: string | null;
  made_at: string;
  /** Whose change it is: its signing author (null for changes made before signing). */
  author_id: Uuid | null;
  author_name: string | null;
  attempts: number;
  editable: EditableField[];
  /** False for a clinical change shown to a non-clinician. */
  may_change: boolean;
}

/** A device invoice number cancelled because its invoice was discarded. */
export interface VoidedInvoice { invoice_number: string; invoice_id: Uuid; voided_at: string; reason: string | null }

export interface UnsentView { changes: UnsentChange[]; voided: VoidedInvoice[] }
