// TypeScript mirrors of the wire types in `shared/src/api.rs` and `shared/src/sync.rs`, plus
// the shapes the desktop shell (`src-tauri`) returns. Money in paise, dates ISO.

import type { LineTax, SupplyKind } from "./gst";

export type Uuid = string;
export type Role = "admin" | "doctor" | "nurse" | "front_desk";
export type Sex = "female" | "male" | "other" | "unknown";
export type AppointmentStatus = "booked" | "checked_in" | "in_consultation" | "completed" | "cancelled" | "no_show";
export type PaymentMethod = "cash" | "upi" | "card" | "other";
export type AuditAction = "read" | "list" | "create" | "update" | "delete" | "export" | "print" | "login" | "denied" | "discard";

export interface UserSummary { id: Uuid; email: string; display_name: string }
export interface Membership { clinic_id: Uuid; clinic_name: string; group_id: Uuid; group_name: string; role: Role }
export interface Member { id: Uuid; clinic_id: Uuid; user: UserSummary; role: Role; created_at: string; revoked_at: string | null }
export interface NewMember { email: string; role: Role }
export interface Page<T> { items: T[]; next_offset: number | null }

export interface Clinic { id: Uuid; group_id: Uuid; name: string; gstin: string | null; state_code: string; address: string }

export interface Patient {
  id: Uuid; clinic_id: Uuid; patient_number: number; name: string; sex: Sex;
  date_of_birth: string | null; phone: string | null; address: string | null; abha_number: string | null;
  version: number; created_at: string; updated_at: string;
}
export interface NewPatient {
  id?: Uuid | null; name: string; sex: Sex; date_of_birth: string | null; phone: string | null;
  address: string | null; abha_number: string | null;
}
export type PatientPatch = Partial<Omit<NewPatient, "id">> & { base_version?: number | null };

export interface Appointment {
  id: Uuid; clinic_id: Uuid; patient_id: Uuid; doctor_id: Uuid; starts_at: string; ends_at: string;
  status: AppointmentStatus; reason: string | null; version: number; created_at: string; updated_at: string;
}
export interface NewAppointment { id?: Uuid | null; patient_id: Uuid; doctor_id: Uuid; starts_at: string; ends_at: string; reason: string | null }
export interface AppointmentPatch { base_version?: number | null; starts_at?: string; ends_at?: string; status?: AppointmentStatus; reason?: string }

export interface Vitals {
  pulse_bpm?: number | null; systolic_mmhg?: number | null; diastolic_mmhg?: number | null;
  temperature_dc?: number | null; spo2_percent?: number | null; respiratory_rate?: number | null;
  weight_g?: number | null; height_mm?: number | null;
}
export interface Addendum { id: Uuid; encounter_id: Uuid; author_id: Uuid; text: string; created_at: string }
export interface Encounter {
  id: Uuid; clinic_id: Uuid; patient_id: Uuid; doctor_id: Uuid; appointment_id: Uuid | null;
  chief_complaint: string; notes: string; diagnosis: string; vitals: Vitals;
  signed_at: string | null; signed_by: Uuid | null; addenda: Addendum[]; version: number; created_at: string; updated_at: string;
}
export interface EncounterDraft {
  id?: Uuid | null; patient_id: Uuid; appointment_id: Uuid | null; chief_complaint: string; notes: string; diagnosis: string; vitals: Vitals;
}

export interface PrescriptionItem { id: Uuid; position: number; drug: string; strength: string; dose: string; frequency: string; duration: string; instructions: string }
export interface NewPrescriptionItem { drug: string; strength: string; dose: string; frequency: string; duration: string; instructions: string }
export interface Prescription {
  id: Uuid; clinic_id: Uuid; patient_id: Uuid; doctor_id: Uuid; encounter_id: Uuid | null; notes: string;
  items: PrescriptionItem[]; issued_at: string; version: number;
}
export interface NewPrescription { id?: Uuid | null; patient_id: Uuid; encounter_id: Uuid | null; notes: string; items: NewPrescriptionItem[] }

export interface InvoiceLine {
  id: Uuid; position: number; description: string; sac_hsn: string; quantity: number; unit_price_paise: number;
  discount_paise: number; gst_rate_bp: number; tax: LineTax;
}
export interface NewInvoiceLine { description: string; sac_hsn: string; quantity: number; unit_price_paise: number; discount_paise: number; gst_rate_bp: number }
export interface Payment { id: Uuid; invoice_id: Uuid; amount_paise: number; method: PaymentMethod; reference: string | null; received_at: string }
export interface NewPayment { id?: Uuid | null; amount_paise: number; method: PaymentMethod; reference: string | null }
export interface Invoice {
  id: Uuid; clinic_id: Uuid; patient_id: Uuid; series: string; number: number; invoice_number: string; issued_at: string;
  place_of_supply: string; supply_kind: SupplyKind; lines: InvoiceLine[]; totals: LineTax; payments: Payment[]; paid_paise: number; version: number;
}
export interface NewInvoice { id?: Uuid | null; patient_id: Uuid; series?: string | null; number?: number | null; place_of_supply: string | null; lines: NewInvoiceLine[] }

export interface AuditEntry {
  seq: number; clinic_id: Uuid; actor_id: Uuid | null; action: AuditAction; entity_type: string;
  entity_ids: Uuid[]; patient_ids: Uuid[]; device: string | null; request_id: string | null; at: string;
}
export interface AuditQuery { patient_id?: Uuid | null; user_id?: Uuid | null; action?: AuditAction | null; from?: string | null; to?: string | null; limit?: number; offset?: number }

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

export interface ClinicView { membership: Membership; clinic: Clinic | null }

export interface Conflict {
  id: Uuid; entity: string; entity_id: Uuid; field: string | null;
  local_value: unknown; server_value: unknown; kind: string; created_at: string; resolved_at: string | null;
}

export interface PatientChart {
  patient: Patient;
  appointments: Appointment[];
  /** Empty for roles that may not read clinical notes. */
  encounters: Encounter[];
  prescriptions: Prescription[];
  invoices: Invoice[];
}

export interface SyncProgress { done: number; total: number | null }
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
}

/** Every error from Rust reaches the UI in this shape; screens switch on `code`. */
export interface UiError { code: string; message: string; field?: string | null }

export interface AppInfo { version: string; device: string }

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
  attempts: number;
  editable: EditableField[];
  /** False for a clinical change shown to a non-clinician. */
  may_change: boolean;
}

/** A device invoice number cancelled because its invoice was discarded. */
export interface VoidedInvoice { invoice_number: string; invoice_id: Uuid; voided_at: string; reason: string | null }

export interface UnsentView { changes: UnsentChange[]; voided: VoidedInvoice[] }
