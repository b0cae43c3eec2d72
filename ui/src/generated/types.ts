// generated — do not edit. Made by ts-rs from the Rust types of vaidya-shared
// (shared/src/{api,sync,gst,error}.rs, shared/src/rules/permissions.rs); rewrite with
// `VAIDYA_UPDATE_GENERATED=1 cargo test -p vaidya-shared --features ts --test ui_types`.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * A member's role in one clinic (branch).
 */
export type Role = "admin" | "doctor" | "nurse" | "front_desk" | "hub";

export type LoginRequest = { email: string, password: string, 
/**
 * The token this device got when it last signed in to this account. A known device's
 * attempts are throttled on their own, so failed guesses from elsewhere never lock the
 * account out of it.
 */
device_token?: string | null, };

export type RefreshRequest = { refresh_token: string, };

export type UserSummary = { id: string, email: string, display_name: string, };

/**
 * One clinic the signed-in user belongs to, with the role there.
 */
export type Membership = { clinic_id: string, clinic_name: string, group_id: string, group_name: string, role: Role, };

/**
 * Returned by login and refresh. Tokens are opaque; the server stores only their hashes.
 */
export type Session = { access_token: string, access_expires_at: string, refresh_token: string, refresh_expires_at: string, 
/**
 * Until when a client may unlock its offline cache without reaching the server.
 */
offline_lease_until: string, user: UserSummary, memberships: Array<Membership>, 
/**
 * After a sign-in: this device's token for the account (keep it with the session's
 * secrets and send it with the next sign-in). Absent after a refresh.
 */
device_token?: string | null, };

export type Me = { user: UserSummary, memberships: Array<Membership>, };

/**
 * A membership as clinic admins manage it.
 */
export type Member = { id: string, clinic_id: string, user: UserSummary, role: Role, created_at: string, revoked_at: string | null, 
/**
 * A doctor's registration as this clinic records it; printed with their name.
 */
registration?: MedicalRegistration | null, };

/**
 * Add an existing user (by email) to the clinic.
 */
export type NewMember = { email: string, role: Role, };

export type MemberPatch = { role: Role, };

/**
 * Register a clinic hub (issue 11): a machine on the clinic's network that its PCs sync
 * through when the internet line is down.
 */
export type NewHub = { 
/**
 * What the clinic calls it ("Reception PC", "Hub in the back office"), 1–200 characters.
 */
name: string, 
/**
 * SHA-256 of the hub's TLS certificate (DER), 64 lowercase hex digits: made on the hub
 * machine at registration and pinned here, the only certificate the clinic's PCs will
 * accept from it on their network. A hub registered without one is never offered to
 * the PCs (`GET /v1/clinics/{id}/hub-endpoints`).
 */
certificate_sha256?: string, };

/**
 * A clinic's hub as the group server knows it: a member of this one clinic with the role
 * `hub`, which reads the clinic's records and writes nothing as itself.
 */
export type Hub = { 
/**
 * The hub's account: the actor its reads are audited under.
 */
id: string, clinic_id: string, name: string, registered_at: string, 
/**
 * The admin who registered it.
 */
registered_by: string, 
/**
 * When a doctor approved it: only then is it a member and reads anything.
 */
approved_at: string | null, approved_by: string | null, revoked_at: string | null, 
/**
 * The SHA-256 (hex) of the TLS certificate it was registered with: the one the
 * clinic's PCs accept from it. `vaidya-server hub status` prints the same on the hub
 * machine, so whoever approves or reviews a hub can tell it is that machine. `None`
 * for a hub registered without one (before hubs served PCs).
 */
certificate_sha256: string | null, };

/**
 * A hub just approved, with its credential: shown this once, to the approving doctor's
 * call on the hub machine, for its OS keyring. The hub exchanges it at
 * `POST /v1/auth/refresh` like any refresh token. The registering admin never sees it (a
 * hub reads clinical records, which an admin may not); the approver may read all the hub
 * reads anyway (`permissions::hub_approvers`).
 */
export type HubApproved = { hub: Hub, refresh_token: string, refresh_expires_at: string, };

/**
 * What a clinic hub knows of its clinic's people, to check on the clinic's network who a
 * PC's user is and whose signature a change carries (`GET /v1/clinics/{id}/directory`,
 * the clinic's hub only). Revoked members and keys are listed too, with when: the hub must
 * refuse them, not forget them.
 */
export type Directory = { 
/**
 * The clinic itself (its GST identity, for the bills the hub takes in).
 */
clinic: Clinic, members: Array<Member>, device_keys: Array<DirectoryKey>, 
/**
 * Which PC owns which invoice series of the clinic (bills of a PC's own series are
 * the only ones a hub takes in).
 */
invoice_series: Array<SeriesOwner>, };

/**
 * A member's device signing key: the public half, as registered.
 */
export type DirectoryKey = { key_id: string, user_id: string, 
/**
 * Ed25519 public key, base64 of 32 bytes.
 */
public_key: string, registered_at: string, revoked_at: string | null, };

