//! TypeScript declarations of the wire types for the web UI (`ui/src/generated/types.ts`),
//! made by ts-rs from the Rust types themselves, so the UI never mirrors them by hand.
//! Compiled only with the `ts` feature; `tests/ui_types.rs` keeps the committed file
//! current (`VAIDYA_UPDATE_GENERATED=1 cargo test -p vaidya-shared --features ts --test ui_types`).

use ts_rs::{Config, TS};

use crate::api::*;
use crate::authorship::Authorship;
use crate::error::{ApiError, ErrorCode};
use crate::gst::{LineTax, SupplyKind, TaxTreatment};
use crate::gstr1::{
    B2bInvoice, B2csRow, CreditNoteRow, DocumentSeries, Gstr1Query, Gstr1Report, HsnRow, NilRow,
    RateAmounts,
};
use crate::rules::duplicates::{DuplicateReason, LikelyDuplicate};
use crate::rules::validation::AllergyWarning;
use crate::rules::{Action, Resource};
use crate::sync::*;

/// Every type the UI may use, in file order. Types named by these (such as `JsonValue`)
/// are listed too: the file is self-contained.
macro_rules! declarations {
    ($cfg:expr; $($t:ty),* $(,)?) => {
        vec![$((<$t as TS>::docs(), <$t as TS>::decl($cfg))),*]
    };
}

/// The contents of `ui/src/generated/types.ts`.
pub fn typescript() -> String {
    // i64 is `number` in the UI: counts, versions and paise stay below 2^53 (a line's
    // largest amount, 100000 × ₹1,00,00,000, is 10^14 paise; ui/src/lib/gst.ts refuses
    // anything that is not an exact JS number).
    let cfg = Config::new().with_large_int("number");
    let cfg = &cfg;
    let decls = declarations![cfg;
        serde_json::Value,
        // identity and sign-in
        Role, LoginRequest, RefreshRequest, UserSummary, Membership, Session, Me, Member,
        NewMember, MemberPatch, NewHub, Hub, HubApproved, Directory, DirectoryKey, SeriesOwner, MedicalRegistration, Invitation, MemberAdded, NewDeviceKey, MemberDevice,
        // paging
        PageQuery, Page<()>,
        // patients
        Sex, Patient, NewPatient, PatientPatch, PatientQuery, DuplicateReason, LikelyDuplicate, MergePatients,
        // appointments
        AppointmentStatus, Appointment, NewAppointment, AppointmentPatch, AppointmentQuery,
        // encounters
        Vitals, Addendum, Encounter, NewEncounter, EncounterPatch, NewAddendum, ClinicalQuery,
        // allergies
        AllergySeverity, AllergyStatus, Allergy, NewAllergy, AllergyPatch, AllergyWarning,
        // the catalogue
        CatalogueItem, NewCatalogueItem, CatalogueItemPatch, GroupCatalogue, GroupBranch, GroupCatalogueItem, NewGroupCatalogueItem,
        // prescriptions
        PrescriptionItem, NewPrescriptionItem, Prescription, NewPrescription,
        // invoices and GST
        SupplyKind, TaxTreatment, LineTax, PaymentMethod, InvoiceLine, NewInvoiceLine, Payment, NewPayment,
        CreditNote, CreditNoteLine, NewCreditNote, NewCreditNoteLine,
        Invoice, InvoiceSupplier, InvoiceRecipient, InvoiceCancellation, CancelInvoice, NewInvoice, CancelledInvoiceNumber, CollectionsQuery, MethodTotal,
        DayCollections, CollectionsReport, DoctorTotal, GroupCollectionsReport, BranchCollections,
        // GSTR-1
        Gstr1Query, RateAmounts, B2bInvoice, CreditNoteRow, B2csRow, NilRow, HsnRow, DocumentSeries, Gstr1Report,
        // audit trail and clinic
        AuditAction, AuditEntry, AuditQuery, Clinic,
        // errors
        ErrorCode, ApiError,
        // sync
        EntityKind, Operation, FieldChange, Authorship, Mutation, LocalAccess, PushRequest, FieldConflict,
        ConflictKind, MutationResult, PushResponse, PullQuery, Change, PullResponse,
        ConflictRecord, Resolution, ResolveConflict,
        // the rules' vocabulary
        Action, Resource,
    ];
    let mut out = String::from(
        "// generated — do not edit. Made by ts-rs from the Rust types of vaidya-shared\n\
         // (shared/src/{api,sync,gst,error}.rs, shared/src/rules/permissions.rs); rewrite with\n\
         // `VAIDYA_UPDATE_GENERATED=1 cargo test -p vaidya-shared --features ts --test ui_types`.\n",
    );
    for (docs, decl) in decls {
        out.push('\n');
        if let Some(docs) = docs {
            out.push_str(&docs);
        }
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