/**
 * An invoice series allocated to one PC's clinic file.
 */
export type SeriesOwner = { 
/**
 * `D3`.
 */
code: string, 
/**
 * The clinic file's random device id.
 */
partition_id: string, 
/**
 * The PC's name (`x-vaidya-device`) the series is bound to.
 */
device: string, allocated_by: string, allocated_at: string, };

/**
 * A doctor's medical registration (NMC: the registration number is shown with the name on
 * prescriptions and receipts) and qualifications, as the clinic's admin records them.
 */
export type MedicalRegistration = { 
/**
 * With the council: `MMC 2009/04/1234`.
 */
number: string, 
/**
 * `MBBS, MD (Medicine)`.
 */
qualifications: string, };

/**
 * An invitation to join a clinic with a role. A clinic admin adds colleagues of the same
 * group directly; anyone else is invited and joins only by accepting it.
 */
export type Invitation = { id: string, clinic_id: string, clinic_name: string, email: string, role: Role, invited_by_name: string, created_at: string, expires_at: string, };

/**
 * What adding a member by email did: added a colleague of the clinic's group, or invited
 * someone else (who joins by accepting).
 */
export type MemberAdded = { "outcome": "added", member: Member, } | { "outcome": "invited", invitation: Invitation, };

/**
 * A signing key of the signed-in user on this device (see `vaidya_shared::authorship`).
 */
export type NewDeviceKey = { 
/**
 * Chosen by the device; names the key in each signature.
 */
id: string, 
/**
 * The Ed25519 public key, base64 of 32 bytes.
 */
public_key: string, };

/**
 * A device key of a clinic member, as a clinic admin sees it: which devices hold (and sign
 * for) the member's data, and whether the key or the membership was revoked.
 */
export type MemberDevice = { key_id: string, user_id: string, 
/**
 * The device's name as it signed in (`X-Vaidya-Device`), when it gave one.
 */
device: string | null, registered_at: string, revoked_at: string | null, 
/**
 * When the member lost their membership, if they did.
 */
member_revoked_at: string | null, };

/**
 * Paging for list endpoints: `limit` (1–200, default 50) and `offset`.
 */
export type PageQuery = { limit?: number | null, offset?: number | null, };

/**
 * One page of a list. `next_offset` is absent on the last page.
 */
export type Page<T> = { items: Array<T>, next_offset: number | null, 
/**
 * For lists paged by position (the patient list): pass as `after` for the next page,
 * which costs the same however deep it is. Absent on the last page.
 */
next_after?: string, };

export type Sex = "female" | "male" | "other" | "unknown";

export type Patient = { id: string, clinic_id: string, 
/**
 * Per-clinic running number shown on cards and prints.
 */
patient_number: number, name: string, sex: Sex, date_of_birth: string | null, phone: string | null, address: string | null, 
/**
 * Ayushman Bharat Health Account number (14 digits), optional.
 */
abha_number: string | null, version: number, created_at: string, updated_at: string, };

export type NewPatient = { 
/**
 * Client-chosen id (for offline creation); the server makes one when absent.
 */
id?: string | null, name: string, sex: Sex, date_of_birth: string | null, phone: string | null, address: string | null, abha_number: string | null, };

/**
 * Fields to change. An empty string clears an optional text field.
 */
export type PatientPatch = { 
/**
 * When given, the update applies only if the row is still at this version.
 */
base_version?: number | null, name?: string | null, sex?: Sex | null, date_of_birth?: string | null, phone?: string | null, address?: string | null, abha_number?: string | null, };

export type PatientQuery = { 
/**
 * Every word typed is the start of a word of the name, the phone (with or without the
 * country code), the patient number or the ABHA number (`vaidya_shared::search`).
 * Matches come in name order, like the list.
 */
q?: string | null, limit?: number | null, offset?: number | null, 
/**
 * Continue after this patient (the previous page's `next_after`): the list in name
 * order from there, as fast on the thousandth page as on the first.
 */
after?: string | null, };

/**
 * Why two records look like one person.
 */
export type DuplicateReason = "same_abha" | "same_phone_and_name";

/**
 * A patient of the clinic who is probably the one being registered, and why: what the
 * front desk is shown before registering (offline, from the PC's copy).
 */
export type LikelyDuplicate = { patient: Patient, reason: DuplicateReason, };

/**
 * Merges a duplicate record into the patient that stays (clinic admins): the duplicate's
 * appointments, notes, prescriptions, bills and allergies move to the survivor, and the
 * duplicate becomes a tombstone that names it.
 */
export type MergePatients = { duplicate_id: string, };

export type AppointmentStatus = "booked" | "checked_in" | "in_consultation" | "completed" | "cancelled" | "no_show";

export type Appointment = { id: string, clinic_id: string, patient_id: string, doctor_id: string, starts_at: string, ends_at: string, status: AppointmentStatus, reason: string | null, version: number, created_at: string, updated_at: string, };

export type NewAppointment = { id?: string | null, patient_id: string, doctor_id: string, starts_at: string, ends_at: string, reason: string | null, };

export type AppointmentPatch = { base_version?: number | null, starts_at?: string | null, ends_at?: string | null, status?: AppointmentStatus | null, reason?: string | null, };

export type AppointmentQuery = { doctor_id?: string | null, patient_id?: string | null, status?: AppointmentStatus | null, 
/**
 * Appointments starting at or after this instant.
 */
from?: string | null, 
/**
 * Appointments starting before this instant.
 */
to?: string | null, limit?: number | null, offset?: number | null, };

/**
 * Vital signs in integer units, so no float ever reaches a chart.
 */
export type Vitals = { pulse_bpm?: number | null, systolic_mmhg?: number | null, diastolic_mmhg?: number | null, 
/**
 * Tenths of a degree Celsius (368 = 36.8 °C).
 */
temperature_dc?: number | null, spo2_percent?: number | null, respiratory_rate?: number | null, weight_g?: number | null, height_mm?: number | null, };

export type Addendum = { id: string, encounter_id: string, author_id: string, text: string, created_at: string, };

export type Encounter = { id: string, clinic_id: string, patient_id: string, doctor_id: string, appointment_id: string | null, chief_complaint: string, notes: string, diagnosis: string, vitals: Vitals, 
/**
 * Once set, the note is immutable; corrections are addenda.
 */
signed_at: string | null, signed_by: string | null, addenda: Array<Addendum>, version: number, created_at: string, updated_at: string, };

export type NewEncounter = { id?: string | null, patient_id: string, appointment_id: string | null, chief_complaint: string, notes: string, diagnosis: string, vitals: Vitals, };

export type EncounterPatch = { base_version?: number | null, chief_complaint?: string | null, notes?: string | null, diagnosis?: string | null, vitals?: Vitals | null, };

export type NewAddendum = { id?: string | null, text: string, };

export type ClinicalQuery = { patient_id?: string | null, limit?: number | null, offset?: number | null, };

export type AllergySeverity = "mild" | "moderate" | "severe" | "life_threatening";

export type AllergyStatus = "active" | "inactive";

/**
 * A patient's allergy or adverse reaction, noted by a clinician. Every member of the
 * clinic sees it (the front desk's card shows a badge); prescribing a matching drug needs
 * an acknowledgement.
 */
export type Allergy = { id: string, clinic_id: string, patient_id: string, 
/**
 * What the patient reacts to: a drug's generic name from the list, or free text.
 */
substance: string, reaction: string, severity: AllergySeverity, status: AllergyStatus, noted_by: string, version: number, created_at: string, updated_at: string, };

export type NewAllergy = { id?: string | null, patient_id: string, substance: string, reaction: string, severity: AllergySeverity, };

export type AllergyPatch = { base_version?: number | null, substance?: string | null, reaction?: string | null, severity?: AllergySeverity | null, status?: AllergyStatus | null, };

/**
 * One active allergy that a prescribed drug matches.
 */
export type AllergyWarning = { allergy_id: string, item: number, drug: string, substance: string, severity: AllergySeverity, reaction: string, };

/**
 * An item of the clinic's catalogue of services and goods: what the invoice editor offers,
 * with the code, tax treatment, rate, unit and price a line of it carries. Synced to every
 * PC of the clinic (billing works offline); its clinic's admins add and edit items. An
 * item's tax identity (code, treatment, rate, unit) is fixed once made: a new rate is a new
 * item, and the old one is retired (`active: false`), so nothing about past bills changes.
 */
export type CatalogueItem = { id: string, clinic_id: string, name: string, sac_hsn: string, treatment: TaxTreatment, gst_rate_bp: number, unit: string, price_paise: number, 
/**
 * Offered on new bills; a retired item is kept for the record.
 */
active: boolean, version: number, created_at: string, updated_at: string, };

export type NewCatalogueItem = { id?: string | null, name: string, sac_hsn: string, 
/**
 * None: taxable at a rate, else exempt. Always set once validated.
 */
treatment?: TaxTreatment | null, gst_rate_bp: number, 
/**
 * GSTN's unit code; none: `NA` for a service, `NOS` for goods. Set once validated.
 */
unit?: string | null, price_paise: number, };

/**
 * What an admin may change of an item: its name, its price, whether it is offered.
 */
export type CatalogueItemPatch = { base_version?: number | null, name?: string | null, price_paise?: number | null, active?: boolean | null, };

/**
 * A group's catalogue: the items its branches offer, as the admin of several of them sees
 * it. An item keeps one id in every branch it is copied to (its tax identity travels with
 * it); each branch keeps its own name, price and whether it offers it.
 */
export type GroupCatalogue = { group_id: string, 
/**
 * The branches of the group the caller administers, by name.
 */
branches: Array<GroupBranch>, 
/**
 * Items by name (the first branch's name), then id.
 */
items: Array<GroupCatalogueItem>, };

export type GroupBranch = { clinic_id: string, name: string, };

/**
 * One item of a group's catalogue and the branches that hold it.
 */
export type GroupCatalogueItem = { id: string, sac_hsn: string, treatment: TaxTreatment, gst_rate_bp: number, unit: string, 
/**
 * Each branch's copy (name, price, offered), in the order of `GroupCatalogue::branches`.
 */
copies: Array<CatalogueItem>, };

/**
 * Adds an item to several branches of a group at once: `item` (with its id, to copy an
 * existing item to more branches) goes to each of `clinics` that does not hold it yet; none
 * named: every branch of the group the caller administers.
 */
export type NewGroupCatalogueItem = { item: NewCatalogueItem, clinics?: Array<string> | null, };

export type PrescriptionItem = { id: string, position: number, drug: string, strength: string, dose: string, frequency: string, duration: string, instructions: string, };

export type NewPrescriptionItem = { drug: string, strength: string, dose: string, frequency: string, duration: string, instructions: string, };

/**
 * A prescription is issued (signed) when created and is immutable afterwards.
 */
export type Prescription = { id: string, clinic_id: string, patient_id: string, doctor_id: string, encounter_id: string | null, notes: string, items: Array<PrescriptionItem>, 
/**
 * Active allergies the prescribing doctor was warned about and acknowledged.
 */
acknowledged_allergies: Array<string>, issued_at: string, version: number, };

export type NewPrescription = { id?: string | null, patient_id: string, encounter_id: string | null, notes: string, items: Array<NewPrescriptionItem>, 
/**
 * Ids of the patient's active allergies that match a drug of this prescription, which
 * the doctor acknowledged after the warning.
 */
acknowledged_allergies: Array<string>, };

/**
 * How a line's tax splits, decided by place of supply.
 */
export type SupplyKind = "intra_state" | "inter_state";

/**
 * How GST treats a supply. Untaxed lines are told apart because GSTR-1 (table 8) reports
 * them apart: exempt (most clinical care, Notification 12/2017-CT(Rate) entry 74),
 * nil-rated (a 0 % rate in the schedule) and non-GST (outside GST altogether).
 */
export type TaxTreatment = "taxable" | "exempt" | "nil_rated" | "non_gst";

/**
 * Tax amounts of one line, all in paise.
 */
export type LineTax = { taxable_paise: number, cgst_paise: number, sgst_paise: number, igst_paise: number, total_paise: number, };

export type PaymentMethod = "cash" | "upi" | "card" | "other";

export type InvoiceLine = { id: string, position: number, description: string, 
/**
 * SAC (services) or HSN (goods) code.
 */
sac_hsn: string, quantity: number, unit_price_paise: number, discount_paise: number, gst_rate_bp: number, tax: LineTax, 
/**
 * Absent on lines issued before treatments were kept: see [`InvoiceLine::treatment`].
 */
treatment?: TaxTreatment | null, 
/**
 * Absent on lines issued before units were kept: see [`InvoiceLine::unit`].
 */
unit?: string | null, };

export type NewInvoiceLine = { description: string, sac_hsn: string, quantity: number, unit_price_paise: number, discount_paise: number, gst_rate_bp: number, 
/**
 * Taxable, exempt, nil-rated or non-GST; none: taxable at a rate, else exempt. Always
 * set once validated.
 */
treatment?: TaxTreatment | null, 
/**
 * GSTN's unit quantity code (`gst::UNITS`): `NA` for services; none: `NA` for a service,
 * `NOS` for goods. Always set once validated.
 */
unit?: string | null, };

export type Payment = { id: string, invoice_id: string, amount_paise: number, method: PaymentMethod, reference: string | null, received_at: string, };

export type NewPayment = { id?: string | null, amount_paise: number, method: PaymentMethod, reference: string | null, };

/**
 * A credit note against an issued invoice (CGST Act s. 34, Rule 53(1A)): part or all of
 * some of its lines' taxable value given back, with the tax on it at each line's rate.
 * It travels inside its invoice, like a payment; it is never edited or deleted. Money
 * already paid goes back as a refund (a negative payment).
 */
export type CreditNote = { id: string, invoice_id: string, 
/**
 * The credit-note series of the year (`2526-CN`, numbered by the server, or a PC's
 * `2526-C3`): `numbering`.
 */
series: string, number: number, 
/**
 * Printed number, `<series>/<number>`.
 */
credit_note_number: string, 
/**
 * The note's own date (the act's time on the device, bounded like every act).
 */
issued_at: string, reason: string, lines: Array<CreditNoteLine>, totals: LineTax, };

/**
 * One invoice line's credited part: its taxable value and the tax on it at the line's rate.
 */
export type CreditNoteLine = { invoice_line_id: string, position: number, description: string, sac_hsn: string, gst_rate_bp: number, tax: LineTax, };

/**
 * A credit note to issue (`POST …/invoices/{id}/credit-notes`, or offline a create of kind
 * `credit_note` whose parent is the invoice).
 */
export type NewCreditNote = { id?: string | null, 
/**
 * A PC's credit-note series (offline issue); none: the clinic's main series of the year.
 */
series?: string | null, 
/**
 * The number within a PC's series; never for the main series.
 */
number?: number | null, 
/**
 * Why the value is given back (printed on the note).
 */
reason: string, lines: Array<NewCreditNoteLine>, };

export type NewCreditNoteLine = { invoice_line_id: string, 
/**
 * The taxable value credited, in paise: more than 0, at most what is left of the line.
 */
taxable_paise: number, };

export type Invoice = { id: string, clinic_id: string, patient_id: string, 
/**
 * The series the number was issued from (one per device or branch desk).
 */
series: string, number: number, 
/**
 * Printed number, `<series>/<number>`.
 */
invoice_number: string, issued_at: string, 
/**
 * Two-digit GST state code of the place of supply.
 */
place_of_supply: string, supply_kind: SupplyKind, lines: Array<InvoiceLine>, totals: LineTax, payments: Array<Payment>, paid_paise: number, version: number, 
/**
 * The clinic's details at the issue; absent on invoices issued before they were kept
 * (those print with the clinic's current details).
 */
supplier: InvoiceSupplier | null, 
/**
 * The business customer, for a B2B invoice; absent for a patient's own bill.
 */
recipient?: InvoiceRecipient | null, 
/**
 * Set once the invoice is cancelled (it is kept, and reported as cancelled).
 */
cancellation?: InvoiceCancellation | null, 
/**
 * Credit notes issued against it, oldest first.
 */
credit_notes: Array<CreditNote>, 
/**
 * The doctor whose care is billed, when one was named.
 */
doctor_id?: string | null, };

/**
 * The supplier as printed on an invoice: the clinic's details at the issue, kept with the
 * invoice so a reprint is identical to the original (CGST Rule 46(a)) even after the
 * clinic moves or changes its name.
 */
export type InvoiceSupplier = { name: string, address: string, gstin: string | null, 
/**
 * Two-digit GST state code.
 */
state_code: string, };

/**
 * A business customer billed with its GSTIN (a "B2B" supply, e.g. a company's health
 * check-ups): printed on the invoice (CGST Rule 46(e)) and reported in GSTR-1's B2B table.
 * Its GSTIN may be of any state: health services and goods handed over at the clinic are
 * supplied in the clinic's state whoever receives them.
 */
export type InvoiceRecipient = { 
/**
 * The customer's GSTIN, checked with its check character.
 */
gstin: string, 
/**
 * The customer's legal name, as registered.
 */
name: string, };

/**
 * How an issued invoice was cancelled: when (the act's own time, as for a note's
 * signing), by whom and why. An invoice is never deleted; a cancelled one keeps its number.
 */
export type InvoiceCancellation = { cancelled_at: string, cancelled_by: string, reason: string, };

/**
 * A request to cancel an issued invoice (`POST …/invoices/{id}/cancel`, or offline the
 * `cancel` act of an invoice update, see `sync::Mutation`).
 */
export type CancelInvoice = { reason: string, };

export type NewInvoice = { id?: string | null, patient_id: string, 
/**
 * Series to issue from; defaults to the clinic's main series.
 */
series?: string | null, 
/**
 * Number within a device's own series (offline issue). Not allowed for the main series,
 * whose numbers the server assigns.
 */
number?: number | null, 
/**
 * Two-digit GST state code; defaults to the clinic's own state.
 */
place_of_supply: string | null, lines: Array<NewInvoiceLine>, 
/**
 * A business customer billed with its GSTIN (B2B); none for a patient's own bill.
 */
recipient?: InvoiceRecipient | null, 
/**
 * The doctor whose care is billed (a doctor of the clinic): named with their
 * registration on the receipt, and the key of the collections per doctor.
 */
doctor_id?: string | null, };

/**
 * A number of a device's invoice series whose invoice never reached the books: the server
 * refused it and a person discarded it on the device. Recorded on the server so the
 * series shows why the number is missing (no silent gap for the accountant).
 */
export type CancelledInvoiceNumber = { 
/**
 * A device series (never the clinic's main series).
 */
series: string, number: number, 
/**
 * The discarded invoice's id.
 */
invoice_id: string, 
/**
 * Why the server refused the invoice, as the device was told.
 */
reason?: string | null, 
/**
 * When it was discarded on the device (never later than the server's clock).
 */
cancelled_at: string, };

/**
 * The days (in India) a collections report covers, both ends included; at most
 * [`MAX_REPORT_DAYS`].
 */
export type CollectionsQuery = { from: string, to: string, };

/**
 * Payments of one mode: how many and how much.
 */
export type MethodTotal = { method: PaymentMethod, payments: number, amount_paise: number, };

/**
 * One day's collections (a day with no payment is left out).
 */
export type DayCollections = { date: string, by_method: Array<MethodTotal>, total_paise: number, };

/**
 * What a clinic (branch) collected over a period, per day and payment mode: what the front
 * desk counts when it closes the day. Payments count on the day (India time) they were
 * received.
 */
export type CollectionsReport = { clinic_id: string, from: string, to: string, days: Array<DayCollections>, 
/**
 * The whole period, per payment mode.
 */
by_method: Array<MethodTotal>, 
/**
 * The whole period, per doctor billed (`None`: bills that named no doctor).
 */
by_doctor: Array<DoctorTotal>, total_paise: number, };

/**
 * What a doctor's bills took in a period.
 */
export type DoctorTotal = { doctor_id: string | null, payments: number, amount_paise: number, };

/**
 * A group's collections for a period, branch by branch: the roll-up for a group admin,
 * who is an admin of each branch included (RLS decides; no branch is shown to anyone
 * else).
 */
export type GroupCollectionsReport = { group_id: string, from: string, to: string, branches: Array<BranchCollections>, 
/**
 * All the branches, per payment mode.
 */
by_method: Array<MethodTotal>, total_paise: number, };

/**
 * One branch of a group's roll-up.
 */
export type BranchCollections = { clinic_id: string, clinic_name: string, by_method: Array<MethodTotal>, total_paise: number, };

/**
 * The return period: a month, or the quarter starting at `month` for quarterly filers.
 */
export type Gstr1Query = { year: number, 
/**
 * 1–12; for a quarter, its first month (April, July, October or January).
 */
month: number, 
/**
 * 1 (monthly return, the default) or 3 (quarterly, QRMP).
 */
months?: number | null, };

/**
 * Tax at one rate: taxable value and the taxes on it, in paise.
 */
export type RateAmounts = { rate_bp: number, taxable_paise: number, igst_paise: number, cgst_paise: number, 
/**
 * SGST, or UTGST in a union territory without a legislature (GSTN's one column).
 */
sgst_paise: number, };

/**
 * Table 4A: one invoice to a registered business.
 */
export type B2bInvoice = { recipient_gstin: string, recipient_name: string, invoice_number: string, issued_on: string, 
/**
 * The whole invoice, exempt lines included.
 */
value_paise: number, place_of_supply: string, 
/**
 * Its taxed lines, one row per rate.
 */
items: Array<RateAmounts>, };

/**
 * Table 9B (CDNR): one credit note to a registered business.
 */
export type CreditNoteRow = { recipient_gstin: string, recipient_name: string, note_number: string, issued_on: string, invoice_number: string, invoice_issued_on: string, 
/**
 * The whole note, exempt lines included.
 */
value_paise: number, place_of_supply: string, 
/**
 * Its taxed lines, one row per rate.
 */
items: Array<RateAmounts>, };

/**
 * Table 7: supplies to consumers, summed per place of supply and rate.
 */
export type B2csRow = { place_of_supply: string, rate_bp: number, taxable_paise: number, igst_paise: number, cgst_paise: number, 
/**
 * SGST, or UTGST in a union territory without a legislature (GSTN's one column).
 */
sgst_paise: number, };

/**
 * Table 8: untaxed supplies, to businesses or to consumers.
 */
export type NilRow = { 
/**
 * GSTN's supply type: `INTRAB2B` or `INTRAB2C` (a clinic's supplies are intra-state).
 */
supply_type: string, 
/**
 * Nil-rated, exempt (most clinical care: Notification 12/2017-CT(Rate), entry 74) and
 * non-GST supplies, each by its line's treatment.
 */
nil_paise: number, exempt_paise: number, non_gst_paise: number, };

/**
 * Table 12: one SAC/HSN code at one rate.
 */
export type HsnRow = { sac_hsn: string, description: string, 
/**
 * Unit quantity code: `NA` for services (SAC 99…), `NOS` (numbers) for goods.
 */
uqc: string, quantity: number, rate_bp: number, taxable_paise: number, igst_paise: number, cgst_paise: number, 
/**
 * SGST, or UTGST in a union territory without a legislature (GSTN's one column).
 */
sgst_paise: number, };

/**
 * Table 13: the numbers one series used in the period.
 */
export type DocumentSeries = { 
/**
 * The nature of the documents ([`INVOICES`] or [`CREDIT_NOTES`]).
 */
nature: string, series: string, 
/**
 * First and last number used, as printed.
 */
from: string, to: string, 
/**
 * Issued and cancelled together.
 */
total: number, cancelled: number, net_issued: number, 
/**
 * Numbers between the first and the last that are neither issued nor recorded as
 * cancelled in the period: a gap the accountant must explain (Rule 46(b) asks for
 * consecutive numbers). Zero in a sound series.
 */
missing: number, };

/**
 * A clinic's GSTR-1 for one return period.
 */
export type Gstr1Report = { clinic_id: string, gstin: string, 
/**
 * `MMYYYY` of the period's last month.
 */
return_period: string, from: string, to: string, b2b: Array<B2bInvoice>, 
/**
 * Table 9B: credit notes to registered businesses.
 */
cdnr: Array<CreditNoteRow>, 
/**
 * Table 7, net of the period's credit notes to consumers.
 */
b2cs: Array<B2csRow>, nil: Array<NilRow>, hsn_b2b: Array<HsnRow>, hsn_b2c: Array<HsnRow>, documents: Array<DocumentSeries>, 
/**
 * The period's invoices that stand (cancelled ones aside): value, taxable value and
 * taxes.
 */
invoices: number, value_paise: number, totals: RateAmounts, 
/**
 * The period's credit notes: how many, their value, taxable value and taxes.
 */
credit_notes: number, credited_paise: number, credit_totals: RateAmounts, };

export type AuditAction = "read" | "list" | "create" | "update" | "delete" | "export" | "print" | "login" | "denied" | "discard" | "wipe";

/**
 * One audit record. It names entities by id only, never patient data values.
 */
export type AuditEntry = { 
/**
 * Position in the clinic's hash chain (1, 2, 3 …).
 */
seq: number, clinic_id: string, actor_id: string | null, action: AuditAction, entity_type: string, entity_ids: Array<string>, patient_ids: Array<string>, device: string | null, request_id: string | null, 
/**
 * When the server recorded it.
 */
at: string, 
/**
 * When it happened on the device, for an act done offline and reported later (an
 * offline read, a wipe): the device's time, bounded by the server's clock rules.
 */
occurred_at: string | null, };

export type AuditQuery = { 
/**
 * Records that touched this patient ("who viewed this patient").
 */
patient_id?: string | null, user_id?: string | null, action?: AuditAction | null, from?: string | null, to?: string | null, limit?: number | null, offset?: number | null, };

/**
 * A clinic (branch) as shown to its members.
 */
export type Clinic = { id: string, group_id: string, name: string, 
/**
 * Supplier GSTIN printed on invoices.
 */
gstin: string | null, 
/**
 * Two-digit GST state code of the clinic.
 */
state_code: string, address: string, };

/**
 * Machine-readable error code. Serialized in snake_case; never renamed once shipped.
 */
export type ErrorCode = "malformed_body" | "invalid_field" | "invalid_parameter" | "body_too_large" | "unauthenticated" | "invalid_credentials" | "too_many_attempts" | "forbidden" | "invalid_signature" | "not_found" | "method_not_allowed" | "version_conflict" | "invalid_state" | "already_exists" | "upgrade_required" | "internal" | "retry_later";

/**
 * The body of every error response.
 */
export type ApiError = { code: ErrorCode, 
/**
 * A sentence a person can read. Never contains database details.
 */
message: string, 
/**
 * The offending field, when one is to blame.
 */
field?: string | null, };

/**
 * What a mutation or change is about. Child rows travel inside their parent entity
 * (addenda in encounters, items in prescriptions, lines, payments and credit notes in
 * invoices); the mutation kinds `addendum`, `payment` and `credit_note` create a child of an
 * existing parent.
 */
export type EntityKind = "patient" | "appointment" | "encounter" | "addendum" | "prescription" | "invoice" | "payment" | "conflict" | "allergy" | "credit_note" | "catalogue_item";

export type Operation = "create" | "update" | "delete";

/**
 * One field edited offline: the new value and the value it had when the user edited it
 * (the base). The server applies the edit when its current value still equals the base.
 */
export type FieldChange = { value: JsonValue, base: JsonValue, };

/**
 * Who made a change, and the proof.
 */
export type Authorship = { user_id: string, 
/**
 * The author's signing key on the device that made the change.
 */
key_id: string, 
/**
 * Ed25519 signature over [`signed_bytes`], base64 (standard alphabet).
 */
signature: string, };

/**
 * One change made on a device.
 *
 * - `create`: `data` is the same body as the REST create (`NewPatient`, `NewAppointment`,
 *   `NewEncounter`, `NewAddendum` with `parent_id` = the encounter, `NewPrescription`,
 *   `NewInvoice` with the device's `series` and `number`, `NewPayment` or `NewCreditNote` (with
 *   the device's `series` and `number`) with `parent_id` = the invoice); `entity_id` is the new row's id and must equal `data.id` when that is given.
 * - `update`: `changes` maps field names (as in the entity's JSON) to [`FieldChange`]s.
 *   For `conflict`, `changes` holds `{"resolution": {"value": "keep_server" | "use_client", "base": null}}`.
 *   For `encounter`, `"sign": {"value": true, "base": false}` signs the note as the pushing
 *   doctor after the other changes of the same mutation apply.
 *   For `invoice`, the one update is the act `"cancel": {"value": {"reason": "…"}, "base":
 *   null}` alone (`CancelInvoice`), by its author at the change's `made_at`; an invoice
 *   already cancelled stays as it is. A refund is a `NewPayment` with a negative amount.
 * - `delete`: a tombstone (patients and appointments only).
 */
export type Mutation = { mutation_id: string, entity: EntityKind, entity_id: string, op: Operation, 
/**
 * The server version the edit was made against (absent for creates).
 */
base_version: number | null, 
/**
 * Parent entity id for `addendum` (an encounter) and `payment` (an invoice).
 */
parent_id: string | null, data: JsonValue | null, changes: { [key in string]: JsonValue }, 
/**
 * When the user made the change on the device. Never used to order changes; it is the
 * act's own time where the act has one (a note's signing, an invoice's or a
 * prescription's issue, a payment's receipt), bounded by the server (`rules::clock`).
 */
made_at: string, 
/**
 * Who made the change, proven by their device key's signature. Absent: the pushing
 * user made it. Present: the server applies the change as this author, after checking
 * the signature ([`crate::authorship`]).
 */
author?: Authorship | null, 
/**
 * The device that made the change (the name it gives as `x-vaidya-device`), signed with
 * it. A PC's own push is known by its header; a change relayed by the clinic hub is
 * checked against this instead (its device invoice series, the device a conflict names),
 * since the hub's header is the hub's. Absent on changes made before devices named
 * themselves here, and on unsigned ones.
 */
device?: string | null, };

/**
 * An access to patient data made on the device (offline reads are audited too).
 */
export type LocalAccess = { 
/**
 * Made on the device when the access was recorded: the server audits each id once, so
 * an upload retried after a lost answer is not audited twice.
 */
access_id: string, action: AuditAction, entity: EntityKind, entity_ids: Array<string>, patient_ids: Array<string>, 
/**
 * When it happened on the device (bounded by the server: see `rules::clock`).
 */
at: string, 
/**
 * Who read, proven like a mutation's author. Absent: the pushing user.
 */
author?: Authorship | null, };

export type PushRequest = { mutations: Array<Mutation>, local_accesses: Array<LocalAccess>, 
/**
 * Device invoice numbers whose invoices were discarded (see
 * [`CancelledInvoiceNumber`]); recorded once each, a number an issued invoice holds is
 * left alone. Sent only when there are some.
 */
cancelled_numbers?: Array<CancelledInvoiceNumber>, };

/**
 * A field whose edit lost: the server kept `server_value`; `client_value` is recorded in
 * the clinic's conflict inbox for a person to review.
 */
export type FieldConflict = { field: string, server_value: JsonValue, client_value: JsonValue, };

/**
 * Why a mutation became a conflict.
 */
export type ConflictKind = "same_field" | "deleted" | "double_booking" | "immutable" | "duplicate_patient";

export type MutationResult = { "outcome": "applied", mutation_id: string, version: number, conflicts: Array<FieldConflict>, 
/**
 * Set when an edit of a signed note was turned into this addendum.
 */
addendum_id: string | null, } | { "outcome": "conflict", mutation_id: string, kind: ConflictKind, conflict_id: string, message: string, } | { "outcome": "rejected", mutation_id: string, code: ErrorCode, message: string, 
/**
 * The offending field, when one is to blame (absent in results stored before
 * servers sent it).
 */
field?: string | null, };

export type PushResponse = { 
/**
 * One result per mutation, in request order.
 */
results: Array<MutationResult>, };

export type PullQuery = { 
/**
 * Opaque cursor from the previous page; absent for an initial sync.
 */
cursor?: string | null, 
/**
 * Page size, 1–5000 (default 1000).
 */
limit?: number | null, };

/**
 * One entity's current state.
 */
export type Change = { entity: EntityKind, id: string, version: number, 
/**
 * A tombstone: the client removes the entity from its cache.
 */
deleted: boolean, 
/**
 * The entity as the REST API returns it (`Patient`, `Encounter` with addenda, …).
 */
data: JsonValue, };

export type PullResponse = { changes: Array<Change>, 
/**
 * Pass this back to continue; store it only after applying `changes`.
 */
cursor: string, 
/**
 * More changes are ready now; pull again at once.
 */
has_more: boolean, 
/**
 * On an initial sync (no cursor), about how many entities there are in all.
 */
estimated_total: number | null, 
/**
 * Changes after the cursor exist but wait for an older transaction (possibly of
 * another clinic) to finish; pull again shortly (tens of milliseconds).
 */
settling: boolean, };

/**
 * A conflict in the clinic's inbox, synced to every device of the clinic.
 */
export type ConflictRecord = { id: string, clinic_id: string, kind: ConflictKind, entity: EntityKind, entity_id: string, field: string | null, server_value: JsonValue, client_value: JsonValue, user_id: string | null, device: string | null, created_at: string, resolved_at: string | null, version: number, };

/**
 * How a person resolved a conflict.
 */
export type Resolution = "keep_server" | "use_client";

export type ResolveConflict = { resolution: Resolution, };

/**
 * What a member does to a record.
 */
export type Action = "read" | "create" | "update" | "delete" | "sign" | "cancel";

/**
 * A kind of record a permission is about: every synced entity, plus the clinic's
 * administration (members, audit trail).
 */
export type Resource = "patient" | "appointment" | "encounter" | "addendum" | "prescription" | "invoice" | "payment" | "conflict" | "allergy" | "credit_note" | "catalogue_item" | "member" | "audit_log";
